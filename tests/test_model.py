"""Model-level properties: padding, permutation invariance, interpolation, cache, gradients,
numerics, and that tiny models really learn."""

import dataclasses
import json

import pytest
import sacrebleu
import torch
from helpers import latent_config, tiny_nvae

from nvae.data.text import collate
from nvae.model.autoencoder import NVAE
from nvae.model.mixture import MIXINGS, PRIOR, SWEEP_WIDTH, ComponentRow, LatentMixture

ALL_TYPES = ["nvae", "t", "vt", "vtp", "vts"]


SENTS = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15, 16, 17, 18, 19]]


@pytest.mark.parametrize("model_type", ALL_TYPES)
def test_sentence_alone_equals_inside_padded_batch(model_type):
    model = tiny_nvae(model_type).eval()
    batch = collate(SENTS, model.cfg.max_len)
    with torch.no_grad():
        latent = model.encode(batch.src, batch.pad_mask).latent
        logits = model.decode(latent, model.decoder_input(batch.src))
        for i, s in enumerate(SENTS):
            alone = collate([s], model.cfg.max_len)
            lat1 = model.encode(alone.src, alone.pad_mask).latent
            n = lat1.n_components
            torch.testing.assert_close(latent.mu[i, :n], lat1.mu[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(latent.alpha[i, :n], lat1.alpha[0], atol=1e-5, rtol=1e-5)
            assert bool(latent.pad[i, n:].all())
            log1 = model.decode(lat1, model.decoder_input(alone.src))
            torch.testing.assert_close(logits[i, : len(s) + 1], log1[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("model_type", ["nvae", "vt"])
@pytest.mark.parametrize("sampled", [False, True])
def test_decoder_is_permutation_invariant_in_the_components(model_type, sampled):
    model = tiny_nvae(model_type).eval()
    batch = collate(SENTS, model.cfg.max_len)
    with torch.no_grad():
        latent = model.encode(batch.src, batch.pad_mask).latent
        if sampled:
            latent = dataclasses.replace(latent, z=latent.mu + 0.1 * torch.randn_like(latent.mu))
        perm = torch.randperm(latent.n_components)
        shuffled = type(latent)(
            **{k: (v[:, perm] if torch.is_tensor(v) and v.dim() >= 2 else v) for k, v in latent.__dict__.items()}
        )
        tgt = model.decoder_input(batch.src)
        a, b = model.decode(latent, tgt), model.decode(shuffled, tgt)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mixing", MIXINGS)
@pytest.mark.parametrize("model_type", ALL_TYPES)
def test_interpolation_weights_and_endpoints(model_type, mixing):
    model = tiny_nvae(model_type).eval()
    with torch.no_grad():
        pair = collate(SENTS[:2], model.cfg.max_len)
        latent = model.encode(pair.src, pair.pad_mask).latent
        a, b = latent.select(0).trim(), latent.select(1).trim()
        taus = torch.linspace(0, 1, 11)
        mix = a.mix(b, taus, mixing)
        torch.testing.assert_close(mix.pi.sum(-1), torch.ones(11))
        assert bool((mix.pi[mix.mask] == 0).all())
        tgt_a, tgt_b = (
            model.decoder_input(collate([SENTS[0]], model.cfg.max_len).src),
            model.decoder_input(collate([SENTS[1]], model.cfg.max_len).src),
        )
        torch.testing.assert_close(model.decode(mix.select(0), tgt_a), model.decode(a, tgt_a), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.decode(mix.select(10), tgt_b), model.decode(b, tgt_b), atol=1e-5, rtol=1e-5)
        ends = model.generate(mix.select([0, 10]))
        assert ends == model.generate(a) + model.generate(b)


def test_sweep_mixing_hands_components_over_first_token_first():
    model = tiny_nvae("nvae").eval()
    with torch.no_grad():
        pair = collate(SENTS[:2], model.cfg.max_len)
        latent = model.encode(pair.src, pair.pad_mask, alpha_delta=1e6).latent  # keep every component
        a, b = latent.select(0).trim(), latent.select(1).trim()
        taus = torch.linspace(0, 1, 21)
        mix = a.mix(b, taus, "sweep")
        uniform = a.mix(b, taus, "uniform")
    na = a.n_components
    kept_a, kept_b = ~mix.mask[:, :na], ~mix.mask[:, na:]
    token_a, token_b = a.source[0] >= 0, b.source[0] >= 0
    # B's tokens enter in order (a prefix of B's sentence is present), A's leave in order (a suffix
    # of A's stays), and both counts move monotonically with tau
    for k in range(len(taus)):
        pos_b = b.source[0][kept_b[k] & token_b]
        pos_a = a.source[0][kept_a[k] & token_a]
        assert pos_b.tolist() == list(range(len(pos_b)))
        n_a = int(token_a.sum())
        assert pos_a.tolist() == list(range(n_a - len(pos_a), n_a))
    counts_b = (kept_b & token_b).sum(-1)
    counts_a = (kept_a & token_a).sum(-1)
    assert bool((counts_b[1:] >= counts_b[:-1]).all()) and bool((counts_a[1:] <= counts_a[:-1]).all())
    # halfway, each sentence holds part of the sentence: unlike uniform mixing, which keeps all of both
    mid = 10
    assert 0 < int(counts_b[mid]) < int(token_b.sum()) and 0 < int(counts_a[mid]) < int(token_a.sum())
    assert int((~uniform.mask[mid]).sum()) == a.n_components + b.n_components
    # the prior component follows tau in both mixings
    prior = torch.nonzero(b.source[0] == PRIOR).item()
    torch.testing.assert_close(mix.alpha[:, na + prior], uniform.alpha[:, na + prior])


@pytest.mark.parametrize("model_type", ["vt", "t"])
def test_sweep_mixing_of_baselines_blends_the_first_positions_first(model_type):
    model = tiny_nvae(model_type).eval()
    with torch.no_grad():
        pair = collate(SENTS[:2], model.cfg.max_len)
        latent = model.encode(pair.src, pair.pad_mask).latent
        a, b = latent.select(0).trim(), latent.select(1).trim()
        mix = a.mix(b, torch.tensor([0.0, 0.2, 1.0]), "sweep")
    assert (a.n_components, b.n_components) == (8, 4)
    # the sentences meet at relative positions (issue 26, tests/test_fair_mixing.py): at tau 0.2 the
    # mixture has round(0.8 * 8 + 0.2 * 4) = 7 positions, at 0, 1/6, ..., 1, and the front stands at
    # 0.2 (1 + w): position 0 is B's, 1/6 a blend, 2/6 still A's
    assert (~mix.pad).sum(-1).tolist() == [8, 7, 4]
    w = SWEEP_WIDTH
    share = (0.2 * (1 + w) - 1 / 6) / w
    assert 0 < share < 1 and 0.2 * (1 + w) < 2 / 6

    def read(x, at):  # a sentence's vector at fractional index `at`
        lo = int(at)
        frac = at - lo
        return x.mu[0, lo] if frac == 0 else (1 - frac) * x.mu[0, lo] + frac * x.mu[0, lo + 1]

    mid = mix.mu[1]
    torch.testing.assert_close(mid[0], b.mu[0, 0])
    blend = (1 - share) * read(a, 7 / 6) + share * read(b, 3 / 6)
    torch.testing.assert_close(mid[1], blend, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mid[2], read(a, 14 / 6), atol=1e-5, rtol=1e-5)
    assert torch.equal(mix.mu[0], a.mu[0]) and torch.equal(mix.mu[2, :4], b.mu[0])


def test_unknown_mixing_is_refused():
    model = tiny_nvae("nvae").eval()
    with torch.no_grad():
        pair = collate(SENTS[:2], model.cfg.max_len)
        latent = model.encode(pair.src, pair.pad_mask).latent
    with pytest.raises(ValueError, match="unknown mixing 'linear'"):
        latent.select(0).trim().mix(latent.select(1).trim(), 0.5, "linear")


@pytest.mark.parametrize("model_type", ["nvae", "vtp"])
def test_cached_generation_equals_full_redecoding(model_type):
    model = tiny_nvae(model_type).eval()
    batch = collate(SENTS, model.cfg.max_len)
    latent = model.encode(batch.src, batch.pad_mask).latent
    assert model.generate(latent, max_len=20) == model.generate(latent, max_len=20, use_cache=False)
    prior = model.sample_prior(4, batch_size=2, seed=1) if model_type == "nvae" else latent
    assert model.generate(prior, max_len=12) == model.generate(prior, max_len=12, use_cache=False)
    sampled = model.generate(latent, max_len=12, temperature=1.0, seed=3)
    assert sampled == model.generate(latent, max_len=12, temperature=1.0, seed=3, use_cache=False)


@pytest.mark.parametrize("gaussian_train_prob", [0.0, 1.0])
def test_gradients_reach_every_parameter(gaussian_train_prob):
    model = tiny_nvae("nvae", gaussian_train_prob=gaussian_train_prob).train()
    batch = collate(SENTS, model.cfg.max_len)
    loss, _ = model(batch.src, batch.pad_mask, lambda_g=1.0, lambda_d=1.0)
    loss.backward()  # CE + KL_G + KL_D
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []
    # the pseudo-count projection gets its gradient through the reparameterised Gamma draws too
    model.zero_grad()
    model(batch.src, batch.pad_mask)[1].ce.backward()
    assert model.latent.alpha_proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("model_type", ["nvae", "vts", "t"])
def test_forward_returns_the_training_loss_and_its_parts(model_type):
    model = tiny_nvae(model_type).train()
    batch = collate(SENTS, model.cfg.max_len)
    loss, parts = model(batch.src, batch.pad_mask, kl_weight=0.5, lambda_g=0.01, lambda_d=2.0)
    assert loss.dim() == 0 and loss.requires_grad
    torch.testing.assert_close(loss, parts.ce + 0.5 * (0.01 * parts.kl_g + 2.0 * parts.kl_d))
    assert all(getattr(parts, k).dim() == 0 for k in ("ce", "kl_g", "kl_d", "retained"))
    assert not parts.retained.requires_grad and 0 <= float(parts.retained) <= 1
    assert parts.latent.batch_size == len(SENTS)
    model.eval()
    with torch.no_grad():
        loss, parts = model(batch.src, batch.pad_mask)  # defaults: kl_weight 1, TrainConfig's lambdas
    torch.testing.assert_close(loss, parts.ce + 0.001 * parts.kl_g + 1.0 * parts.kl_d)


@pytest.mark.parametrize("model_type", ["vt", "vtp", "vts", "t"])
def test_baseline_gradients(model_type):
    model = tiny_nvae(model_type).train()
    batch = collate(SENTS, model.cfg.max_len)
    _, out = model(batch.src, batch.pad_mask)
    (out.ce + out.kl_g).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_bf16_autocast_is_finite():
    model = tiny_nvae("nvae")
    batch = collate(SENTS, model.cfg.max_len)
    for training in (True, False):
        model.train(training)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _, out = model(batch.src, batch.pad_mask)
        assert all(torch.isfinite(getattr(out, k)) for k in ("ce", "kl_g", "kl_d"))


def test_retained_counts_and_prior_component():
    model = tiny_nvae("nvae").eval()
    batch = collate(SENTS, model.cfg.max_len)
    latent = model.encode(batch.src, batch.pad_mask).latent
    assert bool((latent.source[:, 0] == PRIOR).all())
    assert latent.n_inputs.tolist() == [8, 4, 6]
    assert bool((latent.retained_proportion <= 1).all())
    rows = latent.records(1)
    assert all(isinstance(r, ComponentRow) for r in rows)
    assert len(rows) == 5 and rows[0].token == "⟨prior⟩"
    assert [r.component for r in rows] == list(range(5))  # padding left out, component order kept
    assert abs(sum(r.pi for r in rows) - 1) < 1e-5


def test_component_rows_are_typed_plain_values_in_the_printed_order():
    """`records` on a latent written by hand: one frozen ComponentRow per real component, its values
    plain Python, its fields in the order the CLI prints them (`dataclasses.asdict`)."""
    latent = LatentMixture(
        mu=torch.zeros(1, 4, 2),
        logvar=torch.log(torch.tensor([[[1.0, 1.0], [0.5, 1.5], [0.25, 0.25], [9.0, 9.0]]])),
        alpha=torch.tensor([[2.0, 5.0, 0.05, 0.0]]),
        pi=torch.tensor([[0.25, 0.75, 0.0, 0.0]]),
        mask=torch.tensor([[False, False, True, True]]),
        pad=torch.tensor([[False, False, False, True]]),
        source=torch.tensor([[PRIOR, 0, 1, 0]]),
        n_inputs=torch.tensor([2]),
    )
    rows = latent.records(0, ["cat", "[EOS]"])
    assert [dataclasses.asdict(r) for r in rows] == [
        {"component": 0, "source": PRIOR, "token": "⟨prior⟩", "alpha": 2.0, "pi": 0.25, "retained": True,
         "mean_variance": 1.0},
        {"component": 1, "source": 0, "token": "cat", "alpha": 5.0, "pi": 0.75, "retained": True,
         "mean_variance": 1.0},
        {"component": 2, "source": 1, "token": "[EOS]", "alpha": pytest.approx(0.05), "pi": 0.0, "retained": False,
         "mean_variance": pytest.approx(0.25)},
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(ComponentRow)] == list(dataclasses.asdict(rows[0]))
    printed = ["component", "source", "token", "alpha", "pi", "retained", "mean_variance"]
    assert list(dataclasses.asdict(rows[0])) == printed
    assert all(type(v) in (int, str, float, bool) for r in rows for v in dataclasses.asdict(r).values())
    assert json.dumps(dataclasses.asdict(rows[1])) == (
        '{"component": 1, "source": 0, "token": "cat", "alpha": 5.0, "pi": 0.75, "retained": true, '
        '"mean_variance": 1.0}'
    )
    assert latent.records(0)[1].token == "0"  # without tokens: the source index
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[0].pi = 1.0


def test_loss_conditional_alpha_delta_is_an_input():
    model = tiny_nvae("nvae", alpha_delta_conditional=True)  # alpha^Delta reaches the pseudo-counts (quantile)
    model.eval()
    batch = collate(SENTS, model.cfg.max_len)
    a = model.encode(batch.src, batch.pad_mask, alpha_delta=0.05).latent.alpha
    b = model.encode(batch.src, batch.pad_mask, alpha_delta=0.8).latent.alpha
    assert (a - b).abs().max() > 1e-4


def _learn(model_type: str, steps: int, **kw) -> tuple[float, float]:
    """Overfit 32 sentences of a 40-word language; return (BLEU, retained proportion)."""
    torch.manual_seed(0)
    cfg = latent_config(
        model_type=model_type,
        vocab_size=48,
        d_model=64,
        n_heads=4,
        d_ff=128,
        n_enc_layers=2,
        n_dec_layers=2,
        max_len=24,
        dropout=0.0,
        **kw,
    )
    model = NVAE(cfg)
    g = torch.Generator().manual_seed(1)
    data = [
        torch.randint(8, 48, (int(torch.randint(6, 16, (1,), generator=g)),), generator=g).tolist() for _ in range(32)
    ]
    batch = collate(data, model.cfg.max_len)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(steps):
        model.train()
        w = min(1.0, step / (steps / 2))
        loss, _ = model(batch.src, batch.pad_mask, kl_weight=w, lambda_g=0.001, lambda_d=1.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    latent = model.encode(batch.src, batch.pad_mask).latent
    hyp = [" ".join(f"w{t}" for t in ids) for ids in model.generate(latent)]
    ref = [" ".join(f"w{t}" for t in ids) for ids in data]
    return sacrebleu.corpus_bleu(hyp, [ref]).score, float(latent.retained_proportion.mean())


def test_tiny_nvae_learns_to_reconstruct():
    bleu, retained = _learn("nvae", 400)
    assert bleu >= 95, bleu
    assert retained < 1.0  # the evaluation threshold prunes something


# honest per-baseline thresholds: VTP squeezes a sentence into one vector, VTS into half of them
@pytest.mark.parametrize("model_type,threshold", [("t", 95), ("vt", 95), ("vts", 60), ("vtp", 20)])
def test_tiny_baselines_learn(model_type, threshold):
    bleu, _ = _learn(model_type, 400)
    assert bleu >= threshold, bleu


@pytest.mark.parametrize("model_type", ALL_TYPES)
def test_half_precision_model_encodes_and_decodes(model_type):
    """model.half() keeps working: the latent layers compute in float32 from float16 weights."""
    model = tiny_nvae(model_type).eval()
    batch = collate(SENTS, model.cfg.max_len)
    full = model.generate(model.encode(batch.src, batch.pad_mask).latent)
    model.half()
    latent = model.encode(batch.src, batch.pad_mask).latent
    assert latent.mu.dtype == torch.float32 and torch.isfinite(latent.mu).all()
    half = model.generate(latent)
    assert len(half) == len(SENTS) and all(isinstance(t, int) for ids in half for t in ids)
    assert sum(a == b for a, b in zip(full, half)) >= len(SENTS) - 1  # float16 may flip a rare argmax


def test_seeded_prior_draws_are_the_same_when_threads_draw_at_once():
    """A seeded prior draw forks torch's global random state; threads drawing at once (app sessions,
    the Samples page's background worker) must each still get their own seed's draw."""
    from concurrent.futures import ThreadPoolExecutor

    model = NVAE(latent_config(vocab_size=40, d_model=16, n_heads=2, n_enc_layers=1, n_dec_layers=1, d_ff=32)).eval()
    serial = {seed: model.sample_prior(6, batch_size=3, seed=seed) for seed in range(8)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(pool.map(lambda s: (s % 8, model.sample_prior(6, batch_size=3, seed=s % 8)), range(64)))
    for seed, lat in drawn:
        torch.testing.assert_close(lat.z, serial[seed].z, rtol=0, atol=0)
        torch.testing.assert_close(lat.pi, serial[seed].pi, rtol=0, atol=0)
