"""The settings `nvae export` may choose for a trained loss-conditional NVAE before it ships, each
on sentences of the validation split (`nvae.cli.export`):

- `choose_default_alpha_delta`: the sparsest slider value whose BLEU is within a ratio of a
  reference model's and which reconstructs the demo sentences exactly (`--choose-alpha-delta`);
- `choose_spread_bias`: the positional prior of the kept set (`--choose-spread-bias`).

Both return every point they evaluated, for the export's log.
"""

from __future__ import annotations

import torch

from ..evaluation.measures import pruning_comparison, retained_curve, short_sentences_exact
from ..evaluation.metrics import reconstruct
from ..model.autoencoder import NVAE
from ..model.grids import CURVE_POINTS, alpha_delta_values


def choose_default_alpha_delta(
    model: NVAE,
    ids: list[list[int]],
    reference_bleu: float,
    ratio: float = 0.95,
    must_reconstruct: list[str] | None = None,
    values: list[float] | None = None,
) -> dict:
    """The sparsest slider value of a loss-conditional model whose BLEU on `ids` is at least
    `ratio` x `reference_bleu` and which reconstructs every text of `must_reconstruct` exactly.

    BLEU grows with alpha^Delta, so the smallest qualifying value is found by bisection over the
    slider's values (a handful of evaluations instead of 26); every evaluated point is returned.
    """
    values = sorted(values or alpha_delta_values(model.cfg))
    tried: dict[float, dict] = {}

    def ok(k: int) -> bool:
        ad = values[k]
        if ad not in tried:
            s = reconstruct(model, ids, alpha_delta=ad).summary()
            exact = short_sentences_exact(model, must_reconstruct, ad) if must_reconstruct else []
            tried[ad] = {
                "alpha_delta": ad,
                "bleu": s["bleu"],
                "retained_proportion": s["retained_proportion"],
                "short_exact": sum(e["exact"] for e in exact),
                "qualifies": s["bleu"] >= ratio * reference_bleu and all(e["exact"] for e in exact),
            }
        return tried[ad]["qualifies"]

    lo, hi = 0, len(values) - 1
    if not ok(hi):
        chosen = None
    else:
        while lo < hi:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid + 1
        chosen = values[hi]
    return {
        "alpha_delta": chosen,
        "reference_bleu": reference_bleu,
        "ratio": ratio,
        "evaluated": [tried[v] for v in sorted(tried)],
    }


SPREAD_BIAS_GRID = (0.0, 0.5, 1.0, 2.0, 5.0)


@torch.no_grad()
def choose_spread_bias(
    model: NVAE,
    ids: list[list[int]],
    grid: tuple[float, ...] = SPREAD_BIAS_GRID,
    target: float = 0.5,
    slack: float = 0.5,
) -> dict:
    """The positional prior of the kept set (`cfg.nvib.spread_bias`) for a trained loss-conditional NVAE:
    at each value of `grid`, BLEU of the learned choice where the model keeps `target` of its
    vectors; the smallest value within `slack` BLEU of the best is chosen (the least positional
    that does as well). The model's setting is restored; every evaluated point is returned."""
    before = model.cfg.nvib.spread_bias
    if model.cfg.nvib.keep_positions == "tournament":  # its order is the prior's: it needs one
        grid = tuple(beta for beta in grid if beta > 0)
    evaluated = []
    try:
        for beta in grid:
            model.cfg.nvib.spread_bias = beta
            res = pruning_comparison(
                model, ids, target, curve=retained_curve(model, ids, alpha_delta_values(model.cfg, CURVE_POINTS))
            )
            if res["alpha_delta"] is None:
                continue
            evaluated.append(
                {
                    "spread_bias": beta,
                    "alpha_delta": res["alpha_delta"],
                    **{name: res[name]["bleu"] for name in ("learned", "every_second", "random")},
                    "retained_proportion": res["learned"]["retained_proportion"],
                }
            )
    finally:
        model.cfg.nvib.spread_bias = before
    if not evaluated:
        return {"spread_bias": None, "target": target, "evaluated": []}
    best = max(e["learned"] for e in evaluated)
    chosen = min(e["spread_bias"] for e in evaluated if e["learned"] >= best - slack)
    return {"spread_bias": chosen, "target": target, "evaluated": evaluated}
