"""Does the learned score know *which* token of a neighbouring pair to keep?

A diagnostic for the latent issue's target 2 (learned pruning beats fixed striding). At half the
vectors, keeping every second position (VTS's choice) beats the NVAE's own choice on the shipped
model, though the positional prior (`spread_bias`) pushes that choice towards even coverage. This
separates the two things a choice does, *coverage* (how the kept set is spread over the sentence)
and *content* (which token it keeps where), by fixing the coverage to one token of every pair of
neighbours (positions 2i and 2i + 1) and letting the model's scores pick inside each pair:

- `every_second`: position 2i of every pair (no content);
- `best_of_pairs`: the token of each pair with the larger pseudo-count (the model's content choice
  at VTS's coverage);
- `worst_of_pairs`: the one with the smaller pseudo-count (the control: if the scores carry what
  the decoder needs, it is the worst of the three).

Every choice keeps the same number of components in every sentence, with the model's own weights,
read at the alpha^Delta where the learned choice keeps `target` of the vectors, at each value of
the positional prior. Run on the validation split:

    python -m nvae.tools.pair_choice --checkpoint checkpoints/nvae-default --limit 500
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import torch

from ..config import alpha_delta_is_input
from ..evaluation.measures import every_second, keep_components, pruning_comparison, retained_curve
from ..locations import DEFAULT_CHECKPOINT
from ..model.autoencoder import NVAE
from ..model.grids import CURVE_POINTS, alpha_delta_values
from ..model.mixture import LatentMixture

SPREAD_BIASES = (0.0, 1.0, 2.0, 5.0)


def pair_choice(latent: LatentMixture, larger: bool = True) -> torch.Tensor:
    """[B, N] the token components kept when each pair of neighbours (2i, 2i + 1) keeps the one whose
    pseudo-count is the larger (`larger`) or the smaller; a last token without a partner is kept."""
    real = ~latent.pad & (latent.source >= 0)
    alpha = latent.alpha.detach()
    keep = torch.zeros_like(real)
    for b in range(latent.batch_size):
        index = {int(p): j for j, p in enumerate(latent.source[b].tolist()) if real[b, j]}
        for p in range(0, max(index, default=-1) + 1, 2):
            if p not in index:
                continue
            if p + 1 not in index:
                keep[b, index[p]] = True
                continue
            first, second = index[p], index[p + 1]
            a1, a2 = float(alpha[b, first]), float(alpha[b, second])
            take_second = a2 > a1 if larger else a2 < a1
            keep[b, second if take_second else first] = True
    return keep


def best_of_pairs(latent: LatentMixture) -> LatentMixture:
    return keep_components(latent, pair_choice(latent, larger=True))


def worst_of_pairs(latent: LatentMixture) -> LatentMixture:
    return keep_components(latent, pair_choice(latent, larger=False))


CHOICES = {
    "learned": None,
    "every_second": every_second,
    "best_of_pairs": best_of_pairs,
    "worst_of_pairs": worst_of_pairs,
}


def study(
    model: NVAE, ids: list[list[int]], biases: Sequence[float] = SPREAD_BIASES, target: float = 0.5
) -> list[dict]:
    """At each positional prior: the alpha^Delta where the learned choice keeps `target`, and BLEU,
    retained proportion and exact match of every choice there. The model's prior is restored."""
    before = model.cfg.nvib.spread_bias
    rows = []
    try:
        for beta in biases:
            model.cfg.nvib.spread_bias = float(beta)
            curve = retained_curve(model, ids, alpha_delta_values(model.cfg, CURVE_POINTS))
            res = pruning_comparison(model, ids, target, curve=curve, choices=CHOICES)
            rows.append({"spread_bias": beta, **{k: v for k, v in res.items() if k != "target"}})
    finally:
        model.cfg.nvib.spread_bias = before
    return rows


def main(argv: list[str] | None = None) -> int:
    from ..data.corpora import load_sentences
    from ..data.text import encode_texts
    from ..store.checkpoint import load_checkpoint
    from ..store.format import CheckpointError

    ap = argparse.ArgumentParser(prog="python -m nvae.tools.pair_choice", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--split", default="validation", choices=["validation", "test"])
    ap.add_argument("--limit", type=int, default=500, help="the first N sentences of the split")
    ap.add_argument("--biases", default=",".join(f"{b:g}" for b in SPREAD_BIASES), help="spread_bias values")
    args = ap.parse_args(argv)
    try:
        model = load_checkpoint(args.checkpoint)
        biases = [float(b) for b in args.biases.split(",")]
    except (CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not alpha_delta_is_input(model.cfg):
        print("error: the pair-choice study needs a loss-conditional NVAE", file=sys.stderr)
        return 2
    tc = model.train_cfg
    texts = load_sentences(tc.data, args.split, model.tokenizer, tc.min_tokens, tc.max_tokens)[: max(args.limit, 1)]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    rows = study(model, ids, biases)
    print(json.dumps({"checkpoint": args.checkpoint, "split": args.split, "sentences": len(ids), "rows": rows}))
    print("| spread_bias | alpha^Delta | " + " | ".join(CHOICES) + " |", file=sys.stderr)
    print("|---" * (2 + len(CHOICES)) + "|", file=sys.stderr)
    for r in rows:
        if r["alpha_delta"] is None:
            continue
        cells = [f"{r[n]['bleu']:.2f} ({r[n]['retained_proportion']:.3f})" for n in CHOICES]
        print(f"| {r['spread_bias']:g} | {r['alpha_delta']:.4g} | " + " | ".join(cells) + " |", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
