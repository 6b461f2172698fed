"""What the decoder keeps: this project's additions to the paper's NVIB layer (docs/nvib.md section 8).

The paper's layer (nvib.py) reads a pseudo-count alpha_i from each token's state and, outside
training, drops the components with alpha_i at or under the threshold. The shipped models change
which components survive and what a survivor stands for, in the order the layer applies them:

  1. the positional prior (`spread_bias`): a term added to the raw scores that leans the kept set
     towards positions spread evenly over the sentence (`positional_prior`);
  2. quantile conditioning (`alpha_conditioning` "quantile"): alpha^Delta sets the level of the
     pseudo-counts and each token's rank in its sentence its place around it (`quantile_scores`),
     so the retained share follows alpha^Delta;
  3. a floor (`min_kept`): the tokens with the largest pseudo-counts are kept whatever alpha^Delta
     (`floor`);
  4. the pruning gate while training (`prune_gate` "st"): training decodes from exactly the set
     evaluation keeps, with a straight-through gradient on each pseudo-count (`gate`);
  5. segment pooling (`kept_pooling` "segment"): a kept component stands for its token and the
     pruned tokens after it (`pool_segments`);
  6. the segmentation chooser (`kept_chooser` "segments"): the pseudo-counts give how many components
     a sentence keeps, and the kept ones are the first tokens of the split of the sentence into that
     many contiguous segments of alike token means (`choose_segments`, `segment_starts`); each pooled
     component then carries its segment's summed pseudo-count (`pool_alpha`).

Every function is pure (tensors in, tensors out) and reads the config only through its arguments.
Shapes: B batch, n input tokens, N = n + 1 components (component 0 is the prior), P = d_model.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..config import ModelConfig
from .mixture import LOGVAR_MAX, LOGVAR_MIN

SPREAD_EPS = 0.05  # keeps the standardised scores finite when a sentence's scores are all equal
QUANTILE_TEMPERATURE = 0.3  # softness of the soft ranks, in units of the standardised score
GATE_TEMPERATURE = 1.0  # the gate's straight-through gradient: sigmoid((log alpha - log threshold) / this)


def pools_segments(cfg: ModelConfig) -> bool:
    """True for an NVAE whose kept components stand for segments of the sentence (`kept_pooling`
    "segment"): the readers then show each kept component's span of tokens."""
    return cfg.is_nvae and cfg.nvib.kept_pooling == "segment"


def chooses_segments(cfg: ModelConfig) -> bool:
    """True for an NVAE whose kept set is placed by the segmentation chooser (`kept_chooser` "segments")."""
    return pools_segments(cfg) and cfg.nvib.kept_chooser == "segments"


# ---------------------------------------------------------------------------------------------
# 1-2. The pseudo-counts: the positional prior and quantile conditioning
# ---------------------------------------------------------------------------------------------


def condition_scores(
    scores: Tensor, pad_mask: Tensor, alpha_delta: Tensor, cfg: ModelConfig, spread_bias: float | None = None
) -> Tensor:
    """log alpha [B, n] (before the clamp) from the paper's raw scores [B, n], where the config asks for
    the additions; `alpha_delta` [B].

    - `spread_bias` > 0 (None: the config's), the positional prior: its term pulls the kept set
      towards positions spread evenly over the sentence.
    - `alpha_conditioning = "quantile"`: log alpha^Delta + the sentence's mean score + `quantile_scale`
      x the normal quantile of each token's (soft) rank. "none" (the paper): the scores as they are;
      alpha^Delta enters the prior only.
    """
    bias = cfg.nvib.spread_bias if spread_bias is None else float(spread_bias)
    if bias:
        scores = scores + bias * positional_prior(scores, pad_mask, cfg.nvib.keep_positions)
    if cfg.nvib.alpha_conditioning == "quantile":
        scores = alpha_delta.clamp_min(1e-8).log()[:, None] + quantile_scores(scores, pad_mask, cfg.nvib.quantile_scale)
    return scores


def quantile_scores(scores: Tensor, pad_mask: Tensor, spread: float) -> Tensor:
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


# ---------------------------------------------------------------------------------------------
# 3-4. Which components survive: the floor and the training gate
# ---------------------------------------------------------------------------------------------


def floor(log_alpha: Tensor, pad_mask: Tensor, min_kept: int) -> Tensor:
    """[B, N] True for the `min_kept` token components with the largest pseudo-counts of each
    sentence (the prior component and padding False): kept whatever their alpha."""
    B, n = log_alpha.shape
    out = torch.zeros(B, n + 1, dtype=torch.bool, device=log_alpha.device)
    k = min(int(min_kept), n)
    if k:
        top = log_alpha.detach().masked_fill(pad_mask, float("-inf")).topk(k, dim=-1).indices
        out[:, 1:] = torch.zeros_like(pad_mask).scatter(1, top, True) & ~pad_mask
    return out


def gate(log_alpha: Tensor, pad: Tensor, threshold: float, kept_anyway: Tensor | None = None) -> Tensor:
    """[B, N] the pruning gate of the training batches (prune_gate "st"), prior component first.

    Forward: 1 where evaluation keeps a component (alpha > threshold, or in `kept_anyway`, the
    floor), else 0, so training decodes from exactly the set evaluation keeps. Backward: the gradient
    of sigmoid((log alpha - log threshold) / GATE_TEMPERATURE).
    """
    soft = torch.sigmoid((log_alpha - math.log(threshold)) / GATE_TEMPERATURE)
    hard = (log_alpha > math.log(threshold)).to(soft.dtype)
    if kept_anyway is not None:
        hard = torch.maximum(hard, kept_anyway[:, 1:].to(soft.dtype))
    gate_tok = hard + soft - soft.detach()
    out = torch.cat([torch.ones_like(gate_tok[:, :1]), gate_tok], dim=1)
    return out.masked_fill(pad, 0.0)


# ---------------------------------------------------------------------------------------------
# 5. What a survivor stands for: segment pooling
# ---------------------------------------------------------------------------------------------


def pool(
    mu: Tensor, logvar: Tensor, kept: Tensor, pad: Tensor, source: Tensor, kept_pooling: str
) -> tuple[Tensor, Tensor]:
    """The means and log-variances the decoder reads: each token's own (`kept_pooling` "none"), or
    each kept component's segment average (`pool_segments`)."""
    if kept_pooling == "none":
        return mu, logvar
    return pool_segments(mu, logvar, kept, pad, source)


def _segments(kept: Tensor, pad: Tensor, source: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(head [B, N]: kept token components, each opening a segment; seg [B, N]: the segment of each
    component, 1 for the first, the pruned tokens before a sentence's first kept one included; member
    [B, N]: components that belong to a segment, the tokens of a sentence that keeps one)."""
    token = (source >= 0) & ~pad
    head = token & kept
    seg = torch.cumsum(head.long(), dim=1).clamp_min(1)  # each kept token opens a segment; 0 is no one's
    member = token & head.any(-1, keepdim=True)
    return head, seg, member


def pool_alpha(alpha: Tensor, kept: Tensor, pad: Tensor, source: Tensor) -> Tensor:
    """[B, N] each kept token component's pseudo-count replaced by the sum of its segment's (the
    segments of `pool_segments`): merging components of a Dirichlet adds their pseudo-counts (its
    aggregation property), so a pooled component weighs what its tokens weighed together. Other
    components keep their own."""
    head, seg, member = _segments(kept, pad, source)
    B, N = alpha.shape
    total = alpha.new_zeros(B, N + 1).scatter_add(1, seg, alpha * member.to(alpha.dtype))
    return torch.where(head, total.gather(1, seg), alpha)


def choose_segments(token_mu: Tensor, pad_mask: Tensor, kept: Tensor) -> Tensor:
    """[B, N] the segmentation chooser's kept set: as many token components per sentence as `kept`
    holds (at least one), at the first tokens of the best split of the sentence into that many
    contiguous segments of alike token means (`segment_starts`); component 0 (the prior) as `kept`
    has it. token_mu [B, N, P] every component's own mean, prior first; pad_mask [B, n]; kept [B, N]."""
    counts = kept[:, 1:].sum(-1)
    starts = segment_starts(token_mu[:, 1:], pad_mask, counts)
    return torch.cat([kept[:, :1], starts], dim=1)


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
    head, seg, member = _segments(kept, pad, source)
    member = member.to(mu.dtype)
    index = seg[..., None].expand(B, N, P)
    sum_mu = mu.new_zeros(B, N + 1, P).scatter_add(1, index, mu * member[..., None])
    sum_var = mu.new_zeros(B, N + 1, P).scatter_add(1, index, logvar.exp() * member[..., None])
    count = mu.new_zeros(B, N + 1).scatter_add(1, seg, member).clamp_min(1.0).gather(1, seg)[..., None]
    pooled = head[..., None]
    mu_out = torch.where(pooled, sum_mu.gather(1, index) / count, mu)
    var_out = sum_var.gather(1, index) / count.pow(2)
    logvar_out = torch.where(pooled, var_out.clamp_min(1e-30).log().clamp(LOGVAR_MIN, LOGVAR_MAX), logvar)
    return mu_out, logvar_out


# ---------------------------------------------------------------------------------------------
# 6. Choosing the kept set by segmentation
# ---------------------------------------------------------------------------------------------


def segment_starts(x: Tensor, pad_mask: Tensor, counts: Tensor) -> Tensor:
    """[B, n] True at the first token of each segment of the best split of every sentence into
    `counts[b]` contiguous segments: the split whose summed within-segment squared error,
    sum over segments of sum_t ||x_t - mean of the segment||^2, is smallest.

    x [B, n, P] one vector per token (tokens in order, padding at the end); pad_mask [B, n];
    counts [B] the number of segments, clamped to [1, the sentence's length], so every sentence gets
    at least one. Exact: a dynamic programme over (segments used, end position), batched over the
    sentences, O(max count x n^2) tensor operations; the first token always opens a segment. Ties go
    to the earlier start. Read, not differentiated (a split is a discrete choice).
    """
    B, n, _ = x.shape
    real = ~pad_mask
    lengths = real.sum(-1)
    m = torch.minimum(counts.long().clamp_min(1), lengths.clamp_min(1))
    xd = (x.detach().double() * real[..., None]).contiguous()
    zero = xd.new_zeros(B, 1, xd.shape[-1])
    cs = torch.cat([zero, xd.cumsum(1)], 1)  # [B, n + 1, P] prefix sums
    cs2 = torch.cat([xd.new_zeros(B, 1), xd.pow(2).sum(-1).cumsum(1)], 1)  # [B, n + 1]
    gram = cs @ cs.transpose(1, 2)  # [B, s, e] = <cs_s, cs_e>
    sq = gram.diagonal(dim1=1, dim2=2)  # ||cs_i||^2
    between = sq[:, :, None] + sq[:, None, :] - 2 * gram  # ||cs_e - cs_s||^2
    pos = torch.arange(n + 1, device=x.device)
    width = (pos[None, :] - pos[:, None]).to(xd.dtype)  # [s, e] = e - s
    cost = (cs2[:, None, :] - cs2[:, :, None]) - between / width.clamp_min(1.0)
    cost = cost.clamp_min(0.0).masked_fill(~(width > 0), float("inf"))  # a segment holds >= 1 token
    best = xd.new_full((B, n + 1), float("inf"))
    best[:, 0] = 0.0
    steps = []
    for _ in range(int(m.max())):
        best, arg = (best[:, :, None] + cost).min(dim=1)  # over the previous segment's end s
        steps.append(arg)
    starts = torch.zeros(B, n, dtype=torch.bool, device=x.device)
    end = lengths.clone()
    rows = torch.arange(B, device=x.device)
    for j in range(len(steps), 0, -1):  # back from the last segment of each sentence
        active = j <= m
        start = steps[j - 1].gather(1, end[:, None]).squeeze(1)
        starts[rows[active], start[active]] = True
        end = torch.where(active, start, end)
    return starts


__all__ = [
    "condition_scores",
    "quantile_scores",
    "van_der_corput",
    "tournament_order",
    "positional_prior",
    "floor",
    "gate",
    "pool",
    "pool_segments",
    "pool_alpha",
    "choose_segments",
    "segment_starts",
]
