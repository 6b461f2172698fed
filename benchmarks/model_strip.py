"""(c) An interpolation strip: two encoded ~20-token sentences, `a.mix(b, linspace(0, 1, 11))`,
greedy `generate(mix, max_len=40)`; wall time of mix + generate (goal < 150 ms).

With an untrained model generation never stops early (worst case: 40 tokens per row);
`--checkpoint DIR` uses a trained model and real sentences instead.
"""

from __future__ import annotations

import random

import torch

from benchmarks.model_inputs import SEED, encode_ids, random_sentences, seed_all
from benchmarks.timing import goal_mark, interleaved, summary
from nvae.config import ModelConfig
from nvae.data.text import encode_text
from nvae.model.autoencoder import NVAE
from nvae.store.checkpoint import load_checkpoint

STRIP_POINTS = 11
STRIP_MAX_LEN = 40
SHORT_STEPS = 21  # untrained: a trained model's steps for ~20-token sentences
STRIP_GOAL_MS = 150.0

# Two ~20-word sentences for --checkpoint (real text, so a trained model stops at EOS).
SENTENCES = (
    "the city council approved the new budget on tuesday after a long debate about schools and roads .",
    "she walked along the river every morning , listening to the birds and thinking about her old friends .",
)


def load_trained(path: str):
    """The NVAE in the checkpoint folder `path` (nvae.store.checkpoint.load_checkpoint)."""
    loaded = load_checkpoint(path)
    if isinstance(loaded, NVAE):
        return loaded
    if isinstance(loaded, (tuple, list)):
        for item in loaded:
            if isinstance(item, NVAE):
                return item
    if isinstance(loaded, dict) and isinstance(loaded.get("model"), NVAE):
        return loaded["model"]
    model = getattr(loaded, "model", None)
    if isinstance(model, NVAE):
        return model
    raise SystemExit(f"load_checkpoint({path!r}) returned {type(loaded).__name__}; no NVAE found in it")


def bench_strip(args, out: dict) -> None:
    seed_all()
    if args.checkpoint:
        model = load_trained(args.checkpoint).eval()
        if model.tokenizer is not None:
            inputs = [[s] for s in SENTENCES]
            encode = encode_text
            source = "trained model from " + args.checkpoint + ", two real sentences"
        else:
            rng = random.Random(SEED + 2)
            inputs = [random_sentences(1, 20, 20, model.cfg.vocab_size, rng) for _ in range(2)]
            encode = encode_ids
            source = "trained model from " + args.checkpoint + " (no tokenizer: random 20-token inputs)"
        trained = True
    else:
        model = NVAE(ModelConfig()).eval()
        rng = random.Random(SEED + 2)
        inputs = [random_sentences(1, 20, 20, model.cfg.vocab_size, rng) for _ in range(2)]
        encode = encode_ids
        source = "untrained model, two random 20-token sentences (worst case: no early EOS)"
        trained = False
    tau = torch.linspace(0, 1, STRIP_POINTS)
    with torch.inference_mode():
        a, b = encode(model, inputs[0]), encode(model, inputs[1])

        def strip():
            return model.generate(a.mix(b, tau, "uniform"), max_len=STRIP_MAX_LEN)

        def strip_with_encode():
            a2, b2 = encode(model, inputs[0]), encode(model, inputs[1])
            return model.generate(a2.mix(b2, tau, "uniform"), max_len=STRIP_MAX_LEN)

        def strip_short():  # untrained only: the decode steps a trained model needs (20 tokens + EOS)
            return model.generate(a.mix(b, tau, "uniform"), max_len=SHORT_STEPS)

        result = strip()
        fns = {"strip": strip, "encode+strip": strip_with_encode}
        if not trained:
            fns["strip_short"] = strip_short
        times = interleaved(fns, args.repeats, args.warmup)
    lengths = [len(r) for r in result]
    s, se = summary(times["strip"]), summary(times["encode+strip"])
    # generate stops after the step where the last row finishes (EOS), or at max_len
    steps = min(STRIP_MAX_LEN, max(lengths) + 1) if trained else STRIP_MAX_LEN
    res = {
        "source": source,
        "points": STRIP_POINTS,
        "max_len": STRIP_MAX_LEN,
        "lengths": lengths,
        "strip": s,
        "encode_plus_strip": se,
        "components": [a.n_components, b.n_components],
        "decode_steps_upper_bound": steps,
        "trained": trained,
        "goal_ms": STRIP_GOAL_MS,
    }
    out["strip"] = res
    print(f"\n## (c) Interpolation strip: {STRIP_POINTS} points, greedy, max_len {STRIP_MAX_LEN}\n")
    print(
        f"{source}; latents of {a.n_components} and {b.n_components} components (prior included), "
        f"mixed latent {a.n_components + b.n_components}. {args.repeats} timed runs after {args.warmup} warmup.\n"
    )
    print("| what | median ms | p90 ms | output tokens per row | goal < 150 ms |")
    print("|---|---:|---:|---|:---:|")
    ltxt = f"{min(lengths)}..{max(lengths)}" if min(lengths) != max(lengths) else str(lengths[0])
    print(
        f"| mix + generate (11 rows) | {s['median_ms']:.1f} | {s['p90_ms']:.1f} | {ltxt} | "
        f"{goal_mark(s['median_ms'] < STRIP_GOAL_MS)} |"
    )
    print(f"| encode 2 + mix + generate | {se['median_ms']:.1f} | {se['p90_ms']:.1f} | {ltxt} | (info) |")
    if not trained:
        ss = summary(times["strip_short"])
        res["strip_short"] = ss
        res["short_steps"] = SHORT_STEPS
        print(
            f"| mix + generate, {SHORT_STEPS} steps (estimate for a trained model: 20 tokens + EOS) | "
            f"{ss['median_ms']:.1f} | {ss['p90_ms']:.1f} | {SHORT_STEPS} | (info) |"
        )
    if not trained:
        print(
            f"\nWorst case: an untrained model never stops early, so every row decodes "
            f"{STRIP_MAX_LEN} tokens. A trained model stops when all 11 rows have emitted EOS "
            "(use --checkpoint DIR)."
        )
