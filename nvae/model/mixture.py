"""The latent as the decoder sees it, and mixtures of two latents (interpolation).

`LatentMixture` holds a batch of Dirichlet-weighted Gaussian mixtures: the NVAE's posterior after
pruning (component 0 is the prior), a baseline's set of vectors (no prior), or prior samples.
`LatentMixture.mix` interpolates between two of them (docs/nvib.md section 5): with a prior
component, the union of both sets with weights (1 - tau) pi_a and tau pi_b; without one (the
baselines), position by position at the same RELATIVE position, the length interpolated too
(`_mix_positions`). Shapes: B batch, N components, P = d_model. `LatentMixture.records` reads one
sentence's components as typed rows (`ComponentRow`).

Two ways of sharing tau among the components (`MIXINGS`): "uniform", the paper's, gives every
component of A the weight 1 - tau and every one of B the weight tau; "sweep" moves a front along
the sentence, so that B's components enter from the first token as tau grows while A's leave in the
same order (a component at relative position p in its sentence: B's share is
clip((tau (1 + w) - p) / w, 0, 1), w = `SWEEP_WIDTH`; the prior component follows tau). Both are
mixtures of the two posteriors' components, and both give exactly A at tau = 0 and B at tau = 1.

Without a prior component (the baselines: vectors with uniform weights, in sentence order) the
mixture at tau has n_tau = round((1 - tau) n_A + tau n_B) positions (`mixed_length`), all with the
same weight. Position k sits at relative position p = k / (n_tau - 1); there each sentence's vectors
are read at the same relative position (index p (n - 1), linearly interpolated between its two
nearest components when that index is fractional: `RESAMPLING`), and the two are blended with B's
share at p (the mixing above). So tau = 0 is exactly A and tau = 1 exactly B whichever is longer, no
position enters or leaves with a fractional weight, and for "uniform" mixing mix(A, B, tau) equals
mix(B, A, 1 - tau) (up to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

PRIOR = -1  # `source` of the prior component
POOLED = -2  # `source` of a vector pooled over all tokens (VTP)
SAMPLED = -3  # `source` of a component drawn from the prior (prior samples)
TINY = 1e-30
LOGVAR_MIN, LOGVAR_MAX = -20.0, 10.0  # clamp of the components' log-variances
IMPULSE_LOGVAR = -30.0  # log-variance standing for "no variance" (prior samples are impulses)
MIXINGS = ("sweep", "uniform")  # how tau is shared among the components; the first is the default
DEFAULT_MIXING = MIXINGS[0]
SWEEP_WIDTH = 0.1  # the front's width in relative position, chosen on validation (docs/experiments.md)
# How a baseline's vectors are read at a relative position that falls between two of its components:
# "linear" blends the two, "nearest" takes the closer one. Linear is the default: with sweep mixing,
# on 120 strips of short/long pairs in both orders, it left 4 VTS and 58 T strips degenerate
# (a phrase looping or a runaway length) against nearest's 15 and 64 (issue 26)
RESAMPLINGS = ("linear", "nearest")
RESAMPLING = RESAMPLINGS[0]


def source_label(source: int, tokens: list[str] | None = None) -> str:
    """How a component's `source` reads: ⟨prior⟩, ⟨pooled⟩, ⟨sample⟩ or its input token."""
    special = {PRIOR: "⟨prior⟩", POOLED: "⟨pooled⟩", SAMPLED: "⟨sample⟩"}
    if source in special:
        return special[source]
    return tokens[source] if tokens is not None and 0 <= source < len(tokens) else str(source)


@dataclass(frozen=True)
class ComponentRow:
    """One component of one sentence's latent as plain Python values (`LatentMixture.records`): what
    the CLI prints (`dataclasses.asdict`, fields in this order) and the app's tables show."""

    component: int  # its index in the latent (0: the prior component of an NVAE)
    source: int  # the input token it came from, or PRIOR, POOLED, SAMPLED
    token: str  # how its source reads (`source_label`)
    alpha: float  # its pseudo-count
    pi: float  # its weight in the mixture the decoder reads (0 when pruned)
    retained: bool  # True when the decoder reads it (not pruned)
    mean_variance: float  # its variance, averaged over the dimensions


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
    token_mu, token_logvar [B, N, P]  with `kept_pooling` "segment" only: every component's own
                           Gaussian before pooling (mu, logvar are then the pooled ones), so that a
                           reader can pool the segments of another kept set (kept_set.pool_segments)
    token_alpha [B, N]     with `kept_chooser` "segments" only: every component's own pseudo-count
                           (alpha then holds a kept component's segment sum, kept_set.pool_alpha)
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
    token_mu: Tensor | None = None
    token_logvar: Tensor | None = None
    token_alpha: Tensor | None = None

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

    def records(self, b: int = 0, tokens: list[str] | None = None) -> list[ComponentRow]:
        """One `ComponentRow` per (non-padding) component of sentence b, in component order, as plain
        Python values (`tokens`: the sentence's tokens, for the rows' `token`)."""
        rows = []
        var = self.logvar[b].detach().float().exp().mean(-1)
        for i in range(self.n_components):
            if bool(self.pad[b, i]):
                continue
            src = int(self.source[b, i])
            rows.append(
                ComponentRow(
                    component=i,
                    source=src,
                    token=source_label(src, tokens),
                    alpha=float(self.alpha[b, i].detach()),
                    pi=float(self.pi[b, i].detach()),
                    retained=not bool(self.mask[b, i]),
                    mean_variance=float(var[i]),
                )
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
        re-weighted; latents without a prior (the baselines) are mixed position by position at the
        same relative position, with round((1 - tau) n_A + tau n_B) positions of equal weight
        (`_mix_positions`; rows shorter than the longest are padded).
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
        return _mix_positions(self, other, tau, mixing)

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


def mixed_length(n_a: int | Tensor, n_b: int | Tensor, tau: float | Tensor) -> Tensor:
    """round((1 - tau) n_a + tau n_b), at least 1: the number of positions of a position-wise mixture
    (and of its input tokens). Rounded the same way from either end (ties to even, float noise
    removed first), so mixed_length(a, b, tau) == mixed_length(b, a, 1 - tau)."""
    tau = torch.as_tensor(tau, dtype=torch.float64)
    n_a = torch.as_tensor(n_a, dtype=torch.float64, device=tau.device)
    n_b = torch.as_tensor(n_b, dtype=torch.float64, device=tau.device)
    exact = (1 - tau) * n_a + tau * n_b
    return (torch.round(exact * 1e6) / 1e6).round().clamp_min(1).long()


def aligned_index(n_from: int, n_to: Tensor, k: Tensor) -> Tensor:
    """The fractional index into a sequence of `n_from` components that sits at the relative
    position of index `k` in a sequence of `n_to` ([T, 1] or broadcastable): k (n_from - 1) / (n_to - 1)
    (0 when n_to is 1), exact when it is a whole number; float64, clamped to [0, n_from - 1]."""
    k = k.to(torch.float64)
    span = (n_to.to(torch.float64) - 1).clamp_min(1)
    return (k * (n_from - 1) / span).clamp(0, max(n_from - 1, 0))


def _resample(x: Tensor, index: Tensor, resampling: str) -> Tensor:
    """x [n, ...] read at the fractional `index` [T, m]: -> [T, m, ...]; whole indices give x exactly."""
    if resampling == "nearest":
        return x[torch.floor(index + 0.5).long().clamp(0, x.shape[0] - 1)]
    lo = index.floor().long()
    hi = (lo + 1).clamp(max=x.shape[0] - 1)
    frac = (index - lo).to(x.dtype).reshape(*index.shape, *([1] * (x.dim() - 1)))
    return torch.where(frac == 0, x[lo], (1 - frac) * x[lo] + frac * x[hi])


def position_sources(a: LatentMixture, b: LatentMixture, n: int) -> tuple[list[int], list[int]]:
    """For a position-wise mixture of `a` and `b` with `n` positions: the source token of the
    component of A, and of B, nearest to each position's relative place (what the position blends)."""
    sources = []
    for x in (a, b):
        real = x.source[0][~x.pad[0]]
        index = aligned_index(real.shape[0], torch.tensor([n]), torch.arange(n)[None])[0]
        sources.append(real[torch.floor(index + 0.5).long().to(real.device)].tolist())
    return sources[0], sources[1]


def _mix_positions(a: LatentMixture, b: LatentMixture, tau: Tensor, mixing: str) -> LatentMixture:
    """Latents without a prior component, mixed position by position at the same relative position
    (the module's docstring): row t has n_t = `mixed_length` positions, position k at relative place
    p = k / (n_t - 1); each sentence's components (padding left out) are read there (`RESAMPLING`)
    and blended as (1 - s) A(p) + s B(p), s = B's share at p (`_share_of_b`). Every position has the
    same weight; positions past n_t are padding."""
    real_a, real_b = ~a.pad[0], ~b.pad[0]
    n_a, n_b = int(real_a.sum()), int(real_b.sum())
    if not n_a or not n_b:
        raise ValueError("mix() needs at least one component in each latent")
    dev = a.device
    n = mixed_length(n_a, n_b, tau.detach().to("cpu", torch.float64)).to(dev)  # [T]
    width = int(n.max())
    k = torch.arange(width, device=dev)[None]  # [1, W]
    pad = k >= n[:, None]  # [T, W]
    where = (k.to(torch.float64) / (n[:, None].to(torch.float64) - 1).clamp_min(1)).clamp(0, 1)
    share = _share_of_b(where.to(torch.float32), tau, mixing)  # [T, W]
    ia, ib = aligned_index(n_a, n[:, None], k), aligned_index(n_b, n[:, None], k)

    def blend(xa: Tensor, xb: Tensor) -> Tensor:
        va, vb = _resample(xa, ia, RESAMPLING), _resample(xb, ib, RESAMPLING)
        s = share.to(va.dtype).reshape(*share.shape, *([1] * (va.dim() - 2)))
        return torch.where(s == 0, va, torch.where(s == 1, vb, (1 - s) * va + s * vb))

    mu = blend(a.mu[0][real_a], b.mu[0][real_b]).masked_fill(pad[..., None], 0.0)
    logvar = blend(a.logvar[0][real_a], b.logvar[0][real_b]).masked_fill(pad[..., None], 0.0)
    alpha = blend(a.alpha[0][real_a], b.alpha[0][real_b]).masked_fill(pad, 0.0)
    # each sentence's weights relative to its largest: all 1 for a baseline's uniform weights, so
    # every position of the mixture weighs the same (a masked component weighs 0 and stays masked)
    rel_a, rel_b = (x.pi[0][r] / x.pi[0][r].max().clamp_min(TINY) for x, r in ((a, real_a), (b, real_b)))
    weights = blend(rel_a, rel_b).masked_fill(pad, 0.0)
    mask = pad | (weights <= 0)
    # the source token: A's nearest component while A holds the larger share, then B's
    src_a = _resample(a.source[0][real_a], ia, "nearest")
    src_b = _resample(b.source[0][real_b], ib, "nearest")
    source = torch.where(share < 0.5, src_a, src_b).masked_fill(pad, 0)
    n_inputs = mixed_length(a.n_inputs[0].cpu(), b.n_inputs[0].cpu(), tau.detach().to("cpu", torch.float64))
    return LatentMixture(
        mu=mu,
        logvar=logvar,
        alpha=alpha,
        pi=normalise_weights(weights, mask),
        mask=mask,
        pad=pad,
        source=source,
        n_inputs=n_inputs.to(device=dev, dtype=a.n_inputs.dtype),
        has_prior=False,
        threshold=a.threshold,
    )
