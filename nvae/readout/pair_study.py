"""The interpolation study of a list of sentence pairs, read from a TSV file, and its exports.

- `parse_pairs`: a TSV of sentence pairs checked line by line (size, text or binary, columns,
  empty or identical sentences), with messages a reader can act on;
- `study` / `study_pair` / `summarise` / `finish`: each pair's strip and summary (distinct sentences, the
  largest step of sentence BLEU against the decoded A, whether the endpoints match the reconstructions:
  the measures of `experiments.interpolation_paths`, computed the same way; and the share of endpoints
  that reproduce the inputs themselves, `evaluation.endpoints`) and the corpus-level curves over tau;
- `pair_rows`, `step_rows`, `curve_rows`, `study_json` the exports, each recording the checkpoint,
  alpha^Delta and the inputs.

The paths themselves are in `sentence_paths`. Plain values in and out; model calls run under
`torch.inference_mode()`. No streamlit.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..data.text import clean_user_text
from ..evaluation.endpoints import INPUTS, KEYS, MATCH, strip_endpoints, summarise_endpoints
from ..evaluation.metrics import sentence_bleu
from ..model.autoencoder import NVAE
from ..model.grids import tau_grid
from ..model.mixture import DEFAULT_MIXING
from .sentence import interpolation_strip
from .sentence_paths import DEFAULT_STEPS, check_steps, effective_alpha_delta, encode_waypoints

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
    model: NVAE,
    text_a: str,
    text_b: str,
    steps: int = DEFAULT_STEPS,
    grid: str = "linear",
    alpha_delta=None,
    mixing: str = DEFAULT_MIXING,
) -> dict[str, Any]:
    """One pair's strip (as `readout.interpolation_strip`) and its summary, measured as
    `experiments.interpolation_paths` measures it: distinct decoded sentences, sentence BLEU of each
    step against the decoded A and the largest change of that curve between neighbouring steps,
    whether tau = 0 and 1 decode exactly like A and B alone (`endpoints.MATCH`); the share of the
    two endpoints that reproduce the inputs themselves (`endpoints.INPUTS`); and which steps are
    new (neither decoded A nor decoded B)."""
    check_steps(steps, grid, mixing)
    w = encode_waypoints(model, [text_a, text_b], alpha_delta)
    taus = tau_grid(int(steps), grid)
    strip = interpolation_strip(model, w.pair(0), taus, mixing)
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
        **strip_endpoints(texts, w.decoded, w.refs),
        "new": [t != w.decoded[0] and t != w.decoded[1] for t in texts],
    }


def summarise(records: list[dict], taus: Sequence[float]) -> dict[str, Any]:
    """The corpus-level numbers of a study: the medians and share of `interpolation_paths`, the
    share of endpoints that reproduce the inputs, and curves over tau (mean BLEU against the inputs
    A and B, share of pairs whose step is new, share whose step changed from the one before)."""
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
        **summarise_endpoints(records),
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
    mixing: str = DEFAULT_MIXING,
) -> dict[str, Any]:
    """`study_pair` for every pair, then `summarise`; `progress(done, total)` after each pair.
    The result also holds its "settings" (steps, grid, mixing, the alpha^Delta actually used)."""
    check_steps(steps, grid, mixing)
    records = []
    for k, (a, b) in enumerate(pairs):
        records.append(study_pair(model, a, b, steps, grid, alpha_delta, mixing))
        if progress:
            progress(k + 1, len(pairs))
    return finish(records, model.cfg, steps, grid, alpha_delta, mixing)


def finish(
    records: list[dict],
    cfg,
    steps: int,
    grid: str,
    alpha_delta: float | None = None,
    mixing: str = DEFAULT_MIXING,
) -> dict[str, Any]:
    """`summarise` the records of `study_pair` (made with these settings) and record the settings:
    what `study` returns, for callers that compute (or cache) the pairs themselves."""
    out = summarise(records, tau_grid(int(steps), grid))
    out["settings"] = {
        "steps": int(steps),
        "grid": grid,
        "mixing": mixing,
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
            MATCH: r[MATCH],
            INPUTS: r[INPUTS],
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
        "summary": {k: result[k] for k in ("pairs", "median_distinct", "median_largest_step", *KEYS)},
        "taus": result["taus"],
        "curves": result["curves"],
        "pairs": result["records"],
    }
