"""The grids of values the library, the app and the CLI sweep: alpha^Delta over a model's trained
range, and tau from one sentence to another. One home for each, so that the report, the app's
slider and the corpus study read a model at the same values.

alpha^Delta grids take a `ModelConfig` (`model.cfg`): a loss-conditional model (trained over
[alpha_delta_min, alpha_delta_max], `nvae.config.alpha_delta_range`) is read across that range, a
model trained at one alpha^Delta at that value alone.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import alpha_delta_is_input, alpha_delta_range, default_alpha_delta

CURVE_POINTS = 26  # the retained-proportion curve of the targets and the ablations
FINE_CURVE_POINTS = 41  # the finer curve that finds the alpha^Delta of a retained proportion
ROUND_MANTISSAS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)  # about log-spaced: 11 round stops a decade


def alpha_delta_values(cfg, n: int = CURVE_POINTS, alpha_delta: float | None = None) -> list[float]:
    """n log-spaced alpha^Delta values over a loss-conditional model's range, both ends included;
    otherwise the one value the model has (`alpha_delta`, or the config's default)."""
    if not alpha_delta_is_input(cfg):
        return [default_alpha_delta(cfg) if alpha_delta is None else alpha_delta]
    lo, hi = (math.log(v) for v in alpha_delta_range(cfg))
    return [math.exp(lo + (hi - lo) * k / (n - 1)) for k in range(n)]


def interior_alpha_deltas(cfg, n: int = 3) -> list[float]:
    """n log-spaced values strictly inside a loss-conditional NVAE's training range (5 decimals), where
    periodic evaluation during training also reads it; none for a model trained at one alpha^Delta."""
    if not alpha_delta_is_input(cfg):
        return []
    lo, hi = (math.log(v) for v in alpha_delta_range(cfg))
    return [round(math.exp(lo + (hi - lo) * (k + 1) / (n + 1)), 5) for k in range(n)]


def rounded_alpha_deltas(cfg, n: int = 25) -> list[float]:
    """n log-spaced alpha^Delta values over the model's trained range at 3 significant digits, plus the
    config's own value (the app's retained-proportion curve)."""
    lo, hi = alpha_delta_range(cfg)
    if hi <= lo:
        return [lo]
    values = {float(f"{v:.3g}") for v in np.geomspace(lo, hi, n)}
    values.add(float(f"{min(max(default_alpha_delta(cfg), lo), hi):.3g}"))
    return sorted(v for v in values if lo <= v <= hi) or [lo]


def slider_stops(cfg, extra=()) -> list[float]:
    """The alpha^Delta slider's stops: round values about log-spaced over the model's trained range
    (..., 0.01, 0.012, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, ..., 1, ...), both ends of the range,
    the model's default, and any `extra` value inside the range (a link's exact value), each kept to
    6 significant digits (as the URL writes it). Nothing is hard-coded to one model's range."""
    lo, hi = alpha_delta_range(cfg)
    if hi <= lo:
        return [lo]
    values = {lo, hi, float(f"{min(max(default_alpha_delta(cfg), lo), hi):.6g}")}
    for exponent in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        values.update(float(f"{m}e{exponent}") for m in ROUND_MANTISSAS)
    for v in extra:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            values.add(float(f"{v:.6g}"))
    return sorted(v for v in values if lo <= v <= hi)


def tau_grid(steps: int = 11, grid: str = "linear", sharpness: float = 8.0) -> list[float]:
    """tau values from 0 to 1: evenly spaced, or "logodds": sigmoid(sharpness (2 t - 1)) of evenly
    spaced t, with the ends set to exactly 0 and 1 (more steps where a mixture's output changes)."""
    ts = [k / (steps - 1) for k in range(steps)]
    if grid == "linear":
        return ts
    if grid != "logodds":
        raise ValueError(f"unknown tau grid {grid!r}: use 'linear' or 'logodds'")
    return [0.0] + [1 / (1 + math.exp(-sharpness * (2 * t - 1))) for t in ts[1:-1]] + [1.0]
