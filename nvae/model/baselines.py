"""The paper's baseline latents (docs/nvib.md section 6), behind the NVIB layer's interface:
`layer(h [B, n, P], pad_mask [B, n], alpha_delta=None) -> (LatentMixture, KL_G [B], KL_D [B])`.

Each returns a LatentMixture without a prior component, with pi uniform over its vectors, so the
decoder, interpolation, the app and the metrics need no special cases.

  T    no regulariser: the encoder states themselves (z = h)
  VT   a Gaussian vector per token
  VTP  one Gaussian vector, pooled (mean over tokens)
  VTS  a Gaussian vector on every stride-th position
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from .mixture import IMPULSE_LOGVAR, LOGVAR_MAX, LOGVAR_MIN, POOLED, LatentMixture, normalise_weights
from .nvib import NVIB, kl_gaussian, linear32


class GaussianLatent(nn.Module):
    """Shared by T, VT, VTP, VTS: choose vectors, then (except T) a diagonal Gaussian per vector."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        P = cfg.d_model
        self.variational = cfg.model_type != "t"
        if self.variational:
            self.mu_proj = nn.Linear(P, P)
            self.logvar_proj = nn.Linear(P, P)
            nn.init.zeros_(self.logvar_proj.weight)
            nn.init.constant_(self.logvar_proj.bias, cfg.init_logvar)
        self.register_buffer("prior_mu", torch.tensor(float(cfg.prior_mu)))
        self.register_buffer("prior_var", torch.tensor(float(cfg.prior_var)))

    def select(self, h: Tensor, pad_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """-> vectors [B, M, P], their padding [B, M], their source token index [B, M]."""
        B, n, _ = h.shape
        positions = torch.arange(n, device=h.device).expand(B, n)
        kind = self.cfg.model_type
        if kind == "vtp":
            keep = (~pad_mask).float()[..., None]
            pooled = (h * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True).clamp_min(1.0)
            return pooled, pad_mask.new_zeros(B, 1), torch.full((B, 1), POOLED, device=h.device)
        if kind == "vts":
            idx = torch.arange(0, n, self.cfg.stride, device=h.device)
            return h[:, idx], pad_mask[:, idx], positions[:, idx]
        return h, pad_mask, positions

    def forward(self, h: Tensor, pad_mask: Tensor, alpha_delta=None) -> tuple[LatentMixture, Tensor, Tensor]:
        with torch.autocast(device_type=h.device.type, enabled=False):
            h = h.float()
            vec, pad, source = self.select(h, pad_mask)
            B, M, _ = vec.shape
            uniform = normalise_weights(torch.ones(B, M, device=h.device), pad)
            if self.variational:
                mu = linear32(self.mu_proj, vec)
                logvar = linear32(self.logvar_proj, vec).clamp(LOGVAR_MIN, LOGVAR_MAX)
                kl_g = kl_gaussian(mu, logvar, uniform, self.prior_mu.float(), self.prior_var.float())
            else:
                mu, logvar = vec, torch.full_like(vec, IMPULSE_LOGVAR)
                kl_g = h.new_zeros(B)
            z = None
            if self.training and self.variational:
                z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
            elif self.training:
                z = mu
            latent = LatentMixture(
                mu=mu,
                logvar=logvar,
                alpha=(~pad).float(),
                pi=uniform,
                mask=pad,
                pad=pad,
                source=source,
                n_inputs=(~pad_mask).sum(-1),
                z=z,
                has_prior=False,
                threshold=self.cfg.threshold,
            )
            return latent, kl_g, h.new_zeros(B)


def make_latent_layer(cfg: ModelConfig) -> nn.Module:
    return NVIB(cfg) if cfg.is_nvae else GaussianLatent(cfg)
