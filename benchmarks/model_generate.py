"""(b) Generation of exactly 32 tokens with the key/value cache vs re-decoding the whole prefix
every step: eval mode, greedy, batch 1 (goal: cache >= 3x faster) and batch 11."""

from __future__ import annotations

import contextlib
import random

import torch

from benchmarks.model_inputs import SEED, encode_ids, random_sentences, seed_all
from benchmarks.timing import goal_mark, interleaved, paired_ratio, summary
from nvae.config import ModelConfig
from nvae.model.autoencoder import NVAE

GEN_TOKENS = 32
CACHE_GOAL = 3.0


@contextlib.contextmanager
def eos_unreachable(model: NVAE):
    """Benchmark-only: make the EOS logit -inf (an instance attribute shadows NVAE._logits), so
    generation runs its full max_len. Adds one column fill per step to both contenders alike."""
    orig = model._logits
    eos = model.cfg.eos_id

    def patched(x):
        logits = orig(x)
        logits[..., eos] = float("-inf")
        return logits

    model._logits = patched
    try:
        yield
    finally:
        del model._logits


def bench_generate(args, out: dict) -> None:
    seed_all()
    rng = random.Random(SEED + 1)
    cfg = ModelConfig()
    model = NVAE(cfg).eval()
    res = {"tokens": GEN_TOKENS, "batches": {}}
    print(f"\n## (b) Generation of {GEN_TOKENS} tokens: key/value cache vs full re-decoding\n")
    print(
        "Untrained model (default config), eval mode, greedy, latents of 20-token random sentences, "
        f"max_len={GEN_TOKENS}. Interleaved; {args.repeats} timed rounds after {args.warmup} warmup.\n"
    )
    rows = []
    for B in (1, 11):
        ids = random_sentences(B, 20, 20, cfg.vocab_size, rng)
        with torch.inference_mode():
            latent = encode_ids(model, ids)
            plain_out = model.generate(latent, max_len=GEN_TOKENS, use_cache=True)
        eos_masked = not all(len(r) == GEN_TOKENS for r in plain_out)
        ctx = eos_unreachable(model) if eos_masked else contextlib.nullcontext()
        with ctx, torch.inference_mode():
            cached = model.generate(latent, max_len=GEN_TOKENS, use_cache=True)
            full = model.generate(latent, max_len=GEN_TOKENS, use_cache=False)
            lengths = sorted({len(r) for r in cached})
            if lengths != [GEN_TOKENS]:
                raise RuntimeError(f"batch {B}: expected {GEN_TOKENS} tokens per row, got lengths {lengths}")
            same = cached == full
            times = interleaved(
                {
                    "cached": lambda latent=latent: model.generate(latent, max_len=GEN_TOKENS, use_cache=True),
                    "full": lambda latent=latent: model.generate(latent, max_len=GEN_TOKENS, use_cache=False),
                },
                args.repeats,
                args.warmup,
            )
        c, f = summary(times["cached"]), summary(times["full"])
        speedup = f["median_ms"] / c["median_ms"]
        r = {
            "cached": c,
            "full": f,
            "speedup": speedup,
            "paired_speedup": paired_ratio(times["full"], times["cached"]),
            "lengths": lengths,
            "eos_masked": eos_masked,
            "outputs_identical": same,
            "latent_components": latent.n_components,
        }
        res["batches"][str(B)] = r
        rows.append((B, r))
    print(
        "| batch | cached median ms | cached p90 | full median ms | full p90 | speedup (medians) "
        "| paired | ms/token cached | tokens | EOS masked | same ids | goal >= 3x |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|:---:|")
    for B, r in rows:
        goal = goal_mark(r["speedup"] >= CACHE_GOAL) if B == 1 else "(info)"
        print(
            f"| {B} | {r['cached']['median_ms']:.1f} | {r['cached']['p90_ms']:.1f} | "
            f"{r['full']['median_ms']:.1f} | {r['full']['p90_ms']:.1f} | {r['speedup']:.2f}x | "
            f"{r['paired_speedup']:.2f}x | {r['cached']['median_ms'] / GEN_TOKENS:.2f} | "
            f"{'/'.join(map(str, r['lengths']))} | {'yes' if r['eos_masked'] else 'no'} | "
            f"{'yes' if r['outputs_identical'] else '**no**'} | {goal} |"
        )
    notes = [
        f"batch {B}: every row produced exactly {GEN_TOKENS} tokens "
        + (
            "(EOS logit set to -inf by the benchmark, since the untrained model emitted EOS)"
            if r["eos_masked"]
            else "(the untrained model never emitted EOS; nothing was masked)"
        )
        for B, r in rows
    ]
    print("\n" + "\n".join(f"- {n}" for n in notes))
    out["generate"] = res
