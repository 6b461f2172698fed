"""The NVIB layer and its two KL terms, in the order of docs/nvib.md.

Read top to bottom: the layer turns encoder states into the posterior's means, variances and
pseudo-counts (section 1), prepends the prior component, computes the KL terms (section 2) and
hands the decoder one of three latents: in training with the pruning gate (section 8, the shipped
recipe) exactly the set evaluation keeps, in training without it sampled vectors with Dirichlet
weights (the paper), in evaluation the Gaussian mixture with the components under the threshold
pruned. Prior sampling (section 4) closes the class. Below it, the two additions to the paper's
pseudo-counts that shipped checkpoints use (the quantile conditioning on alpha^Delta, the
positional prior), what a kept component can stand for (`pool_segments`: its token and the pruned
tokens after it, the latent issue's candidate; `min_kept`, a floor of kept components), then the KL
formulas and the evaluation latent. The latent type and interpolation (section 5) are in
nvae/model/mixture.py.

Shapes: B batch, n input tokens (end-of-sentence included), N = n + 1 components (component 0 is
the prior), P = d_model.
"""

from __future__ import annotations

import math
import threading

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from .mixture import PRIOR, SAMPLED, LatentMixture, normalise_weights

_GLOBAL_RNG = threading.Lock()  # held while a seeded draw uses torch's global random state

LOGVAR_MIN, LOGVAR_MAX = -20.0, 10.0  # clamp of the components' log-variances
IMPULSE_LOGVAR = -30.0  # log-variance standing for "no variance" (prior samples are impulses)
SPREAD_EPS = 0.05  # keeps the standardised scores finite when a sentence's scores are all equal
QUANTILE_TEMPERATURE = 0.3  # softness of the soft ranks, in units of the standardised score


# ---------------------------------------------------------------------------------------------
# The NVIB layer (docs/nvib.md section 1): states -> posterior mixture, KL terms, pruning
# ---------------------------------------------------------------------------------------------


class NVIB(nn.Module):
    """Encoder states h [B, n, P] -> posterior LatentMixture with n + 1 components, plus KL terms.

    Initialisation (docs/nvib.md sections 1 and 3): mu = s * h, small variances, and
    log alpha_i = w.h_i + b + q * ||mu_i||^2 / (2 sqrt(E)) with w = 0, b = 0, q = 1, so that
    log pi_i - ||z_i||^2 / (2 sqrt(E)) is the same for every component (prior included): denoising
    attention starts out equal to ordinary attention over {0, mu_1, ..., mu_n}.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        P, E = cfg.d_model, cfg.head_dim
        self.sqrt_e = math.sqrt(E)
        self.mu_proj = nn.Linear(P, P)
        self.logvar_proj = nn.Linear(P, P)
        self.alpha_proj = nn.Linear(P, 1)
        self.alpha_quad = nn.Parameter(torch.tensor(1.0))
        # Scale of the initial means: keeps ||mu||^2 / (2 sqrt(E)), the initial log alpha, near 4
        # for unit-variance h (far from the clamp).
        scale = min(1.0, math.sqrt(8.0 * self.sqrt_e / P))
        with torch.no_grad():
            self.mu_proj.weight.copy_(torch.eye(P) * scale)
            self.mu_proj.bias.zero_()
            self.logvar_proj.weight.zero_()
            self.logvar_proj.bias.fill_(cfg.init_logvar)
            self.alpha_proj.weight.zero_()
            self.alpha_proj.bias.zero_()
        self.register_buffer("prior_mu", torch.tensor(float(cfg.prior_mu)))
        self.register_buffer("prior_var", torch.tensor(float(cfg.prior_var)))
        self.register_buffer("prior_alpha", torch.tensor(float(cfg.prior_alpha)))

    def forward(
        self,
        h: Tensor,
        pad_mask: Tensor,
        alpha_delta: float | Tensor | None = None,
        spread_bias: float | None = None,
    ) -> tuple[LatentMixture, Tensor, Tensor]:
        """h [B, n, P], pad_mask [B, n] (True at padding) -> (latent, KL_G [B], KL_D [B]).

        `spread_bias`: the positional prior's strength for this call (None: the config's; 0: the content
        score alone), so that a reader can show what the prior changes without touching a shared model."""
        with torch.autocast(device_type=h.device.type, enabled=False):
            return self._forward(h.float(), pad_mask, alpha_delta, spread_bias)

    def _forward(
        self, h: Tensor, pad_mask: Tensor, alpha_delta, spread_bias: float | None = None
    ) -> tuple[LatentMixture, Tensor, Tensor]:
        cfg = self.cfg
        B, n, P = h.shape
        ad = self._alpha_delta(alpha_delta, B, h.device)
        mu_tok = linear32(self.mu_proj, h)
        logvar_tok = linear32(self.logvar_proj, h).clamp(LOGVAR_MIN, LOGVAR_MAX)
        log_alpha = self._log_alpha(h, mu_tok, pad_mask, ad, spread_bias)
        alpha_tok = log_alpha.exp().masked_fill(pad_mask, 0.0)

        # prepend the prior component 0
        prior_mu_, prior_var_, prior_alpha_ = self.prior_mu.float(), self.prior_var.float(), self.prior_alpha.float()
        prior_mu = prior_mu_.expand(B, 1, P)
        prior_logvar = prior_var_.log().expand(B, 1, P)
        mu = torch.cat([prior_mu, mu_tok], dim=1)
        logvar = torch.cat([prior_logvar, logvar_tok], dim=1)
        alpha = torch.cat([prior_alpha_.expand(B, 1), alpha_tok], dim=1)
        pad = torch.cat([pad_mask.new_zeros(B, 1), pad_mask], dim=1)
        source = torch.cat(
            [torch.full((B, 1), PRIOR, device=h.device), torch.arange(n, device=h.device).expand(B, n)], dim=1
        )
        n_inputs = (~pad_mask).sum(-1)

        # KL terms, from the deterministic parameters
        alpha0_q = alpha.sum(-1)
        pibar = alpha / alpha0_q[:, None]
        kl_g = kl_gaussian(mu, logvar, pibar, prior_mu_, prior_var_, cfg.kappa)
        alpha0_p = prior_alpha_ + ad * n_inputs
        kl_d = kl_dirichlet(alpha0_q, alpha0_p, n_inputs, cfg.kappa)

        floor = self._floor(log_alpha, pad_mask)  # [B, N] components kept whatever alpha (min_kept)
        gaussian = self.training and float(torch.rand(())) < cfg.gaussian_train_prob
        if self.training and cfg.prune_gate == "st":
            gate = self._gate(log_alpha, pad, floor)
            mu_d, logvar_d = self._pool(mu, logvar, gate > 0.5, pad, source)
            if gaussian:  # the evaluation form and its weights, with every component in the gate
                latent = evaluation_latent(mu_d, logvar_d, alpha, pad, source, n_inputs, pad, cfg.threshold, gate)
            else:
                latent = self._sample(mu_d, logvar_d, alpha, pad, source, n_inputs, False, gate)
        elif self.training and not (gaussian and cfg.gaussian_train_pruned):
            latent = self._sample(mu, logvar, alpha, pad, source, n_inputs, gaussian)
        else:  # the evaluation form: the Gaussian mixture with pi = alpha over retained components
            mask = pad | ((alpha <= cfg.threshold) & (source != PRIOR) & ~floor)
            mu_d, logvar_d = self._pool(mu, logvar, ~mask, pad, source)
            latent = evaluation_latent(mu_d, logvar_d, alpha, pad, source, n_inputs, mask, cfg.threshold)
        if cfg.kept_pooling != "none":  # what a reader needs to pool another kept set (measures.keep_components)
            latent.token_mu, latent.token_logvar = mu, logvar
        return latent, kl_g, kl_d

    def _floor(self, log_alpha: Tensor, pad_mask: Tensor) -> Tensor:
        """[B, N] True for the `min_kept` token components with the largest pseudo-counts of each
        sentence (the prior component and padding False): kept whatever their alpha."""
        B, n = log_alpha.shape
        floor = torch.zeros(B, n + 1, dtype=torch.bool, device=log_alpha.device)
        k = min(int(self.cfg.min_kept), n)
        if k:
            top = log_alpha.detach().masked_fill(pad_mask, float("-inf")).topk(k, dim=-1).indices
            floor[:, 1:] = torch.zeros_like(pad_mask).scatter(1, top, True) & ~pad_mask
        return floor

    def _pool(self, mu: Tensor, logvar: Tensor, kept: Tensor, pad: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
        """The means and log-variances the decoder reads: each token's own (`kept_pooling` "none"), or
        each kept component's segment average (`pool_segments`)."""
        if self.cfg.kept_pooling == "none":
            return mu, logvar
        return pool_segments(mu, logvar, kept, pad, source)

    # alpha_delta: a float, a [B] tensor, or None for the config's value
    def _alpha_delta(self, alpha_delta, B: int, device) -> Tensor:
        if alpha_delta is None:
            alpha_delta = self.cfg.alpha_delta
        ad = torch.as_tensor(alpha_delta, dtype=torch.float32, device=device)
        return ad.expand(B) if ad.dim() == 0 else ad

    def _log_alpha(
        self, h: Tensor, mu_tok: Tensor, pad_mask: Tensor, ad: Tensor, spread_bias: float | None = None
    ) -> Tensor:
        """log alpha_i [B, n], docs/nvib.md section 1: the paper's projection of h_i (with the quadratic
        term of the initialisation), then this project's two additions where the config asks for them,
        and the clamp.

        - `spread_bias` > 0, the positional prior: its term (`positional_prior`) pulls the kept set
          towards positions spread evenly over the sentence.
        - `alpha_conditioning = "quantile"`: alpha^Delta sets the level, log alpha^Delta + the
          sentence's mean score, and each token's rank in its sentence sets its place around it,
          `quantile_scale` x the normal quantile of its (soft) rank, so that the retained share follows
          alpha^Delta and the scores cannot bunch. "none" (the paper): alpha^Delta enters the prior only.
        """
        cfg = self.cfg
        log_alpha = linear32(self.alpha_proj, h).squeeze(-1) + self.alpha_quad.float() * mu_tok.pow(2).sum(-1) / (
            2 * self.sqrt_e
        )
        bias = cfg.spread_bias if spread_bias is None else float(spread_bias)
        if bias:
            log_alpha = log_alpha + bias * positional_prior(log_alpha, pad_mask, cfg.keep_positions)
        if cfg.alpha_conditioning == "quantile":
            log_alpha = ad.clamp_min(1e-8).log()[:, None] + _quantile_scores(log_alpha, pad_mask, cfg.quantile_scale)
        return _clamp_keep_grad(log_alpha, cfg.log_alpha_min, cfg.log_alpha_max)

    def log_alphas(self, h: Tensor, pad_mask: Tensor, alpha_delta: float | Tensor | None = None) -> Tensor:
        """The tokens' log pseudo-counts [B, n] read from states h [B, n, P] (what `forward` uses)."""
        with torch.autocast(device_type=h.device.type, enabled=False):
            h = h.float()
            ad = self._alpha_delta(alpha_delta, h.shape[0], h.device)
            return self._log_alpha(h, linear32(self.mu_proj, h), pad_mask, ad)

    def _gate(self, log_alpha: Tensor, pad: Tensor, floor: Tensor | None = None) -> Tensor:
        """[B, N] pruning gate of the training batches (prune_gate "st"), prior component first.

        Forward: 1 where evaluation keeps a component (alpha > threshold, or in `floor`), else 0, so
        training decodes from exactly the set evaluation keeps. Backward: the gradient of
        sigmoid((log alpha - log threshold) / gate_temperature).
        """
        cfg = self.cfg
        soft = torch.sigmoid((log_alpha - math.log(cfg.threshold)) / cfg.gate_temperature)
        hard = (log_alpha > math.log(cfg.threshold)).to(soft.dtype)
        if floor is not None:
            hard = torch.maximum(hard, floor[:, 1:].to(soft.dtype))
        gate_tok = hard + soft - soft.detach()
        gate = torch.cat([torch.ones_like(gate_tok[:, :1]), gate_tok], dim=1)
        return gate.masked_fill(pad, 0.0)

    def _sample(
        self, mu, logvar, alpha, pad, source, n_inputs, gaussian: bool, gate: Tensor | None = None
    ) -> LatentMixture:
        """Training: z ~ N(mu, var), pi ~ Dir(c alpha) by reparameterised Gamma draws (kappa each),
        c = pi_concentration (0: pi = alpha / sum(alpha), no draw).

        `gaussian`: the decoder integrates over the Gaussians (evaluation form) instead of
        attending to the sampled vectors.
        """
        k, c = self.cfg.kappa, self.cfg.pi_concentration
        if k > 1:
            mu, logvar, pad, source = (x.repeat_interleave(k, dim=1) for x in (mu, logvar, pad, source))
            alpha = alpha.repeat_interleave(k, dim=1) / k
            if gate is not None:
                gate = gate.repeat_interleave(k, dim=1)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        if c == 0:
            gamma = alpha.masked_fill(pad, 0.0)
        else:
            conc = (c * alpha).masked_fill(pad, 1.0).clamp_min(1e-8)  # padding draws are discarded below
            gamma = torch.distributions.Gamma(conc, torch.ones_like(conc)).rsample()
            gamma = gamma.masked_fill(pad, 0.0)
        # a Gamma draw may underflow to 0: such a component is masked (weight exactly 0)
        mask = pad | (gamma <= 0)
        if gaussian:
            z = None
        return LatentMixture(
            mu=mu,
            logvar=logvar,
            alpha=alpha,
            pi=normalise_weights(gamma, mask),
            mask=mask,
            pad=pad,
            source=source,
            n_inputs=n_inputs,
            z=z,
            threshold=self.cfg.threshold,
            gate=gate,
        )

    @torch.no_grad()
    def sample_prior(
        self, n_components: int, batch_size: int = 1, alpha_delta: float | None = None, seed: int | None = None
    ) -> LatentMixture:
        """A latent drawn from the prior: n + 1 impulses z ~ N(mu_p, var_p), pi ~ Dir(alpha0_p / K).

        `seed` makes the draw repeatable without touching the global random state (the draw forks it,
        under a lock, so that threads drawing at once each get their own seed's draw).
        """
        n, B, P = int(n_components), int(batch_size), self.cfg.d_model
        if n < 1 or B < 1:
            raise ValueError("n_components and batch_size must be >= 1")
        device = self.prior_mu.device
        ad = self.cfg.alpha_delta if alpha_delta is None else float(alpha_delta)
        K = n + 1
        conc = ((self.prior_alpha.float() + ad * n) / K).expand(B, K)
        # the seeded draw goes through torch's global generator: one thread at a time, or a draw made
        # beside it (another app session, the Samples page's background worker) would interleave
        with _GLOBAL_RNG, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            if seed is not None:
                torch.manual_seed(seed)
            z = self.prior_mu.float() + self.prior_var.float().sqrt() * torch.randn(B, K, P, device=device)
            gamma = torch.distributions.Gamma(conc, torch.ones_like(conc)).sample()
        # a draw may underflow to 0; the largest one is always kept so no row is empty
        mask = (gamma <= 0) & (gamma < gamma.amax(-1, keepdim=True))
        pad = torch.zeros(B, K, dtype=torch.bool, device=device)
        return LatentMixture(
            mu=z,
            logvar=torch.full_like(z, IMPULSE_LOGVAR),
            alpha=conc.clone(),
            pi=normalise_weights(gamma, mask),
            mask=mask,
            pad=pad,
            source=torch.full((B, K), SAMPLED, device=device),
            n_inputs=torch.full((B,), n, device=device),
            z=z,
            threshold=self.cfg.threshold,
        )


# ---------------------------------------------------------------------------------------------
# The pseudo-counts: this project's two additions to the paper's projection (section 1)
# ---------------------------------------------------------------------------------------------


def _quantile_scores(scores: Tensor, pad_mask: Tensor, spread: float) -> Tensor:
    """mean_j f_j + spread x Phi^-1(q_i), q_i = (soft rank of f_i among the sentence's tokens + 1/2) / n.

    The forward pass uses the exact rank (ties broken by position), so the quantiles of a sentence are
    spread evenly whatever the scores' distribution; the gradient is that of the soft rank, the sum of
    sigmoid((z_i - z_j) / QUANTILE_TEMPERATURE) over the other real tokens j, z the standardised scores.
    Padding positions get the mean.
    """
    real = (~pad_mask).float()
    count = real.sum(-1, keepdim=True).clamp_min(1.0)
    mean = (scores * real).sum(-1, keepdim=True) / count
    std = (((scores - mean) ** 2 * real).sum(-1, keepdim=True) / count + 1e-8).sqrt()
    z = (scores - mean) / (std + SPREAD_EPS)
    others = real[:, None, :] * (1.0 - torch.eye(z.shape[1], device=z.device))
    soft = (torch.sigmoid((z[:, :, None] - z[:, None, :]) / QUANTILE_TEMPERATURE) * others).sum(-1)
    hard = z.masked_fill(pad_mask, float("inf")).argsort(-1).argsort(-1).float()  # rank among the real tokens
    rank = soft + (hard - soft).detach()  # the exact rank forward, the soft rank's gradient backward
    q = ((rank + 0.5) / count).clamp(0.5 / count, 1.0 - 0.5 / count)
    quantile = math.sqrt(2.0) * torch.erfinv(2.0 * q - 1.0)
    return mean + spread * quantile * real


def van_der_corput(n: int, device=None) -> Tensor:
    """[n] the base-2 radical inverse of 0..n-1 (bits of the position mirrored about the binary
    point): 0, 0.5, 0.25, 0.75, 0.125, ... Ranked by it, the first k positions of any k are
    spread evenly over the sentence."""
    pos = torch.arange(n, device=device)
    out = torch.zeros(n, device=device)
    scale = 0.5
    for _ in range(max(1, (n - 1).bit_length())):
        out += (pos % 2) * scale
        pos = pos // 2
        scale /= 2
    return out


def tournament_order(scores: Tensor, pad_mask: Tensor) -> Tensor:
    """[B, n] the van der Corput values of a content-ordered binary tree over the positions.

    The positions are leaves of a binary tree (pairs 2i, 2i + 1, then pairs of pairs, ...). At every
    node the half whose best real score is the higher takes the lower bit, so ranked by the result,
    the first half of the positions is the better token of every pair, the first quarter the best of
    every four, and so on: the coverage of `van_der_corput`, the choice inside each block by content.
    Ties and blocks without a real token keep van der Corput's order. `scores` are read, not
    differentiated (the order is a rank)."""
    B, n = scores.shape
    bits = max(1, (n - 1).bit_length())
    size = 1 << bits
    s = scores.detach().float().masked_fill(pad_mask, float("-inf"))
    s = torch.nn.functional.pad(s, (0, size - n), value=float("-inf"))
    flips = torch.zeros(B, size, dtype=torch.long, device=scores.device)
    for level in range(bits):
        half = 1 << level
        best = s.view(B, size // (2 * half), 2, half).amax(-1)  # [B, blocks, 2]
        swap = (best[..., 1] > best[..., 0]).long()  # [B, blocks]
        flips += swap.repeat_interleave(2 * half, dim=1) << level
    index = torch.arange(size, device=scores.device)[None, :] ^ flips
    vdc = van_der_corput(size, scores.device)
    return vdc[index][:, :n]


def positional_prior(scores: Tensor, pad_mask: Tensor, keep_positions: str = "learned") -> Tensor:
    """[B, n] the positional prior's term, to be scaled by `spread_bias` and added to the raw scores:
    1 - 2 x (position's van der Corput value), centred on each sentence's real tokens so that it moves
    the ranks and not the level. Ranked by it, the first half of the positions is every second one,
    the first quarter every fourth, and so on. `keep_positions="tournament"` uses the content-ordered
    tree of `tournament_order` instead (the same coverage, each block's best token first)."""
    if keep_positions == "tournament":
        order = tournament_order(scores, pad_mask)
    else:
        order = van_der_corput(scores.shape[1], scores.device)[None, :].expand_as(scores)
    prior = 1.0 - 2.0 * order
    real = (~pad_mask).float()
    mean = (prior * real).sum(-1, keepdim=True) / real.sum(-1, keepdim=True).clamp_min(1.0)
    return prior - mean


def pool_segments(mu: Tensor, logvar: Tensor, kept: Tensor, pad: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    """Each kept token component's Gaussian replaced by the average of its segment's: the token itself
    and the pruned tokens after it up to the next kept one; the pruned tokens before a sentence's
    first kept token join that first segment (`kept_pooling` "segment").

    mu, logvar [B, N, P]; kept, pad [B, N] bool; source [B, N] (the token's index, or < 0 for the
    prior and other components that are no token's, which are never pooled and join no segment).
    One sentence per row, its tokens in order. The average of c Gaussians has the mean of their
    means and the variance sum(var) / c^2. Pruned components keep their own Gaussians (the decoder
    does not read them). Differentiable in mu and logvar; `kept` is a hard set."""
    B, N, P = mu.shape
    token = (source >= 0) & ~pad
    head = token & kept
    seg = torch.cumsum(head.long(), dim=1).clamp_min(1)  # each kept token opens a segment; 0 is no one's
    member = (token & head.any(-1, keepdim=True)).to(mu.dtype)
    index = seg[..., None].expand(B, N, P)
    sum_mu = mu.new_zeros(B, N + 1, P).scatter_add(1, index, mu * member[..., None])
    sum_var = mu.new_zeros(B, N + 1, P).scatter_add(1, index, logvar.exp() * member[..., None])
    count = mu.new_zeros(B, N + 1).scatter_add(1, seg, member).clamp_min(1.0).gather(1, seg)[..., None]
    pooled = head[..., None]
    mu_out = torch.where(pooled, sum_mu.gather(1, index) / count, mu)
    var_out = sum_var.gather(1, index) / count.pow(2)
    logvar_out = torch.where(pooled, var_out.clamp_min(1e-30).log().clamp(LOGVAR_MIN, LOGVAR_MAX), logvar)
    return mu_out, logvar_out


def _clamp_keep_grad(x: Tensor, lo: float, hi: float) -> Tensor:
    """Clamp in the forward pass, identity in the backward pass (straight-through).

    A plain clamp has zero gradient outside [lo, hi]: a log pseudo-count that drifted past the
    upper bound while the KL weight was still 0 could then never be pulled back by KL_D.
    """
    return x + (x.clamp(lo, hi) - x).detach()


# ---------------------------------------------------------------------------------------------
# The KL terms (section 2) and the evaluation latent (section 1, pruning)
# ---------------------------------------------------------------------------------------------


def kl_gaussian(
    mu: Tensor, logvar: Tensor, weights: Tensor, prior_mu: Tensor, prior_var: Tensor, kappa: int = 1
) -> Tensor:
    """KL_G per sentence [B] = 0.5 kappa sum_i w_i mean_p[var/var_p + (mu-mu_p)^2/var_p - 1 - log(var/var_p)].

    mu, logvar [B, N, P]; weights [B, N] (pibar = alpha / alpha0_q; 0 at padding).
    """
    var_ratio = logvar.exp() / prior_var
    per_dim = var_ratio + (mu - prior_mu) ** 2 / prior_var - 1.0 - var_ratio.log()
    return 0.5 * kappa * (weights * per_dim.mean(-1)).sum(-1)


def kl_dirichlet(alpha0_q: Tensor, alpha0_p: Tensor, n: Tensor, kappa: int = 1) -> Tensor:
    """KL_D per sentence [B]: the "expected K" symmetric-Dirichlet KL divided by (n + 1).

    alpha0_q [B] total posterior pseudo-count (prior component included); alpha0_p [B] the
    conditional prior alpha_p + alpha_delta * n; n [B] input tokens. Computed in float64.
    """
    q, p = alpha0_q.double(), alpha0_p.double()
    K = kappa * (n.double() + 1.0)
    kl = (
        torch.lgamma(q)
        - torch.lgamma(p)
        + (q - p) * (torch.digamma(q / K) - torch.digamma(q))
        + K * (torch.lgamma(p / K) - torch.lgamma(q / K))
    )
    return (kl / (n.double() + 1.0)).to(alpha0_q.dtype)


def evaluation_latent(
    mu: Tensor,
    logvar: Tensor,
    alpha: Tensor,
    pad: Tensor,
    source: Tensor,
    n_inputs: Tensor,
    mask: Tensor,
    threshold: float,
    gate: Tensor | None = None,
    has_prior: bool = True,
) -> LatentMixture:
    """The deterministic mixture over the components not in `mask`, weighted pi = alpha / sum(alpha)."""
    return LatentMixture(
        mu=mu,
        logvar=logvar,
        alpha=alpha,
        pi=normalise_weights(alpha, mask),
        mask=mask,
        pad=pad,
        source=source,
        n_inputs=n_inputs,
        has_prior=has_prior,
        threshold=threshold,
        gate=gate,
    )


def linear32(layer: nn.Linear, x: Tensor) -> Tensor:
    """`layer(x)` computed in float32 whatever the layer's stored dtype (after `model.half()` the
    latent layers still compute in float32, as they do under autocast)."""
    bias = None if layer.bias is None else layer.bias.float()
    return nn.functional.linear(x.float(), layer.weight.float(), bias)


__all__ = ["NVIB", "kl_gaussian", "kl_dirichlet", "evaluation_latent", "linear32", "pool_segments"]
