"""Where a training step spends its time (`--only a --profile`): torch.profiler tables of the plain
Transformer and the NVAE in both cross-attention forms, and a coarse forward/backward split."""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from benchmarks.model_contenders import make_train_step


def profile_nvae(contenders, src, pad_mask, out: dict) -> None:
    """torch.profiler on a few steps of each model: the top operators by self CPU time."""
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
