"""How the decoder reads a latent outside training (`decode_form`): the integral over each kept
component's Gaussian, or each kept component's mean as its vector (z = mu), the fair reading of a
model trained only on sampled vectors (the paper's recipe)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import make_tokenizer, no_exception, open_page, tiny_model, variant_checkpoint

from nvae.config import ConfigError, ModelConfig, model_config, recipe_configs
from nvae.readout.sentence import reading_notice
from nvae.store.checkpoint import fingerprint, load_checkpoint


def _latent_and_target(model, tok):
    ids = torch.tensor([tok.encode("the cat sat on the mat").ids + [3]])
    pad_mask = torch.zeros_like(ids, dtype=torch.bool)
    with torch.no_grad():
        latent, _, _ = model.latent(model.encode_states(ids, pad_mask), pad_mask)
    tgt_in = torch.cat([torch.tensor([[2]]), ids[:, :-1]], dim=1)
    return latent, tgt_in


def test_reading_by_the_means_is_the_sample_form_with_z_equal_to_mu():
    tok = make_tokenizer()
    integral = tiny_model(tok).eval()
    means = tiny_model(tok, decode_form="means").eval()
    means.load_state_dict(integral.state_dict())
    latent, tgt_in = _latent_and_target(integral, tok)
    with torch.no_grad():
        read = means.decode(latent, tgt_in)
        sampled = integral.decode(dataclasses.replace(latent, z=latent.mu), tgt_in)
        by_integral = integral.decode(latent, tgt_in)
        # the integral with every variance 0 (log-variance -inf) is the same reading
        zero_var = integral.decode(dataclasses.replace(latent, logvar=torch.full_like(latent.logvar, -60.0)), tgt_in)
    assert torch.allclose(read, sampled, atol=1e-5)
    assert torch.allclose(read, zero_var, atol=1e-4)
    # the prior component's variance 1 makes the integral read something else: the setting matters
    assert not torch.allclose(read, by_integral, atol=1e-3)


def test_the_setting_is_validated_and_changes_the_fingerprint_only_when_used():
    with pytest.raises(ConfigError, match="decode_form"):
        model_config(decode_form="mode").validate()
    model = tiny_model(make_tokenizer())
    plain = fingerprint(model)
    model.cfg.nvib.decode_form = "means"
    assert fingerprint(model) != plain
    model.cfg.nvib.decode_form = "integral"
    assert fingerprint(model) == plain


def test_the_paper_recipe_is_read_by_its_means_and_the_pages_say_so():
    paper, _ = recipe_configs("paper")
    assert paper.nvib.decode_form == "means" and paper.nvib.gaussian_train_prob == 0.0
    assert "z = μ" in reading_notice(paper)
    # the same model read by the integral it never trained on is said to be understated
    assert "understate" in reading_notice(
        dataclasses.replace(paper, nvib=dataclasses.replace(paper.nvib, decode_form="integral"))
    )
    assert reading_notice(ModelConfig()) is None


def test_the_shipped_paper_checkpoint_is_read_by_its_means():
    from test_recipes import CHECKPOINTS

    cfg = load_checkpoint(CHECKPOINTS / "nvae-paper").cfg
    assert cfg.nvib.decode_form == "means"
    assert all(layer.cross_attn.read_means for layer in load_checkpoint(CHECKPOINTS / "nvae-paper").decoder)


@pytest.mark.usefixtures("app_env")
def test_inspect_says_a_checkpoint_is_read_by_its_means(app_checkpoints, tmp_path, monkeypatch):
    folder = variant_checkpoint(
        app_checkpoints["nvae"], tmp_path / "tiny-means", gaussian_train_prob=0.0, decode_form="means"
    )
    monkeypatch.setenv("NVAE_CHECKPOINT", str(folder))
    at = open_page("inspect", {"s": "The cat sat on the mat."}, fresh=True)
    no_exception(at)
    notice = reading_notice(load_checkpoint(folder).cfg)
    assert notice in [i.value for i in at.info]
    assert notice not in [w.value for w in at.warning]
