"""The mathematics of docs/nvib.md, pinned against independent computations."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import latent_config

from nvae.model.attention import LatentCrossAttention, denoise
from nvae.model.mixture import PRIOR, LatentMixture
from nvae.model.nvib import LOG_ALPHA_MAX, NVIB, kl_dirichlet, kl_gaussian


def test_kl_gaussian_matches_torch_distributions():
    torch.manual_seed(0)
    B, N, P = 3, 5, 7
    mu, logvar = torch.randn(B, N, P), torch.randn(B, N, P)
    w = torch.softmax(torch.randn(B, N), -1)
    mu_p, var_p = torch.tensor(0.3), torch.tensor(1.7)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(mu_p, var_p.sqrt())
    direct = (w * torch.distributions.kl_divergence(q, p).mean(-1)).sum(-1)
    for kappa in (1, 3):
        ours = kl_gaussian(mu, logvar, w, mu_p, var_p, kappa)
        torch.testing.assert_close(ours, kappa * direct, rtol=1e-5, atol=1e-6)


def test_kl_gaussian_zero_at_prior():
    mu = torch.full((2, 4, 3), 0.3)
    logvar = torch.full((2, 4, 3), math.log(1.7))
    w = torch.full((2, 4), 0.25)
    assert kl_gaussian(mu, logvar, w, torch.tensor(0.3), torch.tensor(1.7)).abs().max() < 1e-6


@pytest.mark.parametrize("kappa", [1, 2])
def test_kl_dirichlet_matches_symmetric_dirichlets(kappa):
    torch.manual_seed(1)
    n = torch.tensor([3, 10, 25])
    alpha0_q = torch.tensor([0.7, 12.0, 4.5], dtype=torch.float64)
    alpha0_p = torch.tensor([2.0, 1.5, 8.0], dtype=torch.float64)
    ours = kl_dirichlet(alpha0_q, alpha0_p, n, kappa)
    for b in range(3):
        K = int(kappa * (n[b] + 1))
        q = torch.distributions.Dirichlet(torch.full((K,), float(alpha0_q[b]) / K, dtype=torch.float64))
        p = torch.distributions.Dirichlet(torch.full((K,), float(alpha0_p[b]) / K, dtype=torch.float64))
        expected = torch.distributions.kl_divergence(q, p) / (int(n[b]) + 1)
        torch.testing.assert_close(ours[b], expected, rtol=1e-9, atol=1e-12)


def test_kl_dirichlet_zero_at_prior():
    a = torch.tensor([1.9, 7.0], dtype=torch.float64)
    assert kl_dirichlet(a, a, torch.tensor([3, 20])).abs().max() < 1e-12


def _cross_attention(P=16, H=4, seed=0):
    torch.manual_seed(seed)
    attn = LatentCrossAttention(P, H, dropout=0.0, denoising=True).eval()
    return attn


def test_training_form_equals_sdpa_when_log_pi_cancels_norm():
    """With pi_i proportional to exp(||z_i||^2 / (2 sqrt(E))) (the initialisation), denoising
    attention is ordinary scaled dot-product attention over z."""
    P, H = 16, 4
    attn = _cross_attention(P, H)
    E = P // H
    B, T, N = 2, 3, 5
    x, z = torch.randn(B, T, P), torch.randn(B, N, P)
    pi = torch.softmax(z.pow(2).sum(-1) / (2 * math.sqrt(E)), -1)
    mask = torch.zeros(B, N, dtype=torch.bool)
    latent = LatentMixture(
        mu=z,
        logvar=torch.zeros_like(z),
        alpha=pi,
        pi=pi,
        mask=mask,
        pad=mask,
        source=torch.zeros(B, N, dtype=torch.long),
        n_inputs=torch.full((B,), N),
        z=z,
    )
    ours, _ = attn(x, latent)

    def heads(t):
        return t.view(B, -1, H, E).transpose(1, 2)

    q, k, v = heads(attn.q_proj(x)), heads(attn.k_proj(z)), heads(attn.v_proj(z))
    ref = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, P)
    torch.testing.assert_close(ours, attn.out_proj(ref), rtol=1e-5, atol=1e-5)


def test_nvib_initialisation_gives_ordinary_attention():
    """At initialisation log pi_i - ||mu_i||^2/(2 sqrt E) is the same for every component."""
    cfg = latent_config(d_model=32, n_heads=4)
    layer = NVIB(cfg).eval()
    h = F.layer_norm(torch.randn(2, 6, 32), (32,))
    latent, _, _ = layer(h, torch.zeros(2, 6, dtype=torch.bool))
    score = latent.log_pi - latent.mu.pow(2).sum(-1) / (2 * math.sqrt(cfg.head_dim))
    assert (score - score[:, :1]).abs().max() < 1e-4


def test_evaluation_form_equals_training_form_as_variance_vanishes():
    P, H = 16, 4
    attn = _cross_attention(P, H, seed=2)
    B, T, N = 2, 4, 6
    x, mu = torch.randn(B, T, P), torch.randn(B, N, P)
    pi = torch.softmax(torch.randn(B, N), -1)
    mask = torch.zeros(B, N, dtype=torch.bool)
    mask[1, -2:] = True
    pi = pi.masked_fill(mask, 0) / pi.masked_fill(mask, 0).sum(-1, keepdim=True)
    common = dict(
        mu=mu,
        alpha=pi,
        pi=pi,
        mask=mask,
        pad=mask,
        source=torch.zeros(B, N, dtype=torch.long),
        n_inputs=torch.full((B,), N),
    )
    gauss = LatentMixture(logvar=torch.full_like(mu, -25.0), **common)
    sample = LatentMixture(logvar=torch.full_like(mu, -25.0), z=mu, **common)
    out_g, w_g = attn(x, gauss, need_weights=True)
    out_s, w_s = attn(x, sample, need_weights=True)
    torch.testing.assert_close(out_g, out_s, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(w_g, w_s, rtol=1e-4, atol=1e-5)
    # and with real variances the two forms differ (the variance term is not dropped)
    out_v, _ = attn(x, LatentMixture(logvar=torch.randn_like(mu), **common))
    assert (out_v - out_s).abs().max() > 1e-3


@pytest.mark.parametrize("dim", [1, 2])
def test_evaluation_form_matches_numerical_integration(dim):
    """vbar = E[v | u] for v ~ sum_i pi_i N(mu_i, var_i), u ~ N(v, s I), on a fine grid."""
    torch.manual_seed(3 + dim)
    N, s = 3, 1.3
    u = torch.randn(1, 1, 2, dim, dtype=torch.float64) * 2
    mu = torch.randn(1, N, dim, dtype=torch.float64) * 2
    var = torch.rand(1, N, dim, dtype=torch.float64) * 2 + 0.2
    log_pi = torch.log_softmax(torch.randn(1, N, dtype=torch.float64), -1)
    vbar, weights = denoise(u, mu, var, log_pi, s)
    grid = torch.linspace(-14, 14, 2801 if dim == 1 else 801, dtype=torch.float64)
    pts = grid[:, None] if dim == 1 else torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    density = sum(
        log_pi[0, i].exp() * torch.distributions.Normal(mu[0, i], var[0, i].sqrt()).log_prob(pts).sum(-1).exp()
        for i in range(N)
    )
    for t in range(2):
        lik = torch.distributions.Normal(pts, math.sqrt(s)).log_prob(u[0, 0, t]).sum(-1).exp()
        post = density * lik
        expected = (post[:, None] * pts).sum(0) / post.sum()
        torch.testing.assert_close(vbar[0, 0, t], expected, rtol=1e-6, atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(1, 1, 2, dtype=torch.float64))


def test_denoise_keeps_the_u_squared_term():
    """Two components with equal means but different variances: the wider one must get more weight
    for a far-away query (the reference code's dropped term would give them equal logits up to
    the log-determinant, favouring the narrow one)."""
    u = torch.full((1, 1, 1, 4), 10.0)
    mu = torch.zeros(1, 2, 4)
    var = torch.stack([torch.full((4,), 0.1), torch.full((4,), 3.0)])[None]
    _, w = denoise(u, mu, var, torch.log(torch.tensor([[0.5, 0.5]])), 2.0)
    assert w[0, 0, 0, 1] > 0.99


def test_gaussian_training_batches_use_evaluation_weights():
    """Without the gate, the evaluation-form training batches see exactly the evaluation latent."""
    cfg = latent_config(d_model=16, n_heads=2, dropout=0.0, gaussian_train_prob=1.0)
    torch.manual_seed(0)
    layer = NVIB(cfg)
    with torch.no_grad():  # log alpha spread around log(threshold): about half the tokens pruned
        layer.alpha_quad.fill_(0.0)
        layer.alpha_proj.weight.normal_(0.0, 1.0)
        layer.alpha_proj.bias.fill_(math.log(cfg.threshold))
    h = torch.randn(2, 7, 16)
    pad = torch.tensor([[False] * 7, [False] * 4 + [True] * 3])
    train_latent, _, _ = layer.train()(h, pad)
    eval_latent, _, _ = layer.eval()(h, pad)
    assert train_latent.z is None  # the decoder integrates over the Gaussians
    pruned_now = eval_latent.mask & ~eval_latent.pad
    assert bool(pruned_now.any()) and bool((~eval_latent.mask & ~eval_latent.pad).sum() > 2)
    assert torch.equal(train_latent.mask, eval_latent.mask)
    torch.testing.assert_close(train_latent.pi, eval_latent.pi)


def test_pruned_and_padded_components_never_give_nan():
    cfg = latent_config(d_model=16, n_heads=2)
    layer = NVIB(cfg)
    with torch.no_grad():
        layer.alpha_quad.fill_(0.0)
        layer.alpha_proj.bias.fill_(-30.0)  # every token's alpha at the clamp, exp(-10): all pruned in eval
    h = torch.randn(3, 5, 16)
    pad = torch.tensor([[False] * 5, [False, False, True, True, True], [False] + [True] * 4])
    for training in (True, False):
        layer.train(training)
        latent, kl_g, kl_d = layer(h, pad)
        assert torch.isfinite(latent.pi).all() and torch.isfinite(kl_g).all() and torch.isfinite(kl_d).all()
        torch.testing.assert_close(latent.pi.sum(-1), torch.ones(3))
        attn = LatentCrossAttention(16, 2).train(training)
        out, _ = attn(torch.randn(3, 2, 16), latent)
        assert torch.isfinite(out).all()
    assert bool((latent.source[~latent.mask] == PRIOR).all())  # eval: only the prior survives


def test_extreme_pseudo_counts_are_finite_and_differentiable():
    cfg = latent_config(d_model=16, n_heads=2)
    layer = NVIB(cfg).train()
    h = torch.randn(2, 4, 16) * 50  # log alpha far beyond the clamp on the high side
    h.requires_grad_(True)
    latent, kl_g, kl_d = layer(h, torch.zeros(2, 4, dtype=torch.bool))
    assert latent.alpha.max() <= math.exp(LOG_ALPHA_MAX) * 1.0001
    loss = kl_g.sum() + kl_d.sum() + latent.pi.sum()
    loss.backward()
    assert torch.isfinite(h.grad).all()


def test_cross_attention_evaluation_form_is_denoise():
    """The module's rearranged evaluation form equals `denoise` followed by W_v, per head."""
    P, H = 16, 4
    E = P // H
    attn = _cross_attention(P, H, seed=5)
    B, T, N = 2, 3, 5
    x, mu, logvar = torch.randn(B, T, P), torch.randn(B, N, P), torch.randn(B, N, P)
    pi = torch.softmax(torch.randn(B, N), -1)
    mask = torch.zeros(B, N, dtype=torch.bool)
    latent = LatentMixture(
        mu=mu,
        logvar=logvar,
        alpha=pi,
        pi=pi,
        mask=mask,
        pad=mask,
        source=torch.zeros(B, N, dtype=torch.long),
        n_inputs=torch.full((B,), N),
    )
    ours, w_ours = attn(x, latent, need_weights=True)
    q = attn.q_proj(x).view(B, T, H, E).transpose(1, 2)
    u = torch.einsum("bhte,hep->bhtp", q, attn.k_proj.weight.view(H, E, P))
    vbar, w = denoise(u, mu, logvar.exp(), latent.log_pi, math.sqrt(E))
    heads = torch.einsum("bhtp,hep->bhte", vbar, attn.v_proj.weight.view(H, E, P)) + attn.v_proj.bias.view(1, H, 1, E)
    expected = attn.out_proj(heads.transpose(1, 2).reshape(B, T, P))
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(w_ours, w.mean(1), rtol=1e-4, atol=1e-6)


def test_clamped_pseudo_counts_still_get_the_kl_gradient():
    """log alpha beyond the clamp keeps a gradient, so KL_D can pull it back into range."""
    cfg = latent_config(d_model=16, n_heads=2)
    layer = NVIB(cfg).eval()
    with torch.no_grad():
        layer.alpha_proj.bias.fill_(50.0)  # far above LOG_ALPHA_MAX
    h = torch.randn(1, 4, 16)
    latent, _, kl_d = layer(h, torch.zeros(1, 4, dtype=torch.bool))
    assert torch.allclose(latent.alpha[0, 1:], torch.full((4,), math.exp(LOG_ALPHA_MAX)))
    kl_d.sum().backward()
    assert layer.alpha_proj.bias.grad.item() > 0  # descending lowers log alpha
