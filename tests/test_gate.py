"""The latent mechanisms added beyond the paper: the straight-through pruning gate, the quantile
conditioning of the pseudo-counts on alpha^Delta, the positional prior and its tournament order, and
the Dirichlet concentration of training weights (docs/model.md). Each recipe still trains."""

import math
import random

import pytest
import torch
from helpers import latent_config

from nvae.config import RECIPES, alpha_delta_is_input, apply_settings, model_config, recipe_configs
from nvae.data.text import collate
from nvae.model.attention import gated_softmax
from nvae.model.autoencoder import NVAE
from nvae.model.mixture import PRIOR
from nvae.training.schedules import alpha_delta_floor, kl_weight

SENTS = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15, 16, 17, 18, 19]]


def tiny(**kw) -> NVAE:
    torch.manual_seed(0)
    cfg = latent_config(
        vocab_size=50, d_model=32, n_heads=4, d_ff=64, n_enc_layers=1, n_dec_layers=2, max_len=24, dropout=0.0, **kw
    )
    return NVAE(cfg)


def test_gated_softmax_is_the_softmax_over_live_components_with_gradients_at_zero():
    torch.manual_seed(0)
    scores = torch.randn(2, 3, 6)
    weights = torch.tensor([0.3, 0.0, 0.2, 0.5, 0.0, 1e-3]).expand(2, 3, 6).clone().requires_grad_(True)
    out = gated_softmax(scores, weights)
    live = weights.detach() > 0
    ref = torch.softmax(scores + weights.detach().clamp_min(1e-30).log().masked_fill(~live, float("-inf")), -1)
    torch.testing.assert_close(out, ref)
    (out * torch.randn_like(out)).sum().backward()
    assert (weights.grad[..., 1].abs() > 0).all() and (weights.grad[..., 4].abs() > 0).all()


def test_gate_forward_drops_exactly_what_evaluation_prunes():
    model = tiny(prune_gate="st", alpha_delta=0.1, gaussian_train_prob=0.0)
    batch = collate(SENTS, model.cfg.max_len)
    with torch.no_grad():  # make the pseudo-counts straddle the threshold
        model.latent.alpha_proj.weight.normal_(0, 0.5)
        model.latent.alpha_proj.bias.fill_(math.log(0.1))
    model.train()
    torch.manual_seed(0)
    train_latent = model.encode(batch.src, batch.pad_mask).latent
    model.eval()
    eval_latent = model.encode(batch.src, batch.pad_mask).latent
    kept_in_training = (train_latent.gate > 0) & ~train_latent.pad
    kept_in_eval = ~eval_latent.mask
    assert torch.equal(kept_in_training, kept_in_eval)
    assert 0 < int(eval_latent.n_retained.sum()) < int(eval_latent.n_inputs.sum())  # the test straddles
    assert bool((train_latent.gate[:, 0] == 1).all())  # the prior is always kept


@pytest.mark.parametrize("gaussian_train_prob", [0.0, 1.0])
def test_gradients_reach_the_pseudo_counts_of_pruned_components_through_the_gate(gaussian_train_prob):
    model = tiny(prune_gate="st", alpha_delta=0.1, gaussian_train_prob=gaussian_train_prob).train()
    batch = collate(SENTS, model.cfg.max_len)
    with torch.no_grad():
        model.latent.alpha_proj.weight.normal_(0, 0.5)
        model.latent.alpha_proj.bias.fill_(math.log(0.1))
    grads = {}

    def keep_grad(latent):
        latent.alpha.retain_grad()
        grads["latent"] = latent
        return latent

    layer_forward = model.latent.forward
    model.latent.forward = lambda *a, **k: (lambda r: (keep_grad(r[0]), r[1], r[2]))(layer_forward(*a, **k))
    _, out = model(batch.src, batch.pad_mask)
    out.ce.backward()  # the reconstruction loss alone, no KL
    latent = grads["latent"]
    pruned = (latent.alpha <= latent.threshold) & ~latent.pad & (latent.source != PRIOR)
    assert bool(pruned.any())
    # a pruned component contributes nothing to the forward pass, yet the loss says whether it
    # should have been kept
    assert bool((latent.alpha.grad[pruned].abs() > 0).all())
    assert model.latent.alpha_proj.weight.grad.abs().sum() > 0


def test_without_the_gate_pruned_components_get_no_reconstruction_gradient():
    """The paper's training: a hard-masked component has no gradient (why the gate exists)."""
    model = tiny(alpha_delta=0.1, gaussian_train_prob=1.0).train()
    batch = collate(SENTS, model.cfg.max_len)
    with torch.no_grad():
        model.latent.alpha_proj.weight.normal_(0, 0.5)
    torch.manual_seed(0)
    latent = model.encode(batch.src, batch.pad_mask).latent
    latent.alpha.retain_grad()
    logits = model.decode(latent, model.decoder_input(batch.src))
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.src.flatten(), ignore_index=0).backward()
    assert bool(latent.mask[:, 1:].any())
    # pi = alpha / sum(retained alpha) carries a gradient to the kept ones only
    pruned = latent.mask & ~latent.pad
    assert bool((latent.alpha.grad[pruned] == 0).all())


def test_pi_concentration_zero_uses_the_mean_weights():
    model = tiny(pi_concentration=0.0, gaussian_train_prob=0.0).train()
    batch = collate(SENTS, model.cfg.max_len)
    latent = model.encode(batch.src, batch.pad_mask).latent
    expected = latent.alpha.masked_fill(latent.pad, 0) / latent.alpha.masked_fill(latent.pad, 0).sum(-1, keepdim=True)
    torch.testing.assert_close(latent.pi, expected)


def test_larger_concentration_gives_less_noisy_weights():
    spreads = []
    for c in (1.0, 20.0):
        model = tiny(pi_concentration=c, gaussian_train_prob=0.0, alpha_delta=0.1).train()
        batch = collate(SENTS, model.cfg.max_len)
        torch.manual_seed(0)
        logs = torch.stack(
            [model.encode(batch.src, batch.pad_mask).latent.pi[0, 1:8].clamp_min(1e-30).log() for _ in range(50)]
        )
        spreads.append(float(logs.detach().std(0).mean()))
    assert spreads[1] < spreads[0] / 2


# A recipe's own settings on a tiny architecture: every latent setting stays the recipe's.
TINY_ARCHITECTURE = {
    "vocab_size": 48,
    "d_model": 32,
    "n_heads": 2,
    "d_ff": 64,
    "n_enc_layers": 1,
    "n_dec_layers": 1,
    "max_len": 24,
    "dropout": 0.0,
}
TINY_STEPS = 120


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_recipe_trains(recipe):
    """Each recipe from its own configs (`recipe_configs`: the gate, the quantile conditioning, the
    loss-conditional alpha^Delta draws, the positional prior, pooling and floor as it ships), shrunk
    to a tiny architecture and a 120-step schedule: the reconstruction loss halves."""
    model_cfg, train_cfg = recipe_configs(recipe)
    shipped = model_cfg.to_dict()
    apply_settings(model_cfg, train_cfg, TINY_ARCHITECTURE)
    assert {k for k, v in model_cfg.to_dict().items() if v != shipped[k]} <= TINY_ARCHITECTURE.keys()  # size only
    # the recipe's schedule at the tiny budget: KL and alpha^Delta warmup at the same share of the run
    scale = TINY_STEPS / train_cfg.max_steps
    train_cfg.kl_start_step = round(train_cfg.kl_start_step * scale)
    train_cfg.kl_anneal_steps = round(train_cfg.kl_anneal_steps * scale)
    torch.manual_seed(0)
    model = NVAE(model_cfg)
    g = torch.Generator().manual_seed(1)
    data = [
        torch.randint(8, 48, (int(torch.randint(6, 16, (1,), generator=g)),), generator=g).tolist() for _ in range(32)
    ]
    batch = collate(data, model.cfg.max_len)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    draws = random.Random(0)
    losses = []
    for step in range(TINY_STEPS):
        model.train()
        alpha_delta = None  # as the training loop draws it
        if alpha_delta_is_input(model_cfg):
            low = alpha_delta_floor(train_cfg, model_cfg, step)
            alpha_delta = math.exp(draws.uniform(low, math.log(model_cfg.nvib.alpha_delta_max)))
        loss, out = model(
            batch.src,
            batch.pad_mask,
            alpha_delta,
            kl_weight=kl_weight(train_cfg, step),
            lambda_g=train_cfg.lambda_g,
            lambda_d=train_cfg.lambda_d,
        )
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
        opt.step()
        losses.append(float(out.ce.detach()))
    assert all(math.isfinite(x) for x in losses)
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


def test_choose_default_alpha_delta_bisects_to_the_sparsest_qualifying_value(tiny_checkpoint):
    from nvae.cli.choose import choose_default_alpha_delta
    from nvae.model.grids import alpha_delta_values
    from nvae.store.checkpoint import load_checkpoint

    model = load_checkpoint(tiny_checkpoint)
    ids = [[5, 6, 7, 8, 9], [10, 11, 12, 13]]
    values = alpha_delta_values(model.cfg)
    every = choose_default_alpha_delta(model, ids, reference_bleu=0.0)
    assert every["alpha_delta"] == min(values)  # every value qualifies: the sparsest
    assert len(every["evaluated"]) <= 6  # bisection, not all 26
    none = choose_default_alpha_delta(model, ids, reference_bleu=1e9)
    assert none["alpha_delta"] is None and len(none["evaluated"]) == 1


def test_a_dead_component_far_above_the_live_ones_gets_a_bounded_gradient():
    scores = torch.tensor([[0.0, 1.0, 60.0]])  # the dead component scores 59 nats above the best live one
    weights = torch.tensor([[0.5, 0.5, 0.0]], requires_grad=True)
    out = gated_softmax(scores, weights)
    assert out[0, 2] == 0 and torch.isclose(out.sum(), torch.tensor(1.0))
    out[0, 0].backward()
    assert weights.grad.abs().max() < 10


def test_aggregate_sampler_is_fitted_stored_and_named(tiny_checkpoint, tmp_path, capsys):
    import json
    import shutil

    from nvae.cli.main import main
    from nvae.evaluation.sampling import AGGREGATE_FILE, draw, fit_aggregate, save_aggregate
    from nvae.store.checkpoint import load_checkpoint

    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    model = load_checkpoint(folder)
    assert model.aggregate is None
    assert main(["sample", "--checkpoint", str(folder), "--n", "2"]) == 0
    assert all(json.loads(line)["source"] == "prior" for line in capsys.readouterr().out.splitlines())
    assert main(["sample", "--checkpoint", str(folder), "--source", "aggregate"]) == 2
    assert "fit-aggregate" in capsys.readouterr().err
    stats = fit_aggregate(model, [[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16, 17]], alpha_delta=1.0)
    save_aggregate(folder, stats)
    model = load_checkpoint(folder)
    latent = draw(model, "aggregate", 6, batch_size=3, seed=0)
    assert latent.z.shape == (3, 7, model.cfg.d_model)
    # the token components come from the fit, not from N(0, I): their mean is the fit's mean
    many = draw(model, "aggregate", 50, batch_size=40, seed=1)
    torch.testing.assert_close(many.z[:, 1:].reshape(-1, model.cfg.d_model).mean(0), stats["mean"], atol=0.3, rtol=0)
    assert main(["sample", "--checkpoint", str(folder), "--n", "2"]) == 0
    assert all(json.loads(line)["source"] == "aggregate" for line in capsys.readouterr().out.splitlines())
    assert (folder / AGGREGATE_FILE).is_file()

    # target 5 measures the default sampler (here the fit), with the prior measured beside it
    from helpers import TINY_SENTENCES

    from nvae.data.text import decode_batch
    from nvae.evaluation.measures import prior_sample_stats
    from nvae.evaluation.targets import measure_targets, render_targets

    stats = prior_sample_stats(model, n=3, components=6, seed=4, source="aggregate")
    with torch.no_grad():
        latents = [draw(model, "aggregate", 6, seed=k) for k in (4, 5, 6)]
        expected = [decode_batch(model.tokenizer, model.generate(lat))[0] for lat in latents]
    assert stats["samples"] == expected and stats["source"] == "aggregate"
    res = measure_targets(model, list(TINY_SENTENCES[:4]), pairs=2, samples=3, sample_components=6)
    assert res["prior"]["source"] == "aggregate" and res["prior_paper"]["source"] == "prior"
    assert res["prior"]["examples"] == prior_sample_stats(model, n=3, components=6, source="aggregate")["samples"]
    row = next(r for r in res["verdicts"] if r["target"].startswith("5."))
    assert row["measured"].startswith("from the aggregate-posterior fit (the default sampler): repeats ")
    assert "; from the prior N(0, I): repeats " in row["measured"]
    md = "\n".join(render_targets(res))
    assert "Samples from the aggregate-posterior fit (the default sampler of the app and `nvae sample`):" in md
    assert "Samples from the prior N(0, I):" in md


def test_quantile_conditioning_spreads_each_sentence_by_its_ranks_whatever_the_scores():
    model = tiny(
        alpha_conditioning="quantile",
        quantile_scale=1.5,
        alpha_delta_conditional=True,
        alpha_delta_min=0.01,
        alpha_delta_max=1.0,
    ).eval()
    with torch.no_grad():
        model.latent.alpha_proj.weight.normal_(0, 0.5)
    batch = collate(SENTS, model.cfg.max_len)
    a, b = model.encode(batch.src, batch.pad_mask, 0.02).latent, model.encode(batch.src, batch.pad_mask, 0.5).latent
    for row in range(len(SENTS)):
        real = ~a.pad[row] & (a.source[row] != PRIOR)
        la = a.alpha[row][real].log()
        n = int(real.sum())
        # the levels are the normal quantiles of (k + 1/2) / n, in the order of the scores
        ideal = 1.5 * torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(n) + 0.5) / n)
        torch.testing.assert_close((la - la.mean()).sort().values, ideal, atol=1e-4, rtol=0)
        shift = b.alpha[row][real].log() - la
        torch.testing.assert_close(shift, torch.full_like(shift, math.log(0.5 / 0.02)))
    # a gradient reaches the scores through the soft ranks
    model.train()
    latent, _, _ = model.latent(torch.randn(2, 5, model.cfg.d_model), torch.zeros(2, 5, dtype=torch.bool), 0.1)
    model.zero_grad()
    (latent.alpha[:, 1:] * torch.arange(5.0)).sum().backward()
    assert model.latent.alpha_proj.weight.grad is not None
    assert float(model.latent.alpha_proj.weight.grad.abs().sum()) > 0


def test_van_der_corput_ranks_positions_into_nested_evenly_spread_sets():
    """The positional prior's order: ranked by it, the first half of the positions is every second one,
    the first quarter every fourth."""
    from nvae.model.kept_set import van_der_corput

    assert van_der_corput(8).tolist() == [0.0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]
    ranked = van_der_corput(16).argsort().tolist()
    assert sorted(ranked[:8]) == list(range(0, 16, 2)) and sorted(ranked[:4]) == list(range(0, 16, 4))


def test_spread_bias_moves_the_ranks_towards_spread_positions_and_not_the_level():
    """`spread_bias`: a positional prior on the raw scores, centred on each sentence, so the number
    kept at an alpha^Delta stays the same while the kept set leans to the van der Corput order."""
    kw = dict(alpha_conditioning="quantile", quantile_scale=0.75, alpha_delta_conditional=True)
    kw.update(alpha_delta_min=1e-3)  # the range the search below reads
    plain, biased = tiny(**kw).eval(), tiny(spread_bias=50.0, **kw).eval()
    biased.load_state_dict(plain.state_dict())
    with torch.no_grad():
        plain.latent.alpha_proj.weight.normal_(0, 2.0)  # content scores with their own order
        biased.latent.alpha_proj.weight.copy_(plain.latent.alpha_proj.weight)
        plain.latent.alpha_proj.bias.fill_(-4.0)
        biased.latent.alpha_proj.bias.fill_(-4.0)
    batch = collate([list(range(5, 20))], plain.cfg.max_len)  # 16 positions with EOS
    with torch.no_grad():  # an alpha^Delta where about half the tokens are kept
        ad = next(
            v
            for v in (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
            if int(plain.encode(batch.src, batch.pad_mask, v).latent.n_retained[0]) >= 6
        )
        a, b = (m.encode(batch.src, batch.pad_mask, ad).latent for m in (plain, biased))
    assert int(a.n_retained[0]) == int(b.n_retained[0])  # the level is unchanged
    kept = sorted(int(b.source[0, i]) for i in range(b.n_components) if bool(b.retained[0, i]))
    k = len(kept)
    assert 0 < k < 16
    from nvae.model.kept_set import van_der_corput

    first = sorted(van_der_corput(16).argsort()[:k].tolist())  # the k positions the prior ranks first
    assert kept == first
    assert sorted(int(a.source[0, i]) for i in range(a.n_components) if bool(a.retained[0, i])) != kept  # content's own


def test_choose_spread_bias_takes_the_smallest_value_near_the_best(monkeypatch):
    from nvae.cli import choose

    bleu = {0.0: 60.0, 0.5: 90.0, 1.0: 93.8, 2.0: 94.2, 5.0: 94.0}
    seen = []

    def comparison(model, ids, target, curve=None):
        seen.append(model.cfg.nvib.spread_bias)
        row = {"bleu": bleu[model.cfg.nvib.spread_bias], "retained_proportion": 0.5}
        return {"alpha_delta": 0.1, "learned": row, "every_second": row, "random": row}

    monkeypatch.setattr(choose, "pruning_comparison", comparison)
    monkeypatch.setattr(choose, "retained_curve", lambda *a, **k: [])
    model = tiny(alpha_conditioning="quantile", alpha_delta_conditional=True)
    res = choose.choose_spread_bias(model, [[5, 6, 7]])
    assert seen == list(choose.SPREAD_BIAS_GRID) and res["spread_bias"] == 1.0  # within 0.5 of 94.2
    assert model.cfg.nvib.spread_bias == 0.0  # restored
    seen.clear()  # a tournament model's order is its prior: 0 is never tried (nor chosen)
    ranked = tiny(
        alpha_conditioning="quantile", alpha_delta_conditional=True, keep_positions="tournament", spread_bias=5.0
    )
    bleu[0.0] = 99.0
    res = choose.choose_spread_bias(ranked, [[5, 6, 7]])
    assert 0.0 not in seen and res["spread_bias"] == 1.0 and ranked.cfg.nvib.spread_bias == 5.0


def test_tournament_order_puts_the_better_token_of_every_block_first():
    """`kept_set.tournament_order`: ranked by it, the first half of the positions is the better of every
    pair, the first quarter the best of every four; padding and ties keep van der Corput's order."""
    from nvae.model.kept_set import tournament_order, van_der_corput

    scores = torch.tensor([[0.0, 1, 5, 2, 0, 0, 3, 9]])
    order = tournament_order(scores, torch.zeros(1, 8, dtype=torch.bool))
    ranked = order[0].argsort().tolist()
    assert ranked[:1] == [7] and set(ranked[:2]) == {2, 7} and set(ranked[:4]) == {1, 2, 4, 7}  # 4 vs 5: a tie
    assert sorted(order[0].tolist()) == sorted(van_der_corput(8).tolist())  # a permutation of its values
    flat = tournament_order(torch.zeros(1, 8), torch.zeros(1, 8, dtype=torch.bool))
    assert flat[0].tolist() == van_der_corput(8).tolist()
    pad = torch.tensor([[False] * 5 + [True] * 2])
    real = [p for p in tournament_order(scores[:, :7], pad)[0].argsort().tolist() if p < 5]
    assert set(real[:3]) == {1, 2, 4}  # pairs (0, 1), (2, 3) and (4, padding)


def test_tournament_positions_keep_the_model_s_choice_of_one_token_in_every_pair():
    """`keep_positions=tournament` with a strong prior: at half the tokens kept, one of every pair,
    the one with the larger raw score; the level is that of the plain model."""
    kw = dict(alpha_conditioning="quantile", quantile_scale=0.75, alpha_delta_conditional=True)
    kw.update(alpha_delta_min=1e-6, alpha_delta_max=100.0)  # the range the search below reads
    plain, ranked = tiny(**kw).eval(), tiny(keep_positions="tournament", spread_bias=50.0, **kw).eval()
    ranked.load_state_dict(plain.state_dict())
    with torch.no_grad():  # content scores with their own order, at a level where few are kept
        plain.latent.alpha_proj.weight.normal_(0, 2.0)
        ranked.latent.alpha_proj.weight.copy_(plain.latent.alpha_proj.weight)
        plain.latent.alpha_proj.bias.fill_(-8.0)
        ranked.latent.alpha_proj.bias.fill_(-8.0)
    batch = collate([list(range(5, 20))], plain.cfg.max_len)  # 16 positions with EOS
    with torch.no_grad():
        ad = next(
            v
            for v in torch.logspace(-6, 2, 200).tolist()
            if int(ranked.encode(batch.src, batch.pad_mask, v).latent.n_retained[0]) >= 8
        )
        latent = ranked.encode(batch.src, batch.pad_mask, ad).latent
        # the plain model's scores: a monotone function of the raw scores within the sentence
        raw = plain.latent.log_alphas(plain.encode_states(batch.src, batch.pad_mask), batch.pad_mask, ad)[0]
    kept = {int(latent.source[0, i]) for i in range(latent.n_components) if bool(latent.retained[0, i])}
    assert len(kept) == 8
    assert all(len(kept & {p, p + 1}) == 1 for p in range(0, 16, 2))
    assert all((p in kept) == bool(raw[p] >= raw[p + 1]) for p in range(0, 16, 2))
    with pytest.raises(Exception, match="spread_bias"):
        model_config(keep_positions="tournament", spread_bias=0.0).validate()
