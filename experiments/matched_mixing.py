"""Content-matched mixing against sweep and uniform: does moving OT-matched components from A to B
give middle steps that are neither copies nor splices of the endpoints, and as fluent?

    OMP_NUM_THREADS=1 .venv/bin/python experiments/matched_mixing.py [--pairs 50] [--out FILE.json]

Strips of 11 steps (tau = 0, 0.1, ..., 1, greedy decoding on CPU) between `--pairs` random pairs of
the first 300 validation sentences of wiki-mix (6-49 tokens), the same pairs for every mixing
(`nvae.evaluation.measures.interpolation_paths`, seed 0), on checkpoints/nvae-default at its default
alpha^Delta. Per mixing: median distinct sentences per strip, median largest step of sentence BLEU
against the decoded A, the middle steps' kinds (copy / splice / concatenation / other,
`nvae.evaluation.step_kinds`) and mean splice coverage, and the perplexity of the middle steps (every
strip's steps but the first and last) under the fluency LM checkpoints/lm-wiki-mix; then three strips
per mixing. The issue's rule: matched joins `mixture.MIXINGS` only with fewer copies + splices than
sweep, fluency not worse, median distinct >= 4 and median largest step <= 40.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import ot
import torch
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere
from nvae import load_checkpoint  # noqa: E402
from nvae.data.corpora import load_sentences  # noqa: E402
from nvae.data.text import collate, encode_texts  # noqa: E402
from nvae.evaluation.lm import load_lm  # noqa: E402
from nvae.evaluation.measures import interpolation_paths, sentence_pairs  # noqa: E402
from nvae.model.autoencoder import eval_mode  # noqa: E402
from nvae.model.mixture import PRIOR, TINY, LatentMixture, mixed_length, normalise_weights  # noqa: E402

MIXINGS = ("sweep", "uniform", "matched")


# -- matched mixing: not in the package (it did not beat sweep; docs/experiments.md) -----------------


def transported(x: LatentMixture) -> Tensor:
    """[N] True for the components of `x` (batch size 1) that matched mixing transports: kept, of
    positive weight, and not the prior."""
    return ~x.mask[0] & (x.source[0] != PRIOR) & (x.pi[0] > 0)


def matched_plan(a: LatentMixture, b: LatentMixture) -> tuple[Tensor, Tensor, Tensor]:
    """The optimal transport plan between the token components of `a` and `b` (batch size 1; each
    side's weights normalised to 1; cost ||mu_i - mu_j||^2 + ||sigma_i - sigma_j||^2, the squared
    2-Wasserstein distance between diagonal Gaussians): (rows, cols, mass), the component index in
    `a` and in `b` of each cell and the mass it moves (float64, summing to 1), at most K_A + K_B - 1
    cells, in (row, column) order. Empty when either side has no such component."""
    ia, ib = transported(a).nonzero()[:, 0], transported(b).nonzero()[:, 0]
    if not len(ia) or not len(ib):
        empty = torch.zeros(0, dtype=torch.long, device=a.device)
        return empty, empty, torch.zeros(0, dtype=torch.float64, device=a.device)
    p, q = a.pi[0, ia].double(), b.pi[0, ib].double()
    xa = torch.cat([a.mu[0, ia], (0.5 * a.logvar[0, ia]).exp()], dim=-1).double()
    xb = torch.cat([b.mu[0, ib], (0.5 * b.logvar[0, ib]).exp()], dim=-1).double()
    cost = (xa[:, None] - xb[None]).pow(2).sum(-1)
    plan = torch.from_numpy(ot.emd((p / p.sum()).cpu().numpy(), (q / q.sum()).cpu().numpy(), cost.cpu().numpy()))
    rows, cols = (plan > 0).nonzero(as_tuple=True)
    dev = a.device
    return ia[rows.to(dev)], ib[cols.to(dev)], plan[rows, cols].to(dev)


def mix_matched(a: LatentMixture, b: LatentMixture, tau: Tensor) -> LatentMixture:
    """Matched mixing (this script's docstring): component 0 the prior (with a prior component), then
    one component per cell of `matched_plan`, moving from A's component to B's as tau goes 0 -> 1.
    Where one side has no token component, the other's stay in place with weights that fade out (or
    in). Every row has the same components; one whose weight is 0 is masked. Tau = 0 and 1 give A's
    and B's own means, log-variances and (summed over a split component) weights."""
    if a.has_prior != b.has_prior:
        raise ValueError("mix() needs two latents of the same kind (both with a prior component or neither)")
    rows, cols, mass = matched_plan(a, b)
    src, dst = a, b
    if not len(mass):  # one side has no token component: the other's stay in place, fading in or out
        src = dst = a if bool(transported(a).any()) else b
        rows = cols = transported(src).nonzero()[:, 0]
        mass = src.pi[0, rows].double() / src.pi[0, rows].double().sum().clamp_min(TINY)
    t = tau[:, None]  # [T, 1]

    def move(x: Tensor, y: Tensor) -> Tensor:
        """(1 - tau) x + tau y for x, y [K, ...] -> [T, K, ...], exactly x at tau 0 and y at tau 1."""
        s = t.reshape(-1, *([1] * x.dim())).to(x.dtype)
        return torch.where(s == 0, x, torch.where(s == 1, y, (1 - s) * x + s * y))

    # the token components' total weight in each latent (what the prior leaves), 0 for a side without
    total_a, total_b = (x.pi[0, transported(x)].sum() for x in (a, b))
    if src is dst:  # nothing to move towards: the components stay exactly where they are
        mu = src.mu[0, rows].expand(len(tau), -1, -1)
        logvar = src.logvar[0, rows].expand(len(tau), -1, -1)
    else:
        mu = move(src.mu[0, rows], dst.mu[0, cols])
        sd = move((0.5 * src.logvar[0, rows]).exp(), (0.5 * dst.logvar[0, cols]).exp())
        logvar = torch.where((t == 0)[..., None], src.logvar[0, rows], 2 * sd.log())
        logvar = torch.where((t == 1)[..., None], dst.logvar[0, cols], logvar)
    weights = move(total_a, total_b)[:, None] * mass.float()[None]  # [T, K]

    def alpha_share(x: LatentMixture, index: Tensor) -> Tensor:
        """Each cell's share of the alpha of its component `index` in `x` (its mass over the
        component's normalised weight: the shares of a split component add up to its alpha); 0 for
        a side without token components."""
        if not bool(transported(x).any()):
            return torch.zeros(len(index), device=x.device)
        p = x.pi[0, index].double() / x.pi[0, transported(x)].double().sum()
        return x.alpha[0, index] * (mass / p.clamp_min(TINY)).float()

    alpha = move(alpha_share(a, rows), alpha_share(b, cols))  # rows == cols where one side is empty
    source = torch.where(t < 0.5, src.source[0, rows], dst.source[0, cols])
    if a.has_prior:
        prior_a, prior_b = _prior_index(a), _prior_index(b)
        weights = torch.cat([move(a.pi[0, prior_a], b.pi[0, prior_b])[:, None], weights], dim=1)
        mu = torch.cat([move(a.mu[0, prior_a], b.mu[0, prior_b])[:, None], mu], dim=1)
        logvar = torch.cat([move(a.logvar[0, prior_a], b.logvar[0, prior_b])[:, None], logvar], dim=1)
        alpha = torch.cat([move(a.alpha[0, prior_a], b.alpha[0, prior_b])[:, None], alpha], dim=1)
        source = torch.cat([torch.full_like(source[:, :1], PRIOR), source], dim=1)
    mask = weights <= 0
    n_inputs = mixed_length(a.n_inputs[0].cpu(), b.n_inputs[0].cpu(), tau.detach().to("cpu", torch.float64))
    return LatentMixture(
        mu=mu,
        logvar=logvar,
        alpha=alpha.masked_fill(mask, 0.0),
        pi=normalise_weights(weights, mask),
        mask=mask,
        pad=torch.zeros_like(mask),
        source=source,
        n_inputs=n_inputs.to(device=a.device, dtype=a.n_inputs.dtype),
        has_prior=a.has_prior,
        threshold=a.threshold,
    )


def _prior_index(x: LatentMixture) -> int:
    """The column of the prior component of `x` (batch size 1)."""
    found = (x.source[0] == PRIOR).nonzero()
    if not len(found):
        raise ValueError("a latent with has_prior has no prior component")
    return int(found[0, 0])


_LIBRARY_MIX = LatentMixture.mix


def _mix(self, other, tau, mixing="sweep"):
    """LatentMixture.mix with "matched" added, so that `interpolation_paths` can run it unchanged."""
    if mixing == "matched":
        return mix_matched(self, other, torch.as_tensor(tau, dtype=torch.float32).reshape(-1))
    return _LIBRARY_MIX(self, other, tau, mixing)


LatentMixture.mix = _mix
SHOWN = 3  # strips printed per mixing


@torch.no_grad()
def plan_stats(model, ids: list[list[int]], pairs: int) -> dict:
    """What the transport plans of the same pairs look like: tokens kept in A and B, cells of the
    plan (at most K_A + K_B - 1), and the share of the mass moved between components whose source
    tokens sit within 0.1 of each other in relative position (a position-keeping matching gives 1)."""
    kept, cells, near = [], [], []
    with eval_mode(model):
        for i, j in sentence_pairs(len(ids), pairs, 0):  # interpolation_paths' pairs (seed 0)
            batch = collate([ids[i], ids[j]], model.cfg.max_len, device=model.device)
            lat = model.encode(batch.src, batch.pad_mask).latent
            a, b = lat.select(0).trim(), lat.select(1).trim()
            rows, cols, mass = matched_plan(a, b)
            pa, pb = a.relative_position()[0, rows], b.relative_position()[0, cols]
            kept.append((int(transported(a).sum()), int(transported(b).sum())))
            cells.append(len(rows))
            near.append(float(mass[(pa - pb).abs() <= 0.1].sum()))
    n = len(cells)
    return {
        "mean_kept_a_b": [round(sum(k[0] for k in kept) / n, 1), round(sum(k[1] for k in kept) / n, 1)],
        "mean_cells": round(sum(cells) / n, 1),
        "mean_bound": round(sum(ka + kb - 1 for ka, kb in kept) / n, 1),
        "mass_within_0.1_position": round(sum(near) / n, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "nvae-default"))
    parser.add_argument("--lm", default=str(ROOT / "checkpoints" / "lm-wiki-mix"))
    parser.add_argument("--mixings", default=",".join(MIXINGS))
    parser.add_argument("--out", default=None, help="write every strip and summary here as JSON")
    args = parser.parse_args()
    torch.manual_seed(0)

    model = load_checkpoint(args.checkpoint)
    texts = load_sentences("wiki-mix", "validation", model.tokenizer, 6, 49)[: args.sentences]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    lm = load_lm(args.lm)

    rows, results = [], {}
    for mixing in args.mixings.split(","):
        start = time.time()
        res = interpolation_paths(model, ids, pairs=args.pairs, steps=11, mixing=mixing)
        middle = [s for r in res["records"] for s in r["strip"][1:-1]]
        kinds = res["step_kinds"]
        row = {
            "mixing": mixing,
            "pairs": res["pairs"],
            "median_distinct": res["median_distinct"],
            "median_largest_step": round(res["median_largest_step"], 1),
            **{k: round(v, 3) for k, v in kinds["shares"].items()},
            "copy+splice": round(kinds["shares"]["copy"] + kinds["shares"]["splice"], 3),
            "mean_splice_coverage": round(kinds["mean_splice_coverage"], 3),
            "middle_perplexity": round(lm.perplexity(middle), 1),
            "endpoint_perplexity": round(
                lm.perplexity([s for r in res["records"] for s in (r["strip"][0], r["strip"][-1])]), 1
            ),
            "seconds": round(time.time() - start),
        }
        rows.append(row)
        results[mixing] = {"summary": row, "records": res["records"]}
        print(json.dumps(row), flush=True)

    print(
        "\n| mixing | median distinct | median largest step | copy | splice | concatenation | other | "
        "copy + splice | mean splice coverage | middle-step perplexity |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['mixing']} | {r['median_distinct']} | {r['median_largest_step']} | {r['copy']:.2f} | "
            f"{r['splice']:.2f} | {r['concatenation']:.2f} | {r['other']:.2f} | {r['copy+splice']:.2f} | "
            f"{r['mean_splice_coverage']:.2f} | {r['middle_perplexity']} |"
        )
    for mixing, res in results.items():
        print(f"\n## {mixing}")
        for rec in res["records"][:SHOWN]:
            print()
            for k, s in enumerate(rec["strip"]):
                print(f"  {k / 10:.1f}  {s}")
    if "matched" in results:
        stats = plan_stats(model, ids, args.pairs)
        results["matched"]["plans"] = stats
        print(f"\nmatched plans: {json.dumps(stats)}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
