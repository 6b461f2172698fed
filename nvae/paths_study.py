"""Interpolation paths through several sentences, and the interpolation study of a list of pairs.

- `path_strip(model, texts, steps, grid)`: A -> B -> C ... (up to five sentences): each segment
  decoded at the taus of `experiments.tau_grid` (linear, or log-odds, which puts more steps near
  the ends where the decoded text changes), every step scored against every waypoint, and the
  whole path with the repeated junction steps dropped;
- `segment_at`, `path_labels`, `relabel_origins`, `bleu_against`, `strip_as_path`: a point of the
  path as (segment, tau), the components of a mixture named by their waypoint (A, B, C ...), BLEU
  against every waypoint, a two-sentence strip as a one-segment path;
- `path_components`: the components of the mixture at each step of a path, for a map (their
  means, once each, and their weight at each step); `path_centroids` the weighted centre of each
  step on a 2-D layout;
- `parse_pairs`: a TSV of sentence pairs checked line by line (size, text or binary, columns,
  empty or identical sentences), with messages a reader can act on;
- `study` / `study_pair` / `summarise` / `finish`: each pair's strip and summary (distinct sentences, the
  largest step of sentence BLEU against the decoded A, endpoints exact: the measures of
  `experiments.interpolation_paths`, computed the same way) and the corpus-level curves over tau;
  `pair_rows`, `step_rows`, `study_json` the exports, each recording the checkpoint, alpha^Delta
  and the inputs.

Plain values in and out; model calls run under `torch.inference_mode()`. No streamlit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .experiments import tau_grid
from .mixture import PRIOR, LatentMixture
from .model import NVAE
from .readout import Pair, alpha_delta_arg, interpolation_strip, sentence_bleu, word_diff
from .text import clean_user_text, decode_batch, decode_ids, encode_batch, tokens_of

LETTERS = "ABCDE"
MAX_WAYPOINTS = len(LETTERS)
GRIDS = ("linear", "logodds")
MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 3, 41, 11


def effective_alpha_delta(cfg, alpha_delta: float | None = None) -> float | None:
    """The alpha^Delta a latent is encoded at: the value given (clamped to the trained range) for a
    loss-conditional NVAE, else the model's own; None for a baseline (it has none)."""
    if cfg.model_type != "nvae":
        return None
    given = alpha_delta_arg(cfg, alpha_delta)
    return float(cfg.alpha_delta) if given is None else given


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
    latent = model.encode(batch.src, batch.pad_mask, alpha_delta_arg(model.cfg, alpha_delta))
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


def check_steps(steps: int, grid: str) -> None:
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
) -> dict[str, Any]:
    """Decode a path A -> B -> C ... through `texts` (2 to 5 sentences).

    Returns {"labels", "waypoints" (the references), "decoded" (each waypoint decoded alone),
    "taus", "segments", "path"}. `segments[i]` is the strip of segment i exactly as
    `readout.interpolation_strip` gives it (tau, text, changed, change, bleu_a, bleu_b), each row
    also with its "segment" and "bleu" (sentence BLEU against every waypoint, in order). `path` is
    the segments joined, each later segment's tau = 0 row left out (the same latent as the row
    before it), with "step", "position" (segment + tau: 0 = A, 1 = B, ...) and "changed"/"change"
    against the path's previous row.
    """
    labels = path_labels(len(texts))
    check_steps(steps, grid)
    w = waypoints or encode_waypoints(model, texts, alpha_delta)
    taus = tau_grid(int(steps), grid)
    segments, path = [], []
    for i in range(len(texts) - 1):
        rows = interpolation_strip(model, w.pair(i), taus)
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
    check_steps(steps, grid)
    w = waypoints or encode_waypoints(model, texts, alpha_delta)
    taus = tau_grid(int(steps), grid)
    index: dict[bytes, int] = {}
    means, position, token, origin = [], [], [], []
    step_weights: list[dict[int, float]] = []
    for i in range(len(texts) - 1):
        mixed = w.latents[i].mix(w.latents[i + 1], torch.tensor(taus, dtype=torch.float32))
        n_a = w.latents[i].n_components
        mu = mixed.mu.float().cpu().numpy()
        pi = mixed.pi.float().cpu().numpy()
        keep = (~mixed.mask & (mixed.source != PRIOR)).cpu().numpy()
        src = mixed.source.cpu().numpy()
        for k in range(len(taus)):
            if i > 0 and k == 0:
                continue
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
                        parts = [t[s] for t in (w.tokens[i], w.tokens[i + 1]) if 0 <= s < len(t)]
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


# -- a file of pairs ------------------------------------------------------------------------------

MAX_PAIRS = 100
MAX_BYTES = 256_000
MAX_CHARS = 2000  # per sentence, as the app's text boxes
HEADERS = {("a", "b"), ("sentence a", "sentence b"), ("sentence_a", "sentence_b"), ("text_a", "text_b")}


@dataclass
class ParsedPairs:
    """Pairs read from a TSV: `pairs` (cleaned), `errors` (nothing usable), `notices` (lines skipped
    or cut, with their numbers) and the 1-based line number of each pair."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _lines_text(numbers: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    more = f" and {len(numbers) - limit} more" if len(numbers) > limit else ""
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{more}"


def parse_pairs(data: bytes | str, max_pairs: int = MAX_PAIRS, max_bytes: int = MAX_BYTES) -> ParsedPairs:
    """Read tab-separated sentence pairs, one pair a line (a header line `a<TAB>b` is allowed; blank
    lines and lines starting with # are skipped). Never raises: problems become messages that name
    the lines. A line is skipped when it has one column, an empty sentence, or the same sentence
    twice; columns after the second are ignored; sentences are cut at MAX_CHARS characters."""
    out = ParsedPairs()
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data or b"")
    if len(raw) > max_bytes:
        out.errors.append(f"The file is {len(raw) / 1000:,.0f} kB; the limit is {max_bytes / 1000:,.0f} kB.")
        return out
    if b"\x00" in raw[:65536]:
        out.errors.append("The file is not text (it holds NUL bytes): upload a tab-separated text file.")
        return out
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        out.errors.append(f"The file is not UTF-8 text (byte {err.start} cannot be read): save it as UTF-8 TSV.")
        return out
    if not text.strip():
        out.errors.append("The file is empty: it needs one pair a line, the two sentences separated by a tab.")
        return out
    skipped: dict[str, list[int]] = {"one column": [], "empty": [], "identical": [], "extra": [], "cut": []}
    first = True
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split("\t")
        if first and len(cells) >= 2 and (cells[0].strip().lower(), cells[1].strip().lower()) in HEADERS:
            first = False
            continue
        first = False
        if len(cells) < 2:
            skipped["one column"].append(number)
            continue
        if len(cells) > 2 and any(c.strip() for c in cells[2:]):
            skipped["extra"].append(number)
        a, b = (clean_user_text(c) for c in cells[:2])
        if not a or not b:
            skipped["empty"].append(number)
            continue
        if len(a) > MAX_CHARS or len(b) > MAX_CHARS:
            skipped["cut"].append(number)
            a, b = a[:MAX_CHARS], b[:MAX_CHARS]
        if a.casefold() == b.casefold():
            skipped["identical"].append(number)
            continue
        out.pairs.append((a, b))
        out.lines.append(number)
    if skipped["one column"]:
        out.notices.append(
            f"Skipped {_lines_text(skipped['one column'])}: one column (no tab); a pair is two sentences "
            f"separated by a tab."
        )
    if skipped["empty"]:
        out.notices.append(f"Skipped {_lines_text(skipped['empty'])}: a sentence is empty.")
    if skipped["identical"]:
        out.notices.append(
            f"Skipped {_lines_text(skipped['identical'])}: the two sentences are the same (nothing to interpolate)."
        )
    if skipped["extra"]:
        out.notices.append(f"Ignored the columns after the second on {_lines_text(skipped['extra'])}.")
    if skipped["cut"]:
        out.notices.append(f"Cut sentences longer than {MAX_CHARS} characters on {_lines_text(skipped['cut'])}.")
    if len(out.pairs) > max_pairs:
        out.notices.append(f"Only the first {max_pairs} of the {len(out.pairs)} pairs are used.")
        out.pairs, out.lines = out.pairs[:max_pairs], out.lines[:max_pairs]
    if not out.pairs:
        tabs = "\t" in text
        out.errors.append(
            "No usable pair in the file"
            + ("" if tabs else ": no line has a tab (is it comma-separated? save it as tab-separated)")
            + "."
        )
    return out


# -- the study of many pairs ----------------------------------------------------------------------


@torch.inference_mode()
def study_pair(
    model: NVAE, text_a: str, text_b: str, steps: int = DEFAULT_STEPS, grid: str = "linear", alpha_delta=None
) -> dict[str, Any]:
    """One pair's strip (as `readout.interpolation_strip`) and its summary, measured as
    `experiments.interpolation_paths` measures it: distinct decoded sentences, sentence BLEU of each
    step against the decoded A and the largest change of that curve between neighbouring steps,
    whether tau = 0 and 1 decode exactly like A and B alone; and which steps are new (neither)."""
    check_steps(steps, grid)
    w = encode_waypoints(model, [text_a, text_b], alpha_delta)
    taus = tau_grid(int(steps), grid)
    strip = interpolation_strip(model, w.pair(0), taus)
    texts = [r["text"] for r in strip]
    curve = [sentence_bleu(t, w.decoded[0]) for t in texts]
    return {
        "a": text_a,
        "b": text_b,
        "ref_a": w.refs[0],
        "ref_b": w.refs[1],
        "decoded_a": w.decoded[0],
        "decoded_b": w.decoded[1],
        "truncated": w.truncated,
        "strip": strip,
        "distinct": len(set(texts)),
        "bleu_vs_decoded_a": curve,
        "largest_step": max(abs(y - x) for x, y in zip(curve, curve[1:])),
        "endpoints_exact": texts[0] == w.decoded[0] and texts[-1] == w.decoded[1],
        "new": [t != w.decoded[0] and t != w.decoded[1] for t in texts],
    }


def summarise(records: list[dict], taus: Sequence[float]) -> dict[str, Any]:
    """The corpus-level numbers of a study: the medians and share of `interpolation_paths`, and
    curves over tau (mean BLEU against the inputs A and B, share of pairs whose step is new, share
    whose step changed from the one before)."""
    n = len(records)
    if not n:
        raise ValueError("a study needs at least one pair")
    k = len(taus)

    def mean(values) -> float:
        return float(sum(values) / n)

    curves = {
        "tau": [float(t) for t in taus],
        "bleu_a": [mean(r["strip"][i]["bleu_a"] for r in records) for i in range(k)],
        "bleu_b": [mean(r["strip"][i]["bleu_b"] for r in records) for i in range(k)],
        "bleu_vs_decoded_a": [mean(r["bleu_vs_decoded_a"][i] for r in records) for i in range(k)],
        "new": [mean(r["new"][i] for r in records) for i in range(k)],
        "changed": [mean(r["strip"][i]["changed"] for r in records) for i in range(k)],
    }
    return {
        "taus": [float(t) for t in taus],
        "pairs": n,
        "median_distinct": statistics.median(r["distinct"] for r in records),
        "median_largest_step": statistics.median(r["largest_step"] for r in records),
        "endpoints_exact": sum(r["endpoints_exact"] for r in records) / n,
        "curves": curves,
        "records": records,
    }


def study(
    model: NVAE,
    pairs: Sequence[tuple[str, str]],
    steps: int = DEFAULT_STEPS,
    grid: str = "linear",
    alpha_delta: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """`study_pair` for every pair, then `summarise`; `progress(done, total)` after each pair.
    The result also holds its "settings" (steps, grid, the alpha^Delta actually used)."""
    check_steps(steps, grid)
    records = []
    for k, (a, b) in enumerate(pairs):
        records.append(study_pair(model, a, b, steps, grid, alpha_delta))
        if progress:
            progress(k + 1, len(pairs))
    return finish(records, model.cfg, steps, grid, alpha_delta)


def finish(records: list[dict], cfg, steps: int, grid: str, alpha_delta: float | None = None) -> dict[str, Any]:
    """`summarise` the records of `study_pair` (made with these settings) and record the settings:
    what `study` returns, for callers that compute (or cache) the pairs themselves."""
    out = summarise(records, tau_grid(int(steps), grid))
    out["settings"] = {
        "steps": int(steps),
        "grid": grid,
        "alpha_delta": effective_alpha_delta(cfg, alpha_delta),
        "model_type": cfg.model_type,
    }
    return out


# -- exports --------------------------------------------------------------------------------------


def pair_rows(result: dict, meta: dict | None = None) -> list[dict]:
    """One row per pair (its summary), each prefixed with `meta` (checkpoint, alpha^Delta, ...)."""
    meta = meta or {}
    return [
        {
            **meta,
            "pair": i,
            "a": r["a"],
            "b": r["b"],
            "distinct": r["distinct"],
            "largest_step": r["largest_step"],
            "endpoints_exact": r["endpoints_exact"],
            "new_steps": int(sum(r["new"])),
            "decoded_a": r["decoded_a"],
            "decoded_b": r["decoded_b"],
        }
        for i, r in enumerate(result["records"])
    ]


def step_rows(result: dict, meta: dict | None = None) -> list[dict]:
    """One row per (pair, step) of every strip, each prefixed with `meta`."""
    meta = meta or {}
    rows = []
    for i, r in enumerate(result["records"]):
        for k, s in enumerate(r["strip"]):
            rows.append(
                {
                    **meta,
                    "pair": i,
                    "step": k,
                    "tau": s["tau"],
                    "text": s["text"],
                    "changed": s["changed"],
                    "change": s["change"],
                    "new": r["new"][k],
                    "bleu_a": s["bleu_a"],
                    "bleu_b": s["bleu_b"],
                    "bleu_vs_decoded_a": r["bleu_vs_decoded_a"][k],
                }
            )
    return rows


def curve_rows(result: dict, meta: dict | None = None) -> list[dict]:
    """The corpus-level curves, one row per tau, each prefixed with `meta`."""
    meta = meta or {}
    c = result["curves"]
    keys = [k for k in c if k != "tau"]
    return [{**meta, "tau": t, **{k: c[k][i] for k in keys}} for i, t in enumerate(c["tau"])]


def study_json(result: dict, meta: dict | None = None, inputs: list[dict] | None = None) -> dict:
    """The whole study as one JSON-ready object: `meta` and the settings first, the inputs (e.g.
    each pair with its line in the file), then the summary, the curves and every pair's strip."""
    return {
        **(meta or {}),
        "settings": result.get("settings", {}),
        "inputs": inputs if inputs is not None else [{"a": r["a"], "b": r["b"]} for r in result["records"]],
        "summary": {k: result[k] for k in ("pairs", "median_distinct", "median_largest_step", "endpoints_exact")},
        "taus": result["taus"],
        "curves": result["curves"],
        "pairs": result["records"],
    }
