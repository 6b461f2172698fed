"""Learned against fixed compression, for any checkpoint: the rate-distortion measure
(`measures.rate_distortion`: BLEU against the retained proportion for the model's own choice of
components and for fixed choices on the same model) in the form each kind of model allows.

`measure_compression(model, ids)` returns a plain, JSON-ready dict:

    kind    "curve"     a loss-conditional NVAE: one row per rate of `measures.RATES` it reaches
            "point"     an NVAE trained at one fixed alpha^Delta: one row, at its own retained
                        proportion (none when it keeps every component: no fixed choice differs)
            "baseline"  T, VT, VTP or VTS: no rows, the point of its own fixed rule
    point   the model's own reconstruction at its default alpha^Delta: bleu, retained_proportion,
            exact_match, alpha_delta (None for a baseline)
    rows    `measures.rate_distortion`'s rows

The report (figure 7) and `python -m nvae rate-distortion` (the file the app's Sparsity page reads,
`nvae.readout.rate_distortion_file`) both call it. Nothing here writes files.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import alpha_delta_is_input
from ..model.autoencoder import NVAE
from ..model.grids import FINE_CURVE_POINTS, alpha_delta_values
from .measures import RATES, rate_distortion, retained_curve
from .metrics import reconstruct

KINDS = ("curve", "point", "baseline")
CHOICES = ("learned", "stride", "evenly_spaced", "random")  # the columns of a row
FULL = 0.999  # a fixed-alpha^Delta NVAE keeping this share or more keeps everything: just its point

Progress = Callable[[int, int, str], None]  # (steps done, steps in all, what is being done)


def _point(summary: dict, alpha_delta: float | None) -> dict:
    return {
        "bleu": summary["bleu"],
        "retained_proportion": summary["retained_proportion"],
        "exact_match": summary["exact_match"],
        "alpha_delta": alpha_delta,
    }


def steps(model: NVAE, rates: tuple[float, ...] = RATES) -> int:
    """How many progress steps `measure_compression` reports for `model`."""
    if not model.cfg.is_nvae:
        return 1
    return 2 + len(rates) if alpha_delta_is_input(model.cfg) else 2


def measure_compression(
    model: NVAE,
    ids: list[list[int]],
    rates: tuple[float, ...] = RATES,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict:
    """The model's rate-distortion result on token-id sentences `ids` (see the module's docstring).
    `progress(done, total, what)` is called after each step: the default point, the retained curve,
    then each rate."""
    cfg = model.cfg
    total, done = steps(model, rates), 0

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, what)

    if not cfg.is_nvae:
        point = _point(reconstruct(model, ids).summary(), None)
        tick(f"{cfg.model_type.upper()}'s own rule")
        return {"kind": "baseline", "point": point, "rows": []}
    point = _point(reconstruct(model, ids).summary(), cfg.nvib.alpha_delta)
    tick(f"default alpha^Delta {cfg.nvib.alpha_delta:g}")
    if not alpha_delta_is_input(cfg):
        own = point["retained_proportion"]
        curve = [{"alpha_delta": cfg.nvib.alpha_delta, "retained_proportion": own}]
        rows = rate_distortion(model, ids, (own,), curve, seed) if own < FULL else []
        tick(f"fixed choices at retained {own:.3f}" if rows else "keeps every component: its point only")
        return {"kind": "point", "point": point, "rows": rows}
    curve = retained_curve(model, ids, alpha_delta_values(cfg, FINE_CURVE_POINTS))
    tick("retained proportion over alpha^Delta")
    rows = []
    for rate in rates:
        rows += rate_distortion(model, ids, (rate,), curve, seed)
        tick(f"retained {rate:.3g}")
    return {"kind": "curve", "point": point, "rows": rows}


def learned_series(result: dict) -> tuple[list[float], list[float]]:
    """(retained proportions, BLEU) of the learned choice: the rows', or the model's own point when
    it has no rows (a baseline, or a fixed-alpha^Delta NVAE that keeps everything)."""
    rows = result.get("rows") or []
    if not rows:
        p = result["point"]
        return [p["retained_proportion"]], [p["bleu"]]
    return [r["learned"]["retained_proportion"] for r in rows], [r["learned"]["bleu"] for r in rows]


def choice_series(result: dict, choice: str) -> tuple[list[float], list[float]]:
    """(retained proportions, BLEU) of one choice (`CHOICES`) over a result's rows."""
    rows = result.get("rows") or []
    return [r[choice]["retained_proportion"] for r in rows], [r[choice]["bleu"] for r in rows]
