"""The machine a benchmark runs on: its CPU's name, and how much CPU time other processes take.

On a 2-core machine anything else running (tests, another benchmark) inflates absolute times badly
(OpenMP threads oversubscribed), so a benchmark can wait for idle CPUs first and report, after each
section, the CPU time other processes used meanwhile.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_busy_s() -> float | None:
    """Core-seconds all CPUs have been busy since boot (/proc/stat), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class OtherLoad:
    """CPU time used by *other* processes while a section runs: all busy time (/proc/stat) minus
    this process's own CPU time. Tells whether a run was disturbed (this benchmark needs the cores
    to itself for its absolute times to mean anything)."""

    def __enter__(self):
        self.busy0, self.own0, self.wall0 = _cpu_busy_s(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        busy1, own1, wall1 = _cpu_busy_s(), time.process_time(), time.perf_counter()
        self.wall = wall1 - self.wall0
        if self.busy0 is None or busy1 is None:
            self.other_s = None
        else:
            self.other_s = max(0.0, (busy1 - self.busy0) - (own1 - self.own0))
        return False

    def line(self) -> str:
        if self.other_s is None:
            return ""
        share = self.other_s / max(self.wall, 1e-9)
        flag = " (disturbed: absolute times are inflated; the interleaved ratios less so)" if share > 0.1 else ""
        return (
            f"Other processes used {self.other_s:.1f} core-seconds during this section "
            f"({share:.0%} of one core over {self.wall:.0f} s){flag}."
        )


def wait_idle(max_wait: float, window: float = 3.0, threshold: float = 0.1) -> float:
    """Wait (at most max_wait seconds) until other processes use under `threshold` of one core
    over a `window`-second sample. Returns the last measured share."""
    deadline = time.perf_counter() + max_wait
    share = 0.0
    while True:
        with OtherLoad() as load:
            time.sleep(window)
        if load.other_s is None:
            return 0.0
        share = load.other_s / load.wall
        if share < threshold or time.perf_counter() >= deadline:
            return share
        print(f"(waiting for an idle machine: other processes use {share:.0%} of a core)", flush=True)
