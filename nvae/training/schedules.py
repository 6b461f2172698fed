"""The schedules of a training run, step by step: the learning rate (linear warmup, cosine decay),
the KL weight (a linear ramp) and the range a loss-conditional run draws alpha^Delta from; and the
alpha^Delta values periodic evaluation reads."""

from __future__ import annotations

import math

from ..config import ModelConfig, TrainConfig


def lr_lambda(cfg: TrainConfig):
    """The learning-rate multiplier of each step, for LambdaLR: a linear warmup over warmup_steps,
    then a cosine decay from 1 to 0.1 at max_steps."""

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / max(cfg.warmup_steps, 1)
        progress = (step - cfg.warmup_steps) / max(cfg.max_steps - cfg.warmup_steps, 1)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return f


def kl_weight(cfg: TrainConfig, step: int) -> float:
    """0 before kl_start_step, then a linear ramp to 1 over kl_anneal_steps."""
    if step < cfg.kl_start_step:
        return 0.0
    if cfg.kl_anneal_steps <= 0:
        return 1.0
    return min(1.0, (step - cfg.kl_start_step) / cfg.kl_anneal_steps)


def alpha_delta_floor(train_cfg: TrainConfig, model_cfg: ModelConfig, step: int) -> float:
    """log of the smallest alpha^Delta a loss-conditional run draws at `step`.

    With `alpha_delta_warmup_min` set, the draws stay at or above it until kl_start_step (the
    decoder first learns to read a latent that keeps its components), then the floor moves down,
    log-linearly, to alpha_delta_min over kl_anneal_steps.
    """
    lo = math.log(model_cfg.nvib.alpha_delta_min)
    warm = train_cfg.alpha_delta_warmup_min
    if not warm or warm <= model_cfg.nvib.alpha_delta_min:
        return lo
    start = math.log(min(warm, model_cfg.nvib.alpha_delta_max))
    if step < train_cfg.kl_start_step:
        return start
    if train_cfg.kl_anneal_steps <= 0:
        return lo
    w = min(1.0, (step - train_cfg.kl_start_step) / train_cfg.kl_anneal_steps)
    return start + w * (lo - start)
