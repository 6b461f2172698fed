"""Measurements of a model's latent on plain values (token-id sentences, numbers), shared by the
report's targets (`targets.py`), the pair study (`nvae.readout.pair_study`), the ablation harness
and the diagnostics (`nvae.tools`) and the export's choosers (`nvae.cli.choose`):

- `retained_curve` / `smoothness`: the retained proportion over the alpha^Delta slider and how
  smooth a control it is (monotone, share of values strictly inside (0.1, 0.9), largest jump);
- `prior_weight`: the weight the prior component holds in the evaluation latent;
- `pruning_comparison`: BLEU at one retained proportion for the learned choice of components,
  keeping every second position, and keeping a random subset of the same size;
- `interpolation_paths`: strips between sentence pairs (distinct sentences, the largest step of
  sentence BLEU against decoded A, endpoints exact);
- `prior_sample_stats`: decoded samples (from the prior or the aggregate-posterior fit), adjacent
  repeated words and [UNK] rates;
- `short_sentences_exact`: whether each of a few texts is reconstructed exactly.

Nothing here parses arguments or writes files.
"""

from __future__ import annotations

import math
import random
import statistics

import torch

from ..config import alpha_delta_is_input
from ..data.text import UNK, collate, decode_batch, decode_ids, encode_texts, encoded_batches
from ..model.autoencoder import NVAE, eval_mode
from ..model.grids import FINE_CURVE_POINTS, alpha_delta_values, tau_grid
from ..model.kept_set import pool_alpha, pool_segments, segment_starts
from ..model.mixture import DEFAULT_MIXING, PRIOR, LatentMixture
from ..model.nvib import evaluation_latent
from .endpoints import strip_endpoints, summarise_endpoints
from .metrics import reconstruct, sentence_bleu
from .sampling import draw
from .step_kinds import step_kinds

# Short everyday sentences (written for the project, from no split) that a useful default
# alpha^Delta must reconstruct exactly; the app offers them as examples too.
SHORT_SENTENCES = [
    "The cat sat on the mat.",
    "A storm hit the coast in June.",
    "She plays the piano every day.",
    "The game was released in Japan in 2011.",
    "He was born in London.",
]
# Very short inputs (written for the project, from no split; 1 to 5 word pieces under the shipped
# tokenizer): the default must keep at least one of their components and reconstruct them exactly,
# not decode them from the prior alone.
VERY_SHORT_INPUTS = [
    "rain",
    "music",
    "paris",
    "yes",
    "no.",
    "hello world",
    "thank you.",
    "good morning.",
    "it rained.",
    "he left.",
    "she won.",
    "they lost.",
    "the end.",
    "the cat sat.",
    "the war ended.",
    "the city grew.",
    "we met again.",
    "it was late.",
    "a new album.",
    "the film failed.",
    "the river froze.",
    "the band split up.",
    "he died in 1990.",
    "the game sold well.",
]
INSIDE = (0.1, 0.9)  # a slider value counts as useful when the retained proportion lies strictly inside


@torch.no_grad()
def retained_curve(model: NVAE, ids: list[list[int]], values: list[float], batch_size: int = 128) -> list[dict]:
    """Mean retained proportion (over sentences) at each alpha^Delta; encoding only, no decoding."""
    curve = []
    with eval_mode(model):
        for ad in values:
            props = []
            for _, _, latent in encoded_batches(model, ids, ad, batch_size):
                props += latent.retained_proportion.tolist()
            curve.append({"alpha_delta": ad, "retained_proportion": sum(props) / max(len(props), 1)})
    return curve


def kept_layout(model: NVAE, ids: list[list[int]], alpha_delta: float | None, batch_size: int = 128) -> dict:
    """How regular the model's own kept set is at `alpha_delta`: the share of kept token components at
    even positions, and the share of gaps between neighbouring kept positions that equal their
    sentence's most common gap (its mode; ties: the smallest). A fixed stride gives 1.0 on both
    (every second position: even and regular); a choice by content gives less. Over every kept
    component and every gap of the sentences ([EOS] counts as a position, as it is one)."""
    kept = even = gaps = regular = 0
    with eval_mode(model):
        for _, _, latent in encoded_batches(model, ids, alpha_delta, batch_size):
            for b in range(latent.batch_size):
                positions = latent.source[b][latent.retained[b]].tolist()
                positions.sort()
                kept += len(positions)
                even += sum(1 for p in positions if p % 2 == 0)
                steps = [q - p for p, q in zip(positions, positions[1:])]
                if steps:
                    mode = min(set(steps), key=lambda g: (-steps.count(g), g))
                    gaps += len(steps)
                    regular += steps.count(mode)
    return {
        "even_share": even / kept if kept else None,
        "regular_gap_share": regular / gaps if gaps else None,
        "kept": kept,
        "gaps": gaps,
    }


def prior_weight(model: NVAE, ids: list[list[int]], alpha_delta: float | None, batch_size: int = 128) -> float:
    """Mean over sentences of the weight pi the prior component (component 0) holds in the
    evaluation latent at `alpha_delta`: the share of every decoder query's prior that goes to a
    component carrying nothing of the sentence. 0 for a baseline (no prior component)."""
    shares = []
    with eval_mode(model):
        for _, _, lat in encoded_batches(model, ids, alpha_delta, batch_size):
            shares += (lat.pi.float() * (lat.source == PRIOR)).sum(-1).tolist()
    return sum(shares) / max(len(shares), 1)


def smoothness(curve: list[dict]) -> dict:
    """How well the retained proportion follows alpha^Delta along a curve sorted by alpha^Delta."""
    ys = [p["retained_proportion"] for p in sorted(curve, key=lambda p: p["alpha_delta"])]
    steps = [b - a for a, b in zip(ys, ys[1:])]
    return {
        "monotone": all(s >= -1e-9 for s in steps),
        "share_inside": sum(INSIDE[0] < y < INSIDE[1] for y in ys) / max(len(ys), 1),
        "max_jump": max((abs(s) for s in steps), default=0.0),
        "min": min(ys, default=0.0),
        "max": max(ys, default=0.0),
    }


def alpha_delta_for_retained(curve: list[dict], target: float) -> float | None:
    """The alpha^Delta (interpolated in log space along a monotone curve) that retains `target`."""
    pts = sorted(curve, key=lambda p: p["alpha_delta"])
    for a, b in zip(pts, pts[1:]):
        ya, yb = a["retained_proportion"], b["retained_proportion"]
        if min(ya, yb) <= target <= max(ya, yb) and ya != yb:
            w = (target - ya) / (yb - ya)
            return math.exp(math.log(a["alpha_delta"]) + w * (math.log(b["alpha_delta"]) - math.log(a["alpha_delta"])))
    return None


def keep_components(latent: LatentMixture, keep: torch.Tensor) -> LatentMixture:
    """The latent with exactly the token components in `keep` [B, N] (the prior, if any, always
    kept), weighted like evaluation weighs them: pi = alpha / sum over the kept components. A model
    whose kept components stand for their segments (`kept_pooling` "segment") pools the new set's, and
    one that sums a segment's pseudo-counts (`kept_chooser` "segments") sums the new set's."""
    mask = latent.pad | (~keep & (latent.source != PRIOR))
    mu, logvar, alpha = latent.mu, latent.logvar, latent.alpha
    if latent.token_mu is not None:
        mu, logvar = pool_segments(latent.token_mu, latent.token_logvar, ~mask, latent.pad, latent.source)
    if latent.token_alpha is not None:  # a pooled component carries its segment's pseudo-counts
        alpha = pool_alpha(latent.token_alpha, ~mask, latent.pad, latent.source)
    return evaluation_latent(
        mu,
        logvar,
        alpha,
        latent.pad,
        latent.source,
        latent.n_inputs,
        mask,
        latent.threshold,
        has_prior=latent.has_prior,
    )


def every_second(latent: LatentMixture) -> LatentMixture:
    """Keep the token components at positions 0, 2, 4, ... (the positions VTS keeps)."""
    return every_kth(2)(latent)


def random_like_learned(seed: int = 0):
    """A transform keeping, in each sentence, as many random token components as the model kept."""
    gen = torch.Generator().manual_seed(seed)

    def transform(latent: LatentMixture) -> LatentMixture:
        real = ~latent.pad & (latent.source != PRIOR)
        keep = torch.zeros_like(real)
        for b in range(latent.batch_size):
            cand = real[b].nonzero().flatten()
            k = int(latent.n_retained[b])
            chosen = cand[torch.randperm(len(cand), generator=gen)[:k].to(cand.device)]
            keep[b, chosen] = True
        return keep_components(latent, keep)

    return transform


def pruning_comparison(
    model: NVAE,
    ids: list[list[int]],
    target: float = 0.5,
    curve: list[dict] | None = None,
    seed: int = 0,
    choices: dict | None = None,
) -> dict:
    """BLEU at retained proportion `target` for the learned pruning, every second position and a
    random subset of the learned size, all on the same model at the same alpha^Delta. `choices`
    (name -> a latent transform, None for the model's own) replaces those three."""
    curve = curve or retained_curve(model, ids, alpha_delta_values(model.cfg, FINE_CURVE_POINTS))
    ad = alpha_delta_for_retained(curve, target) if alpha_delta_is_input(model.cfg) else model.cfg.nvib.alpha_delta
    if ad is None:
        return {"target": target, "alpha_delta": None}
    out = {"target": target, "alpha_delta": ad}
    if choices is None:
        choices = {"learned": None, "every_second": every_second, "random": random_like_learned(seed)}
    for name, transform in choices.items():
        s = reconstruct(model, ids, alpha_delta=ad, transform=transform).summary()
        out[name] = {
            "bleu": s["bleu"],
            "retained_proportion": s["retained_proportion"],
            "exact_match": s["exact_match"],
        }
    return out


RATES = (0.25, 1 / 3, 0.5, 0.75)  # the retained proportions of the rate-distortion curve


def every_kth(k: int, drop: bool = False):
    """A transform keeping the token components at positions 0, k, 2k, ... (`drop`: all the others,
    e.g. all but every 4th for three quarters)."""

    def transform(latent: LatentMixture) -> LatentMixture:
        on = (latent.source >= 0) & (latent.source % k == 0)
        return keep_components(latent, (latent.source >= 0) & ~on if drop else on)

    return transform


def evenly_spaced_like_learned(latent: LatentMixture) -> LatentMixture:
    """Keep, in each sentence, as many token components as the model kept, at evenly spaced positions:
    floor(j n / m) for j < m of its n tokens ([EOS] included), so every k-th position when m = n / k."""
    keep = torch.zeros_like(latent.pad)
    for b in range(latent.batch_size):
        n, m = int(latent.n_inputs[b]), int(latent.n_retained[b])
        if m:
            positions = torch.tensor([j * n // m for j in range(m)], device=latent.source.device)
            keep[b] = (latent.source[b] >= 0) & torch.isin(latent.source[b], positions)
    return keep_components(latent, keep)


def segmentation_like_learned(latent: LatentMixture) -> LatentMixture:
    """Keep, in each sentence, as many token components as the model kept (at least one), at the first
    tokens of the best split of the sentence into that many contiguous segments of alike token means
    (`kept_set.segment_starts`: least summed within-segment squared error, exact). The means read are
    each token's own (`latent.token_mu` of a pooling model, before pooling; else the components')."""
    mu = latent.token_mu if latent.token_mu is not None else latent.mu
    token = (latent.source >= 0) & ~latent.pad
    n = int(token.sum(-1).max()) if latent.batch_size else 0
    # a latent's token components are its sentence's tokens in order: gather them to [B, n, P]
    order = torch.where(token, latent.source, latent.source.new_full((), 10**6)).argsort(-1)[:, :n]
    x = mu.gather(1, order[..., None].expand(-1, -1, mu.shape[-1]))
    pad = ~token.gather(1, order)
    starts = segment_starts(x, pad, latent.n_retained.clamp_min(1))
    keep = torch.zeros_like(latent.pad).scatter(1, order, starts & ~pad)
    return keep_components(latent, keep)


def fixed_rule_for(rate: float):
    """(name, transform) of the stride rule nearest `rate`: every k-th position (k = round(1 / rate)),
    or all but every k-th above one half (k = round(1 / (1 - rate)))."""
    if rate > 0.5:
        k = max(2, round(1 / (1 - rate)))
        return f"all but every {ordinal(k)}", every_kth(k, drop=True)
    k = max(1, round(1 / rate))
    return ("all" if k == 1 else f"every {ordinal(k)}"), every_kth(k)


def ordinal(k: int) -> str:
    """2 -> 'second', 3 -> 'third', 4 -> 'fourth', else '5th', ... (every k-th position)."""
    return {2: "second", 3: "third", 4: "fourth"}.get(k, f"{k}th")


def rate_distortion(
    model: NVAE,
    ids: list[list[int]],
    rates: tuple[float, ...] = RATES,
    curve: list[dict] | None = None,
    seed: int = 0,
) -> list[dict]:
    """BLEU against the retained proportion for the model's own (learned) choice and for fixed choices
    on the same model at the same alpha^Delta: the stride rule nearest the rate (`fixed_rule_for`),
    evenly spaced positions and a random subset, the last two with as many components per sentence
    as the learned choice. One row per rate the model can reach (`alpha_delta_for_retained`)."""
    curve = curve or retained_curve(model, ids, alpha_delta_values(model.cfg, FINE_CURVE_POINTS))
    rows = []
    for rate in rates:
        name, stride = fixed_rule_for(rate)
        res = pruning_comparison(
            model,
            ids,
            rate,
            curve,
            seed,
            choices={
                "learned": None,
                "stride": stride,
                "evenly_spaced": evenly_spaced_like_learned,
                "random": random_like_learned(seed),
            },
        )
        if res["alpha_delta"] is None:
            continue
        res["stride"]["rule"] = name
        res["learned"]["layout"] = kept_layout(model, ids, res["alpha_delta"])
        rows.append(res)
    return rows


def sentence_pairs(n: int, pairs: int, seed: int) -> list[tuple[int, int]]:
    """`pairs` random (i, j) with i != j (distinct sentences)."""
    if n < 2:
        raise ValueError("an interpolation study needs at least two sentences")
    rng = random.Random(seed)
    out = []
    for _ in range(pairs):
        i = rng.randrange(n)
        j = rng.randrange(n - 1)
        out.append((i, j + (j >= i)))
    return out


@torch.no_grad()
def pair_record(
    model: NVAE,
    a_ids: list[int],
    b_ids: list[int],
    taus: list[float],
    alpha_delta: float | None = None,
    mixing: str = DEFAULT_MIXING,
) -> dict:
    """One strip F_tau from sentence A to B (token ids, EOS not included; the model in eval mode):
    the decoded strip, its distinct sentences, sentence BLEU of each step against the decoded A,
    the largest change of that curve between neighbouring steps, and the two endpoint measures
    (`evaluation.endpoints`: tau = 0 and 1 decode like A and B alone; they reproduce the inputs)."""
    batch = collate([a_ids, b_ids], model.cfg.max_len, device=model.device)
    lat = model.encode(batch.src, batch.pad_mask, alpha_delta).latent
    a, b = lat.select(0).trim(), lat.select(1).trim()
    alone = decode_batch(model.tokenizer, model.generate(lat))
    strip = decode_batch(model.tokenizer, model.generate(a.mix(b, torch.tensor(taus), mixing)))
    curve = [sentence_bleu(s, alone[0]) for s in strip]
    refs = [decode_ids(model.tokenizer, a_ids), decode_ids(model.tokenizer, b_ids)]
    return {
        "a": refs[0],
        "b": refs[1],
        "strip": strip,
        "distinct": len(set(strip)),
        "bleu_vs_a": curve,
        "largest_step": max(abs(y - x) for x, y in zip(curve, curve[1:])),
        **strip_endpoints(strip, alone, refs),
    }


@torch.no_grad()
def interpolation_paths(
    model: NVAE,
    ids: list[list[int]],
    pairs: int = 50,
    steps: int = 11,
    seed: int = 0,
    grid: str = "linear",
    alpha_delta: float | None = None,
    mixing: str = DEFAULT_MIXING,
) -> dict:
    """Strips F_tau between random pairs of distinct sentences, tau shared among the components by
    `mixing` (`mixture.MIXINGS`).

    Per pair: the number of distinct decoded sentences, sentence BLEU of each step against the
    decoded A, the largest change of that curve between neighbouring steps, the two endpoint
    measures (`evaluation.endpoints`) and what the middle steps are (`step_kinds`). Returns medians,
    shares and the per-pair records.
    """
    taus = tau_grid(steps, grid)
    chosen = sentence_pairs(len(ids), pairs, seed)
    with eval_mode(model):
        records = [pair_record(model, ids[i], ids[j], taus, alpha_delta, mixing) for i, j in chosen]
    return {
        "taus": taus,
        "mixing": mixing,
        "pairs": len(records),
        "median_distinct": statistics.median(r["distinct"] for r in records),
        "median_largest_step": statistics.median(r["largest_step"] for r in records),
        **summarise_endpoints(records),
        "step_kinds": step_kinds([r["strip"] for r in records]),
        "records": records,
    }


def repeat_and_unk_rates(texts: list[str]) -> dict:
    """Share of words equal to the word before them, and share of [UNK] words."""
    words = [t.split() for t in texts]
    n = sum(len(w) for w in words)
    repeats = sum(sum(x == y for x, y in zip(w, w[1:])) for w in words)
    unk = sum(sum(x == UNK.lower() or x == UNK for x in w) for w in words)
    return {"words": n, "repeat_rate": repeats / max(n, 1), "unk_rate": unk / max(n, 1)}


@torch.no_grad()
def prior_sample_stats(
    model: NVAE,
    n: int = 40,
    components: int = 20,
    seed: int = 0,
    alpha_delta: float | None = None,
    source: str = "prior",
) -> dict:
    """Decode `n` latents drawn from `source`: the prior, or the aggregate-posterior fit stored
    beside the checkpoint (`nvae.evaluation.sampling.draw`)."""
    texts = []
    with eval_mode(model):
        for k in range(n):
            lat = draw(model, source, components, alpha_delta=alpha_delta, seed=seed + k)
            texts += decode_batch(model.tokenizer, model.generate(lat))
    return {"samples": texts, **repeat_and_unk_rates(texts), "source": source}


@torch.no_grad()
def short_sentences_exact(model: NVAE, texts: list[str], alpha_delta: float | None = None) -> list[dict]:
    """Each text's reconstruction, and whether it equals the tokenizer's round trip of the text."""
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    batch = collate(ids, model.cfg.max_len, device=model.device)
    with eval_mode(model):
        latent = model.encode(batch.src, batch.pad_mask, alpha_delta).latent
        out = decode_batch(model.tokenizer, model.generate(latent))
    return [
        {
            "text": t,
            "reconstruction": r,
            "exact": r == decode_ids(model.tokenizer, i),
            "retained": int(k),
            "tokens": len(i) + 1,
        }
        for t, i, r, k in zip(texts, ids, out, latent.n_retained.tolist())
    ]


def short_inputs(model: NVAE, alpha_delta: float | None = None, max_pieces: int = 5) -> dict:
    """The very short inputs (`VERY_SHORT_INPUTS` of 1 to `max_pieces` word pieces under the model's
    tokenizer) at `alpha_delta` (None: the default): each one's reconstruction, components kept
    ([EOS] counts, the prior does not) and whether it is exact; and how many keep none or differ."""
    ids, _ = encode_texts(model.tokenizer, VERY_SHORT_INPUTS, model.cfg.max_len - 1)
    texts = [t for t, i in zip(VERY_SHORT_INPUTS, ids) if 1 <= len(i) <= max_pieces]
    rows = short_sentences_exact(model, texts, alpha_delta)
    for r in rows:
        r["pieces"] = r["tokens"] - 1
    return {
        "inputs": rows,
        "n": len(rows),
        "kept_none": sum(r["retained"] == 0 for r in rows),
        "exact": sum(r["exact"] for r in rows),
    }
