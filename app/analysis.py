"""What the pages show, computed with nvae's public API (no streamlit here, and no model math).

Each function takes a loaded model (eval mode) and returns plain Python data (lists, dicts, numpy
arrays) that `st.cache_data` can store, the figure functions can draw and the benchmark can time.
Model calls run under `torch.inference_mode()`.
"""

from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sacrebleu
import torch

from nvae.attention import denoise
from nvae.nvib import LatentMixture, source_label
from nvae.text import UNK_ID, clean_user_text, decode_ids, tokens_of

MAX_SENTENCES = 5  # sentences per text box
MAX_INPUT_CHARS = 20_000  # typed text beyond this is cut before tokenizing (the model keeps far fewer)
STRIP_TAUS = [round(i / 10, 1) for i in range(11)]  # the interpolation strip: tau = 0, 0.1, ..., 1


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """sacrebleu's sentence BLEU (0..100) of one hypothesis against one reference."""
    return float(sacrebleu.sentence_bleu(hypothesis, [reference]).score)


# -- typed text ----------------------------------------------------------------------------------


@dataclass
class TextCheck:
    """Typed text split into sentences: `texts` (cleaned, non-empty), errors and notices to show."""

    texts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def check_text(raw: Any, max_sentences: int = MAX_SENTENCES, one_per_line: bool = True) -> TextCheck:
    """Validate typed text; never raises. With `one_per_line`, each non-empty line is a sentence."""
    out = TextCheck()
    raw = raw if isinstance(raw, str) else ""
    if len(raw) > MAX_INPUT_CHARS:
        raw = raw[:MAX_INPUT_CHARS]
        out.notices.append(f"The text is very long: only its first {MAX_INPUT_CHARS:,} characters were read.")
    pieces = raw.splitlines() if one_per_line else [raw]
    texts = [t for t in (clean_user_text(p) for p in pieces) if t]
    if not texts:
        out.errors.append("Type a sentence: the text is empty (or holds only spaces or invisible characters).")
    elif len(texts) > max_sentences:
        out.notices.append(f"Only the first {max_sentences} sentences are used ({len(texts)} were given).")
        texts = texts[:max_sentences]
    out.texts = texts
    return out


def alpha_delta_active(cfg) -> bool:
    """True when alpha^Delta changes this model's latent (a loss-conditional NVAE)."""
    return cfg.model_type == "nvae" and bool(cfg.alpha_delta_conditional)


def alpha_delta_arg(cfg, value: float | None) -> float | None:
    """The alpha_delta to pass to `model.encode`: the value for a loss-conditional NVAE, else None."""
    if value is None or not alpha_delta_active(cfg):
        return None
    return float(min(max(value, cfg.alpha_delta_min), cfg.alpha_delta_max))


def alpha_grid(cfg, n: int = 25) -> list[float]:
    """Log-spaced alpha^Delta values over the model's trained range (3 significant digits), plus
    the config's own value."""
    lo, hi = float(cfg.alpha_delta_min), float(cfg.alpha_delta_max)
    if hi <= lo:
        return [lo]
    values = {float(f"{v:.3g}") for v in np.geomspace(lo, hi, n)}
    values.add(float(f"{min(max(cfg.alpha_delta, lo), hi):.3g}"))
    return sorted(v for v in values if lo <= v <= hi) or [lo]


ROUND_MANTISSAS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)  # about log-spaced: 11 round stops a decade


def alpha_stops(cfg, extra=()) -> list[float]:
    """The alpha^Delta slider's stops: round values about log-spaced over the model's trained range
    (..., 0.01, 0.012, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, ..., 1, ...), both ends of the range,
    the model's default, and any `extra` value inside the range (a link's exact value), each kept to
    6 significant digits (as the URL writes it). Nothing is hard-coded to one model's range."""
    lo, hi = float(cfg.alpha_delta_min), float(cfg.alpha_delta_max)
    if hi <= lo:
        return [lo]
    values = {lo, hi, float(f"{min(max(cfg.alpha_delta, lo), hi):.6g}")}
    for exponent in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        values.update(float(f"{m}e{exponent}") for m in ROUND_MANTISSAS)
    for v in extra:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            values.add(float(f"{v:.6g}"))
    return sorted(v for v in values if lo <= v <= hi)


def nearest(value: float, options: list[float]) -> float:
    """The option closest to `value` (in log space when all are positive)."""
    if all(o > 0 for o in options) and value > 0:
        return min(options, key=lambda o: abs(math.log(o) - math.log(value)))
    return min(options, key=lambda o: abs(o - value))


# -- what a sentence became: truncation, unknown pieces -----------------------------------------


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

    @property
    def mostly_unknown(self) -> bool:
        return mostly_unknown(self.n_unknown, self.n_inputs)


def token_info(model, texts: list[str]) -> list[TokenInfo]:
    """Tokenize only (no model call): each sentence's length, [UNK] count and truncation."""
    batch = model.tokenize(list(texts))
    lengths = (~batch.pad_mask).sum(-1).tolist()
    return [
        TokenInfo(
            n_inputs=int(n),
            n_unknown=sum(i == UNK_ID for i in batch.src[b, : int(n)].tolist()),
            truncated=bool(batch.truncated[b]),
        )
        for b, n in enumerate(lengths)
    ]


# -- what a checkpoint's latent is ----------------------------------------------------------------

_LATENTS = {
    "nvae": "a Dirichlet-weighted mixture of Gaussian components, one per input token plus a prior component, "
    "pruned by the conditional prior α^Δ",
    "t": "the encoder states themselves: one vector per token (no noise, no regulariser, nothing pruned)",
    "vt": "one Gaussian vector per token (nothing pruned)",
    "vtp": "one Gaussian vector pooled over the whole sentence",
    "vts": "a Gaussian vector on every {nth} position (nothing pruned)",
}


def latent_description(model_type: str, stride: int = 2) -> str:
    """What a checkpoint's latent is, in its own terms (a baseline has no prior and no α^Δ)."""
    nth = {1: "", 2: "second", 3: "third"}.get(int(stride), f"{int(stride)}th")
    text = _LATENTS.get(model_type, "its encoder's latent vectors")
    return text.format(nth=nth).replace("every  position", "every position")


def is_baseline(cfg) -> bool:
    """A baseline (T, VT, VTP, VTS): a fixed set of vectors, no prior component, no α^Δ."""
    return cfg.model_type != "nvae"


# -- page 1: inspect -----------------------------------------------------------------------------


@dataclass
class SentenceView:
    """One encoded sentence, ready to draw."""

    text: str  # as typed (cleaned)
    reference: str  # the tokenizer's round trip of the input: what a perfect reconstruction gives
    tokens: list[str]  # input tokens, [EOS] included
    truncated: bool
    n_unknown: int  # input pieces outside the vocabulary ([UNK])
    components: list[dict]  # LatentMixture.records, plus "label"
    n_retained: int
    n_inputs: int
    retained_proportion: float
    reconstruction: str
    bleu: float
    out_tokens: list[str]  # generated tokens, then [EOS] (rows of `attention`)
    attention: list[list[float]]  # [T, N] last decoder layer's cross-attention, head-averaged
    alpha_delta: float | None

    @property
    def mostly_unknown(self) -> bool:
        return mostly_unknown(self.n_unknown, self.n_inputs)


def component_label(record: dict) -> str:
    """'#3 game': component number and its source token (or ⟨prior⟩)."""
    return f"#{record['component']} {record['token']}"


@torch.inference_mode()
def inspect_sentences(model, texts: list[str], alpha_delta: float | None = None) -> list[SentenceView]:
    """Encode, reconstruct (greedy) and read the cross-attention of each sentence."""
    tok, cfg = model.tokenizer, model.cfg
    ad = alpha_delta_arg(cfg, alpha_delta)
    batch = model.tokenize(texts)
    latent = model.encode(batch, alpha_delta=ad)
    generated = model.generate(latent)
    views = []
    for b, text in enumerate(texts):
        n = int(latent.n_inputs[b])
        ids = batch.src[b, :n].tolist()
        tokens = tokens_of(tok, ids)
        records = latent.records(b, tokens)
        for r in records:
            r["label"] = component_label(r)
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
            )
        )
    return views


def components_table(view: SentenceView) -> list[dict]:
    """Rows for the components table and its CSV/JSON export."""
    return [
        {
            "component": r["component"],
            "source": source_label(r["source"]).strip("⟨⟩") if r["source"] < 0 else f"token {r['source']}",
            "token": r["token"],
            "alpha": r["alpha"],
            "pi": r["pi"],
            "status": "retained" if r["retained"] else "pruned",
            "mean_variance": r["mean_variance"],
        }
        for r in view.components
    ]


def token_weights(view: SentenceView) -> tuple[list[str], list[float], list[bool]]:
    """Per input token: (token, weight of its component, retained). Weight is pi when retained,
    else the share alpha / sum(alpha) it would have had."""
    total = sum(r["alpha"] for r in view.components) or 1.0
    by_source = {r["source"]: r for r in view.components if r["source"] >= 0}
    tokens, weights, kept = [], [], []
    for i, token in enumerate(view.tokens):
        r = by_source.get(i)
        if r is None:  # a strided baseline keeps only some positions
            tokens.append(token), weights.append(0.0), kept.append(False)
            continue
        tokens.append(token)
        weights.append(r["pi"] if r["retained"] else r["alpha"] / total)
        kept.append(bool(r["retained"]))
    return tokens, weights, kept


# -- page 2: sparsity ----------------------------------------------------------------------------


@torch.inference_mode()
def sparsity_curve(model, text: str, grid: list[float]) -> dict[str, list]:
    """Retained components and reconstruction BLEU of one sentence for every alpha^Delta in `grid`
    (one batch: the sentence repeated, one alpha^Delta per row)."""
    tok = model.tokenizer
    batch = model.tokenize([text] * len(grid))
    ad = torch.tensor(grid, dtype=torch.float32, device=batch.src.device)
    latent = model.encode(batch, alpha_delta=ad)
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


# -- page 3: interpolate -------------------------------------------------------------------------


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
def encode_pair(model, text_a: str, text_b: str) -> Pair:
    batch = model.tokenize([text_a, text_b])
    latent = model.encode(batch)
    ids = [batch.src[i, : int(latent.n_inputs[i])].tolist() for i in range(2)]
    tok = model.tokenizer
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
def interpolation_strip(model, pair: Pair, taus: list[float] = STRIP_TAUS) -> list[dict]:
    """Decode (1 - tau) F_A + tau F_B for every tau at once; each row scored against both ends and
    compared with the row before."""
    mixed = pair.a.mix(pair.b, torch.tensor(taus, dtype=torch.float32))
    texts = model.decode_text(mixed)
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


@torch.inference_mode()
def mix_at(model, pair: Pair, tau: float) -> dict[str, Any]:
    """Decode the mixture at one tau and list which components of A and B carry its weight."""
    mixed = pair.a.mix(pair.b, float(tau))
    text = model.decode_text(mixed)[0]
    na = pair.a.n_components
    comps = []
    for i in range(mixed.n_components):
        if bool(mixed.pad[0, i]):
            continue
        src = int(mixed.source[0, i])
        if pair.a.has_prior:  # a set: the first na components are A's, the rest B's
            origin, names = ("A", [_token(pair.tokens_a, src)]) if i < na else ("B", [_token(pair.tokens_b, src)])
        else:  # position-wise: component i mixes the vectors of A and B at that position
            origin, names = "A+B", [_token(pair.tokens_a, src), _token(pair.tokens_b, src)]
        token = "/".join(dict.fromkeys(t for t in names if t))
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


def _token(tokens: list[str], source: int) -> str:
    """The name of a component's source: its token, ⟨prior⟩, ⟨pooled⟩ ('' if out of range)."""
    return source_label(source, tokens) if source < 0 or source < len(tokens) else ""


# -- page 4: latent map --------------------------------------------------------------------------


def corpus_sample(tokenizer, n: int, seed: int = 0) -> list[str]:
    """n sentences drawn (repeatably) from the local WikiText-2 test split."""
    from nvae.data import load_sentences

    sentences = load_sentences("wikitext-2", "test", tokenizer)
    if len(sentences) > n:
        sentences = random.Random(seed).sample(sentences, n)
    return sentences


@torch.inference_mode()
def component_points(
    model, texts: list[str], alpha_delta: float | None = None, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """The retained components of each sentence (the prior, the same for all, left out):
    means [M, P], sentence index, token position, token and weight pi, as arrays of length M."""
    means, sentence, position, token, weight = [], [], [], [], []
    ad = alpha_delta_arg(model.cfg, alpha_delta)
    for start in range(0, len(texts), batch_size):
        batch = model.tokenize(texts[start : start + batch_size])
        latent = model.encode(batch, alpha_delta=ad)
        keep = latent.retained & (latent.source >= 0)
        for b in range(latent.batch_size):
            tokens = tokens_of(model.tokenizer, batch.src[b, : int(latent.n_inputs[b])].tolist())
            idx = keep[b].nonzero().flatten()
            means.append(latent.mu[b, idx].float().cpu().numpy())
            for i in idx.tolist():
                src = int(latent.source[b, i])
                sentence.append(start + b)
                position.append(src)
                token.append(tokens[src] if src < len(tokens) else str(src))
                weight.append(float(latent.pi[b, i]))
    P = model.cfg.d_model
    return {
        "means": np.concatenate(means) if means else np.zeros((0, P), np.float32),
        "sentence": np.asarray(sentence, dtype=np.int64),
        "position": np.asarray(position, dtype=np.int64),
        "token": np.asarray(token, dtype=str),
        "weight": np.asarray(weight, dtype=np.float32),
    }


def fit_map(means: np.ndarray, init: np.ndarray | None = None, seed: int = 0):
    """A 2-D UMAP of component means. With `init` (a layout computed before), the layout is kept as
    it is (no optimisation epochs) and only the neighbour graph that `transform` needs is rebuilt."""
    import warnings

    import umap

    n_neighbors = int(max(2, min(15, len(means) - 1)))
    if init is None:
        reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=0.1, random_state=seed)
    else:
        reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=0.1, random_state=seed, init=init, n_epochs=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap: "n_jobs overridden by random_state", numba notes
        reducer.fit(means)
    reducer.n_epochs = None  # transform() then uses its default number of epochs
    if init is not None:
        reducer.embedding_ = np.asarray(init, dtype=np.float32)
    return reducer


def selected_rows(
    points: list[dict],
    corpus: dict,
    sentences: list[str],
    user: dict | None = None,
    user_sentences: list[str] | None = None,
    limit: int = 5000,
) -> list[dict]:
    """Rows (sentence, token, weight) for points picked on the map. Each point carries
    `customdata` = [layer, index]: layer 0 = corpus, 1 = the user's sentences."""
    rows = []
    for p in points[:limit]:
        data = p.get("customdata") if isinstance(p, dict) else None
        if not isinstance(data, (list, tuple)) or len(data) < 2:
            continue
        try:
            layer, idx = int(data[0]), int(data[1])
        except (TypeError, ValueError):
            continue
        source, texts = (corpus, sentences) if layer == 0 else (user, user_sentences)
        if source is None or texts is None or not 0 <= idx < len(source["token"]):
            continue
        s = int(source["sentence"][idx])
        rows.append(
            {
                "from": "corpus" if layer == 0 else "yours",
                "token": str(source["token"][idx]),
                "weight": float(source["weight"][idx]),
                "sentence": texts[s] if 0 <= s < len(texts) else "",
            }
        )
    return rows


def by_sentence(rows: list[dict]) -> list[dict]:
    """Selected components grouped per sentence (the user's first): the tokens picked in each."""
    groups: dict[tuple[str, str], dict] = {}
    for r in rows:
        g = groups.setdefault(
            (r["from"], r["sentence"]), {"from": r["from"], "sentence": r["sentence"], "tokens": [], "weight": 0.0}
        )
        g["tokens"].append(r["token"])
        g["weight"] += r["weight"]
    out = sorted(groups.values(), key=lambda g: (g["from"] != "yours", -len(g["tokens"])))
    return [
        {
            "from": g["from"],
            "components": len(g["tokens"]),
            "tokens": " ".join(g["tokens"]),
            "total weight": g["weight"],
            "sentence": g["sentence"],
        }
        for g in out
    ]


# -- page 5: samples -----------------------------------------------------------------------------


@torch.inference_mode()
def prior_samples(
    model, n_components: int, n_samples: int, seed: int, temperature: float, alpha_delta: float | None = None
) -> list[dict]:
    """Sentences decoded from latents drawn from the prior (NVAE only)."""
    latent = model.sample_prior(n_components, batch_size=n_samples, alpha_delta=alpha_delta, seed=seed)
    texts = model.decode_text(latent, temperature=temperature, seed=seed)
    pis = latent.pi.float().cpu()
    return [
        {"sample": i, "text": t, "largest_weight": float(pis[i].max()), "weights": pis[i].tolist()}
        for i, t in enumerate(texts)
    ]


# -- page 6: denoising attention in 2-D ----------------------------------------------------------


def ordinary_attention(query: np.ndarray, z: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary attention in the space of z: softmax(u . z_i / scale) z, scale = sqrt(d).
    Returns (result [2], weights [K])."""
    logits = z @ query / scale
    w = np.exp(logits - logits.max())
    w = w / w.sum()
    return w @ z, w


def denoising_demo(means, variances, weights, query, d: float) -> dict[str, Any]:
    """Ordinary attention over the means vs denoising attention over the mixture
    sum_i pi_i N(mu_i, diag(var_i)), both with noise variance sqrt(d), via nvae.attention.denoise.

    Also checks the poster's identity: ordinary attention equals denoising attention over impulses
    at the means weighted by exp(||z||^2 / (2 sqrt(d))).
    """
    mu = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    var = np.maximum(np.asarray(variances, dtype=np.float64).reshape(-1, 2), 1e-9)
    pi = np.asarray(weights, dtype=np.float64).reshape(-1)
    pi = pi / pi.sum() if pi.sum() > 0 else np.full_like(pi, 1.0 / len(pi))
    u = np.asarray(query, dtype=np.float64).reshape(2)
    noise = math.sqrt(d)
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    log_pi = np.log(np.maximum(pi, 1e-300))
    vbar, w = denoise(t(u).view(1, 1, 1, 2), t(mu)[None], t(var)[None], t(log_pi)[None], noise)
    ordinary, w_ord = ordinary_attention(u, mu, noise)
    sq = (mu**2).sum(-1) / (2 * noise)
    impulse_log_pi = sq - np.logaddexp.reduce(sq)
    vbar_imp, _ = denoise(
        t(u).view(1, 1, 1, 2),
        t(mu)[None],
        torch.zeros(1, len(mu), 2, dtype=torch.float64),
        t(impulse_log_pi)[None],
        noise,
    )
    return {
        "noise_var": noise,
        "weights": pi.tolist(),
        "ordinary": ordinary.tolist(),
        "ordinary_weights": w_ord.tolist(),
        "denoised": vbar.view(2).tolist(),
        "denoised_weights": w.view(-1).tolist(),
        "identity_gap": float(np.abs(vbar_imp.view(2).numpy() - ordinary).max()),
    }
