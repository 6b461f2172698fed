"""Readings of a model's latent for one sentence (or a few) at a time, as plain values.

What a reader (the app's pages, a notebook, the CLI) shows of a latent, computed once here:

- `inspect_sentences` / `token_info`: a sentence's components, its reconstruction, BLEU against
  the tokenizer's round trip and the decoder's cross-attention; or its tokenization alone;
- `component_weights` / `token_weights`: the weight each component shows (pi when retained,
  else the share alpha / sum(alpha) it would have had);
- `sparsity_curve`: retained components and BLEU of one sentence over a grid of alpha^Delta;
- `encode_pair` / `interpolation_strip` / `mix_at`: mixtures between two sentences and which
  components of A and B carry a mixture's weight;
- `component_points`: the retained components of many sentences as arrays (for a map);
- `drawn_samples`: sentences decoded from latents drawn from the prior (or the aggregate
  posterior when the checkpoint has its fit), each naming its source;
- `kept_set_rule`, `prior_only_notice`, `dropped_accents`: what a user must be told of how the model
  read a sentence (who chooses the kept set; nothing kept; accents the tokenizer drops);
- `segments` / `segment_spans` / `segment_split`: for a checkpoint whose kept components stand for
  segments (`kept_set.pools_segments`), the tokens and positions each kept component stands for.

(Ordinary against denoising attention on a 2-D mixture, with no model, is `nvae.readout.attention2d`.)

Each function takes a loaded model (eval mode) or its outputs and returns plain Python data
(lists, dicts, dataclasses, numpy arrays). Model calls run under `torch.inference_mode()`.
Nothing here imports streamlit.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ..config import alpha_delta_is_input, resolve_alpha_delta
from ..data.text import UNK_ID, decode_batch, decode_ids, encode_batch, encode_texts, encoded_batches, tokens_of
from ..evaluation.measures import ordinal
from ..evaluation.metrics import sentence_bleu
from ..evaluation.sampling import draw
from ..model.autoencoder import NVAE, eval_mode
from ..model.grids import slider_stops, tau_grid
from ..model.kept_set import chooses_segments, pools_segments
from ..model.mixture import DEFAULT_MIXING, POOLED, ComponentRow, LatentMixture, position_sources, source_label
from .corpus_study import draw as draw_sentences
from .corpus_study import segment_bounds

STRIP_TAUS = tau_grid(11)  # the interpolation strip: tau = 0, 0.1, ..., 1


def alpha_delta_active(cfg) -> bool:
    """True when alpha^Delta changes this model's latent (a loss-conditional NVAE)."""
    return alpha_delta_is_input(cfg)


def alpha_delta_arg(cfg, value: float | None) -> float | None:
    """The alpha_delta to pass to `model.encode`: the value (clamped to the trained range) for a
    loss-conditional NVAE, else None (`nvae.config.resolve_alpha_delta`, "clamp")."""
    return resolve_alpha_delta(cfg, value, "clamp")


# -- who chooses the kept set ----------------------------------------------------------------------


def kept_set_rule(cfg) -> str:
    """What decides which of a sentence's components (a baseline's vectors) the decoder reads, for a
    checkpoint's config, in one or two plain sentences: the content score, a positional prior and its
    strength, or a baseline's fixed rule. Every page that shows kept and pruned components says it."""
    if not cfg.is_nvae:
        if cfg.model_type == "vts":
            nth = ordinal(int(cfg.stride))
            return (
                f"Who chooses the kept set: a fixed rule, every {nth} position (the first token, then every "
                f"{nth} after it), whatever the words. Nothing about the choice is learned."
            )
        if cfg.model_type == "vtp":
            return "Who chooses the kept set: nobody. The whole sentence is pooled into one vector."
        return "Who chooses the kept set: nobody. The decoder reads one vector for every token."
    how_many = "α^Δ sets how many." if alpha_delta_is_input(cfg) else "How many depends on the sentence (one α^Δ)."
    how_many += _kept_extras(cfg)
    threshold = f"the tokens whose α is above {cfg.threshold:g} are kept"
    if chooses_segments(cfg):
        least = max(1, int(cfg.nvib.min_kept))
        count = f"How many: as many tokens as have a pseudo-count α above {cfg.threshold:g}, at least {least}"
        count += " (α^Δ sets it)." if alpha_delta_is_input(cfg) else "."
        return (
            "Who chooses the kept set: the segmentation of the model's own vectors. Each sentence is split into "
            "that many contiguous pieces whose tokens' vectors are most alike, and the first token of each piece "
            "is kept, standing for the whole piece (the decoder reads the piece's average). " + count
        )
    if not cfg.nvib.spread_bias:
        return (
            "Who chooses the kept set: the model's content score. Each token gets a pseudo-count α from its "
            f"encoder state, and {threshold}. {how_many}"
        )
    if cfg.nvib.keep_positions == "tournament":
        pattern = (
            "asks for one token of every neighbouring pair (of every four when a quarter are kept), and the "
            "content score picks which token of each pair"
        )
    else:
        pattern = (
            "favours evenly spaced positions (every second position when half are kept, every fourth at a "
            "quarter), and the content score decides only within that pattern"
        )
    return (
        "Who chooses the kept set: position and content together. Each token's pseudo-count α comes from its "
        f"encoder state plus a positional prior of strength {cfg.nvib.spread_bias:g} that {pattern}; {threshold}. "
        f"The stronger the prior, the more the positions and the less the words decide. {how_many}"
    )


def reading_notice(cfg) -> str | None:
    """How an NVAE is read when that differs from the integral every page explains, or when it was
    never trained on the form it is read with; None otherwise.

    `decode_form` "means": each kept component's mean is its vector (z = mu), the variances count as 0.
    `gaussian_train_prob` 0 read by the integral: the prior component, a Gaussian of variance 1, answers
    every query with a shrunken copy of it, which the decoder never met in training, so reconstructions
    understate the model (a plain warning)."""
    if not cfg.is_nvae:
        return None
    if cfg.nvib.decode_form == "means":
        return (
            "This checkpoint is read with each kept component's mean as its vector (z = μ): the form it was "
            "trained on, with the sampling noise left out. It never met the integral over each Gaussian that "
            "the other NVAEs are read with (the paper's recipe samples in training), so here every variance "
            "counts as 0; its means are what decide the reconstruction."
        )
    if cfg.nvib.gaussian_train_prob > 0:
        return None
    return (
        "This checkpoint was trained only on sampled vectors (the paper's recipe), never on the form this "
        "page decodes with, the integral over the Gaussian mixture. In that form the prior component answers "
        "every query with a shrunken copy of it, which the decoder never met, so the reconstructions here "
        'understate the model; set decode_form to "means" in its config.json to read it with its means '
        "(docs/model.md)."
    )


def _kept_extras(cfg) -> str:
    """The sentences `kept_set_rule` adds for a floor of kept components and for pooled segments."""
    out = ""
    k = int(cfg.nvib.min_kept)
    if k:
        which = "the token with the largest α" if k == 1 else f"the {k} tokens with the largest α"
        out += f" Every sentence keeps at least {which}, even under the threshold."
    if pools_segments(cfg):
        out += (
            " Each kept component stands for its token and the pruned tokens after it, up to the next kept "
            "one (pruned tokens before the first kept one join the first): the decoder reads their average, "
            "so a pruned token's content is merged into the nearest kept component before it, or after it "
            "at the start of the sentence, rather than lost."
        )
    return out


def segments(records: list[dict]) -> dict[int, list[str]]:
    """For a model whose kept components stand for their segments (`kept_pooling` "segment"): each
    kept token component's number -> the tokens it stands for, in order (itself and the pruned tokens
    after it up to the next kept one; the first kept one also those before it), from the rows of
    `LatentMixture.records` (one sentence). {} when no token component is kept."""
    tokens = sorted((r for r in records if r["source"] >= 0), key=lambda r: r["source"])
    kept = [i for i, r in enumerate(tokens) if r["retained"]]
    return {
        tokens[head]["component"]: [r["token"] for r in tokens[start:end]]
        for head, (start, end) in zip(kept, segment_bounds(kept, len(tokens)))
    }


def segment_spans(records: list[dict]) -> list[dict]:
    """The segments of `segments` as token positions, for printing: one {"component", "span": [start,
    end), "tokens"} per kept token component, in sentence order (the spans cover the sentence once)."""
    position = {r["component"]: r["source"] for r in records}
    out = []
    for component, tokens in segments(records).items():
        start = position[component] if out else 0  # the first segment also holds the tokens before it
        out.append({"component": component, "span": [start, start + len(tokens)], "tokens": tokens})
    return out


def segment_split(records: list[dict]) -> str:
    """The sentence's tokens with a bar between its segments (`segments`), to see the split at a
    glance: 'the cat | sat on | the mat [EOS]'. '' when no token component is kept."""
    return " | ".join(" ".join(tokens) for tokens in segments(records).values())


def segment_positions(span: list[int]) -> str:
    """A segment's [start, end) span as the token positions it holds, counted from 0: '2–5', or '4'."""
    start, last = span[0], span[1] - 1
    return f"{start}" if last == start else f"{start}–{last}"


# -- what a sentence became: truncation, unknown pieces, nothing kept -----------------------------


def dropped_accents(tokenizer, text: str) -> list[str]:
    """The words of `text` whose accents the tokenizer drops before the model reads them, as
    'café → cafe' (lower-casing alone is not listed); [] when none is."""
    normalizer = getattr(tokenizer, "normalizer", None)
    if normalizer is None:
        return []
    changed = []
    for word in dict.fromkeys(re.findall(r"\w+", text)):
        read = normalizer.normalize_str(word)
        # spaces the tokenizer puts around Chinese, Japanese and Korean characters change no letter
        if "".join(read.split()) != word.lower() and read.strip():
            changed.append(f"{word} → {read.strip()}")
    return changed


def trained_lengths(model) -> str:
    """' The model was trained on sentences of 6 to 49 pieces.' (a leading space, to follow another
    sentence), from the training settings its checkpoint stores; '' when the model has none attached."""
    tc = getattr(model, "train_cfg", None)
    return "" if tc is None else f" The model was trained on sentences of {tc.min_tokens} to {tc.max_tokens} pieces."


@torch.no_grad()
def smallest_keeping_alpha_delta(model, text: str) -> float | None:
    """The smallest α^Δ among the slider's stops (`grids.slider_stops`) at which `text` keeps a token
    component on this model, or None when none does (or alpha^Delta changes nothing for this model).
    One batch: the sentence's encoder states read at every stop."""
    if not alpha_delta_active(model.cfg):
        return None
    stops = slider_stops(model.cfg)
    batch = encode_batch(model.tokenizer, [text], model.cfg.max_len, model.device)
    with eval_mode(model):
        states = model.encode_states(batch.src, batch.pad_mask)
        k = len(stops)
        latent = model.latent_from_states(
            states.expand(k, -1, -1), batch.pad_mask.expand(k, -1), torch.tensor(stops, device=model.device)
        ).latent
    kept = [ad for ad, n in zip(stops, latent.n_retained.tolist()) if n > 0]
    return min(kept) if kept else None


def prior_only_notice(
    model, n_retained: int, n_inputs: int, which: str = "The sentence", text: str | None = None
) -> str | None:
    """A plain sentence for when an NVAE keeps none of a sentence's token components: the decoder then
    reads the prior component alone, and what it writes is made up, not a reconstruction. Says how
    long the input is and which lengths the model was trained on. None when something is kept, and
    for a baseline (it keeps its vectors whatever the input). With the sentence's `text`, it says what
    α^Δ would keep something of it on this model, computed (`smallest_keeping_alpha_delta`), or that no
    α^Δ the slider offers does; without it, it claims nothing about α^Δ."""
    if not model.cfg.is_nvae or n_retained > 0:
        return None
    pieces = max(int(n_inputs) - 1, 0)
    trained = trained_lengths(model)
    more = ""
    if text is not None and alpha_delta_active(model.cfg):
        first = smallest_keeping_alpha_delta(model, text)
        top = f"{model.cfg.nvib.alpha_delta_max:g}"
        more = (
            f" No α^Δ the slider offers (up to {top}) keeps a component of it on this checkpoint."
            if first is None
            else f" From α^Δ = {first:g} on, it keeps at least one component."
        )
    if not model.cfg.nvib.min_kept:
        more += (
            " A checkpoint with a floor of kept components (min_kept, such as the shipped nvae-segments) keeps "
            "something of every sentence."
        )
    return (
        f"{which} keeps nothing: none of its {pieces} piece{'' if pieces == 1 else 's'} (nor [EOS]) has a "
        f"component above the threshold, so the decoder reads only the prior component and writes a "
        f"made-up sentence, not a reconstruction of it.{trained}{more}"
    )


def mostly_unknown(n_unknown: int, n_inputs: int) -> bool:
    """True when more than half of the input pieces ([EOS] not counted) are [UNK]: a reconstruction
    of [UNK]s then scores a high BLEU against an input of [UNK]s, which says nothing."""
    pieces = n_inputs - 1
    return pieces > 0 and n_unknown > pieces / 2


@dataclass
class TokenInfo:
    """How one sentence was tokenized: what the truncation and [UNK] notices need."""

    n_inputs: int  # tokens, [EOS] included
    n_unknown: int  # pieces outside the vocabulary ([UNK])
    truncated: bool
    n_retained: int  # token components kept at the model's default alpha^Delta (a baseline: its vectors)
    accents: list[str] = field(default_factory=list)  # words read without their accents ('café → cafe')

    @property
    def mostly_unknown(self) -> bool:
        return mostly_unknown(self.n_unknown, self.n_inputs)


@torch.inference_mode()
def token_info(model: NVAE, texts: list[str]) -> list[TokenInfo]:
    """Each sentence's length, [UNK] count and truncation, and how many components it keeps at the
    model's default alpha^Delta (the encoder only: no decoding)."""
    batch = encode_batch(model.tokenizer, list(texts), model.cfg.max_len, model.device)
    kept = model.encode(batch.src, batch.pad_mask).latent.n_retained.tolist()
    lengths = (~batch.pad_mask).sum(-1).tolist()
    return [
        TokenInfo(
            n_inputs=int(n),
            n_unknown=sum(i == UNK_ID for i in batch.src[b, : int(n)].tolist()),
            truncated=bool(batch.truncated[b]),
            n_retained=int(kept[b]),
            accents=dropped_accents(model.tokenizer, text),
        )
        for b, (n, text) in enumerate(zip(lengths, texts))
    ]


# -- one sentence's latent, reconstruction and cross-attention ------------------------------------


@dataclass
class SentenceView:
    """One encoded sentence, ready to draw."""

    text: str  # as typed (cleaned)
    reference: str  # the tokenizer's round trip of the input: what a perfect reconstruction gives
    tokens: list[str]  # input tokens, [EOS] included
    truncated: bool
    n_unknown: int  # input pieces outside the vocabulary ([UNK])
    components: list[dict]  # LatentMixture.records as dicts (dataclasses.asdict), plus "label"
    n_retained: int
    n_inputs: int
    retained_proportion: float
    reconstruction: str
    bleu: float
    out_tokens: list[str]  # generated tokens, then [EOS] (rows of `attention`)
    attention: list[list[float]]  # [T, N] last decoder layer's cross-attention, head-averaged
    alpha_delta: float | None
    accents: list[str] = field(default_factory=list)  # words read without their accents ('café → cafe')

    @property
    def mostly_unknown(self) -> bool:
        return mostly_unknown(self.n_unknown, self.n_inputs)


def component_label(row: ComponentRow | dict) -> str:
    """'#3 game': component number and its source token (or ⟨prior⟩), of a row of
    `LatentMixture.records` or of its dict."""
    if isinstance(row, dict):
        return f"#{row['component']} {row['token']}"
    return f"#{row.component} {row.token}"


@torch.inference_mode()
def inspect_sentences(
    model: NVAE, texts: list[str], alpha_delta: float | None = None, spread_bias: float | None = None
) -> list[SentenceView]:
    """Encode, reconstruct (greedy) and read the cross-attention of each sentence (`spread_bias`: the
    positional prior's strength, None for the checkpoint's own, 0 for the content score alone)."""
    tok, cfg = model.tokenizer, model.cfg
    ad = alpha_delta_arg(cfg, alpha_delta)
    batch = encode_batch(tok, texts, cfg.max_len, model.device)
    latent = model.encode(batch.src, batch.pad_mask, ad, spread_bias).latent
    generated = model.generate(latent)
    views = []
    for b, text in enumerate(texts):
        n = int(latent.n_inputs[b])
        ids = batch.src[b, :n].tolist()
        tokens = tokens_of(tok, ids)
        records = [{**asdict(row), "label": component_label(row)} for row in latent.records(b, tokens)]
        single = latent.select(b).trim()
        tgt_in = torch.tensor([[cfg.bos_id] + generated[b]], device=single.device)
        _, weights = model.decode(single, tgt_in, need_weights=True)
        reference = decode_ids(tok, ids)
        reconstruction = decode_ids(tok, generated[b])
        views.append(
            SentenceView(
                text=text,
                reference=reference,
                tokens=tokens,
                truncated=bool(batch.truncated[b]),
                n_unknown=sum(i == UNK_ID for i in ids),
                components=records,
                n_retained=int(latent.n_retained[b]),
                n_inputs=n,
                retained_proportion=float(latent.retained_proportion[b]),
                reconstruction=reconstruction,
                bleu=sentence_bleu(reconstruction, reference),
                out_tokens=tokens_of(tok, generated[b]) + ["[EOS]"],
                attention=weights[0].float().cpu().tolist(),
                alpha_delta=ad,
                accents=dropped_accents(tok, text),
            )
        )
    return views


def component_weights(components: list[dict]) -> list[float]:
    """The weight each component (a row of `SentenceView.components`: a `LatentMixture.records` row as
    a dict) shows: pi when retained, else the
    share alpha / sum(alpha) it would have had (its pi were nothing pruned)."""
    total = sum(c["alpha"] for c in components) or 1.0
    return [c["pi"] if c["retained"] else c["alpha"] / total for c in components]


def token_weights(view: SentenceView) -> tuple[list[str], list[float], list[bool]]:
    """Per input token: (token, weight of its component as `component_weights` gives it, retained)."""
    shown = component_weights(view.components)
    by_source = {r["source"]: (r, w) for r, w in zip(view.components, shown) if r["source"] >= 0}
    tokens, weights, kept = [], [], []
    for i, token in enumerate(view.tokens):
        tokens.append(token)
        if i not in by_source:  # a strided baseline keeps only some positions
            weights.append(0.0), kept.append(False)
            continue
        r, w = by_source[i]
        weights.append(w)
        kept.append(bool(r["retained"]))
    return tokens, weights, kept


# -- sparsity -------------------------------------------------------------------------------------


@torch.inference_mode()
def sparsity_curve(model: NVAE, text: str, grid: list[float]) -> dict[str, list]:
    """Retained components and reconstruction BLEU of one sentence for every alpha^Delta in `grid`
    (one batch: the sentence repeated, one alpha^Delta per row)."""
    tok = model.tokenizer
    batch = encode_batch(tok, [text] * len(grid), model.cfg.max_len, model.device)
    ad = torch.tensor(grid, dtype=torch.float32, device=batch.src.device)
    latent = model.encode(batch.src, batch.pad_mask, ad).latent
    n = int(latent.n_inputs[0])
    reference = decode_ids(tok, batch.src[0, :n].tolist())
    texts = [decode_ids(tok, g) for g in model.generate(latent)]
    return {
        "alpha_delta": list(grid),
        "retained": latent.n_retained.tolist(),
        "n_inputs": n,
        "proportion": latent.retained_proportion.tolist(),
        "bleu": [sentence_bleu(t, reference) for t in texts],
    }


# -- interpolation --------------------------------------------------------------------------------


@dataclass
class Pair:
    """Two encoded endpoints (batch size 1 each) and what is needed to label and score them."""

    a: LatentMixture
    b: LatentMixture
    tokens_a: list[str]
    tokens_b: list[str]
    ref_a: str
    ref_b: str
    truncated: list[bool]


@torch.inference_mode()
def encode_pair(model: NVAE, text_a: str, text_b: str) -> Pair:
    tok = model.tokenizer
    batch = encode_batch(tok, [text_a, text_b], model.cfg.max_len, model.device)
    latent = model.encode(batch.src, batch.pad_mask).latent
    ids = [batch.src[i, : int(latent.n_inputs[i])].tolist() for i in range(2)]
    return Pair(
        a=latent.select(0).trim(),
        b=latent.select(1).trim(),
        tokens_a=tokens_of(tok, ids[0]),
        tokens_b=tokens_of(tok, ids[1]),
        ref_a=decode_ids(tok, ids[0]),
        ref_b=decode_ids(tok, ids[1]),
        truncated=list(batch.truncated),
    )


def word_diff(previous: str, current: str) -> str:
    """What changed from `previous` to `current`, word by word: '-old +new' ('' if nothing)."""
    a, b = previous.split(), current.split()
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            parts.append("-" + " ".join(a[i1:i2]))
        if op in ("insert", "replace"):
            parts.append("+" + " ".join(b[j1:j2]))
    return " ".join(parts)


@torch.inference_mode()
def interpolation_strip(
    model: NVAE, pair: Pair, taus: list[float] = STRIP_TAUS, mixing: str = DEFAULT_MIXING
) -> list[dict]:
    """Decode the mixture of F_A and F_B at every tau at once, tau shared among the components by
    `mixing` (`mixture.MIXINGS`; "uniform" is (1 - tau) F_A + tau F_B); each row scored against
    both ends and compared with the row before."""
    mixed = pair.a.mix(pair.b, torch.tensor(taus, dtype=torch.float32), mixing)
    texts = decode_batch(model.tokenizer, model.generate(mixed))
    rows = []
    for k, (tau, text) in enumerate(zip(taus, texts)):
        prev = texts[k - 1] if k else text
        rows.append(
            {
                "tau": float(tau),
                "text": text,
                "changed": k > 0 and text != prev,
                "change": word_diff(prev, text) if k else "",
                "bleu_a": sentence_bleu(text, pair.ref_a),
                "bleu_b": sentence_bleu(text, pair.ref_b),
            }
        )
    return rows


def mix_provenance(pair: Pair, mixed: LatentMixture, i: int) -> tuple[str, str]:
    """(origin, token) of component i of `pair.a.mix(pair.b, tau)`: "A" or "B" and its source
    token for a mixture of sets (NVAE: `LatentMixture.mix` concatenates A's components, then
    B's), "A+B" and the tokens of A and of B at position i's relative place for a position-wise
    mixture (the baselines: `mixture.position_sources`)."""
    src = int(mixed.source[0, i])
    if pair.a.has_prior:
        from_a = i < pair.a.n_components
        origin, names = ("A", [_token(pair.tokens_a, src)]) if from_a else ("B", [_token(pair.tokens_b, src)])
    else:
        src_a, src_b = position_sources(pair.a, pair.b, int((~mixed.pad[0]).sum()))
        origin, names = "A+B", [_token(pair.tokens_a, src_a[i]), _token(pair.tokens_b, src_b[i])]
    return origin, "/".join(dict.fromkeys(t for t in names if t))


def _token(tokens: list[str], source: int) -> str:
    """The name of a component's source: its token, ⟨prior⟩, ⟨pooled⟩ ('' if out of range)."""
    return source_label(source, tokens) if source < 0 or source < len(tokens) else ""


@torch.inference_mode()
def mix_at(model: NVAE, pair: Pair, tau: float, mixing: str = DEFAULT_MIXING) -> dict[str, Any]:
    """Decode the mixture at one tau (shared by `mixing`) and list which components of A and B carry its weight."""
    mixed = pair.a.mix(pair.b, float(tau), mixing)
    text = decode_batch(model.tokenizer, model.generate(mixed))[0]
    comps = []
    for i in range(mixed.n_components):
        if bool(mixed.pad[0, i]):
            continue
        origin, token = mix_provenance(pair, mixed, i)
        comps.append(
            {
                "origin": origin,
                "component": i,
                "token": token,
                "weight": float(mixed.pi[0, i]),
                "retained": not bool(mixed.mask[0, i]),
            }
        )
    return {
        "tau": float(tau),
        "text": text,
        "bleu_a": sentence_bleu(text, pair.ref_a),
        "bleu_b": sentence_bleu(text, pair.ref_b),
        "components": comps,
    }


# -- the components of many sentences -------------------------------------------------------------


def corpus_sample(tokenizer, n: int, seed: int = 0) -> list[str]:
    """n sentences drawn (repeatably, `corpus_study.draw`) from the local WikiText-2 test split."""
    from ..data.corpora import load_sentences

    return draw_sentences(load_sentences("wikitext-2", "test", tokenizer), n, seed)


@torch.inference_mode()
def component_points(
    model: NVAE, texts: list[str], alpha_delta: float | None = None, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """The retained components of each sentence (the prior, the same for all, left out; a VTP's one
    pooled vector kept, at position 0, the one place it has, with the token ⟨pooled⟩): means [M, P],
    sentence index, token position, token and weight pi, as arrays of length M."""
    means, sentence, position, token, weight = [], [], [], [], []
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    for start, batch, latent in encoded_batches(model, ids, alpha_delta_arg(model.cfg, alpha_delta), batch_size):
        keep = latent.retained & ((latent.source >= 0) | (latent.source == POOLED))
        for b in range(latent.batch_size):
            tokens = tokens_of(model.tokenizer, batch.src[b, : int(latent.n_inputs[b])].tolist())
            idx = keep[b].nonzero().flatten()
            means.append(latent.mu[b, idx].float().cpu().numpy())
            for i in idx.tolist():
                src = int(latent.source[b, i])
                sentence.append(start + b)
                position.append(max(src, 0))  # a pooled vector (POOLED) has no position of its own
                token.append(source_label(src, tokens))
                weight.append(float(latent.pi[b, i]))
    P = model.cfg.d_model
    return {
        "means": np.concatenate(means) if means else np.zeros((0, P), np.float32),
        "sentence": np.asarray(sentence, dtype=np.int64),
        "position": np.asarray(position, dtype=np.int64),
        "token": np.asarray(token, dtype=str),
        "weight": np.asarray(weight, dtype=np.float32),
    }


# -- samples from the prior -----------------------------------------------------------------------


SAMPLE_SOURCES = {
    "prior": "the prior: z ~ N(0, I)",
    "aggregate": "the aggregate posterior: a Gaussian fitted to the training sentences' retained means",
}


def sample_sources(model: NVAE) -> list[str]:
    """The sources this checkpoint can draw latents from: the prior (an NVAE), and the aggregate
    posterior when its fit is stored beside the checkpoint (`model.aggregate`)."""
    if not model.cfg.is_nvae:
        return []
    return ["prior", "aggregate"] if getattr(model, "aggregate", None) is not None else ["prior"]


@torch.inference_mode()
def drawn_samples(
    model: NVAE,
    source: str,
    n_components: int,
    n_samples: int,
    seed: int,
    temperature: float,
    alpha_delta: float | None = None,
) -> list[dict]:
    """Sentences decoded from latents drawn from `source` ("prior" or "aggregate",
    `nvae.evaluation.sampling.draw`), each row naming its source."""
    latent = draw(model, source, n_components, batch_size=n_samples, alpha_delta=alpha_delta, seed=seed)
    texts = decode_batch(model.tokenizer, model.generate(latent, temperature=temperature, seed=seed))
    pis = latent.pi.float().cpu()
    return [
        {"sample": i, "source": source, "text": t, "largest_weight": float(pis[i].max()), "weights": pis[i].tolist()}
        for i, t in enumerate(texts)
    ]
