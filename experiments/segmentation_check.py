"""The segmentation chooser against the model's own choice and the fixed rules, with no training: BLEU
at a quarter, a third and a half kept, every choice keeping the model's own count of components in
each sentence (the stride rule excepted) on the same model at the same alpha^Delta.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/segmentation_check.py \
        [--checkpoint checkpoints/nvae-segments] [--corpus wikitext-2] [--split validation] \
        [--offset 0] [--limit 300] [--chooser score] [--out FILE.json]

Choices: learned (the model's own), stride (every k-th, `measures.fixed_rule_for`), evenly spaced,
random, and segmentation (`measures.segmentation_like_learned`: the first tokens of the split into
that many contiguous segments whose token means are most alike, `kept_set.segment_starts`). A pooling
model pools each choice's own segments (`measures.keep_components`). Greedy decoding, sacrebleu corpus
BLEU (`metrics.reconstruct`). Settings are read on validation; the test split is for the report.
`--chooser` reads the checkpoint with another `kept_chooser` than its config's ("score": the content
score's own choice; "segments": the segmentation places the model's count), which is what "learned" is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere
from nvae import load_checkpoint  # noqa: E402
from nvae.data.corpora import load_sentences  # noqa: E402
from nvae.data.text import encode_texts  # noqa: E402
from nvae.evaluation import measures  # noqa: E402
from nvae.model.grids import FINE_CURVE_POINTS, alpha_delta_values  # noqa: E402

RATES = (0.25, 1 / 3, 0.5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "nvae-segments"))
    ap.add_argument("--corpus", default="wikitext-2")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chooser", choices=("score", "segments"), default=None, help="override kept_chooser")
    ap.add_argument("--out", default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)

    model = load_checkpoint(args.checkpoint)
    if args.chooser:
        model.cfg.nvib.kept_chooser = args.chooser
    tc = model.train_cfg
    texts = load_sentences(args.corpus, args.split, model.tokenizer, tc.min_tokens, tc.max_tokens)
    texts = texts[args.offset : args.offset + args.limit]
    ids = [s for s in encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)[0] if s]
    curve = measures.retained_curve(model, ids, alpha_delta_values(model.cfg, FINE_CURVE_POINTS))
    rows = []
    for rate in RATES:
        name, stride = measures.fixed_rule_for(rate)
        start = time.time()
        row = measures.pruning_comparison(
            model,
            ids,
            rate,
            curve,
            args.seed,
            choices={
                "learned": None,
                "stride": stride,
                "evenly_spaced": measures.evenly_spaced_like_learned,
                "random": measures.random_like_learned(args.seed),
                "segmentation": measures.segmentation_like_learned,
            },
        )
        if row["alpha_delta"] is None:
            print(f"{rate:.3f}: not reached by this model", flush=True)
            continue
        row["stride"]["rule"] = name
        rows.append(row)
        cells = "  ".join(
            f"{k} {row[k]['bleu']:.1f}" for k in ("learned", "stride", "evenly_spaced", "random", "segmentation")
        )
        print(
            f"rate {rate:.3f} (alpha^Delta {row['alpha_delta']:.4f}, "
            f"kept {row['learned']['retained_proportion']:.3f}): {cells}  ({time.time() - start:.0f} s)",
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {
                    "checkpoint": args.checkpoint,
                    "chooser": model.cfg.nvib.kept_chooser,
                    "split": args.split,
                    "offset": args.offset,
                    "sentences": len(ids),
                    "rows": rows,
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
