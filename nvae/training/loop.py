"""Training loop: `python -m nvae train --out runs/NAME [options]`.

- Any model of the library (nvae, t, vt, vtp, vts) from a ModelConfig / TrainConfig.
- AdamW with linear warmup and cosine decay, gradient clipping, KL weights with linear annealing,
  bf16/fp16 autocast where the device supports it, tqdm progress with live loss / KL / retained.
- Periodic validation (CE, BLEU, retained proportion) appended to `metrics.jsonl`.
- Resumable: `RUN/checkpoint/` is written atomically every `checkpoint_every` steps and on
  SIGINT/SIGTERM, with optimizer, scheduler, step, data position and RNG state; `--resume`
  continues from it, so a `kill -9` loses at most one checkpoint interval.
- Runs unchanged under `torchrun --nproc_per_node N` (DistributedDataParallel; gloo on CPU).
- A non-finite loss skips the step with a warning; `max_bad_steps` in a row stop the run cleanly,
  keeping the last good checkpoint.

Run layout: RUN/checkpoint/ (the checkpoint), RUN/metrics.jsonl, RUN/tokenizer.json.
What the loop needs before its first step is in `train_setup`, its schedules in `schedules`.
"""

from __future__ import annotations

import json
import math
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..config import ConfigError, ModelConfig, TrainConfig, alpha_delta_is_input, alpha_delta_range, load_configs
from ..data.corpora import LengthBatcher
from ..data.text import collate
from ..evaluation.metrics import reconstruct
from ..model.autoencoder import NVAE
from ..model.grids import interior_alpha_deltas
from ..store.atomic import recover_interrupted_save
from ..store.checkpoint import load_checkpoint, save_checkpoint
from ..store.format import CONFIG, REQUIRED_FILES, STATE_JSON
from ..store.train_state import capture_rng, load_training_state, restore_rng
from .schedules import alpha_delta_floor, kl_weight, lr_lambda
from .setup import (
    amp_context,
    barrier,
    check_run_folder,
    dist_setup,
    hardware_summary,
    init_checkpoint,
    param_groups,
    prepare_data,
)

MAX_BAD_STEPS = 20


class TrainingStopped(RuntimeError):
    """Training stopped early (repeated non-finite losses)."""


# -- the loop -------------------------------------------------------------------------------------


def train(
    run: str | Path,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    resume: bool = False,
    device: str | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Train into `run`; returns the checkpoint folder. A folder that already holds a run needs
    `resume` (continue) or `overwrite` (start again). `stop_after` ends the call after that many
    steps of this call (used by tests to simulate an interrupted run)."""
    run = Path(run)
    rank, world, dev = dist_setup(device)
    is_main = rank == 0
    ckpt_dir = run / "checkpoint"
    if is_main:
        check_run_folder(run, resume, overwrite)
        run.mkdir(parents=True, exist_ok=True)
    barrier(world)
    if is_main and resume:
        recover_interrupted_save(ckpt_dir, REQUIRED_FILES)  # a kill between the two renames of an atomic save
    barrier(world)
    if resume and (ckpt_dir / STATE_JSON).exists():
        model_cfg, _ = load_configs(ckpt_dir / CONFIG)
    elif resume:
        if is_main:
            print(f"no checkpoint in {ckpt_dir}; starting a new run", file=sys.stderr)
        resume = False

    seed = train_cfg.seed + rank
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

    tok, train_ids, eval_ids, eval_from = prepare_data(run, train_cfg, rank, world, resume)
    if is_main and progress:
        print(
            f"training on {len(train_ids)} sentences of {train_cfg.data}:{train_cfg.split}; "
            f"evaluating on {len(eval_ids)} sentences of {eval_from}",
            file=sys.stderr,
        )
    if tok.get_vocab_size() != model_cfg.vocab_size:
        model_cfg.vocab_size = tok.get_vocab_size()
    model_cfg.max_len = max(model_cfg.max_len, train_cfg.max_tokens + 1)
    model_cfg.validate()

    torch.manual_seed(train_cfg.seed)  # identical initial weights on every rank
    model = NVAE(model_cfg, tok).to(dev)
    init = init_checkpoint(train_cfg)
    if init is not None and not resume:  # fine-tuning: the weights of init_from, a new optimiser
        try:
            model.load_state_dict(load_checkpoint(init, device="cpu").state_dict())
        except RuntimeError as err:
            raise ConfigError(
                f"init_from: {init} has another architecture ({str(err).splitlines()[0].strip()}); "
                "its model settings must match this run's"
            ) from None
        if is_main and progress:
            print(f"starting from the weights of {init}", file=sys.stderr)
    opt = torch.optim.AdamW(param_groups(model, train_cfg.weight_decay), lr=train_cfg.lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(train_cfg))
    step, epoch, offset = 0, 0, 0
    if resume:
        state = load_training_state(ckpt_dir)
        loaded = load_checkpoint(ckpt_dir, device="cpu")
        model.load_state_dict(loaded.state_dict())
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = int(state["step"])
        extra = state.get("extra", {})
        epoch, offset = int(extra.get("epoch", 0)), int(extra.get("offset", 0))
        restore_rng(state["rng"])
        if is_main:
            print(f"resumed {ckpt_dir} at step {step}", file=sys.stderr)
    train_model = model
    if world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )

    batcher = LengthBatcher(
        [len(s) for s in train_ids], train_cfg.batch_size, seed=train_cfg.seed, rank=rank, world_size=world
    )
    amp_ctx, scaler = amp_context(train_cfg.amp, dev)
    metrics_path = run / "metrics.jsonl"

    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    old_handlers = {}
    if is_main or world > 1:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old_handlers[sig] = signal.signal(sig, on_signal)
            except ValueError:  # not the main thread (e.g. inside the app)
                pass

    def save() -> None:
        if is_main:
            save_checkpoint(
                ckpt_dir,
                model,
                train_cfg,
                training_state={
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "step": step,
                    "rng": capture_rng(),
                    "extra": {"epoch": epoch, "offset": offset},
                },
            )
        barrier(world)

    def log(record: dict) -> None:
        if is_main:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    if is_main:
        # run.json: the settings of the first call, plus every later call (a resume may change settings)
        info_path = run / "run.json"
        argv = sys.argv[1:] if sys.argv[0].endswith("__main__.py") else sys.argv
        call = {
            "command": "python -m nvae " + " ".join(argv),
            "start_step": step,
            "train": train_cfg.to_dict(),
            "world_size": world,
            "device": str(dev),
            "hardware": hardware_summary(dev),
        }
        if resume and info_path.exists():
            info = json.loads(info_path.read_text())
            info.setdefault("resumed", []).append(call)
        else:
            info = {"model": model_cfg.to_dict(), "train_sentences": len(train_ids), "eval_from": eval_from, **call}
        info_path.write_text(json.dumps(info, indent=2))
    bar = tqdm(
        total=train_cfg.max_steps, initial=step, disable=not (progress and is_main), dynamic_ncols=True, desc=run.name
    )
    bad_steps, steps_this_call, t0 = 0, 0, time.time()
    hi = math.log(alpha_delta_range(model_cfg)[1])
    is_nvae = model_cfg.is_nvae
    try:
        batches, batches_epoch = [], None
        while step < train_cfg.max_steps and stop["signal"] is None:
            if batches_epoch != epoch:
                batcher.set_epoch(epoch)
                batches, batches_epoch = list(batcher), epoch
            if offset >= len(batches):
                epoch, offset = epoch + 1, 0
                continue
            idx = batches[offset]
            offset += 1
            train_model.train()
            batch = collate([train_ids[i] for i in idx], model_cfg.max_len, device=model.device)
            alpha_delta = None
            if alpha_delta_is_input(model_cfg):
                alpha_delta = math.exp(random.uniform(alpha_delta_floor(train_cfg, model_cfg, step), hi))
            w = kl_weight(train_cfg, step)
            with amp_ctx:
                loss, parts = train_model(
                    batch.src,
                    batch.pad_mask,
                    alpha_delta,
                    kl_weight=w,
                    lambda_g=train_cfg.lambda_g,
                    lambda_d=train_cfg.lambda_d,
                )
            finite = torch.isfinite(loss.detach())
            if world > 1:  # every rank must agree to skip, or DDP would hang
                flag = finite.float().to(dev)
                dist.all_reduce(flag, op=dist.ReduceOp.MIN)
                finite = flag > 0
            if not bool(finite):
                bad_steps += 1
                opt.zero_grad(set_to_none=True)
                tqdm.write(f"warning: non-finite loss at step {step}; step skipped ({bad_steps} in a row)")
                if bad_steps >= MAX_BAD_STEPS:
                    raise TrainingStopped(
                        f"{bad_steps} non-finite losses in a row at step {step}; "
                        f"stopped, last good checkpoint kept in {ckpt_dir}"
                    )
                continue
            bad_steps = 0
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            sched.step()
            step += 1
            steps_this_call += 1
            bar.update(1)
            if step % 10 == 0 or step == 1:
                rec = {
                    "step": step,
                    "loss": float(loss.detach()),
                    "ce": float(parts.ce.detach()),
                    "kl_g": float(parts.kl_g.detach()),
                    "kl_d": float(parts.kl_d.detach()),
                    "retained": float(parts.retained),
                    "kl_weight": w,
                    "lr": sched.get_last_lr()[0],
                    "grad_norm": float(gnorm),
                    "elapsed_s": round(time.time() - t0, 2),
                }
                if alpha_delta is not None:
                    rec["alpha_delta"] = alpha_delta
                bar.set_postfix(
                    loss=f"{rec['loss']:.3f}",
                    ce=f"{rec['ce']:.3f}",
                    kl_d=f"{rec['kl_d']:.3f}",
                    ret=f"{rec['retained']:.2f}",
                )
                log({"kind": "train", **rec})
            if eval_ids and (step % train_cfg.eval_every == 0 or step == train_cfg.max_steps):
                if is_main:
                    res = reconstruct(model, eval_ids).summary()
                    log(
                        {
                            "kind": "eval",
                            "step": step,
                            **({"alpha_delta": model_cfg.nvib.alpha_delta} if is_nvae else {}),
                            **res,
                        }
                    )
                    tqdm.write(
                        f"step {step}: eval BLEU {res['bleu']:.2f}  CE {res['cross_entropy']:.3f}  "
                        f"retained {res['retained_proportion']:.3f}"
                    )
                    for ad in interior_alpha_deltas(model_cfg):  # a loss-conditional model across its range
                        res = reconstruct(model, eval_ids, alpha_delta=ad).summary()
                        log({"kind": "eval_sweep", "step": step, "alpha_delta": ad, **res})
                        tqdm.write(
                            f"  alpha_delta {ad:.3g}: BLEU {res['bleu']:.2f}  retained {res['retained_proportion']:.3f}"
                        )
                barrier(world)
            if step % train_cfg.checkpoint_every == 0 or step == train_cfg.max_steps:
                save()
            if stop_after is not None and steps_this_call >= stop_after:
                break
        if stop["signal"] is not None:
            save()
            if is_main:
                print(
                    f"\nstopped by signal {stop['signal']} at step {step}; checkpoint saved in {ckpt_dir}; "
                    f"continue with --resume",
                    file=sys.stderr,
                )
    finally:
        bar.close()
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
    return ckpt_dir
