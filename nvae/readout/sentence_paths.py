"""Interpolation paths through several sentences, and the components of the mixture along them.

- `encode_waypoints`: the sentences encoded once (latents, tokens, references, each decoded alone);
- `path_strip(model, texts, steps, grid, mixing=...)`: A -> B -> C ... (up to five sentences): each segment
  decoded at the taus of `nvae.model.grids.tau_grid` (linear, or log-odds, which puts more steps near
  the ends where the decoded text changes), every step scored against every waypoint, and the
  whole path with the repeated junction steps dropped;
- `segment_at`, `path_labels`, `relabel_origins`, `bleu_against`, `strip_as_path`: a point of the
  path as (segment, tau), the components of a mixture named by their waypoint (A, B, C ...), BLEU
  against every waypoint, a two-sentence strip as a one-segment path;
- `path_components`: the components of the mixture at each step of a path, for a map (their
  means, once each, and their weight at each step); `path_centroids` the weighted centre of each
  step on a 2-D layout.

Plain values in and out; model calls run under `torch.inference_mode()`. No streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.text import decode_batch, decode_ids, encode_batch, tokens_of
from ..evaluation.metrics import sentence_bleu
from ..model.autoencoder import NVAE
from ..model.grids import tau_grid
from ..model.mixture import DEFAULT_MIXING, PRIOR, LatentMixture, check_mixing, position_sources
from .sentence import Pair, alpha_delta_arg, interpolation_strip, word_diff

LETTERS = "ABCDE"
MAX_WAYPOINTS = len(LETTERS)
GRIDS = ("linear", "logodds")
MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 3, 41, 11


def effective_alpha_delta(cfg, alpha_delta: float | None = None) -> float | None:
    """The alpha^Delta a latent is encoded at: the value given (clamped to the trained range) for a
    loss-conditional NVAE, else the model's own; None for a baseline (it has none)."""
    if not cfg.is_nvae:
        return None
    given = alpha_delta_arg(cfg, alpha_delta)
    return float(cfg.nvib.alpha_delta) if given is None else given


# -- encoding the waypoints -----------------------------------------------------------------------


@dataclass
class Waypoints:
    """Sentences encoded once (each latent trimmed, batch size 1), with what labels and scores them."""

    texts: list[str]
    latents: list[LatentMixture]
    tokens: list[list[str]]
    refs: list[str]  # the tokenizer's round trip of each input: what a perfect reconstruction gives
    decoded: list[str]  # each latent decoded alone
    truncated: list[bool]

    def pair(self, i: int) -> Pair:
        """Segment i: waypoint i -> waypoint i + 1, as `readout.interpolation_strip` takes it."""
        return Pair(
            a=self.latents[i],
            b=self.latents[i + 1],
            tokens_a=self.tokens[i],
            tokens_b=self.tokens[i + 1],
            ref_a=self.refs[i],
            ref_b=self.refs[i + 1],
            truncated=[self.truncated[i], self.truncated[i + 1]],
        )


@torch.inference_mode()
def encode_waypoints(model: NVAE, texts: Sequence[str], alpha_delta: float | None = None) -> Waypoints:
    """Encode the sentences in one batch and decode each alone."""
    texts = list(texts)
    tok = model.tokenizer
    batch = encode_batch(tok, texts, model.cfg.max_len, model.device)
    latent = model.encode(batch.src, batch.pad_mask, alpha_delta_arg(model.cfg, alpha_delta)).latent
    ids = [batch.src[i, : int(latent.n_inputs[i])].tolist() for i in range(len(texts))]
    return Waypoints(
        texts=texts,
        latents=[latent.select(i).trim() for i in range(len(texts))],
        tokens=[tokens_of(tok, x) for x in ids],
        refs=[decode_ids(tok, x) for x in ids],
        decoded=decode_batch(tok, model.generate(latent)),
        truncated=[bool(t) for t in batch.truncated],
    )


# -- a path through several sentences -------------------------------------------------------------


def check_steps(steps: int, grid: str, mixing: str = DEFAULT_MIXING) -> None:
    """Steps, tau grid and mixing of a strip, checked (ValueError naming the choices)."""
    check_mixing(mixing)
    if not MIN_STEPS <= int(steps) <= MAX_STEPS:
        raise ValueError(f"steps per segment must lie in [{MIN_STEPS}, {MAX_STEPS}], not {steps}")
    if grid not in GRIDS:
        raise ValueError(f"unknown tau grid {grid!r}: use one of {GRIDS}")


def path_labels(n: int) -> list[str]:
    """'A', 'B', ... for n waypoints."""
    if not 2 <= n <= MAX_WAYPOINTS:
        raise ValueError(f"a path has 2 to {MAX_WAYPOINTS} sentences, not {n}")
    return list(LETTERS[:n])


@torch.inference_mode()
def path_strip(
    model: NVAE,
    texts: Sequence[str],
    steps: int = DEFAULT_STEPS,
    grid: str = "linear",
    alpha_delta: float | None = None,
    waypoints: Waypoints | None = None,
    mixing: str = DEFAULT_MIXING,
) -> dict[str, Any]:
    """Decode a path A -> B -> C ... through `texts` (2 to 5 sentences), each segment mixed by
    `mixing` (`mixture.MIXINGS`).

    Returns {"labels", "waypoints" (the references), "decoded" (each waypoint decoded alone),
    "taus", "segments", "path"}. `segments[i]` is the strip of segment i exactly as
    `readout.interpolation_strip` gives it (tau, text, changed, change, bleu_a, bleu_b), each row
    also with its "segment" and "bleu" (sentence BLEU against every waypoint, in order). `path` is
    the segments joined, each later segment's tau = 0 row left out (the same latent as the row
    before it), with "step", "position" (segment + tau: 0 = A, 1 = B, ...) and "changed"/"change"
    against the path's previous row.
    """
    labels = path_labels(len(texts))
    check_steps(steps, grid, mixing)
    w = waypoints or encode_waypoints(model, texts, alpha_delta)
    taus = tau_grid(int(steps), grid)
    segments, path = [], []
    for i in range(len(texts) - 1):
        rows = interpolation_strip(model, w.pair(i), taus, mixing)
        for r in rows:
            r["segment"] = i
            r["bleu"] = [sentence_bleu(r["text"], ref) for ref in w.refs]
        segments.append(rows)
        for k, r in enumerate(rows):
            if i > 0 and k == 0:
                continue
            prev = path[-1]["text"] if path else r["text"]
            path.append(
                {
                    "step": len(path),
                    "position": i + r["tau"],
                    "segment": i,
                    "tau": r["tau"],
                    "text": r["text"],
                    "changed": bool(path) and r["text"] != prev,
                    "change": word_diff(prev, r["text"]) if path else "",
                    "bleu": list(r["bleu"]),
                }
            )
    return {
        "labels": labels,
        "waypoints": w.refs,
        "decoded": w.decoded,
        "taus": taus,
        "segments": segments,
        "path": path,
    }


def strip_as_path(strip: list[dict]) -> list[dict]:
    """A two-sentence strip (`readout.interpolation_strip`'s rows) as the rows of a one-segment path."""
    return [
        {
            "step": k,
            "position": r["tau"],
            "segment": 0,
            "tau": r["tau"],
            "text": r["text"],
            "changed": r["changed"],
            "change": r["change"],
            "bleu": [r["bleu_a"], r["bleu_b"]],
        }
        for k, r in enumerate(strip)
    ]


def path_row_export(row: dict, labels: Sequence[str]) -> dict:
    """A row of a path as a flat record (for CSV): its BLEU against each waypoint in its own column."""
    flat = {k: v for k, v in row.items() if k != "bleu"}
    flat.update({f"bleu_{name}": b for name, b in zip(labels, row["bleu"])})
    return flat


def bleu_against(text: str, references: Sequence[str]) -> list[float]:
    """Sentence BLEU of `text` against each reference (each waypoint of a path)."""
    return [sentence_bleu(text, ref) for ref in references]


def segment_at(position: float, n_waypoints: int) -> tuple[int, float]:
    """(segment, tau) of a point of the path: 0 = A, 1 = B, ...; the last waypoint is the end
    (tau = 1) of the last segment."""
    last = n_waypoints - 2
    position = min(max(float(position), 0.0), float(n_waypoints - 1))
    segment = min(int(math.floor(position)), last)
    return segment, min(max(position - segment, 0.0), 1.0)


def relabel_origins(components: list[dict], segment: int) -> list[dict]:
    """`readout.mix_at`'s components with "A"/"B" renamed after the segment's waypoints (C, D ...)."""
    a, b = LETTERS[segment], LETTERS[segment + 1]
    names = {"A": a, "B": b, "A+B": f"{a}+{b}"}
    return [{**c, "origin": names.get(c["origin"], c["origin"])} for c in components]


# -- a path on a map ------------------------------------------------------------------------------


@torch.inference_mode()
def path_components(
    model: NVAE,
    texts: Sequence[str],
    steps: int = DEFAULT_STEPS,
    grid: str = "linear",
    alpha_delta: float | None = None,
    waypoints: Waypoints | None = None,
    mixing: str = DEFAULT_MIXING,
) -> dict[str, Any]:
    """The components of the mixture at every step of the path (the path of `path_strip`), for a map.

    A mixture of sets (NVAE) holds the waypoints' own components, re-weighted, so each is listed
    once; a position-wise mixture (the baselines) makes new vectors at every step. Returns
    {"means" [U, P] (each distinct component mean once), "position" [U] (its token position),
    "token" [U], "origin" [U] (the waypoint letter, or "A+B" for a blend), "weights" [S, U] (its
    weight pi at each of the S steps; 0 where absent or pruned; the prior left out, so a row sums
    to at most 1)}.
    """
    labels = path_labels(len(texts))
    check_steps(steps, grid, mixing)
    w = waypoints or encode_waypoints(model, texts, alpha_delta)
    taus = tau_grid(int(steps), grid)
    index: dict[bytes, int] = {}
    means, position, token, origin = [], [], [], []
    step_weights: list[dict[int, float]] = []
    for i in range(len(texts) - 1):
        mixed = w.latents[i].mix(w.latents[i + 1], torch.tensor(taus, dtype=torch.float32), mixing)
        n_a = w.latents[i].n_components
        mu = mixed.mu.float().cpu().numpy()
        pi = mixed.pi.float().cpu().numpy()
        keep = (~mixed.mask & (mixed.source != PRIOR)).cpu().numpy()
        src = mixed.source.cpu().numpy()
        for k in range(len(taus)):
            if i > 0 and k == 0:
                continue
            if not mixed.has_prior:  # what each position blends: A's and B's tokens at its relative place
                places = position_sources(w.latents[i], w.latents[i + 1], int((~mixed.pad[k]).sum()))
            row: dict[int, float] = {}
            for j in np.flatnonzero(keep[k]):
                vec = mu[k, j]
                key = vec.tobytes()
                if key not in index:
                    index[key] = len(means)
                    s = int(src[k, j])
                    if mixed.has_prior:
                        from_a = j < n_a
                        tokens, letter = (w.tokens[i], labels[i]) if from_a else (w.tokens[i + 1], labels[i + 1])
                        name = tokens[s] if 0 <= s < len(tokens) else str(s)
                    else:
                        letter = f"{labels[i]}+{labels[i + 1]}"
                        pair = zip((w.tokens[i], w.tokens[i + 1]), (places[0][j], places[1][j]))
                        parts = [t[p] for t, p in pair if 0 <= p < len(t)]
                        name = "/".join(dict.fromkeys(parts))
                    means.append(vec)
                    position.append(s)
                    token.append(name)
                    origin.append(letter)
                u = index[key]
                row[u] = row.get(u, 0.0) + float(pi[k, j])
            step_weights.append(row)
    P = model.cfg.d_model
    weights = np.zeros((len(step_weights), len(means)), dtype=np.float32)
    for s, row in enumerate(step_weights):
        for u, value in row.items():
            weights[s, u] = value
    return {
        "means": np.asarray(means, dtype=np.float32).reshape(-1, P),
        "position": np.asarray(position, dtype=np.int64),
        "token": np.asarray(token, dtype=str),
        "origin": np.asarray(origin, dtype=str),
        "weights": weights,
    }


def path_centroids(xy: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[S, 2]: the weighted mean of the components' 2-D places at each step (weights [S, U] made to
    sum to 1 over the components shown; a step with no weight is NaN)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    weights = np.asarray(weights, dtype=np.float64)
    total = weights.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (weights @ xy) / total
    out[total[:, 0] <= 0] = np.nan
    return out
