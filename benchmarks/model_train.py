"""(a) One training step of the NVAE next to a plain Transformer autoencoder of the same size.

Forward, loss, backward and AdamW step on the same batch of 32 random sentences (10..40 tokens,
vocabulary 8000). The NVAE is timed with its default config (the shipped default's recipe), with
each of its two forms of cross-attention forced (gaussian_train_prob 0 and 1), and with the paper's
recipe. All contenders are interleaved round by round, so machine noise hits them alike.
Goal: NVAE / plain <= 1.15.
"""

from __future__ import annotations

import random
import statistics

from torch import nn

from benchmarks.model_contenders import PlainTransformerAE, make_train_step
from benchmarks.model_inputs import SEED, random_sentences, seed_all
from benchmarks.model_profile import profile_nvae
from benchmarks.timing import goal_mark, interleaved, paired_ratio, summary
from nvae.config import ModelConfig, model_config, recipe_configs
from nvae.data.text import collate
from nvae.model.autoencoder import NVAE

BATCH = 32
MIN_LEN, MAX_LEN = 10, 40
TRAIN_GOAL = 1.15


def bench_train(args, out: dict) -> None:
    seed_all()
    rng = random.Random(SEED)
    base = ModelConfig()
    ids = random_sentences(BATCH, MIN_LEN, MAX_LEN, base.vocab_size, rng)

    contenders: dict[str, nn.Module] = {}
    seed_all()
    contenders["plain"] = PlainTransformerAE(base)
    for name, prob in (("nvae", base.nvib.gaussian_train_prob), ("nvae_g0", 0.0), ("nvae_g1", 1.0)):
        seed_all()
        contenders[name] = NVAE(model_config(gaussian_train_prob=prob))
    seed_all()  # the NVIB as the paper trains it
    contenders["nvae_paper"] = NVAE(recipe_configs("paper")[0])
    seed_all()  # kept components standing for their segments, at least one kept (docs/model.md)
    contenders["nvae_pooled"] = NVAE(model_config(kept_pooling="segment", min_kept=1))
    seed_all()  # the same, its kept set placed by the segmentation of its token means (docs/nvib.md section 9)
    contenders["nvae_segments"] = NVAE(model_config(kept_pooling="segment", min_kept=1, kept_chooser="segments"))
    batch = collate(ids, base.max_len)
    src, pad_mask = batch.src, batch.pad_mask

    forms: list[str] = []
    steps = {
        name: make_train_step(m, src, pad_mask, forms if name == "nvae" else None) for name, m in contenders.items()
    }
    seed_all()  # the default NVAE draws its cross-attention form from the global generator
    times = interleaved(steps, args.repeats, args.warmup)
    forms = forms[-args.repeats :]  # the timed steps only (warmup draws came first)

    params = {name: sum(p.numel() for p in m.parameters()) for name, m in contenders.items()}
    plain = times["plain"]
    res = {
        "batch": BATCH,
        "tokens": int((~pad_mask).sum()),
        "src_shape": list(src.shape),
        "params": params,
        "contenders": {},
    }
    labels = {
        "plain": "plain nn.Transformer AE",
        "nvae": f"NVAE, default: the shipped recipe (gaussian_train_prob={base.nvib.gaussian_train_prob})",
        "nvae_g0": "NVAE, gaussian_train_prob=0 (sampled vectors, SDPA)",
        "nvae_paper": "NVAE, the paper's recipe (sampled vectors, no gate, one alpha^Delta)",
        "nvae_g1": "NVAE, gaussian_train_prob=1 (Gaussian integral)",
        "nvae_pooled": "NVAE, default with kept_pooling=segment and min_kept=1",
        "nvae_segments": "NVAE, nvae_pooled with kept_chooser=segments (the batched segmentation)",
    }
    for name, ts in times.items():
        s = summary(ts)
        s["label"] = labels[name]
        s["ratio_of_medians"] = statistics.median(ts) / statistics.median(plain)
        s["paired_ratio"] = paired_ratio(ts, plain)
        res["contenders"][name] = s
    # the default model's steps split by the form its batch drew
    split = {}
    for form in ("sample", "gaussian"):
        ts = [t for t, f in zip(times["nvae"], forms) if f == form]
        if ts:
            split[form] = {"n": len(ts), "median_ms": statistics.median(ts) * 1e3}
    res["default_by_form"] = split
    out["train_step"] = res

    print(
        f"\n## (a) Training step: batch {BATCH}, {res['tokens']} tokens (src {tuple(src.shape)}), "
        f"vocab {base.vocab_size}\n"
    )
    print(
        "Interleaved round-robin; forward + loss + backward + AdamW step. "
        f"{args.repeats} timed rounds after {args.warmup} warmup rounds.\n"
    )
    print("| model | params | median ms | p90 ms | ratio vs plain (medians) | paired ratio | goal <= 1.15 |")
    print("|---|---:|---:|---:|---:|---:|:---:|")
    for name, s in res["contenders"].items():
        goal = "" if name == "plain" else goal_mark(s["ratio_of_medians"] <= TRAIN_GOAL)
        print(
            f"| {s['label']} | {params[name] / 1e6:.2f} M | {s['median_ms']:.1f} | {s['p90_ms']:.1f} | "
            f"{s['ratio_of_medians']:.3f} | {s['paired_ratio']:.3f} | {goal} |"
        )
    if split:
        parts = ", ".join(f"{f}: {v['n']} steps, median {v['median_ms']:.1f} ms" for f, v in split.items())
        print(f"\nDefault NVAE, timed steps by the form the batch drew: {parts}.")

    if args.profile:
        profile_nvae(contenders, src, pad_mask, out)
