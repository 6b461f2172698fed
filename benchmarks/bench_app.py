#!/usr/bin/env python
"""Latency of the app's main interactions, measured on the functions the pages call (nvae/readout/sentence.py,
without the Streamlit caches, so every call does the model work), and optionally through AppTest
reruns of the real pages (Streamlit's own overhead and caches included).

Interactions (median, p95 and max over --repeats calls, in ms):

  type a sentence   Inspect: encode + greedy reconstruction + cross-attention + BLEU
  encode only       model.tokenize + model.encode (for reference)
  move alpha^Delta  Sparsity/Inspect: re-encode and reconstruct at a new alpha^Delta   goal p95 < 300 ms
  move tau          Interpolate: mix the two cached latents at a new tau and decode    goal p95 < 300 ms
  11-step strip     Interpolate: decode the 11 mixtures of the strip at once (new sentence pair)
  sparsity curve    Sparsity: 26 alpha^Delta values of one sentence in one batch (new sentence)
  Corpus study      the tables of 100 sentences at a new alpha^Delta: re-encoded, and from the
                    encoder states the app keeps (side by side)

With --against OTHER, the encoding interactions (encode only, type a sentence, move alpha^Delta) are
also timed on both checkpoints interleaved, round by round, and reported as the paired ratio of
CHECKPOINT to OTHER (median over rounds): the cost of one latent against another on the same machine
at the same moment.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_app.py                       # the shipped default checkpoint
    .venv/bin/python benchmarks/bench_app.py --checkpoint checkpoints/baseline-vt --repeats 50
    .venv/bin/python benchmarks/bench_app.py --apptest --json out.json
    .venv/bin/python benchmarks/bench_app.py --threads 1           # see the note on threads below
    .venv/bin/python benchmarks/bench_app.py --checkpoint runs/seg-dp --against checkpoints/nvae-default

Without --checkpoint the default (`$NVAE_CHECKPOINT` or checkpoints/nvae-default) is used; if it is
missing or unreadable a tiny untrained checkpoint is built in a temporary folder instead, and the
report says so (an untrained model never emits EOS, so it always decodes max_len tokens: a worst
case). Threads: the brief's setting is torch.set_num_threads(2); the app itself runs with one
thread (NVAE_APP_THREADS), which on a 2-core machine shared with other work is much faster.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # helpers builds the fallback checkpoint

import torch  # noqa: E402

from app.latents import is_nvae  # noqa: E402
from nvae.data.text import encode_text  # noqa: E402
from nvae.locations import default_checkpoint  # noqa: E402
from nvae.model.grids import rounded_alpha_deltas  # noqa: E402
from nvae.readout import corpus_study, sentence  # noqa: E402
from nvae.store.checkpoint import load_checkpoint  # noqa: E402
from nvae.store.format import CheckpointError  # noqa: E402

GOAL_MS = 300.0
SENTENCES = [  # typical WikiText-2 lengths (10..30 tokens)
    "The game was released in Japan in 2011 and sold well.",
    "He was born in a small village in the north of England.",
    "The film received positive reviews from critics.",
    "In 1943 the division was moved to the eastern front, where it fought until the end of the war.",
    "The species is found in rivers and lakes across central Europe.",
    "She later became the first woman to be elected to the city council.",
    "The church was rebuilt in the fifteenth century after a fire destroyed the nave.",
    "The album reached number one on the charts in three countries.",
    "Construction of the bridge began in 1932 and took four years.",
    "The storm caused heavy damage along the coast of Florida.",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(fn, repeats: int, warmup: int = 2) -> list[float]:
    """Milliseconds of `repeats` calls fn(i), after `warmup` calls."""
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(name: str, ms: list[float], goal: float | None = None) -> dict:
    row = {
        "interaction": name,
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 0.95),
        "max_ms": max(ms),
        "goal_p95_ms": goal,
    }
    row["meets_goal"] = None if goal is None else row["p95_ms"] < goal
    return row


def load_model(path: str | None) -> tuple[object, str, str | None]:
    """(model, path, note): the requested checkpoint, else a tiny one built now."""
    chosen = Path(path) if path else default_checkpoint()
    try:
        return load_checkpoint(chosen), str(chosen), None
    except CheckpointError as err:
        if path:  # asked for explicitly: do not substitute
            raise SystemExit(f"error: {err}") from None
        from helpers import make_app_checkpoints

        folder = Path(tempfile.mkdtemp(prefix="nvae-bench-app-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        tiny = make_app_checkpoints(folder)["nvae"]
        note = (
            f"the default checkpoint is not usable ({err}); measured on a tiny untrained checkpoint "
            f"built for this run (d_model 32; it never emits EOS, so it decodes max_len tokens every time)"
        )
        return load_checkpoint(tiny), str(tiny), note


def bench_functions(model, repeats: int) -> list[dict]:
    cfg = model.cfg
    grid = rounded_alpha_deltas(cfg)
    sent = lambda i: SENTENCES[i % len(SENTENCES)]  # noqa: E731
    rows = [
        summary("type a sentence (Inspect)", timed(lambda i: sentence.inspect_sentences(model, [sent(i)]), repeats)),
        summary("encode only", timed(lambda i: encode_text(model, [sent(i)]), repeats)),
        summary(
            "move alpha^Delta (re-encode)",
            timed(lambda i: sentence.inspect_sentences(model, [SENTENCES[0]], grid[i % len(grid)]), repeats),
            GOAL_MS,
        ),
    ]
    pair = sentence.encode_pair(model, SENTENCES[0], SENTENCES[1])
    rows.append(
        summary(
            "move tau (decode one mixture)",
            timed(lambda i: sentence.mix_at(model, pair, (i % 21) / 20), repeats),
            GOAL_MS,
        )
    )

    def strip(i):
        p = sentence.encode_pair(model, sent(i), sent(i + 1))
        sentence.interpolation_strip(model, p)

    rows.append(summary("11-step strip (encode pair + decode 11)", timed(strip, max(5, repeats // 3))))
    rows.append(
        summary(
            "sparsity curve (26 alpha^Delta values)",
            timed(lambda i: sentence.sparsity_curve(model, sent(i), grid), max(5, repeats // 3)),
        )
    )
    if is_nvae(cfg):  # the Corpus study's slider: 100 sentences, encoded afresh or from kept states
        corpus = corpus_study.prepare_corpus(model, (SENTENCES * 40)[:100])
        n = max(5, repeats // 3)
        rows.append(
            summary(
                "Corpus study, move alpha^Delta: re-encode 100 sentences",
                timed(lambda i: corpus_study.study_tables(model, corpus, grid[i % len(grid)]), n),
                GOAL_MS,
            )
        )
        encoded = corpus_study.encode_corpus(model, corpus)
        rows.append(
            summary(
                "Corpus study, move alpha^Delta: kept encoder states (the app)",
                timed(lambda i: corpus_study.study_tables(model, corpus, grid[i % len(grid)], encoded=encoded), n),
                GOAL_MS,
            )
        )
    return rows


def bench_against(model, other, repeats: int) -> list[dict]:
    """The encoding interactions on `model` and `other`, interleaved round by round (`timing.interleaved`):
    each one's median and the paired ratio model / other."""
    from benchmarks.timing import interleaved, paired_ratio

    rows = []
    for name, work in (
        ("encode only", lambda m, i: encode_text(m, [SENTENCES[i % len(SENTENCES)]])),
        ("type a sentence (Inspect)", lambda m, i: sentence.inspect_sentences(m, [SENTENCES[i % len(SENTENCES)]])),
        (
            "move alpha^Delta (re-encode)",
            lambda m, i: sentence.inspect_sentences(m, [SENTENCES[0]], rounded_alpha_deltas(m.cfg)[i % 25]),
        ),
    ):
        calls = {"this": [0], "other": [0]}

        def call(m, key, work=work, calls=calls):
            work(m, calls[key][0])
            calls[key][0] += 1

        times = interleaved({"this": lambda: call(model, "this"), "other": lambda: call(other, "other")}, repeats, 2)
        rows.append(
            {
                "interaction": name,
                "this_median_ms": statistics.median(times["this"]) * 1e3,
                "other_median_ms": statistics.median(times["other"]) * 1e3,
                "paired_ratio": paired_ratio(times["this"], times["other"]),
            }
        )
    return rows


def bench_apptest(checkpoint: str, repeats: int) -> list[dict]:
    """Reruns of the real pages under streamlit.testing (widget change -> full script run)."""
    os.environ["NVAE_CHECKPOINT"] = checkpoint
    from streamlit.testing.v1 import AppTest

    main = str(ROOT / "app" / "main.py")
    at = AppTest.from_file(main, default_timeout=300).run()
    slider = at.select_slider(key="inspect.ad")
    options = [float(o) for o in slider.options]

    def move_alpha(i):
        at.select_slider(key="inspect.ad").set_value(options[i % len(options)]).run()

    rows = [
        summary("AppTest: Inspect, move alpha^Delta (first visits, cached after)", timed(move_alpha, repeats), GOAL_MS)
    ]
    at.switch_page("views/interpolate/page.py").run()

    def move_tau(i):
        at.slider(key="interpolate.tau").set_value(round((i % 21) / 20, 2)).run()

    rows.append(summary("AppTest: Interpolate, move tau", timed(move_tau, repeats), GOAL_MS))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped default)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--apptest", action="store_true", help="also time AppTest reruns of the pages")
    ap.add_argument("--json", default=None, help="write the results here as JSON")
    ap.add_argument("--against", default=None, metavar="OTHER", help="also time encoding against this checkpoint")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.environ["NVAE_APP_THREADS"] = str(args.threads)  # the app would otherwise switch to 1
    model, path, note = load_model(args.checkpoint)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with torch.inference_mode():
        rows = bench_functions(model, args.repeats)
    if args.apptest:
        rows += bench_apptest(path, args.repeats)
    against = []
    if args.against:
        with torch.inference_mode():
            against = bench_against(model, load_checkpoint(args.against), args.repeats)
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    cfg = model.cfg
    print(
        f"# App interaction latency\n\ncheckpoint: {path} ({cfg.model_type}, d_model {cfg.d_model}, "
        f"max_len {cfg.max_len})\ntorch threads: {torch.get_num_threads()}, CPU: {platform.processor() or '?'}, "
        f"{os.cpu_count()} cores, load average {load0} -> {load1}"
    )
    if note:
        print(f"note: {note}")
    print("\n| interaction | median ms | p95 ms | max ms | goal (p95) |\n|---|---:|---:|---:|---|")
    for r in rows:
        goal = "" if r["goal_p95_ms"] is None else f"< {r['goal_p95_ms']:.0f} ms: {'yes' if r['meets_goal'] else 'NO'}"
        print(f"| {r['interaction']} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} | {goal} |")
    if against:
        print(f"\n## Against {args.against} (interleaved; paired ratio = this / other, median over rounds)\n")
        print("| interaction | this median ms | other median ms | paired ratio |\n|---|---:|---:|---:|")
        for r in against:
            print(
                f"| {r['interaction']} | {r['this_median_ms']:.1f} | {r['other_median_ms']:.1f} | "
                f"{r['paired_ratio']:.3f} |"
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "checkpoint": path,
                    "note": note,
                    "threads": torch.get_num_threads(),
                    "load_average": [load0, load1],
                    "results": rows,
                    "against": {"checkpoint": args.against, "results": against} if against else None,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
