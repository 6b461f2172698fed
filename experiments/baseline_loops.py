"""Loops in baseline interpolation strips between sentences of very different lengths, both orders,
under the old position-wise rule (copied below verbatim from nvae/model/mixture.py before issue 26)
and under the rule now in nvae.model.mixture ("new": relative-position alignment, interpolated length).

    OMP_NUM_THREADS=1 .venv/bin/python experiments/baseline_loops.py [--seed 0] [--short 4,5]

Pairs: 15 pairs of a short sentence (4-5 words by default; --short 8,12 for moderate) and a long one
(20-26 words) from the wikitext-2 validation split (seeded draw; the short ones include those of
examples/sentences.txt that fit), each strip in both orders (30 strips per model, mixing and rule),
11 steps tau = 0, 0.1, ..., 1, greedy decoding on CPU.

Per strip, over its middle steps (0 < tau < 1):
  word x3   a word repeated 3+ times in a row (the issue's count)
  phrase x3 a run of 1-4 words repeated 3+ times in a row
  runaway   a step longer than 1.5 x the longer endpoint (+2 words)
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere
import nvae.model.mixture as mx  # noqa: E402
from nvae import load_checkpoint  # noqa: E402
from nvae.data.corpora import load_sentences  # noqa: E402
from nvae.data.text import decode_batch, encode_batch  # noqa: E402
from nvae.model.mixture import LatentMixture, _share_of_b, normalise_weights  # noqa: E402


# -- the old rule (nvae/model/mixture.py before the change), verbatim -------------------------------
def _pad_to(x, n, value):
    if x.shape[1] == n:
        return x
    pad_shape = (x.shape[0], n - x.shape[1], *x.shape[2:])
    return torch.cat([x, torch.full(pad_shape, value, dtype=x.dtype, device=x.device)], dim=1)


def _old_mix_positions(a, b, wa, wb, T):
    n = max(a.n_components, b.n_components)
    a_real = ~_pad_to(a.pad, n, True)
    b_real = ~_pad_to(b.pad, n, True)
    ca = torch.where(b_real, wa, torch.ones_like(wa))[..., None] * a_real[..., None].float()
    cb = torch.where(a_real, wb, torch.ones_like(wb))[..., None] * b_real[..., None].float()
    mu = ca * _pad_to(a.mu, n, 0.0) + cb * _pad_to(b.mu, n, 0.0)
    logvar = ca * _pad_to(a.logvar, n, 0.0) + cb * _pad_to(b.logvar, n, 0.0)
    weights = (a_real & b_real).float() + (a_real & ~b_real).float() * wa + (~a_real & b_real).float() * wb
    pad = ~(a_real | b_real)
    mask = pad | (weights <= 0)
    source = torch.where(a_real, _pad_to(a.source, n, 0), _pad_to(b.source, n, 0)).expand(T, n)
    return LatentMixture(
        mu=mu,
        logvar=logvar,
        alpha=weights.masked_fill(mask, 0.0),
        pi=normalise_weights(weights, mask),
        mask=mask,
        pad=pad.expand(T, n),
        source=source,
        n_inputs=torch.maximum(a.n_inputs, b.n_inputs).expand(T),
        has_prior=False,
        threshold=a.threshold,
    )


def old_mix(a, b, tau, mixing):
    T = tau.shape[0]
    n = max(a.n_components, b.n_components)
    where = torch.arange(n, dtype=torch.float32)[None] / max(n - 1, 1)
    share = _share_of_b(where, tau, mixing)
    return _old_mix_positions(a, b, 1 - share, share, T)


# -- pairs ------------------------------------------------------------------------------------------
def pairs(n=15, seed=0, short_words=(4, 5)):
    val = load_sentences("wikitext-2", "validation")
    short = [
        s
        for s in val
        if short_words[0] <= len(s.split()) <= short_words[1]
        and s[0].isupper()
        and s.endswith(".")
        and "[UNK]" not in s
    ]
    long = [s for s in val if 20 <= len(s.split()) <= 26 and s.endswith(".") and "[UNK]" not in s and '"' not in s]
    rng = random.Random(seed)
    ex_short = ["He was born in London.", "Its precise meaning remains obscure.", "The cat sat on the mat."]
    ex_short = [s for s in ex_short if short_words[0] <= len(s.split()) <= short_words[1]]
    shorts = ex_short + rng.sample(short, n - len(ex_short))
    longs = rng.sample(long, n)
    return list(zip(shorts, longs))


LOOP = re.compile(r"\b(\w+)(?:\s+\1\b){2,}", re.IGNORECASE)


def loops(text: str) -> bool:
    """A word repeated 3+ times in a row (the issue's count)."""
    return LOOP.search(text) is not None


def phrase_loops(text: str, longest: int = 4) -> bool:
    """Any run of 1 to `longest` words repeated 3+ times in a row."""
    w = text.lower().split()
    for n in range(1, longest + 1):
        for i in range(len(w) - 3 * n + 1):
            if w[i : i + n] == w[i + n : i + 2 * n] == w[i + 2 * n : i + 3 * n]:
                return True
    return False


def runaway(text: str, ends: list[str]) -> bool:
    """Longer than 1.5 x the longer endpoint (+ 2 words)."""
    return len(text.split()) > 1.5 * max(len(e.split()) for e in ends) + 2


NEW_RESAMPLING = mx.RESAMPLING


@torch.inference_mode()
def strips(model, a_text, b_text, taus, mixing, rule):
    batch = encode_batch(model.tokenizer, [a_text, b_text], model.cfg.max_len, model.device)
    lat = model.encode(batch.src, batch.pad_mask).latent
    a, b = lat.select(0).trim(), lat.select(1).trim()
    if rule == "old":
        mixed = old_mix(a, b, taus, mixing)
    elif rule in ("linear", "nearest"):
        mx.RESAMPLING = rule
        mixed = a.mix(b, taus, mixing)
    else:  # "new": the library's rule with its default resampling (or --resampling)
        mx.RESAMPLING = NEW_RESAMPLING
        mixed = a.mix(b, taus, mixing)
    return decode_batch(model.tokenizer, model.generate(mixed))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resampling", default=None, choices=mx.RESAMPLINGS)
    ap.add_argument("--mixings", default="sweep,uniform")
    ap.add_argument("--rules", default="old,new")
    ap.add_argument("--models", default="baseline-t,baseline-vts")
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--short", default="4,5", help="word counts of the short sentences, min,max")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    global NEW_RESAMPLING
    if args.resampling:
        NEW_RESAMPLING = args.resampling
    torch.set_num_threads(1)
    taus = torch.linspace(0, 1, 11)
    ps = pairs(seed=args.seed, short_words=tuple(int(x) for x in args.short.split(",")))
    n = 2 * len(ps)
    print(f"{len(ps)} pairs, both orders = {n} strips per model, mixing and rule; resampling: {NEW_RESAMPLING}")
    for name in args.models.split(","):
        model = load_checkpoint(str(Path(__file__).resolve().parents[1] / "checkpoints" / name), device="cpu").eval()
        for mixing in args.mixings.split(","):
            for rule in args.rules.split(","):
                count = {"word": 0, "phrase": 0, "runaway": 0, "bad": 0}
                by_order = {"short->long": 0, "long->short": 0}
                bad_order = {"short->long": 0, "long->short": 0}
                distinct = []
                for sh, lo in ps:
                    for order, (x, y) in (("short->long", (sh, lo)), ("long->short", (lo, sh))):
                        texts = strips(model, x, y, taus, mixing, rule)
                        mid, ends = texts[1:-1], [texts[0], texts[-1]]
                        word = any(loops(t) for t in mid)
                        phrase = any(phrase_loops(t) for t in mid)
                        run = any(runaway(t, ends) for t in mid)
                        count["word"] += word
                        count["phrase"] += phrase
                        count["runaway"] += run
                        count["bad"] += phrase or run
                        bad_order[order] += phrase or run
                        distinct.append(len(set(texts)))
                        by_order[order] += word
                        if args.show and (word or phrase or run):
                            print(f"  [{name} {mixing} {rule} {order}]")
                            for t, txt in zip(taus.tolist(), texts):
                                print(f"    {t:.1f} {txt}")
                median = sorted(distinct)[len(distinct) // 2]
                print(
                    f"{name:13s} {mixing:8s} {rule:9s}: word x3 {count['word']:2d}/{2 * len(ps)} "
                    f"({by_order['short->long']} short->long, {by_order['long->short']} long->short); "
                    f"phrase x3 {count['phrase']:2d}; runaway {count['runaway']:2d}; "
                    f"phrase or runaway {count['bad']:2d} "
                    f"({bad_order['short->long']} + {bad_order['long->short']}); median distinct {median}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
