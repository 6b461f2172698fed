#!/usr/bin/env python
"""Speed of the NVAE next to a plain Transformer autoencoder, on the machine it runs on.

Three measurements, each printed as a markdown table (median, p90, ratio, goal):

  (a) one training step (forward, loss, backward, AdamW step) of the NVAE vs a plain
      `torch.nn.Transformer` autoencoder of the same size, on the same batch of 32 random sentences
      (10..40 tokens, vocabulary 8000). The NVAE is timed with its default config
      (gaussian_train_prob 0.5: each batch picks one of two forms of cross-attention at random)
      and with gaussian_train_prob 0 (always sampled vectors) and 1 (always the Gaussian-integral
      form). All contenders are interleaved round by round, so machine noise hits them alike.
      Goal: NVAE / plain <= 1.15.
  (b) generation of exactly 32 tokens with the key/value cache vs re-decoding the whole prefix
      every step, eval mode, batch 1 (goal: cache >= 3x faster) and batch 11.
  (c) an interpolation strip: two encoded ~20-token sentences, `a.mix(b, linspace(0, 1, 11))`,
      greedy `generate(mix, max_len=40)`; wall time of mix + generate (goal < 150 ms).
      With an untrained model generation never stops early (worst case: 40 tokens per row);
      `--checkpoint DIR` uses a trained model and real sentences instead.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_model.py                 # defaults: 2 threads, 20 repeats
    .venv/bin/python benchmarks/bench_model.py --quick         # smoke run, about 20 s
    .venv/bin/python benchmarks/bench_model.py --only a --profile   # where an NVAE step spends time
    .venv/bin/python benchmarks/bench_model.py --checkpoint checkpoints/nvae --json out.json
    .venv/bin/python benchmarks/bench_model.py --wait-idle 120   # on a shared machine

Each section ends with the CPU time other processes used meanwhile: on a 2-core machine anything
else running (tests, another benchmark) inflates absolute times badly (OpenMP threads oversubscribed).

The parts live next to this script: model_train.py (a, with model_contenders.py and, for --profile,
model_profile.py), model_generate.py (b), model_strip.py (c), their shared inputs in
model_inputs.py; timing.py holds the timing and statistics, machine.py the CPU and load readings.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from benchmarks.machine import OtherLoad, cpu_model, wait_idle  # noqa: E402
from benchmarks.model_generate import bench_generate  # noqa: E402
from benchmarks.model_inputs import SEED  # noqa: E402
from benchmarks.model_strip import bench_strip  # noqa: E402
from benchmarks.model_train import bench_train  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--repeats", type=int, default=20, help="timed repetitions per contender (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed repetitions first (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 repeats, 1 warmup")
    ap.add_argument("--only", default="abc", help="which benchmarks to run, e.g. 'a' or 'bc' (default abc)")
    ap.add_argument("--profile", action="store_true", help="with (a): torch.profiler tables and a forward split")
    ap.add_argument(
        "--checkpoint", metavar="DIR", help="(c) with a trained model (nvae.store.checkpoint.load_checkpoint)"
    )
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="first wait up to S seconds for other processes to leave the CPUs idle (default 0)",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup = 3, 1
    if args.repeats < 1 or args.warmup < 0:
        ap.error("--repeats must be >= 1 and --warmup >= 0")

    torch.set_num_threads(args.threads)
    if args.wait_idle > 0:
        wait_idle(args.wait_idle)
    now = datetime.datetime.now().astimezone()
    header = {
        "date": now.isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "seed": SEED,
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    print("# NVAE benchmarks\n")
    print(f"- date: {header['date']}")
    print(f"- torch {header['torch']}, python {header['python']}, {header['platform']}")
    print(f"- threads: {header['threads']} (os.cpu_count() = {header['cpu_count']})")
    print(f"- CPU: {header['cpu']}")
    print(f"- repeats {args.repeats}, warmup {args.warmup}, seed {SEED}")
    if header["loadavg_start"] is not None:
        la = header["loadavg_start"]
        print(f"- load average at start: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    out: dict = {"header": header}
    t0 = time.perf_counter()
    out["other_load"] = {}
    for key, fn, name in (
        ("a", bench_train, "train_step"),
        ("b", bench_generate, "generate"),
        ("c", bench_strip, "strip"),
    ):
        if key in args.only:
            with OtherLoad() as load:
                fn(args, out)
            if load.line():
                print("\n" + load.line())
            out["other_load"][name] = {"core_s": load.other_s, "wall_s": load.wall}
    total = time.perf_counter() - t0
    out["total_s"] = total
    if hasattr(os, "getloadavg"):
        out["loadavg_end"] = list(os.getloadavg())
    print(f"\nTotal benchmark time: {total:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"Results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
