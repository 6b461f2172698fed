"""`nvae export`: the default alpha^Delta of a loss-conditional model, the model card, files
readable by everyone, and no silent overwrite."""

from __future__ import annotations

import json
import stat

import torch
from helpers import make_tiny_checkpoint, variant_checkpoint

from nvae.cli.main import main
from nvae.store.checkpoint import load_checkpoint


def test_export_sets_a_conditional_models_default_alpha_delta(tmp_path, capsys):
    """`export --alpha-delta` picks the operating point of a loss-conditional model; a fixed model
    or a value outside the training range is refused with exit status 2."""
    cond = make_tiny_checkpoint(tmp_path / "cond")
    assert main(["export", str(cond), str(tmp_path / "out"), "--half", "--alpha-delta", "0.1"]) == 0
    assert json.loads((tmp_path / "out" / "config.json").read_text())["model"]["nvib"]["alpha_delta"] == 0.1
    assert load_checkpoint(tmp_path / "out").cfg.nvib.alpha_delta == 0.1
    assert main(["export", str(cond), str(tmp_path / "out2"), "--alpha-delta", "5"]) == 2
    fixed = make_tiny_checkpoint(tmp_path / "fixed", conditional=False)
    assert main(["export", str(fixed), str(tmp_path / "out3"), "--alpha-delta", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "range this model was trained on" in err and "loss-conditional" in err
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()


def test_export_never_overwrites_silently_writes_a_card_and_shares_its_files(tmp_path, capsys):
    src = make_tiny_checkpoint(tmp_path / "src")
    dest = tmp_path / "shipped"
    assert main(["export", str(src), str(dest)]) == 0
    card = (dest / "MODEL_CARD.md").read_text()
    assert "# Model card: shipped" in card and "Not measured yet" in card
    for f in dest.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f.name
    before = (dest / "model.safetensors").read_bytes()
    assert main(["export", str(src), str(dest), "--half"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (dest / "model.safetensors").read_bytes() == before
    (dest / "latent_map.npz").write_bytes(b"a map of the old weights")
    capsys.readouterr()
    assert main(["export", str(src), str(dest), "--half", "--force"]) == 0
    assert (dest / "model.safetensors").read_bytes() != before
    # the old weights' Latent map does not survive the replacement, and the user is told how to rebuild it
    assert not (dest / "latent_map.npz").exists() and "nvae map" in capsys.readouterr().err


def test_a_baselines_card_and_export_speak_in_its_own_terms(tmp_path, capsys):
    """A VT baseline has no alpha^Delta and no Dirichlet KL: the export's output and the card say
    neither; a recorded command loses the project folder's absolute path."""
    from nvae.locations import PROJECT_ROOT
    from nvae.store.model_card import project_relative

    src = make_tiny_checkpoint(tmp_path / "vt", model_type="vt")
    capsys.readouterr()
    assert main(["export", str(src), str(tmp_path / "baseline-vt")]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "alpha_delta" not in out
    card = (tmp_path / "baseline-vt" / "MODEL_CARD.md").read_text()
    assert "Gaussian KL weight lambda_G" in card and "lambda_D" not in card and "alpha^Delta" not in card
    assert project_relative(f"python -m nvae train --out {PROJECT_ROOT}/runs/x") == "python -m nvae train --out runs/x"


def test_export_chooses_the_positional_prior_on_validation(tmp_path, monkeypatch, capsys):
    """`export --choose-spread-bias`: the value `choose_spread_bias` picks on validation sentences is
    stored in the shipped config and the model card says how it was chosen; a fixed model is refused."""
    from nvae.cli import choose

    calls = []

    def fake_choose(model, ids, **kw):
        calls.append(len(ids))
        rows = [{"spread_bias": b, "learned": 50.0 + b, "alpha_delta": 0.1} for b in (0.0, 2.0)]
        return {"spread_bias": 2.0, "target": 0.5, "evaluated": rows}

    monkeypatch.setattr(choose, "choose_spread_bias", fake_choose)
    cond = make_tiny_checkpoint(tmp_path / "cond")
    assert main(["export", str(cond), str(tmp_path / "out"), "--choose-spread-bias", "--choose-sentences", "20"]) == 0
    assert calls and 0 < calls[0] <= 20  # validation sentences
    assert load_checkpoint(tmp_path / "out").cfg.nvib.spread_bias == 2.0
    card = (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert "spread_bias 2 chosen on" in card and "validation" in card
    fixed = make_tiny_checkpoint(tmp_path / "fixed", conditional=False)
    assert main(["export", str(fixed), str(tmp_path / "out2"), "--choose-spread-bias"]) == 2
    assert "loss-conditional" in capsys.readouterr().err


def test_a_fine_tunes_card_names_its_starting_weights(tmp_path):
    """A run trained with `init_from` says so on its card, with the starting run's steps and minutes
    when that run is still here; a KL at full weight from step 0 is not described as a ramp."""
    from nvae.store.model_card import write_model_card

    base = make_tiny_checkpoint(tmp_path / "base")
    rows = [{"kind": "train", "step": 600, "elapsed_s": 60.0}, {"kind": "train", "step": 1200, "elapsed_s": 120.0}]
    (base / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tuned = make_tiny_checkpoint(tmp_path / "tuned")
    cfg_file = tuned / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["train"].update(init_from=str(base), kl_start_step=0, kl_anneal_steps=0)
    cfg_file.write_text(json.dumps(cfg))
    card = write_model_card(tuned, None, [], None).read_text()
    assert f"**Initialised from** the weights of `{base}` after its 1,200 steps and 2 minutes" in card
    assert "(at full weight from the first step)" in card and "then a ramp" not in card
    cfg["train"]["init_from"] = str(tmp_path / "gone")
    cfg_file.write_text(json.dumps(cfg))
    assert (
        "a fine-tune: the training line counts its own steps only"
        in write_model_card(tuned, None, [], None).read_text()
    )


def test_export_sets_the_kept_chooser_of_a_pooling_model_and_says_so(tmp_path, capsys):
    """`export --kept-chooser segments` ships a pooling NVAE read with the segmentation chooser (the
    same weights); its card says so. A model that does not pool segments is refused in one line."""
    plain = make_tiny_checkpoint(tmp_path / "plain")
    pooled = variant_checkpoint(plain, tmp_path / "pooled", kept_pooling="segment", min_kept=1)
    assert main(["export", str(pooled), str(tmp_path / "out"), "--kept-chooser", "segments"]) == 0
    shipped = load_checkpoint(tmp_path / "out")
    assert shipped.cfg.nvib.kept_chooser == "segments"
    card = (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert "placed by the segmentation of the model's own vectors (set at export" in card
    for name, tensor in load_checkpoint(pooled).state_dict().items():
        assert torch.equal(tensor, shipped.state_dict()[name]), name
    assert main(["export", str(plain), str(tmp_path / "out2"), "--kept-chooser", "segments"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kept_pooling" in err[0] and not (tmp_path / "out2").exists()
