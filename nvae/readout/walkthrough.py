"""One sentence through an NVAE, one step at a time, as plain numbers (the app's Walkthrough page):
the tokens, the encoder states, each token's Gaussian component (mean, variance, pseudo-count
alpha), the prior component, pruning at the threshold, the weights pi, the last decoder layer's
queries and where denoising attention sends them, the next token chosen, and the reconstruction.

- `trace(model, text, alpha_delta)`: everything above for one sentence, computed once (one encode,
  one greedy generation, one teacher-forced decode over the generated tokens);
- `query_plane(trace, t, h)`: one decoder query (output step t, head h) and the mixture it reads,
  projected to 2-D for the picture of `nvae.readout.attention2d` / the Denoising page;
- `split_explanation(cfg, trace)`: for a checkpoint whose kept components stand for segments, how
  pruning splits the sentence, in two plain sentences.

The queries are the model's own: `NVAE.cross_queries` runs the decoder up to its last layer's
cross-attention and reads the query in latent space u_h = (W_k^h)^T q_h there;
`nvae.model.attention.denoise` then gives the weights and the denoised vector (docs/nvib.md section 3).
Their mean over heads equals the cross-attention weights `model.decode` reports
(tests/test_walkthrough.py checks it). Nothing here imports streamlit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..data.text import UNK_ID, decode_ids, encode_batch, tokens_of
from ..evaluation.metrics import sentence_bleu
from ..model.attention import denoise
from ..model.autoencoder import NVAE
from ..model.kept_set import chooses_segments, pools_segments
from ..model.mixture import PRIOR
from .sentence import alpha_delta_arg, dropped_accents, mostly_unknown

TOP_K = 5  # next-token candidates kept per output step


@dataclass
class Trace:
    """One sentence through the model (eval mode, deterministic)."""

    text: str  # as given
    reference: str  # the tokenizer's round trip: what a perfect reconstruction gives
    tokens: list[str]  # the n input tokens, [EOS] included
    token_ids: list[int]
    truncated: bool
    n_unknown: int  # input pieces outside the vocabulary
    alpha_delta: float  # the alpha^Delta the latent was made at
    threshold: float  # a token component is pruned when its alpha is not above this
    noise_var: float  # sqrt(E): denoising attention's noise variance (E = head width)
    n_heads: int
    layer: int  # the decoder layer whose queries are traced (the last), counted from 0
    states: np.ndarray  # [n, P] encoder states h_i
    components: list[dict]  # N = n + 1 rows, prior first: component, source, token, mu_norm, mean_variance,
    # log_alpha, alpha, pi, retained (prior included: it is always kept); with a positional prior also
    # log_alpha_content and retained_by_content: the same at the prior's strength 0 (the content score alone)
    mu: np.ndarray  # [N, P] component means
    var: np.ndarray  # [N, P] component variances
    prior_alpha: float  # the prior component's pseudo-count
    prior_mean: float
    prior_variance: float
    prior_total: float  # the conditional prior's total alpha0_p = prior_alpha + alpha^Delta n
    posterior_total: float  # sum of every component's alpha (prior included)
    n_retained: int  # token components kept (the prior not counted)
    retained_proportion: float  # n_retained / n
    out_tokens: list[str]  # the T tokens written, one per output step: the generated ones, then [EOS]
    stopped: bool  # greedy decoding wrote [EOS]; False: it ran into the length limit (no [EOS] step)
    reconstruction: str
    bleu: float  # sentence BLEU of the reconstruction against `reference`
    queries: np.ndarray  # [T, H, P] the traced layer's queries in latent space
    attention: np.ndarray  # [T, H, N] denoising attention weights (0 at pruned components)
    denoised: np.ndarray  # [T, H, P] the denoised vectors, posterior means E[v | u]
    choices: list[list[dict]]  # per output step: the TOP_K candidates {token, id, probability}, best first
    chosen: list[dict]  # per output step: the token greedy decoding wrote {token, id, probability, rank}
    accents: list[str] = field(default_factory=list)  # words read without their accents ('café → cafe')

    @property
    def n_inputs(self) -> int:
        """Input tokens, [EOS] included (as a readout.SentenceView counts them)."""
        return len(self.tokens)

    @property
    def mostly_unknown(self) -> bool:
        return mostly_unknown(self.n_unknown, self.n_inputs)

    @property
    def kept(self) -> np.ndarray:
        """[N] True for the components the decoder reads (the prior and the retained tokens)."""
        return np.array([c["retained"] for c in self.components], dtype=bool)


@torch.inference_mode()
def trace(model: NVAE, text: str, alpha_delta: float | None = None, top_k: int = TOP_K) -> Trace:
    """Encode `text` at `alpha_delta` (the model's default when None; clamped to the trained range),
    decode it greedily, and read every intermediate step. NVAE checkpoints only."""
    cfg = model.cfg
    if not cfg.is_nvae:
        raise ValueError("the walkthrough follows an NVAE's latent: a baseline has no prior, no alpha and no pruning")
    tok = model.tokenizer
    ad = alpha_delta_arg(cfg, alpha_delta)
    batch = encode_batch(tok, [text], cfg.max_len, model.device)
    enc = model.encode(batch.src, batch.pad_mask, ad)
    states, latent = enc.states, enc.latent
    n = int(latent.n_inputs[0])
    ids = batch.src[0, :n].tolist()
    tokens = tokens_of(tok, ids)
    generated = model.generate(latent)[0]
    stopped = len(generated) < cfg.max_len  # it wrote [EOS]; else decoding ran into the length limit
    written = generated + ([cfg.eos_id] if stopped else [])  # step t writes written[t] after BOS + written[:t]
    tgt_in = torch.tensor([[cfg.bos_id] + written[:-1]], device=latent.device)
    logits = model.decode(latent, tgt_in).float()[0]  # [T, V]

    # the last decoder layer's queries in latent space [1, H, T, P], as the model forms them
    u = model.cross_queries(latent, tgt_in)
    H, T = u.shape[1], u.shape[2]
    noise_var = math.sqrt(cfg.d_model // cfg.n_heads)  # sqrt(E), E the head width
    mu, var = latent.mu.float(), latent.logvar.float().exp()
    if cfg.nvib.decode_form == "means":  # read by its means: the integral with every variance 0 is z = mu's sample form
        var = torch.zeros_like(var)
    vbar, weights = denoise(u, mu, var, latent.log_pi.float(), noise_var)

    probs = logits.clone()
    probs[:, cfg.pad_id] = float("-inf")  # never written, as in NVAE.generate
    probs[:, cfg.bos_id] = float("-inf")
    probs = torch.softmax(probs, dim=-1)
    top = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
    choices, chosen = [], []
    for t in range(T):
        cand = [
            {"token": tokens_of(tok, [i])[0], "id": int(i), "probability": float(p)}
            for p, i in zip(top.values[t].tolist(), top.indices[t].tolist())
        ]
        choices.append(cand)
        w = written[t]
        p = float(probs[t, w])
        chosen.append(
            {"token": tokens_of(tok, [w])[0], "id": int(w), "probability": p, "rank": int((probs[t] > p).sum()) + 1}
        )

    records = [asdict(row) for row in latent.records(0, tokens)]  # dicts: the trace adds its own keys
    norms = mu[0].norm(dim=-1).tolist()
    for r in records:
        r["mu_norm"] = float(norms[r["component"]])
        r["log_alpha"] = float(np.log(max(r["alpha"], 1e-300)))
    if cfg.nvib.spread_bias:  # what the content score alone (the positional prior at 0) would give each token
        content = model.latent_from_states(states, batch.pad_mask, ad, 0.0).latent.records(0, tokens)
        for r, c in zip(records, content):
            r["log_alpha_content"] = float(np.log(max(c.alpha, 1e-300)))
            r["retained_by_content"] = c.retained
    reference = decode_ids(tok, ids)
    reconstruction = decode_ids(tok, generated)
    used_ad = float(cfg.nvib.alpha_delta if ad is None else ad)
    prior_alpha = float(latent.alpha[0, 0])
    return Trace(
        text=text,
        reference=reference,
        tokens=tokens,
        token_ids=ids,
        truncated=bool(batch.truncated[0]),
        n_unknown=sum(i == UNK_ID for i in ids),
        alpha_delta=used_ad,
        threshold=float(latent.threshold),
        noise_var=noise_var,
        n_heads=H,
        layer=cfg.n_dec_layers - 1,
        states=states[0, :n].float().cpu().numpy(),
        components=records,
        mu=mu[0].cpu().numpy(),
        var=var[0].cpu().numpy(),
        prior_alpha=prior_alpha,
        prior_mean=float(cfg.prior_mu),
        prior_variance=float(cfg.prior_var),
        prior_total=prior_alpha + used_ad * n,
        posterior_total=float(latent.alpha[0].sum()),
        n_retained=int(latent.n_retained[0]),
        retained_proportion=float(latent.retained_proportion[0]),
        out_tokens=tokens_of(tok, generated) + (["[EOS]"] if stopped else []),
        stopped=stopped,
        reconstruction=reconstruction,
        bleu=sentence_bleu(reconstruction, reference),
        queries=u[0].transpose(0, 1).cpu().numpy(),  # [T, H, P]
        attention=weights[0].transpose(0, 1).cpu().numpy(),  # [T, H, N]
        denoised=vbar[0].transpose(0, 1).cpu().numpy(),
        choices=choices,
        chosen=chosen,
        accents=dropped_accents(tok, text),
    )


def split_explanation(cfg, tr: Trace) -> str | None:
    """For a checkpoint whose kept components stand for segments (`kept_set.pools_segments`), how the
    pruning step splits the sentence, in two sentences a teacher can read aloud, with this trace's
    numbers; None for any other checkpoint. With the segmentation chooser the pseudo-counts say how
    many components and the split of the token means says where (`kept_set.choose_segments`), each
    segment pooled with its summed pseudo-count (`pool_segments`, `pool_alpha`); with the score
    chooser the pseudo-counts choose the kept tokens, each pooled with the pruned tokens after it and
    keeping its own pseudo-count."""
    if not pools_segments(cfg):
        return None
    k = int(cfg.nvib.min_kept)
    n = tr.n_retained
    if chooses_segments(cfg):
        runs = "run" if n == 1 else "runs"
        return (
            f"The tokens' means μ_i are split into {n} {runs} of neighbouring tokens whose means are most alike; "
            f"{n} is the number of components the pseudo-counts keep at α^Δ = {tr.alpha_delta:g} (as many tokens "
            f"as have α above the threshold {tr.threshold:g}, at least {max(1, k)}). Each run becomes one "
            "component, kept at its first token: its mean is the mean of its tokens' means (its variance the sum "
            "of their variances over the square of the run's length) and its pseudo-count the sum of theirs."
        )
    floor = ", and always the one with the largest α" if k == 1 else f", and always the {k} with the largest α"
    floor = floor if k else ""
    return (
        f"The pseudo-counts choose the kept tokens (those whose α is above the threshold {tr.threshold:g}{floor}), "
        "and each kept component stands for its own token and the pruned tokens after it, up to the next kept "
        "one (the first kept one also for those before it). The decoder reads, for each, the average of those "
        "tokens' Gaussians (the mean of their means, the sum of their variances over the square of their "
        "number), while its pseudo-count stays its own token's."
    )


def _unit(v: np.ndarray) -> np.ndarray:
    """v / |v|, its largest entry made positive (a fixed sign, so pictures do not flip)."""
    v = v / np.linalg.norm(v)
    return v if v[np.argmax(np.abs(v))] > 0 else -v


def plane(points: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """[2, P] an orthonormal basis of the plane of `points`' two largest principal directions
    (centred on their mean). With fewer than three distinct points the missing directions come from
    `extra` (a vector, e.g. the query), then from the coordinate axes."""
    points = np.asarray(points, dtype=np.float64)
    P = points.shape[1]
    basis: list[np.ndarray] = []
    centred = points - points.mean(0)
    if len(points) > 1:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        basis = [_unit(vt[k]) for k in range(min(2, len(s))) if s[k] > 1e-6 * max(s[0], 1e-12)]
    candidates = ([extra] if extra is not None else []) + [np.eye(P)[k] for k in range(P)]
    for c in candidates:
        if len(basis) == 2:
            break
        r = np.asarray(c, dtype=np.float64).copy()
        for b in basis:
            r -= (r @ b) * b
        if np.linalg.norm(r) > 1e-6 * max(np.linalg.norm(c), 1e-12):
            basis.append(_unit(r))
    return np.stack(basis[:2])


def query_plane(tr: Trace, t: int, h: int) -> dict:
    """Output step `t`'s query of head `h` and the mixture it reads (the prior and the retained
    components), projected onto the plane of the components' two largest principal directions,
    the same plane for every step and head. A projection keeps weighted averages: the denoised
    vector, sum_i w_i (var_i u + s mu_i) / (var_i + s), lands among the projected means as it does in
    P dimensions. Each component's variance is drawn along the two axes (its marginal variance there).

    Returns what `attention_figures.denoising_2d` draws (means, variances, weights, labels, query, result) and
    plain numbers: the true distance |E[v | u] - u| and the share of the means' spread the plane shows."""
    T, H = tr.queries.shape[:2]
    if not (0 <= t < T and 0 <= h < H):
        raise IndexError(f"step {t} / head {h} outside the {T} steps and {H} heads")
    keep = np.flatnonzero(tr.kept)
    mu, var = tr.mu[keep].astype(np.float64), tr.var[keep].astype(np.float64)
    u, vbar = tr.queries[t, h].astype(np.float64), tr.denoised[t, h].astype(np.float64)
    w = tr.attention[t, h, keep].astype(np.float64)
    logits = mu @ u / tr.noise_var  # ordinary attention over the same means, for comparison
    w_ord = np.exp(logits - logits.max())
    w_ord /= w_ord.sum()
    ordinary = w_ord @ mu
    basis = plane(mu, extra=u)
    centred = mu - mu.mean(0)
    spread = float((centred**2).sum())
    shown = float(((centred @ basis.T) ** 2).sum())
    comps = [tr.components[i] for i in keep]
    return {
        "t": t,
        "head": h,
        "writes": tr.out_tokens[t],
        "components": [c["component"] for c in comps],
        "labels": [c["token"] if c["source"] != PRIOR else "prior" for c in comps],
        "means": (mu @ basis.T).tolist(),
        "variances": (var @ (basis**2).T).tolist(),
        "weights": [c["pi"] for c in comps],
        "query": (basis @ u).tolist(),
        "result": {
            "noise_var": tr.noise_var,
            "ordinary": (basis @ ordinary).tolist(),
            "ordinary_weights": w_ord.tolist(),
            "denoised": (basis @ vbar).tolist(),
            "denoised_weights": w.tolist(),
        },
        "shift": float(np.linalg.norm(vbar - u)),
        "query_norm": float(np.linalg.norm(u)),
        "spread_shown": shown / spread if spread > 0 else 1.0,
    }
