#!/usr/bin/env python
"""Speed of the NVAE next to a plain Transformer autoencoder, on the machine it runs on.

Three measurements, each printed as a markdown table (median, p90, ratio, goal):

  (a) one training step (forward, loss, backward, AdamW step) of the NVAE vs a plain
      `torch.nn.Transformer` autoencoder of the same size, on the same batch of 32 random sentences
      (10..40 tokens, vocabulary 8000). The NVAE is timed with its default config
      (gaussian_train_prob 0.5: each batch picks one of two forms of cross-attention at random)
      and with gaussian_train_prob 0 (always sampled vectors) and 1 (always the Gaussian-integral
      form). All contenders are interleaved round by round, so machine noise hits them alike.
      Goal: NVAE / plain <= 1.15.
  (b) generation of exactly 32 tokens with the key/value cache vs re-decoding the whole prefix
      every step, eval mode, batch 1 (goal: cache >= 3x faster) and batch 11.
  (c) an interpolation strip: two encoded ~20-token sentences, `a.mix(b, linspace(0, 1, 11))`,
      greedy `generate(mix, max_len=40)`; wall time of mix + generate (goal < 150 ms).
      With an untrained model generation never stops early (worst case: 40 tokens per row);
      `--checkpoint DIR` uses a trained model and real sentences instead.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_model.py                 # defaults: 2 threads, 20 repeats
    .venv/bin/python benchmarks/bench_model.py --quick         # smoke run, about 20 s
    .venv/bin/python benchmarks/bench_model.py --only a --profile   # where an NVAE step spends time
    .venv/bin/python benchmarks/bench_model.py --checkpoint checkpoints/nvae --json out.json
    .venv/bin/python benchmarks/bench_model.py --wait-idle 120   # on a shared machine

Each section ends with the CPU time other processes used meanwhile: on a 2-core machine anything
else running (tests, another benchmark) inflates absolute times badly (OpenMP threads oversubscribed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from nvae.config import RECIPES, ModelConfig  # noqa: E402
from nvae.model import NVAE, sinusoidal_positions  # noqa: E402
from nvae.text import collate, encode_text  # noqa: E402

SEED = 0
BATCH = 32
MIN_LEN, MAX_LEN = 10, 40
GEN_TOKENS = 32
STRIP_POINTS = 11
STRIP_MAX_LEN = 40
SHORT_STEPS = 21  # (c), untrained: a trained model's steps for ~20-token sentences
FIRST_WORD_ID = 4  # ids 0..3 are pad, unk, bos, eos

TRAIN_GOAL = 1.15
CACHE_GOAL = 3.0
STRIP_GOAL_MS = 150.0

# Two ~20-word sentences for --checkpoint (real text, so a trained model stops at EOS).
SENTENCES = (
    "the city council approved the new budget on tuesday after a long debate about schools and roads .",
    "she walked along the river every morning , listening to the birds and thinking about her old friends .",
)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_busy_s() -> float | None:
    """Core-seconds all CPUs have been busy since boot (/proc/stat), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class OtherLoad:
    """CPU time used by *other* processes while a section runs: all busy time (/proc/stat) minus
    this process's own CPU time. Tells whether a run was disturbed (this benchmark needs the cores
    to itself for its absolute times to mean anything)."""

    def __enter__(self):
        self.busy0, self.own0, self.wall0 = _cpu_busy_s(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        busy1, own1, wall1 = _cpu_busy_s(), time.process_time(), time.perf_counter()
        self.wall = wall1 - self.wall0
        if self.busy0 is None or busy1 is None:
            self.other_s = None
        else:
            self.other_s = max(0.0, (busy1 - self.busy0) - (own1 - self.own0))
        return False

    def line(self) -> str:
        if self.other_s is None:
            return ""
        share = self.other_s / max(self.wall, 1e-9)
        flag = " (disturbed: absolute times are inflated; the interleaved ratios less so)" if share > 0.1 else ""
        return (
            f"Other processes used {self.other_s:.1f} core-seconds during this section "
            f"({share:.0%} of one core over {self.wall:.0f} s){flag}."
        )


def wait_idle(max_wait: float, window: float = 3.0, threshold: float = 0.1) -> float:
    """Wait (at most max_wait seconds) until other processes use under `threshold` of one core
    over a `window`-second sample. Returns the last measured share."""
    deadline = time.perf_counter() + max_wait
    share = 0.0
    while True:
        with OtherLoad() as load:
            time.sleep(window)
        if load.other_s is None:
            return 0.0
        share = load.other_s / load.wall
        if share < threshold or time.perf_counter() >= deadline:
            return share
        print(f"(waiting for an idle machine: other processes use {share:.0%} of a core)", flush=True)


def p90(xs: list[float]) -> float:
    if len(xs) < 2:
        return xs[0]
    return statistics.quantiles(xs, n=10, method="inclusive")[8]


def summary(xs: list[float]) -> dict:
    return {"median_ms": statistics.median(xs) * 1e3, "p90_ms": p90(xs) * 1e3, "n": len(xs), "min_ms": min(xs) * 1e3}


def seed_all(seed: int = SEED) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def random_sentences(n: int, lo: int, hi: int, vocab: int, rng: random.Random) -> list[list[int]]:
    return [[rng.randrange(FIRST_WORD_ID, vocab) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


def encode_ids(model: NVAE, ids: list[list[int]]):
    """The latent of token-id sentences (collated on the model's device)."""
    batch = collate(ids, model.cfg.max_len, device=model.device)
    return model.encode(batch.src, batch.pad_mask)


def interleaved(fns: dict, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Time each callable `repeats` times, round-robin (a, b, c, a, b, c, ...), after `warmup`
    untimed rounds. The order inside a round rotates so that no contender always runs first."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median over rounds of num[i] / den[i] (robust to slow drifts of the machine)."""
    return statistics.median(a / b for a, b in zip(num, den))


def goal_mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


# ---------------------------------------------------------------------------------------------
# (a) training step
# ---------------------------------------------------------------------------------------------


class PlainTransformerAE(nn.Module):
    """The reference: torch.nn.Transformer with the NVAE's sizes, embedding, positions and tied
    output projection; memory = encoder states (no latent layer)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        P = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab_size, P, padding_idx=cfg.pad_id)
        nn.init.normal_(self.embed.weight, std=P**-0.5)
        self.register_buffer("positions", sinusoidal_positions(cfg.max_len + 1, P), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "enable_nested_tensor ... norm_first" notice
            self.transformer = nn.Transformer(
                d_model=P,
                nhead=cfg.n_heads,
                num_encoder_layers=cfg.n_enc_layers,
                num_decoder_layers=cfg.n_dec_layers,
                dim_feedforward=cfg.d_ff,
                dropout=cfg.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )

    def _embed(self, ids):
        return self.drop(self.embed(ids) * math.sqrt(self.cfg.d_model) + self.positions[: ids.shape[1]])

    def forward(self, src, pad_mask):
        cfg = self.cfg
        tgt_in = torch.cat([torch.full_like(src[:, :1], cfg.bos_id), src[:, :-1]], dim=1)
        T = tgt_in.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(T, device=src.device, dtype=torch.bool)
        x = self.transformer(
            self._embed(src),
            self._embed(tgt_in),
            tgt_mask=causal,
            src_key_padding_mask=pad_mask,
            tgt_key_padding_mask=tgt_in == cfg.pad_id,
            memory_key_padding_mask=pad_mask,
            tgt_is_causal=True,
        )
        logits = F.linear(x, self.embed.weight)  # the decoder's final LayerNorm is inside
        return F.cross_entropy(logits.flatten(0, 1), src.flatten(), ignore_index=cfg.pad_id)


def make_train_step(model: nn.Module, src, pad_mask, forms: list | None = None):
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    model.train()
    is_nvae = isinstance(model, NVAE)

    def step():
        opt.zero_grad(set_to_none=True)
        if is_nvae:
            loss, parts = model(src, pad_mask, kl_weight=1.0, lambda_g=0.001, lambda_d=1.0)
            if forms is not None:
                forms.append("gaussian" if parts.latent.z is None else "sample")
        else:
            loss = model(src, pad_mask)
        loss.backward()
        opt.step()
        return loss

    return step


def bench_train(args, out: dict) -> None:
    seed_all()
    rng = random.Random(SEED)
    base = ModelConfig()
    ids = random_sentences(BATCH, MIN_LEN, MAX_LEN, base.vocab_size, rng)

    contenders: dict[str, nn.Module] = {}
    seed_all()
    contenders["plain"] = PlainTransformerAE(base)
    for name, prob in (("nvae", base.gaussian_train_prob), ("nvae_g0", 0.0), ("nvae_g1", 1.0)):
        seed_all()
        contenders[name] = NVAE(ModelConfig(gaussian_train_prob=prob))
    for name, conditioning in (("nvae_gated", "direct"), ("nvae_budget", "budget")):
        seed_all()  # the pruning gate of this round's recipe (RECIPES["gated"]), two conditionings
        cfg = ModelConfig(**{**RECIPES["gated"], "alpha_conditioning": conditioning, "alpha_delta": 0.05})
        contenders[name] = NVAE(cfg)
    seed_all()  # the candidate default's recipe (runs/nvae-quantile-mix): soft ranks are O(n^2) a sentence
    cfg = ModelConfig(**{**RECIPES["gated"], "alpha_conditioning": "quantile", "pi_concentration": 0.0})
    contenders["nvae_quantile"] = NVAE(cfg)
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
        "nvae": f"NVAE, default (gaussian_train_prob={base.gaussian_train_prob})",
        "nvae_g0": "NVAE, gaussian_train_prob=0 (sampled vectors, SDPA)",
        "nvae_gated": "NVAE, pruning gate + direct conditioning (recipe gated, alpha^Delta 0.05)",
        "nvae_budget": "NVAE, pruning gate + budget conditioning (alpha^Delta 0.05)",
        "nvae_quantile": "NVAE, pruning gate + quantile conditioning, mean weights (alpha^Delta 0.1)",
        "nvae_g1": "NVAE, gaussian_train_prob=1 (Gaussian integral)",
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


def profile_nvae(contenders, src, pad_mask, out: dict) -> None:
    """torch.profiler on a few steps of each model: the top operators by self CPU time."""
    from torch.profiler import ProfilerActivity, profile, record_function

    print("\n### Profile (torch.profiler, 5 steps each, top operators by self CPU time)\n")
    prof_out = {}
    for name in ("plain", "nvae_g0", "nvae_g1"):
        model = contenders[name]
        step = make_train_step(model, src, pad_mask)
        for _ in range(2):
            step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                with record_function("step"):
                    step()
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
        print(f"#### {name}\n\n```\n{table}\n```\n")
        prof_out[name] = table
    out["profile"] = prof_out

    # Coarse split of the NVAE forward into its parts (no backward), gaussian vs sample form.
    print("#### NVAE forward split (train mode, no backward; median of 10, ms)\n")
    print("| part | g0 (sample) | g1 (gaussian) | plain |")
    print("|---|---:|---:|---:|")
    parts = {}
    for name in ("nvae_g0", "nvae_g1"):
        m = contenders[name]
        m.train()
        ts = {"encoder": [], "nvib": [], "decoder+logits": [], "ce": [], "backward": []}
        for _ in range(12):
            t0 = time.perf_counter()
            h = m.encode_states(src, pad_mask)
            t1 = time.perf_counter()
            latent, kl_g, kl_d = m.latent(h, pad_mask)
            t2 = time.perf_counter()
            logits = m.decode(latent, m.decoder_input(src))
            t3 = time.perf_counter()
            ce = F.cross_entropy(logits.float().flatten(0, 1), src.flatten(), ignore_index=m.cfg.pad_id)
            loss = ce + 0.001 * kl_g.mean() + kl_d.mean()
            t4 = time.perf_counter()
            loss.backward()
            t5 = time.perf_counter()
            m.zero_grad(set_to_none=True)
            for k, a, b in (
                ("encoder", t0, t1),
                ("nvib", t1, t2),
                ("decoder+logits", t2, t3),
                ("ce", t3, t4),
                ("backward", t4, t5),
            ):
                ts[k].append(b - a)
        parts[name] = {k: statistics.median(v[2:]) * 1e3 for k, v in ts.items()}
    # plain: encoder / decoder / logits+ce / backward
    pm = contenders["plain"]
    pm.train()
    tr = pm.transformer
    pts = {"encoder": [], "decoder+logits": [], "ce": [], "backward": []}
    for _ in range(12):
        cfg = pm.cfg
        tgt_in = torch.cat([torch.full_like(src[:, :1], cfg.bos_id), src[:, :-1]], dim=1)
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.shape[1], dtype=torch.bool)
        t0 = time.perf_counter()
        mem = tr.encoder(pm._embed(src), src_key_padding_mask=pad_mask)
        t1 = time.perf_counter()
        x = tr.decoder(
            pm._embed(tgt_in),
            mem,
            tgt_mask=causal,
            tgt_key_padding_mask=tgt_in == cfg.pad_id,
            memory_key_padding_mask=pad_mask,
            tgt_is_causal=True,
        )
        logits = F.linear(x, pm.embed.weight)
        t2 = time.perf_counter()
        loss = F.cross_entropy(logits.flatten(0, 1), src.flatten(), ignore_index=cfg.pad_id)
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        pm.zero_grad(set_to_none=True)
        for k, a, b in (("encoder", t0, t1), ("decoder+logits", t1, t2), ("ce", t2, t3), ("backward", t3, t4)):
            pts[k].append(b - a)
    parts["plain"] = {k: statistics.median(v[2:]) * 1e3 for k, v in pts.items()}
    for k in ("encoder", "nvib", "decoder+logits", "ce", "backward"):
        cells = [f"{parts[n][k]:.1f}" if k in parts[n] else "-" for n in ("nvae_g0", "nvae_g1", "plain")]
        print(f"| {k} | " + " | ".join(cells) + " |")
    out["forward_split_ms"] = parts


# ---------------------------------------------------------------------------------------------
# (b) cached vs full generation
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# (c) interpolation strip
# ---------------------------------------------------------------------------------------------


def load_trained(path: str):
    try:
        from nvae.checkpoint import load_checkpoint  # lazily: the module may not exist yet
    except ImportError as e:
        raise SystemExit(f"--checkpoint needs nvae.checkpoint.load_checkpoint: {e}") from None
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
            return model.generate(a.mix(b, tau), max_len=STRIP_MAX_LEN)

        def strip_with_encode():
            a2, b2 = encode(model, inputs[0]), encode(model, inputs[1])
            return model.generate(a2.mix(b2, tau), max_len=STRIP_MAX_LEN)

        def strip_short():  # untrained only: the decode steps a trained model needs (20 tokens + EOS)
            return model.generate(a.mix(b, tau), max_len=SHORT_STEPS)

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


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--repeats", type=int, default=20, help="timed repetitions per contender (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed repetitions first (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 repeats, 1 warmup")
    ap.add_argument("--only", default="abc", help="which benchmarks to run, e.g. 'a' or 'bc' (default abc)")
    ap.add_argument("--profile", action="store_true", help="with (a): torch.profiler tables and a forward split")
    ap.add_argument("--checkpoint", metavar="DIR", help="(c) with a trained model (nvae.checkpoint.load_checkpoint)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="first wait up to S seconds for other processes to leave the CPUs idle (default 0)",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup = 3, 1
    if args.repeats < 1 or args.warmup < 0:
        ap.error("--repeats must be >= 1 and --warmup >= 0")

    torch.set_num_threads(args.threads)
    if args.wait_idle > 0:
        wait_idle(args.wait_idle)
    now = _dt.datetime.now().astimezone()
    header = {
        "date": now.isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "seed": SEED,
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    print("# NVAE benchmarks\n")
    print(f"- date: {header['date']}")
    print(f"- torch {header['torch']}, python {header['python']}, {header['platform']}")
    print(f"- threads: {header['threads']} (os.cpu_count() = {header['cpu_count']})")
    print(f"- CPU: {header['cpu']}")
    print(f"- repeats {args.repeats}, warmup {args.warmup}, seed {SEED}")
    if header["loadavg_start"] is not None:
        la = header["loadavg_start"]
        print(f"- load average at start: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    out: dict = {"header": header}
    t0 = time.perf_counter()
    out["other_load"] = {}
    for key, fn, name in (
        ("a", bench_train, "train_step"),
        ("b", bench_generate, "generate"),
        ("c", bench_strip, "strip"),
    ):
        if key in args.only:
            with OtherLoad() as load:
                fn(args, out)
            if load.line():
                print("\n" + load.line())
            out["other_load"][name] = {"core_s": load.other_s, "wall_s": load.wall}
    total = time.perf_counter() - t0
    out["total_s"] = total
    if hasattr(os, "getloadavg"):
        out["loadavg_end"] = list(os.getloadavg())
    print(f"\nTotal benchmark time: {total:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"Results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
