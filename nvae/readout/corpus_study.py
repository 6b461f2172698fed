"""A sparsity study of a whole corpus (`nvae study FILE`, and the app's Corpus study page): which
components an NVAE keeps, over many sentences at once.

- retained components against input length, one point per sentence (the paper's Figure 4);
- the retained share by token class (function word, content word, punctuation, number, subword
  piece, [UNK], end of sentence; and the first position) and by frequency band in the model's
  training text; the most and least often pruned words;
- for a model whose kept components stand for segments: the segments' lengths and the share of them
  that are whole words (`segment_study`);
- the alpha^Delta sweep on the corpus: retained proportion and BLEU (Figure 5 on these sentences).

`corpus_study` is the whole study, as the command line prints it. It is made of two parts that a
reader may cache apart (the app does: the sweep does not depend on alpha^Delta and costs most):
`study_tables` (encoding only, at one alpha^Delta) and `study_sweep` (decoding the corpus at each
sweep value). Both take a `Corpus` from `prepare_corpus`, and the ranks of `frequency_ranks`
over `reference_texts`; the numbers are the same whichever way they are called.

Plain values in, a dict out; the command line prints it as JSON.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.text import EOS_ID, UNK_ID, collate, encode_texts, tokens_of
from ..evaluation.metrics import Reconstruction, reconstruct
from ..model.autoencoder import NVAE, eval_mode
from ..model.grids import alpha_delta_values
from ..model.kept_set import pools_segments

FUNCTION_WORDS = frozenset(
    "a an the and or but nor so yet of in on at to for from by with as into onto upon over under about "
    "after before between during through against without within among is are was were be been being am "
    "has have had do does did will would shall should can could may might must it its he she they them "
    "his her their we us our you your i me my this that these those which who whom whose what there here "
    "not no than then also only".split()
)
CLASSES = ("function word", "content word", "punctuation", "number", "subword piece", "[UNK]", "end of sentence")
FIRST = "first position"
BANDS = ((0, 100, "top 100"), (100, 1000, "100-1,000"), (1000, 5000, "1,000-5,000"), (5000, None, "rarer"))
MAX_SENTENCES = 5000
REFERENCE_SENTENCES = 20000  # training sentences the frequency bands are counted on
SWEEP_POINTS = 7
MIN_WORD_COUNT = 5  # a word enters the most / least pruned lists when it occurs this often
WORD_LIST = 15


def token_class(token: str, token_id: int) -> str:
    """The class of one input piece, for the study's retained shares."""
    if token_id == EOS_ID:
        return "end of sentence"
    if token_id == UNK_ID:
        return "[UNK]"
    if token.startswith("##"):
        return "subword piece"
    if not any(c.isalnum() for c in token):
        return "punctuation"
    if any(c.isdigit() for c in token):
        return "number"
    return "function word" if token in FUNCTION_WORDS else "content word"


def starts_word(token: str) -> bool:
    """True for a piece that begins a word: any piece but a WordPiece continuation (##...)."""
    return not token.startswith("##")


def segment_bounds(kept: list[int] | set[int], n: int) -> list[tuple[int, int]]:
    """The segments of a sentence of `n` tokens whose kept token positions are `kept`, as [start, end)
    spans in order, by `kept_set.pool_segments`' rule: a kept token and the pruned tokens after it up to
    the next kept one, the pruned tokens before the first kept one joining the first. [] when none is kept."""
    heads = sorted(p for p in set(kept) if 0 <= p < n)
    if not heads:
        return []
    return list(zip([0] + heads[1:], heads[1:] + [n]))


def whole_words(tokens: list[str], start: int, end: int) -> bool:
    """True when tokens[start:end] is a run of whole words: it begins where a word begins and the token
    after it, if any, begins a word too (no word is cut at either end)."""
    return starts_word(tokens[start]) and (end >= len(tokens) or starts_word(tokens[end]))


def segment_study(sentences: list[tuple[list[str], list[tuple[int, int]]]]) -> dict:
    """Segment lengths and whole words over a corpus, from each sentence's (tokens, [start, end) spans
    of `segment_bounds`): how many segments, their mean and median length in tokens ([EOS] counts in
    its sentence's last segment), how many there are of each length (with their share), and the share
    of segments that are whole words (`whole_words`). The means and shares are None without a segment."""
    lengths, whole = [], 0
    for tokens, spans in sentences:
        for start, end in spans:
            lengths.append(end - start)
            whole += whole_words(tokens, start, end)
    total = len(lengths)
    counts = Counter(lengths)
    return {
        "segments": total,
        "mean_length": sum(lengths) / total if total else None,
        "median_length": float(statistics.median(lengths)) if total else None,
        "by_length": [{"length": k, "count": counts[k], "share": counts[k] / total} for k in sorted(counts)],
        "whole_words": whole,
        "whole_word_share": whole / total if total else None,
    }


def reference_texts(model: NVAE) -> list[str] | None:
    """The sentences the frequency bands are counted on: the first REFERENCE_SENTENCES of the
    model's training split, or None when it trained on a text file (then every word is "rarer")."""
    from ..data.corpora import load_sentences

    tc = getattr(model, "train_cfg", None)
    if tc is None or Path(tc.data).is_file():
        return None
    return load_sentences(tc.data, tc.split)[:REFERENCE_SENTENCES]


def frequency_ranks(model: NVAE, texts: list[str]) -> dict[int, int]:
    """Rank of each token id by its count in `texts` (0 = most frequent)."""
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    counts = Counter(i for s in ids for i in s)
    return {tok: rank for rank, (tok, _) in enumerate(counts.most_common())}


def draw(sentences: list[str], n: int, seed: int = 0) -> list[str]:
    """n of `sentences` (all of them when there are fewer), drawn repeatably by `seed`, in the order drawn."""
    if n >= len(sentences):
        return list(sentences)
    return random.Random(seed).sample(list(sentences), n)


def _band(rank: int | None) -> str:
    if rank is None:
        return BANDS[-1][2]
    for lo, hi, name in BANDS:
        if rank >= lo and (hi is None or rank < hi):
            return name
    return BANDS[-1][2]


@dataclass
class Corpus:
    """The sentences a study reads, tokenized once."""

    texts: list[str]  # the sentences studied, in the order given (blank lines and the ones past MAX_SENTENCES left out)
    ids: list[list[int]]  # their token ids (EOS not included), each at most max_len - 1
    truncated: list[bool]
    given: int  # non-blank lines given
    capped: int  # non-blank lines left out past MAX_SENTENCES
    skipped: int  # lines left out because no token was left after the tokenizer's normalisation


def prepare_corpus(model: NVAE, texts: list[str], max_sentences: int = MAX_SENTENCES) -> Corpus:
    """The non-blank lines of `texts` (the first `max_sentences`), tokenized; lines that have no token
    left after normalisation (only accents or control characters) are left out. Raises ValueError
    when nothing is left."""
    lines = [t for t in texts if t.strip()]
    given = len(lines)
    lines = lines[:max_sentences]
    if not lines:
        raise ValueError("no sentence to study")
    ids, truncated = encode_texts(model.tokenizer, lines, model.cfg.max_len - 1)
    keep = [k for k, s in enumerate(ids) if s]
    if not keep:
        raise ValueError("no sentence to study: no line has a token left after the tokenizer's normalisation")
    return Corpus(
        texts=[lines[k] for k in keep],
        ids=[ids[k] for k in keep],
        truncated=[truncated[k] for k in keep],
        given=given,
        capped=given - len(lines),
        skipped=len(lines) - len(keep),
    )


def _as_corpus(model: NVAE, corpus: Corpus | list[str]) -> Corpus:
    return corpus if isinstance(corpus, Corpus) else prepare_corpus(model, corpus)


def _check(model: NVAE) -> None:
    if not model.cfg.is_nvae:
        raise ValueError("a sparsity study needs an NVAE: a baseline keeps a fixed set of vectors")


@dataclass
class EncodedCorpus:
    """The encoder's output for each batch of a corpus (`encode_corpus`). It does not depend on
    alpha^Delta, so a study at another alpha^Delta needs only the NVIB layer
    (`NVAE.latent_from_states`): for the app's 100 sentences that is about a tenth of the encoding."""

    batches: list  # the collated batches (nvae.data.text.collate), `batch_size` sentences each
    states: list[torch.Tensor]  # the encoder states of each batch [B, n, P]
    batch_size: int


@torch.no_grad()
def encode_corpus(model: NVAE, corpus: Corpus | list[str], batch_size: int = 64, progress=None) -> EncodedCorpus:
    """Run the encoder once over `corpus` (its output does not depend on alpha^Delta); `progress(done,
    total)` after each batch, in sentences."""
    corpus = _as_corpus(model, corpus)
    batches, states = [], []
    with eval_mode(model):
        for start in range(0, len(corpus.ids), batch_size):
            batch = collate(corpus.ids[start : start + batch_size], model.cfg.max_len, device=model.device)
            batches.append(batch)
            states.append(model.encode_states(batch.src, batch.pad_mask))
            if progress:
                progress(min(start + batch_size, len(corpus.ids)), len(corpus.ids))
    return EncodedCorpus(batches, states, batch_size)


@torch.no_grad()
def study_tables(
    model: NVAE,
    corpus: Corpus | list[str],
    alpha_delta: float | None = None,
    ranks: dict[int, int] | None = None,
    batch_size: int = 64,
    progress=None,
    encoded: EncodedCorpus | None = None,
) -> dict:
    """Everything of the study but the sweep, at `alpha_delta` (the model's default when None):
    encoding only. `ranks` (from `frequency_ranks`) sets the frequency bands; `progress(done, total)`
    is called after each batch, in sentences. `encoded` (`encode_corpus` of the same corpus and
    model) skips the encoder. For a model with a positional prior, `content_agreement` says how many
    of the kept components the content score alone (the prior at 0) would also keep. For a model whose
    kept components stand for segments (`kept_set.pools_segments`), `segments` gives their lengths and
    the share that are whole words (`segment_study`)."""

    _check(model)
    corpus = _as_corpus(model, corpus)
    ids, texts, ranks = corpus.ids, corpus.texts, ranks or {}
    if encoded is None:
        encoded = encode_corpus(model, corpus, batch_size, progress)
    pooled = pools_segments(model.cfg)
    split = []  # (tokens, segment spans) of each sentence, for a model that pools segments
    points, by_class, by_band, by_word, first = [], {}, {}, {}, [0, 0]
    prior = bool(model.cfg.nvib.spread_bias)  # a positional prior: how much of the kept set would the content keep?
    agree = [0, 0]  # kept components the content score alone also keeps, kept components
    with eval_mode(model):
        for k, (batch, states) in enumerate(zip(encoded.batches, encoded.states)):
            start = k * encoded.batch_size
            latent = model.latent_from_states(states, batch.pad_mask, alpha_delta).latent
            sources, retained = latent.source.tolist(), latent.retained.tolist()
            if prior:
                content = model.latent_from_states(states, batch.pad_mask, alpha_delta, 0.0).latent
                both = latent.retained & content.retained & (latent.source >= 0)
                agree[0] += int(both.sum())
                agree[1] += int((latent.retained & (latent.source >= 0)).sum())
            for b in range(batch.src.shape[0]):
                n = int(latent.n_inputs[b])
                full = batch.src[b, :n].tolist()
                toks = tokens_of(model.tokenizer, full)
                kept_pos = {src for src, kept in zip(sources[b], retained[b]) if kept}
                points.append({"sentence": texts[start + b], "tokens": n, "retained": len(kept_pos)})
                if pooled:
                    split.append((toks, segment_bounds(kept_pos, n)))
                for pos, (tok, tid) in enumerate(zip(toks, full)):
                    kept = pos in kept_pos
                    kind = token_class(tok, tid)
                    for table, key in ((by_class, kind), (by_band, _band(ranks.get(tid)))):
                        table.setdefault(key, [0, 0])[0] += kept
                        table[key][1] += 1
                    if pos == 0:
                        first[0] += kept
                        first[1] += 1
                    if kind in ("function word", "content word"):
                        by_word.setdefault(tok, [0, 0])[0] += kept
                        by_word[tok][1] += 1

    def shares(table, order):
        return [
            {"class": k, "retained_share": table[k][0] / table[k][1], "count": table[k][1]} for k in order if k in table
        ]

    words = [(w, 1 - k / n, n) for w, (k, n) in by_word.items() if n >= MIN_WORD_COUNT]
    words.sort(key=lambda x: (-x[1], -x[2], x[0]))
    return {
        "sentences": len(ids),
        "truncated": sum(corpus.truncated),
        "alpha_delta": model.cfg.nvib.alpha_delta if alpha_delta is None else alpha_delta,
        "retained_vs_length": points,
        "by_class": shares(by_class, CLASSES)
        + ([{"class": FIRST, "retained_share": first[0] / first[1], "count": first[1]}] if first[1] else []),
        "by_frequency_band": shares(by_band, [name for _, _, name in BANDS]),
        "most_pruned_words": [{"word": w, "pruned_share": s, "count": n} for w, s, n in words[:WORD_LIST]],
        "least_pruned_words": [{"word": w, "pruned_share": s, "count": n} for w, s, n in words[::-1][:WORD_LIST]],
        **(
            {
                "content_agreement": {
                    "spread_bias": float(model.cfg.nvib.spread_bias),
                    "kept": agree[1],
                    "also_by_content": agree[0],
                    "share": agree[0] / agree[1] if agree[1] else None,
                }
            }
            if prior
            else {}
        ),
        **({"segments": segment_study(split)} if pooled else {}),
        "mean_retained_proportion": sum(p["retained"] / p["tokens"] for p in points) / len(points),
    }


@torch.no_grad()
def study_sweep(
    model: NVAE,
    corpus: Corpus | list[str],
    alpha_delta: float | None = None,
    points: int = SWEEP_POINTS,
    batch_size: int = 64,
    progress=None,
) -> list[dict]:
    """Retained proportion and corpus BLEU of the greedy reconstruction at each `nvae.model.grids.alpha_delta_values`
    alpha^Delta (`alpha_delta` matters only for a model trained at a fixed one). Batches as
    `metrics.reconstruct` does (by length, `batch_size` at a time); `progress(done, total)` is called
    after each batch, counting sentences over all values."""
    _check(model)
    corpus = _as_corpus(model, corpus)
    ids = corpus.ids
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # reconstruct's own order and batches
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    values = alpha_delta_values(model.cfg, points, alpha_delta)
    total, done, out = len(ids) * len(values), 0, []
    for v in values:
        merged = Reconstruction()
        for chunk in chunks:
            part = reconstruct(model, [ids[i] for i in chunk], alpha_delta=v, batch_size=batch_size)
            for field in ("refs", "hyps", "n_inputs", "n_retained"):
                getattr(merged, field).extend(getattr(part, field))
            merged.nll_sum += part.nll_sum
            merged.n_target_tokens += part.n_target_tokens
            done += len(chunk)
            if progress:
                progress(done, total)
        s = merged.summary()
        out.append({"alpha_delta": v, "retained_proportion": s["retained_proportion"], "bleu": s["bleu"]})
    return out


def corpus_study(
    model: NVAE,
    texts: list[str],
    alpha_delta: float | None = None,
    reference_texts: list[str] | None = None,
    sweep_points: int = SWEEP_POINTS,
    batch_size: int = 64,
    progress=None,
    ranks: dict[int, int] | None = None,
) -> dict:
    """The study of `texts` at `alpha_delta` (the model's default when None). `reference_texts`
    (the model's training sentences, `reference_texts(model)`) sets the frequency bands, or `ranks`
    computed from them before; `progress(done, total)` is called after each batch, counting
    sentences encoded and then decoded at each sweep value."""
    _check(model)
    corpus = prepare_corpus(model, texts)
    if ranks is None:
        ranks = frequency_ranks(model, reference_texts) if reference_texts else {}
    n, n_values = len(corpus.ids), len(alpha_delta_values(model.cfg, sweep_points, alpha_delta))
    total = n * (1 + n_values)
    tables = study_tables(
        model, corpus, alpha_delta, ranks, batch_size, progress and (lambda done, _: progress(done, total))
    )
    sweep = study_sweep(
        model,
        corpus,
        alpha_delta,
        sweep_points,
        batch_size,
        progress and (lambda done, _: progress(n + done, total)),
    )
    mean = tables.pop("mean_retained_proportion")
    return {**tables, "sweep": sweep, "mean_retained_proportion": mean}
