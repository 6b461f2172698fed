"""Attention: causal/bidirectional self-attention with a key/value cache, and denoising
cross-attention over a LatentMixture (docs/nvib.md section 3).

Shapes: B batch, T queries, N latent components, H heads, E = P / H head dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .mixture import LatentMixture


def _split_heads(x: Tensor, n_heads: int) -> Tensor:
    """[B, T, P] -> [B, H, T, E]"""
    B, T, P = x.shape
    return x.view(B, T, n_heads, P // n_heads).transpose(1, 2)


def _merge_heads(x: Tensor) -> Tensor:
    """[B, H, T, E] -> [B, T, P]"""
    B, H, T, E = x.shape
    return x.transpose(1, 2).reshape(B, T, H * E)


class SelfAttention(nn.Module):
    """Multi-head self-attention (argument names as in torch.nn.MultiheadAttention).

    `cache`, a dict, turns on incremental decoding: keys and values of earlier steps are kept
    there and the new step's are appended, so a step costs O(1) in the prefix length.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, causal: bool = False):
        super().__init__()
        self.n_heads, self.causal, self.dropout = n_heads, causal, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None, cache: dict | None = None) -> Tensor:
        q, k, v = (_split_heads(t, self.n_heads) for t in self.qkv(x).chunk(3, dim=-1))
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        attn_mask, is_causal = None, False
        if key_padding_mask is not None:
            attn_mask = ~key_padding_mask[:, None, None, :]  # SDPA: True = take part
        if self.causal and q.shape[2] > 1:
            if k.shape[2] != q.shape[2]:
                raise ValueError("a cached causal step takes one query at a time")
            is_causal = attn_mask is None
            if attn_mask is not None:
                causal = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool, device=x.device).tril()
                attn_mask = attn_mask & causal
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(_merge_heads(out))


def gated_softmax(scores: Tensor, weights: Tensor) -> Tensor:
    """softmax_i(scores_i + log weights_i), computed in the linear domain so that a component
    whose weight is exactly 0 still gets a gradient with respect to its weight (the pruning
    gate's straight-through path). scores [..., N]; weights broadcastable to scores, >= 0."""
    live = (weights.detach() > 0).expand_as(scores)
    top = scores.detach().masked_fill(~live, float("-inf")).amax(-1, keepdim=True)
    # A dead component (weight 0) adds nothing forward; its gradient with respect to its weight is
    # exp(score - top) / Z, which for a score far above the live ones reached 1e15 and swamped
    # every other gradient. Its exponent is capped at the best live score's: the gradient then
    # says "useful" at most as loudly as the best component that is kept.
    cap = torch.where(live, torch.full_like(scores, 30.0), torch.zeros_like(scores))
    e = torch.exp(torch.minimum(scores - top, cap)) * weights
    return e / e.sum(-1, keepdim=True).clamp_min(1e-30)


def denoise(u: Tensor, mu: Tensor, var: Tensor, log_pi: Tensor, noise_var: float) -> tuple[Tensor, Tensor]:
    """Denoising attention, evaluation form: the posterior mean of v given u ~ N(v, noise_var I)
    and the prior v ~ sum_i pi_i N(mu_i, diag(var_i)).

    u [B, H, T, P] queries in latent space; mu, var [B, N, P]; log_pi [B, N] (-inf = ignore).
    Returns (vbar [B, H, T, P], weights [B, H, T, N]) where
      weights = softmax_i(log pi_i + log N(u; mu_i, diag(var_i + noise_var)))
      vbar    = sum_i weights_i (var_i u + noise_var mu_i) / (var_i + noise_var).
    """
    b = var + noise_var
    inv_b = b.reciprocal()
    # sum_p (u_p - mu_ip)^2 / b_ip expanded into matrix products; the u^2 / b term is kept
    # (it is constant over components only when all variances are equal).
    quad = (
        torch.einsum("bhtp,bnp->bhtn", u * u, inv_b)
        - 2.0 * torch.einsum("bhtp,bnp->bhtn", u, mu * inv_b)
        + (mu * mu * inv_b).sum(-1)[:, None, None, :]
    )
    logits = log_pi[:, None, None, :] - 0.5 * quad - 0.5 * b.log().sum(-1)[:, None, None, :]
    weights = torch.softmax(logits, dim=-1)
    vbar = u * torch.einsum("bhtn,bnp->bhtp", weights, var * inv_b) + torch.einsum(
        "bhtn,bnp->bhtp", weights, noise_var * mu * inv_b
    )
    return vbar, weights


@dataclass
class SampleForm:
    """`LatentCrossAttention.prepare` of a latent read in the sample form (sampled vectors z, an
    evaluation latent read by its means, or a baseline's vectors): the keys, the values and the
    per-component bias of the logits."""

    k: Tensor  # [B, H, N, E] W_k z
    v: Tensor  # [B, H, N, E] W_v z + b_v
    bias: Tensor  # [B, 1, 1, N] float32: log pi (0 with a pruning gate), minus ||z||^2 / (2 sqrt E) if denoising
    gated: Tensor | None = None  # [B, 1, 1, N] pi * gate, the linear weights, when the latent has a pruning gate


@dataclass
class GaussianForm:
    """`LatentCrossAttention.prepare` of an evaluation latent read by the Gaussian integral
    (`denoise`): its latent-only terms, b = var + sqrt E (see `prepare`)."""

    wk: Tensor  # [H, E, P] W_k^h, float32
    wv: Tensor  # [H, E, P] W_v^h, float32
    inv_b: Tensor  # [B, N, P] 1 / b
    shrink: Tensor  # [B, N, P] var / b
    const: Tensor  # [B, 1, 1, N] log pi (0 with a pruning gate) - 0.5 sum mu^2 / b - 0.5 sum log b
    k2: Tensor  # [B, H, N, E] W_k^h (mu / b)
    v2: Tensor  # [B, H, N, E] W_v^h (sqrt(E) mu / b) + b_v
    gated: Tensor | None = None  # [B, 1, 1, N] pi * gate, the linear weights, when the latent has a pruning gate


PreparedLatent = SampleForm | GaussianForm  # what `LatentCrossAttention.prepare` returns


class LatentCrossAttention(nn.Module):
    """Cross-attention from decoder states onto a LatentMixture.

    denoising=True (NVAE), on a sampled latent (training, prior samples; `latent.z` is set):
        logit_i = q_h . W_k^h z_i / sqrt(E) + log pi_i - ||z_i||^2 / (2 sqrt(E))
    and on an evaluation latent (`latent.z` is None) the exact Gaussian-mixture integral
    `denoise` with u_h = (W_k^h)^T q_h and noise variance sqrt(E), then W_v and its bias.
    read_means=True (`decode_form` "means") reads an evaluation latent in the sample form with
    z = mu instead of the integral.
    denoising=False (the baselines): ordinary attention over z (or mu), plus log pi (uniform for
    a baseline's own latent, so it cancels; it carries the weights of an interpolation).
    """

    def __init__(
        self, d_model: int, n_heads: int, dropout: float = 0.0, denoising: bool = True, read_means: bool = False
    ):
        super().__init__()
        self.n_heads, self.head_dim, self.dropout, self.denoising = n_heads, d_model // n_heads, dropout, denoising
        self.read_means = read_means
        self.sqrt_e = math.sqrt(self.head_dim)
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)  # a key bias cancels in the softmax
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def prepare(self, latent: LatentMixture) -> PreparedLatent:
        """Everything that depends on the latent alone, computed once per decode (and once per
        generation, not once per step): a `SampleForm` or a `GaussianForm`.

        Sample form: keys W_k z, values W_v z + b_v, and the bias log pi - ||z||^2 / (2 sqrt E).
        Gaussian form: with b = var + sqrt(E), the logit of `denoise` splits into
            const_i - 0.5 sum_p u_p^2 / b_ip  +  q_h . W_k^h (mu_i / b_i)
        and the output into W_v^h (u * sum_i w_i var_i / b_i)  +  sum_i w_i (W_v^h (sqrt(E) mu_i / b_i) + b_v),
        so only the u-dependent parts are left for each step.
        """
        H, E = self.n_heads, self.head_dim
        gate = latent.gate
        # with a pruning gate, log pi stays out of the logits: it enters as a linear weight
        gated = None if gate is None else (latent.pi.float() * gate.float())[:, None, None, :]
        if latent.z is not None or not self.denoising or self.read_means:
            z = latent.z if latent.z is not None else latent.mu
            z = z.to(self.k_proj.weight.dtype) if not torch.is_autocast_enabled(z.device.type) else z
            bias = latent.log_pi.float() if gate is None else torch.zeros_like(latent.pi, dtype=torch.float32)
            if self.denoising:
                bias = bias - z.float().pow(2).sum(-1) / (2 * self.sqrt_e)
            return SampleForm(
                k=_split_heads(self.k_proj(z), H),
                v=_split_heads(self.v_proj(z), H),
                bias=bias[:, None, None, :],
                gated=gated,
            )
        with torch.autocast(device_type=latent.device.type, enabled=False):
            mu, var = latent.mu.float(), latent.logvar.float().exp()
            b = var + self.sqrt_e
            inv_b = b.reciprocal()
            wk = self.k_proj.weight.float().view(H, E, -1)  # W_k^h [H, E, P]
            wv = self.v_proj.weight.float().view(H, E, -1)  # W_v^h [H, E, P]
            log_pi = latent.log_pi.float() if gate is None else 0.0
            const = log_pi - 0.5 * (mu * mu * inv_b).sum(-1) - 0.5 * b.log().sum(-1)
            return GaussianForm(
                wk=wk,
                wv=wv,
                inv_b=inv_b,
                shrink=var * inv_b,
                const=const[:, None, None, :],
                k2=torch.einsum("bnp,hep->bhne", mu * inv_b, wk),
                v2=(
                    torch.einsum("bnp,hep->bhne", self.sqrt_e * mu * inv_b, wv)
                    + self.v_proj.bias.float().view(1, H, 1, E)
                ),
                gated=gated,
            )

    def latent_queries(self, x: Tensor) -> Tensor:
        """The queries in latent space, u_h = (W_k^h)^T q_h [B, H, T, P] (float32), for x [B, T, P]:
        what denoising attention compares with the components (`denoise`'s u; the evaluation form of
        `forward` forms the same)."""
        H, E = self.n_heads, self.head_dim
        q = _split_heads(self.q_proj(x), H).float()  # [B, H, T, E]
        return torch.einsum("bhte,hep->bhtp", q, self.k_proj.weight.float().view(H, E, -1))

    def forward(
        self, x: Tensor, latent: LatentMixture | PreparedLatent, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """x [B, T, P] -> (out [B, T, P], head-averaged weights [B, T, N] if need_weights); `latent`
        as it is, or already prepared (`prepare`)."""
        prep = self.prepare(latent) if isinstance(latent, LatentMixture) else latent
        q = _split_heads(self.q_proj(x), self.n_heads)  # [B, H, T, E]
        gated = prep.gated
        if isinstance(prep, SampleForm) and gated is not None:  # training with the pruning gate
            with torch.autocast(device_type=x.device.type, enabled=False):
                scores = q.float() @ prep.k.float().transpose(-1, -2) / self.sqrt_e + prep.bias
                weights = F.dropout(gated_softmax(scores, gated), self.dropout, self.training)
                out = (weights @ prep.v.float()).to(q.dtype)
        elif isinstance(prep, SampleForm):
            # the bias (log pi - ||z||^2 / (2 sqrt E)) keeps float32: in bf16 its resolution at
            # magnitudes of 16-128 would be 0.125-0.5 nats
            dtype = q.dtype
            k, v, bias = prep.k.to(dtype), prep.v.to(dtype), prep.bias
            if dtype != bias.dtype:
                k, v, q = k.float(), v.float(), q.float()
            with torch.autocast(device_type=x.device.type, enabled=False):
                if need_weights:
                    weights = torch.softmax(q @ k.transpose(-1, -2) / self.sqrt_e + bias, dim=-1)
                    out = weights @ v
                else:
                    weights = None
                    out = F.scaled_dot_product_attention(
                        q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0
                    )
            out = out.to(dtype)
        else:  # the evaluation form: `denoise`, rearranged (see prepare)
            with torch.autocast(device_type=x.device.type, enabled=False):
                qf = q.float()
                u = torch.einsum("bhte,hep->bhtp", qf, prep.wk)  # the query in latent space
                logits = (
                    prep.const
                    - 0.5 * torch.einsum("bhtp,bnp->bhtn", u * u, prep.inv_b)
                    + qf @ prep.k2.transpose(-1, -2)
                )
                weights = torch.softmax(logits, dim=-1) if gated is None else gated_softmax(logits, gated)
                pulled = u * torch.einsum("bhtn,bnp->bhtp", weights, prep.shrink)
                out = torch.einsum("bhtp,hep->bhte", pulled, prep.wv) + weights @ prep.v2
            out = out.to(q.dtype)
        out = self.out_proj(_merge_heads(out))
        return out, (weights.mean(1) if need_weights else None)
