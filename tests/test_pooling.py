"""Kept components that stand for their segments (`kept_pooling` "segment") and the floor of kept
components (`min_kept`): what a kept component's Gaussian is made of, where the pruned tokens' content
goes, and that short inputs keep something."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import make_tokenizer, tiny_model, variant_checkpoint

from nvae.config import ConfigError, model_config
from nvae.evaluation.measures import keep_components
from nvae.model.kept_set import pool_segments
from nvae.model.mixture import PRIOR
from nvae.store.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# A loss-conditional tiny model whose trained range reaches an alpha^Delta that prunes every component
# (1e-6): the model reads no value outside its range.
WIDE = {"alpha_delta_conditional": True, "alpha_delta_min": 1e-6}


def _one_sentence(n: int = 6, P: int = 3):
    """A prior component and n tokens with distinct means and variances."""
    torch.manual_seed(0)
    mu = torch.randn(1, n + 1, P)
    logvar = torch.randn(1, n + 1, P) * 0.3
    source = torch.tensor([[PRIOR, *range(n)]])
    pad = torch.zeros(1, n + 1, dtype=torch.bool)
    return mu, logvar, source, pad


def test_a_kept_component_averages_its_token_and_the_pruned_tokens_after_it():
    mu, logvar, source, pad = _one_sentence()
    #          prior  t0    t1     t2    t3     t4     t5
    kept = torch.tensor([[True, False, True, False, False, True, False]])
    out_mu, out_logvar = pool_segments(mu, logvar, kept, pad, source)
    var = logvar.exp()
    # t1 stands for t0 (before the first kept token), t1, t2, t3; t4 for t4, t5
    assert torch.allclose(out_mu[0, 2], mu[0, 1:5].mean(0), atol=1e-6)
    assert torch.allclose(out_mu[0, 5], mu[0, 5:7].mean(0), atol=1e-6)
    assert torch.allclose(out_logvar[0, 2].exp(), var[0, 1:5].sum(0) / 16, atol=1e-6)
    assert torch.allclose(out_logvar[0, 5].exp(), var[0, 5:7].sum(0) / 4, atol=1e-6)
    # the prior and the pruned components are untouched
    for i in (0, 1, 3, 4, 6):
        assert torch.equal(out_mu[0, i], mu[0, i]) and torch.equal(out_logvar[0, i], logvar[0, i])


def test_keeping_every_token_changes_nothing_and_keeping_none_too():
    mu, logvar, source, pad = _one_sentence()
    out_mu, out_logvar = pool_segments(mu, logvar, torch.ones_like(pad), pad, source)
    assert torch.allclose(out_mu, mu) and torch.allclose(out_logvar, logvar)
    only_prior = torch.zeros_like(pad)
    only_prior[:, 0] = True
    out_mu, out_logvar = pool_segments(mu, logvar, only_prior, pad, source)
    assert torch.equal(out_mu, mu) and torch.equal(out_logvar, logvar)


def test_padding_joins_no_segment():
    mu, logvar, source, pad = _one_sentence(n=4)
    mu = torch.cat([mu, torch.full((1, 2, 3), 100.0)], dim=1)
    logvar = torch.cat([logvar, torch.zeros(1, 2, 3)], dim=1)
    source = torch.cat([source, torch.tensor([[4, 5]])], dim=1)
    pad = torch.cat([pad, torch.tensor([[True, True]])], dim=1)
    kept = torch.tensor([[True, False, False, True, False, False, False]])
    out_mu, _ = pool_segments(mu, logvar, kept, pad, source)
    assert torch.allclose(out_mu[0, 3], mu[0, 1:5].mean(0), atol=1e-6)


def test_a_kept_component_depends_on_the_pruned_tokens_only_with_pooling():
    """The design says a pruned token's content moves into its kept left neighbour: the gradient of
    that neighbour's mean reaches the pruned token's state with pooling, and not without it."""
    tok = make_tokenizer()
    ids = torch.tensor([tok.encode("the cat sat on the mat").ids + [3]])
    pad_mask = torch.zeros_like(ids, dtype=torch.bool)
    for pooling, expected in (("segment", True), ("none", False)):
        model = tiny_model(tok, kept_pooling=pooling, **WIDE).eval()
        h = model.encode_states(ids, pad_mask).detach().requires_grad_(True)
        # the quantile conditioning's level at the threshold: about half the tokens kept
        ad = model.cfg.threshold * float(torch.exp(-model.latent.log_alphas(h, pad_mask, 1.0).detach().mean()))
        latent, _, _ = model.latent(h, pad_mask, alpha_delta=ad)
        kept = latent.retained[0].nonzero().flatten().tolist()
        pruned_after = [i for i in range(kept[0] + 1, latent.n_components) if i not in kept]
        assert pruned_after, "the test needs a pruned token after a kept one"
        head = max(i for i in kept if i < pruned_after[0])
        latent.mu[0, head].sum().backward()
        reached = bool(h.grad[0, pruned_after[0] - 1].abs().sum() > 0)  # component i is token i - 1
        assert reached is expected, pooling


def test_fixed_choices_pool_their_own_segments():
    """measures.keep_components (the rate-distortion curve's fixed choices) pools the segments of the
    set it keeps, so a stride rule on a pooling model is measured as that model would run it."""
    tok = make_tokenizer()
    model = tiny_model(tok, kept_pooling="segment").eval()
    ids = torch.tensor([tok.encode("the cat sat on the mat").ids + [3]])
    pad_mask = torch.zeros_like(ids, dtype=torch.bool)
    latent, _, _ = model.latent(model.encode_states(ids, pad_mask), pad_mask)
    assert int(latent.n_retained[0]) == latent.n_components - 1  # everything kept: no pooling
    keep = (latent.source >= 0) & (latent.source % 2 == 0)
    chosen = keep_components(latent, keep)
    expected, _ = pool_segments(
        latent.token_mu, latent.token_logvar, keep | (latent.source == PRIOR), latent.pad, latent.source
    )
    assert torch.allclose(chosen.mu, expected)
    assert torch.allclose(chosen.mu[0, 1], latent.token_mu[0, 1:3].mean(0), atol=1e-6)  # positions 0 and 1


def test_min_kept_keeps_the_largest_pseudo_counts_in_evaluation_and_training():
    tok = make_tokenizer()
    ids = torch.tensor([tok.encode("the cat sat").ids + [3]])
    pad_mask = torch.zeros_like(ids, dtype=torch.bool)
    model = tiny_model(tok, **WIDE, min_kept=1).eval()
    h = model.encode_states(ids, pad_mask)
    latent, _, _ = model.latent(h, pad_mask, alpha_delta=1e-6)
    log_alpha = model.latent.log_alphas(h, pad_mask, alpha_delta=1e-6)
    assert int(latent.n_retained[0]) == 1
    assert bool((latent.alpha[0, 1:] <= latent.threshold).all()), "kept by the floor, not by alpha"
    assert int(latent.retained[0, 1:].nonzero()) == int(log_alpha[0].argmax())
    without = tiny_model(tok, **WIDE).eval()
    assert int(without.latent(h, pad_mask, alpha_delta=1e-6)[0].n_retained[0]) == 0
    gated = tiny_model(tok, **WIDE, min_kept=1, prune_gate="st", gaussian_train_prob=0.0).train()
    latent, _, _ = gated.latent(h, pad_mask, alpha_delta=1e-6)
    assert float(latent.gate[0, 1:].detach().sum()) == 1.0


def test_the_new_settings_are_validated():
    for bad in ({"kept_pooling": "mean"}, {"min_kept": -1}):
        try:
            model_config(**bad).validate()
        except ConfigError:
            continue
        raise AssertionError(f"{bad} was accepted")


def test_the_kept_set_rule_says_what_a_kept_component_stands_for():
    from nvae.readout.sentence import kept_set_rule

    plain = kept_set_rule(model_config(spread_bias=0.0))
    pooled = kept_set_rule(model_config(spread_bias=0.0, kept_pooling="segment", min_kept=1))
    assert "content score" in pooled and "pruned tokens after it" in pooled
    assert "at least the token with the largest α" in pooled
    assert "pruned tokens after it" not in plain and "at least" not in plain


# -- what the pages say about a pooling checkpoint ---------------------------------------------------


def test_segments_name_the_tokens_each_kept_component_stands_for():
    from nvae.readout.sentence import segments

    rows = [{"component": 0, "source": PRIOR, "token": "⟨prior⟩", "retained": True}] + [
        {"component": i + 1, "source": i, "token": t, "retained": k}
        for i, (t, k) in enumerate(zip(["the", "cat", "sat", "on", "the", "mat", "[EOS]"], [0, 1, 0, 0, 1, 0, 1]))
    ]
    assert segments(rows) == {2: ["the", "cat", "sat", "on"], 5: ["the", "mat"], 7: ["[EOS]"]}
    assert segments([r | {"retained": r["source"] < 0} for r in rows]) == {}


@pytest.fixture
def pooled_checkpoint(app_checkpoints, tmp_path, monkeypatch):
    """The app's tiny NVAE with kept components standing for their segments, opened by the app."""
    folder = variant_checkpoint(app_checkpoints["nvae"], tmp_path / "tiny-pooled", kept_pooling="segment")
    monkeypatch.setenv("NVAE_CHECKPOINT", str(folder))
    return folder


@pytest.mark.usefixtures("app_env")
def test_inspect_and_the_walkthrough_say_what_a_kept_component_stands_for(pooled_checkpoint):
    from helpers import no_exception, open_page

    sentence = "The river flows north through the valley to the sea."
    at = open_page("inspect", {"s": sentence, "ad": "0.1"}, fresh=True)
    no_exception(at)
    table = next(df.value for df in at.dataframe if "stands for" in df.value.columns)
    tokens = table[table["source"] != "prior"]
    kept = tokens[tokens["status"] == "retained"]
    assert 0 < len(kept) < len(tokens), "the test needs kept and pruned tokens"
    assert (kept["stands for"].str.len() > 0).all() and (tokens[tokens["status"] == "pruned"]["stands for"] == "").all()
    assert sum(len(s.split()) for s in kept["stands for"]) == len(tokens), "every token in one kept component"
    walk = open_page("walkthrough", {"s": sentence, "ad": "0.1", "step": "5"}, fresh=True)  # pruning
    no_exception(walk)
    assert any("each kept component stands for its own token" in m.value for m in walk.markdown)
    assert load_checkpoint(pooled_checkpoint).cfg.nvib.kept_pooling == "segment"


def test_the_new_settings_at_their_neutral_values_leave_stored_fingerprints_valid():
    """Latent maps and rate-distortion files store the weights' fingerprint; a field added later, at
    the value that changes nothing, must not change it (config.NEUTRAL_ADDITIONS), while using it must."""
    from nvae.config import NEUTRAL_ADDITIONS
    from nvae.store.checkpoint import fingerprint

    model = tiny_model(make_tokenizer())
    plain = fingerprint(model)
    assert set(NEUTRAL_ADDITIONS) == {"kept_pooling", "min_kept", "decode_form", "kept_chooser", "segments_train_share"}
    model.cfg.nvib.kept_pooling = "segment"
    assert fingerprint(model) != plain
    pooled = fingerprint(model)
    model.cfg.nvib.kept_chooser = "segments"
    assert fingerprint(model) != pooled
    model.cfg.nvib.kept_chooser = "score"
    model.cfg.nvib.kept_pooling, model.cfg.nvib.min_kept = "none", 1
    assert fingerprint(model) != plain
    model.cfg.nvib.min_kept = 0
    assert fingerprint(model) == plain


def test_very_short_inputs_keep_a_component_with_the_floor_and_none_without():
    """Target 7's measure: at an alpha^Delta that prunes everything, a model with `min_kept` 1 keeps one
    component of every very short input; without the floor, none."""
    from nvae.evaluation.measures import VERY_SHORT_INPUTS, short_inputs

    tok = make_tokenizer()
    floor = short_inputs(tiny_model(tok, **WIDE, min_kept=1).eval(), alpha_delta=1e-6)
    none = short_inputs(tiny_model(tok, **WIDE).eval(), alpha_delta=1e-6)
    assert floor["n"] == none["n"] > 0
    assert floor["kept_none"] == 0 and all(r["retained"] == 1 for r in floor["inputs"])
    assert none["kept_none"] == none["n"]
    assert all(1 <= r["pieces"] <= 5 for r in floor["inputs"])
    # under the shipped tokenizer every one of them is 1 to 5 word pieces, so none is left out
    from nvae.data.text import encode_texts

    shipped = load_checkpoint(ROOT / "checkpoints" / "nvae-default").tokenizer
    ids, _ = encode_texts(shipped, VERY_SHORT_INPUTS, 63)
    assert all(1 <= len(i) <= 5 for i in ids)


def test_the_report_rows_of_who_chooses_and_of_very_short_inputs():
    from nvae.evaluation.targets import GOALS, _kept_set_rows

    def rows(layout, very_short):
        out = []
        res = {"goals": GOALS, "layout": layout, "very_short": very_short}
        _kept_set_rows(res, lambda *r: out.append(r))
        return {r[0][:2]: r[3] for r in out}

    prior = {"alpha_delta": 0.09, "spread_bias": 5.0, "even_share": 0.94, "regular_gap_share": 0.84}
    content = {"alpha_delta": 0.12, "spread_bias": 0.0, "even_share": 0.52, "regular_gap_share": 0.62}
    strided_by_content = {**content, "even_share": 0.9}
    nothing = {"n": 4, "kept_none": 4, "exact": 0}
    everything = {"n": 4, "kept_none": 0, "exact": 4}
    assert rows(prior, nothing) == {"6.": False, "7.": False}
    assert rows(content, everything) == {"6.": True, "7.": True}
    assert rows(strided_by_content, {**everything, "exact": 3})["6."] is False
    assert rows(content, {**everything, "exact": 3})["7."] is False
