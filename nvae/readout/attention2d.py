"""Ordinary attention against denoising attention on a small 2-D mixture (docs/nvib.md section 3),
as plain numbers: what the app's teaching page draws, with no model.

- `ordinary_attention`: softmax(u . z_i / sqrt(d)) z over a set of vectors;
- `denoising_demo`: denoising attention over sum_i pi_i N(mu_i, diag(var_i)) via
  `nvae.model.attention.denoise`, beside ordinary attention over the means, and the identity between
  ordinary attention and denoising attention over impulses weighted by exp(||z||^2 / (2 sqrt(d))).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..model.attention import denoise


def ordinary_attention(query: np.ndarray, z: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary attention in the space of z: softmax(u . z_i / scale) z, scale = sqrt(d).
    Returns (result [2], weights [K])."""
    logits = z @ query / scale
    w = np.exp(logits - logits.max())
    w = w / w.sum()
    return w @ z, w


def denoising_demo(means, variances, weights, query, d: float) -> dict[str, Any]:
    """Ordinary attention over the means vs denoising attention over the mixture
    sum_i pi_i N(mu_i, diag(var_i)), both with noise variance sqrt(d), via nvae.model.attention.denoise.

    Also checks the poster's identity: ordinary attention equals denoising attention over impulses
    at the means weighted by exp(||z||^2 / (2 sqrt(d))).
    """
    mu = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    var = np.maximum(np.asarray(variances, dtype=np.float64).reshape(-1, 2), 1e-9)
    pi = np.asarray(weights, dtype=np.float64).reshape(-1)
    pi = pi / pi.sum() if pi.sum() > 0 else np.full_like(pi, 1.0 / len(pi))
    u = np.asarray(query, dtype=np.float64).reshape(2)
    noise = math.sqrt(d)
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    log_pi = np.log(np.maximum(pi, 1e-300))
    vbar, w = denoise(t(u).view(1, 1, 1, 2), t(mu)[None], t(var)[None], t(log_pi)[None], noise)
    ordinary, w_ord = ordinary_attention(u, mu, noise)
    sq = (mu**2).sum(-1) / (2 * noise)
    impulse_log_pi = sq - np.logaddexp.reduce(sq)
    vbar_imp, _ = denoise(
        t(u).view(1, 1, 1, 2),
        t(mu)[None],
        torch.zeros(1, len(mu), 2, dtype=torch.float64),
        t(impulse_log_pi)[None],
        noise,
    )
    return {
        "noise_var": noise,
        "weights": pi.tolist(),
        "ordinary": ordinary.tolist(),
        "ordinary_weights": w_ord.tolist(),
        "denoised": vbar.view(2).tolist(),
        "denoised_weights": w.view(-1).tolist(),
        "identity_gap": float(np.abs(vbar_imp.view(2).numpy() - ordinary).max()),
    }
