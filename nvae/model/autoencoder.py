"""The NVAE: Transformer encoder -> latent layer -> Transformer decoder whose cross-attention is
denoising attention over the latent mixture (docs/nvib.md section 4).

    ids --embed+positions--> encoder --> h [B, n, P] --NVIB--> LatentMixture --> decoder --> logits

The baselines (T, VT, VTP, VTS) are the same model with another latent layer (latents.py) and
ordinary cross-attention. Encoder input: tokens + EOS. Decoder input: BOS + tokens; target: tokens +
EOS. Pre-LayerNorm blocks, sinusoidal positions, output projection tied to the embedding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig, TrainConfig
from .attention import LatentCrossAttention, SelfAttention
from .baselines import make_latent_layer
from .mixture import PRIOR, LatentMixture


def sinusoidal_positions(n: int, d: int) -> Tensor:
    """[n, d] fixed positional encodings (sin on even, cos on odd dimensions)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


class FeedForward(nn.Sequential):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__(nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.self_attn = SelfAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, pad_mask: Tensor) -> Tensor:
        x = x + self.drop(self.self_attn(self.norm1(x), key_padding_mask=pad_mask))
        return x + self.drop(self.ff(self.norm2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        P = cfg.d_model
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(P), nn.LayerNorm(P), nn.LayerNorm(P)
        self.self_attn = SelfAttention(P, cfg.n_heads, cfg.dropout, causal=True)
        self.cross_attn = LatentCrossAttention(
            P, cfg.n_heads, cfg.dropout, denoising=cfg.is_nvae, read_means=cfg.decode_form == "means"
        )
        self.ff = FeedForward(P, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self, x: Tensor, latent: LatentMixture | dict, cache: dict | None = None, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        x = x + self.drop(self.self_attn(self.norm1(x), cache=cache))
        attn, weights = self.cross_attn(self.norm2(x), latent, need_weights=need_weights)
        x = x + self.drop(attn)
        return x + self.drop(self.ff(self.norm3(x))), weights


@dataclass
class LossParts:
    """What `NVAE.forward` measured besides the loss: CE per real target token, KL_G and KL_D
    (batch means, in the graph), the retained proportion (detached) and the latent."""

    ce: Tensor
    kl_g: Tensor
    kl_d: Tensor
    retained: Tensor
    latent: LatentMixture


class NVAE(nn.Module):
    """Transformer autoencoder with an NVIB latent (or a baseline latent, by `cfg.model_type`).

    It sees token ids only: `src` [B, L] (tokens + EOS, right-padded) and `pad_mask` (True at pad);
    text in and out is `nvae.data.text` (`encode_batch`, `collate`, `decode_batch`). `tokenizer` is
    data the checkpoint loader attaches (and the saver writes); no method uses it.
    """

    def __init__(self, cfg: ModelConfig, tokenizer=None):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.tokenizer = tokenizer
        P = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab_size, P, padding_idx=cfg.pad_id)
        nn.init.normal_(self.embed.weight, std=P**-0.5)
        self.register_buffer("positions", sinusoidal_positions(cfg.max_len + 1, P), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_enc_layers))
        self.enc_norm = nn.LayerNorm(P)
        self.latent = make_latent_layer(cfg)
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_dec_layers))
        self.dec_norm = nn.LayerNorm(P)

    @property
    def device(self) -> torch.device:
        """Where the weights are (where inputs go)."""
        return self.embed.weight.device

    # -- pieces --------------------------------------------------------------------------------
    def _embed(self, ids: Tensor, start: int = 0) -> Tensor:
        P = self.cfg.d_model
        return self.drop(self.embed(ids) * math.sqrt(P) + self.positions[start : start + ids.shape[1]])

    def _logits(self, x: Tensor) -> Tensor:
        return F.linear(self.dec_norm(x), self.embed.weight)

    # -- encoder -------------------------------------------------------------------------------
    def encode_states(self, src: Tensor, pad_mask: Tensor) -> Tensor:
        """The encoder's output [B, L, P], which does not depend on alpha^Delta."""
        x = self._embed(src)
        for layer in self.encoder:
            x = layer(x, pad_mask)
        return self.enc_norm(x)

    def encode(
        self,
        src: Tensor,
        pad_mask: Tensor,
        alpha_delta: float | Tensor | None = None,
        spread_bias: float | None = None,
    ) -> LatentMixture:
        """Token ids [B, L] (EOS included) and their pad mask -> latent.

        In training mode the latent is a sample; in eval mode it is the deterministic mixture with
        components under the alpha threshold pruned. `spread_bias` sets the positional prior's strength
        for this call (0: the content score alone; None: the config's).
        """
        return self._encode(src, pad_mask, alpha_delta, spread_bias)[0]

    def _encode(
        self, src: Tensor, pad_mask: Tensor, alpha_delta=None, spread_bias: float | None = None
    ) -> tuple[LatentMixture, Tensor, Tensor]:
        """The latent and its KL terms KL_G, KL_D per sequence [B]."""
        return self.states_and_latent(src, pad_mask, alpha_delta, spread_bias)[1]

    def states_and_latent(
        self, src: Tensor, pad_mask: Tensor, alpha_delta=None, spread_bias: float | None = None
    ) -> tuple[Tensor, tuple[LatentMixture, Tensor, Tensor]]:
        """(the encoder output the latent was made from [B, L, P], (latent, KL_G, KL_D)); `spread_bias`
        as in `encode` (another strength of the positional prior for this call; NVAE only)."""
        states = self.encode_states(src, pad_mask)
        if spread_bias is None:
            return states, self.latent(states, pad_mask, alpha_delta)
        if not self.cfg.is_nvae:
            raise ValueError(f"a {self.cfg.model_type.upper()} baseline has no positional prior")
        return states, self.latent(states, pad_mask, alpha_delta, spread_bias)

    # -- decoder -------------------------------------------------------------------------------
    def decoder_input(self, src: Tensor) -> Tensor:
        """BOS + tokens (src without its last column): teacher forcing input for target src."""
        bos = torch.full_like(src[:, :1], self.cfg.bos_id)
        return torch.cat([bos, src[:, :-1]], dim=1)

    def decode(self, latent: LatentMixture, tgt_in: Tensor, need_weights: bool = False):
        """Teacher-forced decoding: tgt_in [B, T] -> logits [B, T, V] (and cross-attention
        weights [B, T, N] of the last layer, averaged over heads, if need_weights)."""
        preps = [layer.cross_attn.prepare(latent) for layer in self.decoder]
        x = self._embed(tgt_in)
        weights = None
        for layer, prep in zip(self.decoder, preps):
            x, weights = layer(x, prep, need_weights=need_weights)
        logits = self._logits(x)
        return (logits, weights) if need_weights else logits

    def forward(
        self,
        src: Tensor,
        pad_mask: Tensor,
        alpha_delta: float | Tensor | None = None,
        kl_weight: float = 1.0,
        lambda_g: float = TrainConfig.lambda_g,
        lambda_d: float = TrainConfig.lambda_d,
    ) -> tuple[Tensor, LossParts]:
        """Teacher-forced training loss and its parts: (loss, LossParts).

        loss = CE + kl_weight * (lambda_g * KL_G + lambda_d * KL_D), CE per real target token and
        the KL terms batch means (docs/nvib.md section 2).
        """
        latent, kl_g, kl_d = self._encode(src, pad_mask, alpha_delta)
        logits = self.decode(latent, self.decoder_input(src))
        ce = F.cross_entropy(logits.float().flatten(0, 1), src.flatten(), ignore_index=self.cfg.pad_id)
        kl_g, kl_d = kl_g.mean(), kl_d.mean()
        loss = ce + kl_weight * (lambda_g * kl_g + lambda_d * kl_d)
        # retained as evaluation would count it (alpha above the threshold), for progress display
        kept = ((latent.alpha > latent.threshold) & ~latent.pad & (latent.source != PRIOR)).sum(-1)
        retained = kept.float() / latent.n_inputs.clamp_min(1) / (self.cfg.kappa if latent.has_prior else 1)
        return loss, LossParts(ce, kl_g, kl_d, retained.mean().detach(), latent)

    # -- generation ----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        latent: LatentMixture,
        max_len: int | None = None,
        temperature: float = 0.0,
        use_cache: bool = True,
        seed: int | None = None,
    ) -> list[list[int]]:
        """Decode token ids from a latent: greedy (temperature 0) or sampling, stopping at EOS.

        With use_cache each step feeds one token and reuses the keys/values of the prefix and the
        latent-side cross-attention terms; use_cache=False re-decodes the whole prefix every step
        (kept for tests and benchmarks). Returned ids exclude BOS and EOS.
        """
        cfg = self.cfg
        max_len = min(max_len or cfg.max_len, cfg.max_len)  # positions exist up to max_len
        B, device = latent.batch_size, latent.device
        gen = None
        if temperature > 0 and seed is not None:
            gen = torch.Generator(device=device).manual_seed(seed)
        preps = [layer.cross_attn.prepare(latent) for layer in self.decoder]
        caches = [{} for _ in self.decoder]
        ys = torch.full((B, 1), cfg.bos_id, dtype=torch.long, device=device)
        done = torch.zeros(B, dtype=torch.bool, device=device)
        for t in range(max_len):
            if use_cache:
                x = self._embed(ys[:, -1:], start=t)
                for layer, prep, cache in zip(self.decoder, preps, caches):
                    x, _ = layer(x, prep, cache=cache)
            else:
                x = self._embed(ys)
                for layer, prep in zip(self.decoder, preps):
                    x, _ = layer(x, prep)
            logits = self._logits(x[:, -1]).float()
            logits[:, cfg.pad_id] = float("-inf")
            logits[:, cfg.bos_id] = float("-inf")
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            else:
                nxt = logits.argmax(-1)
            nxt = nxt.masked_fill(done, cfg.pad_id)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == cfg.eos_id
            if bool(done.all()):
                break
        out = []
        for row in ys[:, 1:].tolist():
            ids = []
            for tok in row:
                if tok in (cfg.eos_id, cfg.pad_id):
                    break
                ids.append(tok)
            out.append(ids)
        return out

    @torch.no_grad()
    def sample_prior(
        self, n_components: int, batch_size: int = 1, alpha_delta: float | None = None, seed: int | None = None
    ) -> LatentMixture:
        if not self.cfg.is_nvae:
            raise ValueError("prior sampling is defined for the NVAE only")
        return self.latent.sample_prior(n_components, batch_size, alpha_delta, seed)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in evaluation mode inside the block (no dropout, the evaluation latent); its training
    flag is restored afterwards, also when the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def build_model(cfg: ModelConfig, tokenizer=None) -> NVAE:
    return NVAE(cfg, tokenizer)
