"""The NVIB layer and its two KL terms, in the order of docs/nvib.md.

Read top to bottom: the layer turns encoder states into the posterior's means, variances and
pseudo-counts (section 1), prepends the prior component, computes the KL terms (section 2) and
hands the decoder one of three latents: in training with the pruning gate (section 8, the shipped
recipe) exactly the set evaluation keeps, in training without it sampled vectors with Dirichlet
weights (the paper), in evaluation the Gaussian mixture with the components under the threshold
pruned. Prior sampling (section 4) closes the class; the KL formulas and the evaluation latent
follow it. This project's additions to the paper's layer (the positional prior and quantile
conditioning of the pseudo-counts, a floor of kept components, the training gate, segment pooling)
are in nvae/model/kept_set.py, called from here where the config asks for them. The latent type and
interpolation (section 5) are in nvae/model/mixture.py.

Shapes: B batch, n input tokens (end-of-sentence included), N = n + 1 components (component 0 is
the prior), P = d_model.
"""

from __future__ import annotations

import math
import threading

import torch
from torch import Tensor, nn

from ..config import ModelConfig, check_trained_range
from . import kept_set
from .mixture import IMPULSE_LOGVAR, LOGVAR_MAX, LOGVAR_MIN, PRIOR, SAMPLED, LatentMixture, normalise_weights

_GLOBAL_RNG = threading.Lock()  # held while a seeded draw uses torch's global random state

LOG_ALPHA_MIN, LOG_ALPHA_MAX = -10.0, 10.0  # clamp of the log pseudo-counts (exp overflows fp16 at about 11)


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
        self.register_buffer("prior_alpha", torch.tensor(float(cfg.nvib.prior_alpha)))

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
        kl_g = kl_gaussian(mu, logvar, pibar, prior_mu_, prior_var_, cfg.nvib.kappa)
        alpha0_p = prior_alpha_ + ad * n_inputs
        kl_d = kl_dirichlet(alpha0_q, alpha0_p, n_inputs, cfg.nvib.kappa)

        floor = kept_set.floor(log_alpha, pad_mask, cfg.nvib.min_kept)  # [B, N] kept whatever alpha (min_kept)
        gaussian = self.training and float(torch.rand(())) < cfg.nvib.gaussian_train_prob
        segments = cfg.nvib.kept_chooser == "segments"
        if self.training and cfg.nvib.prune_gate == "st":
            gate = kept_set.gate(log_alpha, pad, cfg.threshold, floor)
            kept = gate > 0.5
            if segments and float(torch.rand(())) < cfg.nvib.segments_train_share:
                # the segmentation's set forward, the score's straight-through gradient backward
                kept = kept_set.choose_segments(mu.detach(), pad_mask, kept)
                gate = gate - gate.detach() + kept.to(gate.dtype)
            mu_d, logvar_d = kept_set.pool(mu, logvar, kept, pad, source, cfg.nvib.kept_pooling)
            alpha_d = kept_set.pool_alpha(alpha, kept, pad, source) if segments else alpha  # both sets sum
            if gaussian:  # the evaluation form and its weights, with every component in the gate
                latent = evaluation_latent(mu_d, logvar_d, alpha_d, pad, source, n_inputs, pad, cfg.threshold, gate)
            else:
                latent = self._sample(mu_d, logvar_d, alpha_d, pad, source, n_inputs, False, gate)
        elif self.training and not gaussian:
            latent = self._sample(mu, logvar, alpha, pad, source, n_inputs, False)
        else:  # the evaluation form: the Gaussian mixture with pi = alpha over retained components
            mask = pad | ((alpha <= cfg.threshold) & (source != PRIOR) & ~floor)
            if segments:  # as many as the pseudo-counts keep, where the segmentation puts them
                mask = pad | ~kept_set.choose_segments(mu, pad_mask, ~mask)
            mu_d, logvar_d = kept_set.pool(mu, logvar, ~mask, pad, source, cfg.nvib.kept_pooling)
            alpha_d = kept_set.pool_alpha(alpha, ~mask, pad, source) if segments else alpha
            latent = evaluation_latent(mu_d, logvar_d, alpha_d, pad, source, n_inputs, mask, cfg.threshold)
        if cfg.nvib.kept_pooling != "none":  # what a reader needs to pool another kept set (measures.keep_components)
            latent.token_mu, latent.token_logvar = mu, logvar
        if segments:
            latent.token_alpha = alpha
        return latent, kl_g, kl_d

    def _alpha_delta(self, alpha_delta, B: int, device) -> Tensor:
        """alpha^Delta as a [B] tensor: `alpha_delta` (a float or a [B] tensor), or the config's own value
        for None. A loss-conditional model takes a given value only inside the range it was trained on,
        float rounding allowed, and raises ValueError otherwise (`nvae.config.check_trained_range`): it
        does not extrapolate, so callers resolve a request first (`nvae.config.resolve_alpha_delta`). A
        model trained at one alpha^Delta reads it in its prior only and takes any value."""
        if alpha_delta is None:
            alpha_delta = self.cfg.nvib.alpha_delta
        elif self.cfg.nvib.alpha_delta_conditional:
            if isinstance(alpha_delta, (int, float)):
                check_trained_range(self.cfg, float(alpha_delta))
            elif (given := torch.as_tensor(alpha_delta).detach()).numel():  # one value per sentence
                smallest, largest = torch.aminmax(given.double())
                check_trained_range(self.cfg, float(smallest), float(largest))
        ad = torch.as_tensor(alpha_delta, dtype=torch.float32, device=device)
        return ad.expand(B) if ad.dim() == 0 else ad

    def _log_alpha(
        self, h: Tensor, mu_tok: Tensor, pad_mask: Tensor, ad: Tensor, spread_bias: float | None = None
    ) -> Tensor:
        """log alpha_i [B, n], docs/nvib.md section 1: the paper's projection of h_i (with the quadratic
        term of the initialisation), then this project's additions where the config asks for them
        (`kept_set.condition_scores`: the positional prior, `spread_bias` overriding the config's, and
        quantile conditioning on alpha^Delta), and the clamp."""
        scores = linear32(self.alpha_proj, h).squeeze(-1) + self.alpha_quad.float() * mu_tok.pow(2).sum(-1) / (
            2 * self.sqrt_e
        )
        log_alpha = kept_set.condition_scores(scores, pad_mask, ad, self.cfg, spread_bias)
        return _clamp_keep_grad(log_alpha, LOG_ALPHA_MIN, LOG_ALPHA_MAX)

    def log_alphas(self, h: Tensor, pad_mask: Tensor, alpha_delta: float | Tensor | None = None) -> Tensor:
        """The tokens' log pseudo-counts [B, n] read from states h [B, n, P] (what `forward` uses)."""
        with torch.autocast(device_type=h.device.type, enabled=False):
            h = h.float()
            ad = self._alpha_delta(alpha_delta, h.shape[0], h.device)
            return self._log_alpha(h, linear32(self.mu_proj, h), pad_mask, ad)

    def _sample(
        self, mu, logvar, alpha, pad, source, n_inputs, gaussian: bool, gate: Tensor | None = None
    ) -> LatentMixture:
        """Training: z ~ N(mu, var), pi ~ Dir(c alpha) by reparameterised Gamma draws (kappa each),
        c = pi_concentration (0: pi = alpha / sum(alpha), no draw).

        `gaussian`: the decoder integrates over the Gaussians (evaluation form) instead of
        attending to the sampled vectors.
        """
        k, c = self.cfg.nvib.kappa, self.cfg.nvib.pi_concentration
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
        ad = self.cfg.nvib.alpha_delta if alpha_delta is None else float(alpha_delta)
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


__all__ = ["NVIB", "kl_gaussian", "kl_dirichlet", "evaluation_latent", "linear32"]
