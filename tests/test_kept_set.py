"""Who chooses the kept set is said on every page that shows kept and pruned components and in
`nvae encode`: the content score, a positional prior and its strength, or a baseline's fixed rule
(`readout.kept_set_rule`)."""

from __future__ import annotations

import json

import pytest
from helpers import latent_config, no_exception, open_page

from nvae.config import ModelConfig
from nvae.readout.sentence import kept_set_rule
from nvae.store.checkpoint import load_checkpoint


def test_the_rule_names_what_decides_for_each_kind_of_checkpoint():
    content = kept_set_rule(latent_config(spread_bias=0.0))
    assert content.startswith("Who chooses the kept set: the model's content score.") and "prior" not in content
    prior = kept_set_rule(ModelConfig(spread_bias=5.0))  # the shipped default's kind
    assert "position and content together" in prior and "positional prior of strength 5" in prior
    assert "evenly spaced positions" in prior and "α^Δ sets how many" in prior
    paired = kept_set_rule(ModelConfig(spread_bias=2.0, keep_positions="tournament"))
    assert "one token of every neighbouring pair" in paired and "strength 2" in paired
    vts = kept_set_rule(ModelConfig(model_type="vts", stride=2))
    assert "a fixed rule, every second position" in vts and "whatever the words" in vts
    assert "nobody" in kept_set_rule(ModelConfig(model_type="t"))
    assert "pooled" in kept_set_rule(ModelConfig(model_type="vtp"))
    paper = kept_set_rule(latent_config())  # one alpha^Delta: the number kept is the model's
    assert "one α^Δ" in paper


def test_the_shipped_checkpoints_say_who_chooses():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "checkpoints"
    assert "positional prior of strength 5" in kept_set_rule(load_checkpoint(root / "nvae-default").cfg)
    assert "fixed rule" in kept_set_rule(load_checkpoint(root / "baseline-vts").cfg)


def test_nvae_encode_says_who_chose(app_checkpoints, capsys):
    from nvae.cli.main import main

    for name in ("nvae", "baseline"):
        ckpt = app_checkpoints[name]
        assert main(["encode", "The cat sat on the mat.", "--checkpoint", str(ckpt)]) == 0
        row = json.loads(capsys.readouterr().out)
        assert row["kept_by"] == kept_set_rule(load_checkpoint(ckpt).cfg)


def infos(at) -> list[str]:
    return [i.value for i in at.info]


@pytest.mark.usefixtures("restore_torch_threads", "app_env")
@pytest.mark.parametrize("page", ["inspect", "sparsity", "walkthrough", "corpus_study", "side_by_side"])
def test_each_page_with_kept_components_says_who_chooses(page, app_checkpoints):
    at = open_page(page, fresh=page == "inspect")
    no_exception(at)
    rule = kept_set_rule(load_checkpoint(app_checkpoints["nvae"]).cfg)
    assert rule in infos(at)
    if page == "side_by_side":  # both models, each in its own terms
        assert kept_set_rule(load_checkpoint(app_checkpoints["baseline"]).cfg) in infos(at)
