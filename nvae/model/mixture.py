"""The latent as the decoder sees it, and mixtures of two latents (interpolation).

`LatentMixture` holds a batch of Dirichlet-weighted Gaussian mixtures: the NVAE's posterior after
pruning (component 0 is the prior), a baseline's set of vectors (no prior), or prior samples.
`LatentMixture.mix` interpolates between two of them (docs/nvib.md section 5): with a prior
component, the union of both sets with weights (1 - tau) pi_a and tau pi_b; without one, position
by position. Shapes: B batch, N components, P = d_model.

Two ways of sharing tau among the components (`MIXINGS`): "uniform", the paper's, gives every
component of A the weight 1 - tau and every one of B the weight tau; "sweep" moves a front along
the sentence, so that B's components enter from the first token as tau grows while A's leave in the
same order (a component at relative position p in its sentence: B's share is
clip((tau (1 + w) - p) / w, 0, 1), w = `SWEEP_WIDTH`; the prior component follows tau). Both are
mixtures of the two posteriors' components, and both give exactly A at tau = 0 and B at tau = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

PRIOR = -1  # `source` of the prior component
POOLED = -2  # `source` of a vector pooled over all tokens (VTP)
SAMPLED = -3  # `source` of a component drawn from the prior (prior samples)
TINY = 1e-30
MIXINGS = ("sweep", "uniform")  # how tau is shared among the components; the first is the default
DEFAULT_MIXING = MIXINGS[0]
SWEEP_WIDTH = 0.1  # the front's width in relative position, chosen on validation (docs/experiments.md)


def source_label(source: int, tokens: list[str] | None = None) -> str:
    """How a component's `source` reads: ⟨prior⟩, ⟨pooled⟩, ⟨sample⟩ or its input token."""
    special = {PRIOR: "⟨prior⟩", POOLED: "⟨pooled⟩", SAMPLED: "⟨sample⟩"}
    if source in special:
        return special[source]
    return tokens[source] if tokens is not None and 0 <= source < len(tokens) else str(source)


@dataclass
class LatentMixture:
    """A batch of latents: Dirichlet-weighted Gaussian mixtures, batch-first.

    mu, logvar [B, N, P]   component means and log-variances
    alpha      [B, N]      pseudo-counts (0 at padding)
    pi         [B, N]      mixture weights the decoder uses (0 where masked; rows sum to 1)
    mask       [B, N]      True = the decoder ignores the component (padding or pruned)
    pad        [B, N]      True = not a component at all (padding only)
    source     [B, N]      index of the input token a component came from; PRIOR or POOLED
    n_inputs   [B]         number of input tokens of each sentence (EOS included)
    z          [B, N, P]   sampled component vectors (training, prior samples) or None: then the
                           decoder integrates over the Gaussians (evaluation form)
    gate       [B, N]      training with the pruning gate only: 1 for a kept component, 0 for a
                           pruned one, with a straight-through gradient to log alpha; the decoder
                           then weighs component i by pi_i * gate_i in the linear domain, so a
                           pruned component still learns whether it should have been kept
    has_prior  bool        component 0 is the prior (NVAE); False for the baselines
    threshold  float       alpha threshold under which a component counts as pruned
    """

    mu: Tensor
    logvar: Tensor
    alpha: Tensor
    pi: Tensor
    mask: Tensor
    pad: Tensor
    source: Tensor
    n_inputs: Tensor
    z: Tensor | None = None
    has_prior: bool = True
    threshold: float = 0.1
    gate: Tensor | None = None

    # -- views -------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self.mu.shape[0]

    @property
    def n_components(self) -> int:
        return self.mu.shape[1]

    @property
    def device(self) -> torch.device:
        return self.mu.device

    @property
    def log_pi(self) -> Tensor:
        """[B, N] log mixture weights, -inf where masked."""
        return self.pi.clamp_min(TINY).log().masked_fill(self.mask, float("-inf"))

    @property
    def retained(self) -> Tensor:
        """[B, N] True for kept components that came from the input (the prior is not counted)."""
        return ~self.mask & (self.source != PRIOR)

    @property
    def n_retained(self) -> Tensor:
        return self.retained.sum(-1)

    @property
    def retained_proportion(self) -> Tensor:
        """[B] retained non-prior components / input tokens (the paper's nu)."""
        return self.n_retained.float() / self.n_inputs.clamp_min(1).float()

    def to(self, device: torch.device | str) -> LatentMixture:
        moved = {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in self.__dict__.items()}
        return LatentMixture(**moved)

    def select(self, index: int | list[int] | Tensor) -> LatentMixture:
        """Rows of the batch (an int keeps a batch dimension of 1)."""
        idx = [index] if isinstance(index, int) else index
        return LatentMixture(**{k: (v[idx] if isinstance(v, Tensor) else v) for k, v in self.__dict__.items()})

    def trim(self) -> LatentMixture:
        """Drop trailing columns that are padding in every row."""
        keep = int((~self.pad).any(0).nonzero().max()) + 1 if bool((~self.pad).any()) else 1
        return LatentMixture(
            **{k: (v[:, :keep] if isinstance(v, Tensor) and v.dim() >= 2 else v) for k, v in self.__dict__.items()}
        )

    def records(self, b: int = 0, tokens: list[str] | None = None) -> list[dict[str, Any]]:
        """Plain Python rows for display: one per (non-padding) component of sentence b."""
        rows = []
        var = self.logvar[b].detach().float().exp().mean(-1)
        for i in range(self.n_components):
            if bool(self.pad[b, i]):
                continue
            src = int(self.source[b, i])
            token = source_label(src, tokens)
            rows.append(
                {
                    "component": i,
                    "source": src,
                    "token": token,
                    "alpha": float(self.alpha[b, i].detach()),
                    "pi": float(self.pi[b, i].detach()),
                    "retained": not bool(self.mask[b, i]),
                    "mean_variance": float(var[i]),
                }
            )
        return rows

    # -- interpolation -----------------------------------------------------------------------
    def mix(self, other: LatentMixture, tau: float | Tensor, mixing: str = DEFAULT_MIXING) -> LatentMixture:
        """Interpolate towards `other`, tau shared among the components by `mixing` (one of
        `MIXINGS`; by default `DEFAULT_MIXING`, the app's and the CLI's): "uniform", the paper's, is
        F_tau = (1 - tau) F_self + tau F_other (docs/nvib.md section 5); "sweep" hands the
        components over from A to B first token first (the module's docstring).

        Both latents have batch size 1; `tau` may be a float or a 1-D tensor of T values, giving a
        batch of T mixtures. NVAE latents are sets, so their components are concatenated and
        re-weighted; latents without a prior (the baselines) are mixed position by position,
        the shorter one padded, each unmatched position weighted by its owner's share.
        """
        if self.batch_size != 1 or other.batch_size != 1:
            raise ValueError("mix() takes two latents of batch size 1")
        if self.z is not None or other.z is not None:
            raise ValueError("mix() works on evaluation latents (z is None)")
        check_mixing(mixing)
        tau = torch.as_tensor(tau, dtype=torch.float32, device=self.device).reshape(-1)
        if bool(((tau < 0) | (tau > 1)).any()):
            raise ValueError("tau must lie in [0, 1]")
        T = tau.shape[0]
        if self.has_prior:
            # the prior component (no source token) follows tau in both mixings
            wa = 1 - _share_of_b(self.relative_position(), tau, mixing, self.source < 0)  # [T, Na]
            wb = _share_of_b(other.relative_position(), tau, mixing, other.source < 0)  # [T, Nb]
            return _mix_sets(self, other, wa, wb, T)
        n = max(self.n_components, other.n_components)
        where = torch.arange(n, device=self.device, dtype=torch.float32)[None] / max(n - 1, 1)
        share = _share_of_b(where, tau, mixing)
        return _mix_positions(self, other, 1 - share, share, T)

    def relative_position(self) -> Tensor:
        """[B, N] where each component's source token sits in its sentence, 0 (first) to 1 (EOS);
        0 for the prior and other components without a token."""
        last = (self.n_inputs.float() - 1).clamp(min=1)[:, None]
        return (self.source.float() / last).clamp(0, 1)


def check_mixing(mixing: str) -> None:
    if mixing not in MIXINGS:
        raise ValueError(f"unknown mixing {mixing!r}: use one of {MIXINGS}")


def _share_of_b(position: Tensor, tau: Tensor, mixing: str, follows_tau: Tensor | None = None) -> Tensor:
    """[T, N] the share of sentence B at each component (relative `position` [1, N]) for each tau:
    tau everywhere ("uniform"), or a front at tau (1 + w) that has passed position p by
    (tau (1 + w) - p) / w ("sweep"); where `follows_tau` is True, tau in both."""
    t = tau[:, None]
    flat = t.expand(-1, position.shape[1])
    if mixing == "uniform":
        return flat
    front = ((t * (1 + SWEEP_WIDTH) - position) / SWEEP_WIDTH).clamp(0, 1)
    return front if follows_tau is None else torch.where(follows_tau, flat, front)


def normalise_weights(weights: Tensor, mask: Tensor) -> Tensor:
    """Weights over unmasked components, summing to 1 (never 0/0)."""
    weights = weights.masked_fill(mask, 0.0)
    return weights / (weights.sum(-1, keepdim=True) + TINY)


def _mix_sets(a: LatentMixture, b: LatentMixture, wa: Tensor, wb: Tensor, T: int) -> LatentMixture:
    def cat(x: Tensor, y: Tensor) -> Tensor:
        return torch.cat([x.expand(T, *x.shape[1:]), y.expand(T, *y.shape[1:])], dim=1)

    weights = torch.cat([wa * a.pi, wb * b.pi], dim=1)  # [T, Na + Nb]
    mask = cat(a.mask, b.mask) | (weights <= 0)
    return LatentMixture(
        mu=cat(a.mu, b.mu),
        logvar=cat(a.logvar, b.logvar),
        alpha=torch.cat([wa * a.alpha, wb * b.alpha], dim=1),
        pi=normalise_weights(weights, mask),
        mask=mask,
        pad=cat(a.pad, b.pad),
        source=cat(a.source, b.source),
        n_inputs=(a.n_inputs + b.n_inputs).expand(T),
        has_prior=True,
        threshold=a.threshold,
    )


def _pad_to(x: Tensor, n: int, value: float | bool | int) -> Tensor:
    if x.shape[1] == n:
        return x
    pad_shape = (x.shape[0], n - x.shape[1], *x.shape[2:])
    return torch.cat([x, torch.full(pad_shape, value, dtype=x.dtype, device=x.device)], dim=1)


def _mix_positions(a: LatentMixture, b: LatentMixture, wa: Tensor, wb: Tensor, T: int) -> LatentMixture:
    n = max(a.n_components, b.n_components)
    a_real = ~_pad_to(a.pad, n, True)  # [1, n]
    b_real = ~_pad_to(b.pad, n, True)
    # position j: both real -> (1 - tau) a_j + tau b_j; one real -> that one's vector
    ca = torch.where(b_real, wa, torch.ones_like(wa))[..., None] * a_real[..., None].float()
    cb = torch.where(a_real, wb, torch.ones_like(wb))[..., None] * b_real[..., None].float()
    mu = ca * _pad_to(a.mu, n, 0.0) + cb * _pad_to(b.mu, n, 0.0)
    logvar = ca * _pad_to(a.logvar, n, 0.0) + cb * _pad_to(b.logvar, n, 0.0)
    # weight 1 where both are real, the owner's share where only one is
    weights = (a_real & b_real).float() + (a_real & ~b_real).float() * wa + (~a_real & b_real).float() * wb
    pad = ~(a_real | b_real)
    mask = pad | (weights <= 0)
    source = torch.where(a_real, _pad_to(a.source, n, 0), _pad_to(b.source, n, 0)).expand(T, n)
    return LatentMixture(
        mu=mu,
        logvar=logvar,
        alpha=weights.masked_fill(mask, 0.0),
        pi=normalise_weights(weights, mask),
        mask=mask,
        pad=pad.expand(T, n),
        source=source,
        n_inputs=torch.maximum(a.n_inputs, b.n_inputs).expand(T),
        has_prior=False,
        threshold=a.threshold,
    )
