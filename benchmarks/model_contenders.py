"""The training step's contenders: a plain `torch.nn.Transformer` autoencoder with the NVAE's
sizes, and one timed training step (forward, loss, backward, AdamW step) of either model."""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from nvae.config import ModelConfig
from nvae.model.autoencoder import NVAE, sinusoidal_positions


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
