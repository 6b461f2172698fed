"""Timing and its statistics: contenders timed round by round, medians, p90, paired ratios, and
the mark a table shows for a goal."""

from __future__ import annotations

import statistics
import time


def p90(xs: list[float]) -> float:
    if len(xs) < 2:
        return xs[0]
    return statistics.quantiles(xs, n=10, method="inclusive")[8]


def summary(xs: list[float]) -> dict:
    return {"median_ms": statistics.median(xs) * 1e3, "p90_ms": p90(xs) * 1e3, "n": len(xs), "min_ms": min(xs) * 1e3}


def interleaved(fns: dict, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Time each callable `repeats` times, round-robin (a, b, c, a, b, c, ...), after `warmup`
    untimed rounds. The order inside a round rotates so that no contender always runs first."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median over rounds of num[i] / den[i] (robust to slow drifts of the machine)."""
    return statistics.median(a / b for a, b in zip(num, den))


def goal_mark(ok: bool) -> str:
    return "yes" if ok else "**no**"
