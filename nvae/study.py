"""A sparsity study of a whole corpus (`nvae study FILE`): which components an NVAE keeps, over
many sentences at once.

- retained components against input length, one point per sentence (the paper's Figure 4);
- the retained share by token class (function word, content word, punctuation, number, subword
  piece, [UNK], end of sentence; and the first position) and by frequency band in the model's
  training text; the most and least often pruned words;
- the alpha^Delta sweep on the corpus: retained proportion and BLEU (Figure 5 on these sentences).

Plain values in, a dict out; the command line prints it as JSON.
"""

from __future__ import annotations

from collections import Counter

import torch

from .experiments import slider_values
from .metrics import reconstruct
from .model import NVAE
from .text import EOS_ID, UNK_ID, encode_texts, tokens_of

FUNCTION_WORDS = frozenset(
    "a an the and or but nor so yet of in on at to for from by with as into onto upon over under about "
    "after before between during through against without within among is are was were be been being am "
    "has have had do does did will would shall should can could may might must it its he she they them "
    "his her their we us our you your i me my this that these those which who whom whose what there here "
    "not no than then also only".split()
)
CLASSES = ("function word", "content word", "punctuation", "number", "subword piece", "[UNK]", "end of sentence")
BANDS = ((0, 100, "top 100"), (100, 1000, "100-1,000"), (1000, 5000, "1,000-5,000"), (5000, None, "rarer"))
MAX_SENTENCES = 5000


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


def frequency_ranks(model: NVAE, texts: list[str]) -> dict[int, int]:
    """Rank of each token id by its count in `texts` (0 = most frequent)."""
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    counts = Counter(i for s in ids for i in s)
    return {tok: rank for rank, (tok, _) in enumerate(counts.most_common())}


def _band(rank: int | None) -> str:
    if rank is None:
        return BANDS[-1][2]
    for lo, hi, name in BANDS:
        if rank >= lo and (hi is None or rank < hi):
            return name
    return BANDS[-1][2]


@torch.no_grad()
def corpus_study(
    model: NVAE,
    texts: list[str],
    alpha_delta: float | None = None,
    reference_texts: list[str] | None = None,
    sweep_points: int = 7,
    batch_size: int = 64,
    progress=None,
) -> dict:
    """The study of `texts` at `alpha_delta` (the model's default when None). `reference_texts`
    (the model's training sentences) sets the frequency bands; `progress(done, total)` is called
    after each batch."""
    if model.cfg.model_type != "nvae":
        raise ValueError("a sparsity study needs an NVAE: a baseline keeps a fixed set of vectors")
    texts = [t for t in texts if t.strip()][:MAX_SENTENCES]
    if not texts:
        raise ValueError("no sentence to study")
    ids, truncated = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    keep = [k for k, s in enumerate(ids) if s]
    ids, texts, truncated = [ids[k] for k in keep], [texts[k] for k in keep], [truncated[k] for k in keep]
    ranks = frequency_ranks(model, reference_texts) if reference_texts else {}
    model.eval()
    points, by_class, by_band, by_word, first = [], {}, {}, {}, [0, 0]
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        batch = model.collate(chunk)
        latent = model.encode(batch, alpha_delta=alpha_delta)
        for b in range(len(chunk)):
            n = int(latent.n_inputs[b])
            full = batch.src[b, :n].tolist()
            toks = tokens_of(model.tokenizer, full)
            kept_pos = {int(latent.source[b, i]) for i in range(latent.n_components) if bool(latent.retained[b, i])}
            points.append({"sentence": texts[start + b], "tokens": n, "retained": len(kept_pos)})
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
        if progress:
            progress(min(start + batch_size, len(ids)), len(ids))

    def shares(table, order):
        return [
            {"class": k, "retained_share": table[k][0] / table[k][1], "count": table[k][1]} for k in order if k in table
        ]

    words = [(w, 1 - k / n, n) for w, (k, n) in by_word.items() if n >= 5]
    words.sort(key=lambda x: (-x[1], -x[2], x[0]))
    ad = model.cfg.alpha_delta if alpha_delta is None else alpha_delta
    sweep = []
    values = slider_values(model, sweep_points) if model.cfg.alpha_delta_conditional else [ad]
    for v in values:
        s = reconstruct(model, ids, alpha_delta=v).summary()
        sweep.append({"alpha_delta": v, "retained_proportion": s["retained_proportion"], "bleu": s["bleu"]})
    return {
        "sentences": len(ids),
        "truncated": sum(truncated),
        "alpha_delta": ad,
        "retained_vs_length": points,
        "by_class": shares(by_class, CLASSES)
        + ([{"class": "first position", "retained_share": first[0] / first[1], "count": first[1]}] if first[1] else []),
        "by_frequency_band": shares(by_band, [name for _, _, name in BANDS]),
        "most_pruned_words": [{"word": w, "pruned_share": s, "count": n} for w, s, n in words[:15]],
        "least_pruned_words": [{"word": w, "pruned_share": s, "count": n} for w, s, n in words[::-1][:15]],
        "sweep": sweep,
        "mean_retained_proportion": sum(p["retained"] / p["tokens"] for p in points) / len(points),
    }
