"""Which checkpoint should be the default? The latent's targets for each candidate, side by side,
on the VALIDATION split (the choice is a setting: it is made on validation; the report then measures
the chosen default on test).

    OMP_NUM_THREADS=1 .venv/bin/python experiments/compare_defaults.py \
        checkpoints/nvae-default checkpoints/nvae-segments [--limit 300] [--pairs 30] [--json out.json]

Per candidate: the rate-distortion curve from its `rate_distortion.json` (`nvae rate-distortion`,
validation: learned against every k-th, evenly spaced and random, and the kept set's layout at
half), then `evaluation.targets.measure_targets` (slider, the default against T, short sentences,
interpolation on the default mixing, prior samples) with baseline-t and baseline-vts, no fluency LM.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere
from nvae import load_checkpoint  # noqa: E402
from nvae.data.corpora import load_sentences  # noqa: E402
from nvae.evaluation.targets import measure_targets  # noqa: E402
from nvae.readout.rate_distortion_file import read_record, record_file  # noqa: E402


def curve_rows(folder: Path) -> list[str]:
    path = record_file(folder)
    if not path.exists():
        return [f"  (no {path.name}: run `nvae rate-distortion {folder}`)"]
    data = read_record(path)
    out = [f"  rate-distortion ({data['split']}, {data['sentences']} sentences): learned / stride / even / random"]
    for r in data["rows"]:
        lay = r["learned"].get("layout", {})
        out.append(
            f"    {r['target']:.2f}: {r['learned']['bleu']:.1f} ({r['learned']['retained_proportion']:.2f}) / "
            f"{r['stride']['bleu']:.1f} ({r['stride']['rule']}) / {r['evenly_spaced']['bleu']:.1f} / "
            f"{r['random']['bleu']:.1f}; layout even {lay.get('even_share', float('nan')):.2f}, "
            f"regular gaps {lay.get('regular_gap_share', float('nan')):.2f}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--json", help="write every measure here")
    args = parser.parse_args()
    t_model = load_checkpoint(ROOT / "checkpoints" / "baseline-t")
    vts_model = load_checkpoint(ROOT / "checkpoints" / "baseline-vts")
    everything = {}
    for path in args.checkpoints:
        model = load_checkpoint(path)
        texts = load_sentences("wikitext-2", "validation", model.tokenizer, 6, 49)[: args.limit]
        res = measure_targets(
            model,
            texts,
            t_model=t_model,
            vts_model=vts_model,
            pairs=args.pairs,
            log=lambda m: print(m, file=sys.stderr),
        )
        everything[path] = res
        d, s, h = res["default"], res["slider"], res["half"]
        lines = [f"== {path} (alpha^Delta {model.cfg.nvib.alpha_delta:g})", *curve_rows(Path(path))]
        lines.append(
            f"  slider: inside {s['share_inside']:.2f}, largest jump {s['max_jump']:.3f}, monotone {s['monotone']}"
        )
        lines.append(
            f"  default: BLEU {d['bleu']:.1f} at {d['retained_proportion']:.3f} kept; T {d.get('t_bleu', 0):.1f}; "
            f"ratio {d.get('bleu_ratio') or 0:.3f}; short sentences exact {d['short']}"
        )
        lines.append(f"  half: {json.dumps({k: v for k, v in h.items() if k != 'curve'}, default=str)[:600]}")
        p = res["interpolation"]["NVAE"]
        lines.append(f"  interpolation: {json.dumps(p, default=str)[:600]}")
        lines.append(f"  prior samples: {json.dumps(res['prior'], default=str)[:400]}")
        print("\n".join(lines), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1, default=str))


if __name__ == "__main__":
    main()
