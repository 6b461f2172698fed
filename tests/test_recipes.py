"""Recipes are the truth: each shipped checkpoint's config.json is its named recipe (plus the two
settings `nvae export` chose on validation, which its model card states), ModelConfig's defaults are
the shipped default's recipe, and a config naming a closed experiment loads only where the experiment
was off."""

import json
from pathlib import Path

import pytest

from nvae.config import (
    LAST_COMMIT_WITH_EXPERIMENTS,
    LAST_COMMIT_WITH_SETTINGS,
    NVIB_FIELDS,
    RECIPES,
    ConfigError,
    ModelConfig,
    NVIBConfig,
    TrainConfig,
    apply_settings,
    load_configs,
    model_config,
    recipe_configs,
)

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"

# checkpoint -> (its recipe, the settings its export chose on validation)
SHIPPED = {
    "nvae-default": ("default", {"alpha_delta": 0.09244, "spread_bias": 5.0}),
    "nvae-chooser": ("segments-chooser-ft", {"alpha_delta": 0.11577}),
    "nvae-paper": ("paper", {}),
    "nvae-segments": ("segments", {"alpha_delta": 0.20323}),
    "baseline-t": ("baseline-t", {}),
    "baseline-vt": ("baseline-vt", {}),
    "baseline-vtp": ("baseline-vtp", {}),
    "baseline-vts": ("baseline-vts", {}),
}


def test_the_defaults_are_the_shipped_default_recipe():
    model, train = recipe_configs("default")
    assert ModelConfig() == model  # the recipe's model part is the defaults themselves
    assert RECIPES["default"]["model"] == {}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_shipped_checkpoint_is_its_recipe(name):
    recipe, exported = SHIPPED[name]
    folder = CHECKPOINTS / name
    model, train = load_configs(folder / "config.json")
    want_model, want_train = recipe_configs(recipe)
    assert train == want_train
    if model.model_type == "nvae":
        for key, value in exported.items():
            assert getattr(model.nvib, key) == value
            setattr(want_model.nvib, key, value)
        assert model == want_model
        card = (folder / "MODEL_CARD.md").read_text()
        if exported:  # the export's choices, stated
            if "spread_bias" in exported:
                assert f"spread_bias {exported['spread_bias']:g} chosen on" in card
            assert f"Default alpha^Delta {exported['alpha_delta']:.4g}" in card
        else:  # one alpha^Delta, as trained
            assert f"fixed at {model.nvib.alpha_delta:g}" in card
    else:  # its config carries no NVIB settings: the whole of it is the recipe's
        assert model.nvib is None and model == want_model


def test_every_recipe_is_valid_and_names_only_known_settings():
    for name, recipe in RECIPES.items():
        assert set(recipe) == {"model", "train"}, name
        model, train = ModelConfig(), TrainConfig()
        apply_settings(model, train, recipe["model"])
        model.validate()
        assert set(recipe["model"]) <= set(flat(model) if model.is_nvae else model.to_dict()), name
        assert set(recipe["train"]) <= set(train.to_dict()), name
    paper, _ = recipe_configs("paper")
    assert (paper.nvib.alpha_conditioning, paper.nvib.prune_gate, paper.nvib.gaussian_train_prob) == (
        "none",
        "none",
        0.0,
    )
    assert not paper.nvib.alpha_delta_conditional and paper.nvib.spread_bias == 0.0 and paper.nvib.alpha_delta == 0.3


def flat(cfg: ModelConfig) -> dict:
    """`cfg` as the versions before the NVIB group wrote it: every field at the top level."""
    data = cfg.to_dict()
    nvib = data.pop("nvib") or {}
    return {**data, **nvib}


def _write(tmp_path: Path, model: dict, train: dict | None = None) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model": model, "train": train or {}}))
    return path


def test_a_removed_field_at_its_neutral_value_loads(tmp_path):
    old = {**flat(ModelConfig()), "alpha_layer": 0, "stride_bias": 0.0}
    old["alpha_spread"] = old.pop("quantile_scale")  # the former name of the quantile conditioning's scale
    model, train = load_configs(_write(tmp_path, old, {"extra": {}}))
    assert model == ModelConfig() and train == TrainConfig()
    # the first models' "input" conditioning did nothing without loss-conditional training
    fixed = {**flat(ModelConfig()), "alpha_conditioning": "input", "alpha_delta_conditional": False}
    assert load_configs(_write(tmp_path, fixed))[0].nvib.alpha_conditioning == "none"
    baseline = {**flat(ModelConfig()), "model_type": "vts", "alpha_conditioning": "input"}
    assert load_configs(_write(tmp_path, baseline))[0].nvib is None  # a baseline never read them


@pytest.mark.parametrize(
    "change",
    [
        {"alpha_layer": 1},
        {"stride_bias": 2.0},
        {"alpha_conditioning": "direct"},
        {"alpha_conditioning": "budget"},
        {"alpha_conditioning": "spread"},
        {"alpha_conditioning": "input", "alpha_delta_conditional": True},
        {"keep_positions": "stride"},
        {"keep_positions": "spread"},
    ],
)
def test_a_closed_experiment_fails_with_one_line_naming_the_commit(tmp_path, change):
    path = _write(tmp_path, {**flat(ModelConfig()), **change})
    with pytest.raises(ConfigError) as err:
        load_configs(path)
    message = str(err.value)
    assert "\n" not in message and LAST_COMMIT_WITH_EXPERIMENTS in message and "closed experiment" in message
    assert next(iter(change)) in message


def test_a_setting_made_constant_loads_at_its_one_value_and_fails_otherwise(tmp_path):
    """gate_temperature, log_alpha_min and log_alpha_max held one value in every recipe and shipped
    checkpoint; gaussian_train_pruned False did something only without the gate and with evaluation-form
    batches. Every shipped config.json names them and loads; another value fails in one line."""
    shipped = {
        **flat(ModelConfig()),
        "gate_temperature": 1.0,
        "log_alpha_min": -10.0,
        "log_alpha_max": 10.0,
        "gaussian_train_pruned": True,
    }
    assert load_configs(_write(tmp_path, shipped))[0] == ModelConfig()
    paper = {**shipped, "prune_gate": "none", "gaussian_train_prob": 0.0, "gaussian_train_pruned": False}
    assert load_configs(_write(tmp_path, paper))[0].nvib.gaussian_train_prob == 0.0  # the paper's: it did nothing
    baseline = {**shipped, "model_type": "vts", "prune_gate": "none", "gaussian_train_pruned": False}
    assert load_configs(_write(tmp_path, baseline))[0].model_type == "vts"
    for change in ({"gate_temperature": 0.5}, {"log_alpha_max": 12.0}):
        with pytest.raises(ConfigError) as err:
            load_configs(_write(tmp_path, {**shipped, **change}))
        message = str(err.value)
        assert "\n" not in message and LAST_COMMIT_WITH_SETTINGS in message and next(iter(change)) in message
    used = {**shipped, "prune_gate": "none", "gaussian_train_prob": 0.5, "gaussian_train_pruned": False}
    with pytest.raises(ConfigError, match="gaussian_train_pruned=False.*closed experiment"):
        load_configs(_write(tmp_path, used))
    with pytest.raises(ConfigError, match="constant"):
        apply_settings(ModelConfig(), TrainConfig(), {"gate_temperature": 2.0})
    with pytest.raises(ConfigError, match="closed experiment"):
        apply_settings(ModelConfig(), TrainConfig(), {"gaussian_train_pruned": False})


def test_a_renamed_field_is_read_under_its_new_name_and_not_twice(tmp_path):
    model, _ = load_configs(_write(tmp_path, {"model_type": "nvae", "alpha_spread": 1.25}))
    assert model.nvib.quantile_scale == 1.25
    with pytest.raises(ConfigError, match="both"):
        load_configs(_write(tmp_path, {"alpha_spread": 1.25, "quantile_scale": 1.0}))
    with pytest.raises(ConfigError, match="now called 'quantile_scale'"):
        apply_settings(ModelConfig(), TrainConfig(), {"alpha_spread": 1.0})


def test_a_removed_training_field_in_use_fails(tmp_path):
    with pytest.raises(ConfigError, match=LAST_COMMIT_WITH_EXPERIMENTS):
        load_configs(_write(tmp_path, flat(ModelConfig()), {"extra": {"note": 1}}))
    with pytest.raises(ConfigError, match="closed experiment"):
        apply_settings(ModelConfig(), TrainConfig(), {"alpha_layer": 1})


def test_the_cli_loads_an_old_checkpoint_and_refuses_a_closed_one(tiny_checkpoint, tmp_path, capsys):
    import shutil

    from nvae.cli.main import main

    old = tmp_path / "old"
    shutil.copytree(tiny_checkpoint, old)
    data = json.loads((old / "config.json").read_text())
    data["model"].update(alpha_layer=0, stride_bias=0.0)
    data["train"]["extra"] = {}
    (old / "config.json").write_text(json.dumps(data))
    assert main(["encode", "The cat sat.", "--checkpoint", str(old)]) == 0
    capsys.readouterr()
    data["model"]["alpha_layer"] = 1
    (old / "config.json").write_text(json.dumps(data))
    assert main(["encode", "The cat sat.", "--checkpoint", str(old)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "alpha_layer=1" in err and LAST_COMMIT_WITH_EXPERIMENTS in err


def test_a_field_missing_from_an_earlier_config_takes_that_version_s_default(tmp_path):
    """A config.json written before the defaults became the shipped recipe names fewer fields; what it
    leaves out meant the earlier default (one alpha^Delta of 0.3, no gate, no prior), not today's."""
    from nvae.config import EARLIER_DEFAULTS

    model, _ = load_configs(_write(tmp_path, {"model_type": "nvae", "d_model": 64, "n_heads": 4}))
    assert (model.nvib.alpha_delta, model.nvib.alpha_delta_conditional, model.nvib.prune_gate) == (0.3, False, "none")
    assert (model.nvib.alpha_conditioning, model.nvib.spread_bias, model.nvib.pi_concentration) == ("none", 0.0, 1.0)
    assert set(EARLIER_DEFAULTS) <= set(flat(ModelConfig()))
    # a config this version writes names every field: read back, it is the same config
    path = tmp_path / "now.json"
    from nvae.config import save_configs

    save_configs(path, ModelConfig(), TrainConfig())
    assert load_configs(path)[0] == ModelConfig()


def test_the_nvib_settings_are_grouped_and_a_baseline_has_none(tmp_path):
    """The NVIB layer's settings live in `ModelConfig.nvib` (None for a baseline). A config from before
    the grouping (every field at the top level) loads as the grouped one; a baseline's drops the NVIB
    fields it never read. Settings keep their flat names (recipes, --set), and an NVIB setting for a
    baseline, or an NVIB group in a baseline's config, fails in one line."""
    assert ModelConfig().nvib == NVIBConfig() and ModelConfig(model_type="t").nvib is None
    assert NVIB_FIELDS == tuple(ModelConfig().to_dict()["nvib"])
    assert not set(NVIB_FIELDS) & set(ModelConfig().to_dict())
    for cfg in (ModelConfig(), model_config(alpha_delta=0.2, kept_pooling="segment"), recipe_configs("paper")[0]):
        assert load_configs(_write(tmp_path, flat(cfg)))[0] == cfg
        assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg  # the grouped form round-trips
    vt = load_configs(_write(tmp_path, {**flat(ModelConfig()), "model_type": "vt"}))[0]
    assert vt == ModelConfig(model_type="vt") and vt.to_dict()["nvib"] is None
    with pytest.raises(ConfigError, match="a 'vt' model has no NVIB layer"):
        load_configs(_write(tmp_path, {**ModelConfig().to_dict(), "model_type": "vt"}))
    with pytest.raises(ConfigError, match="given both"):
        load_configs(_write(tmp_path, {**ModelConfig().to_dict(), "alpha_delta": 0.2}))
    with pytest.raises(ConfigError, match="setting of the NVIB layer, which a 'vts' model does not have"):
        model_config(model_type="vts", alpha_delta=0.2)
    with pytest.raises(ConfigError, match="no NVIB layer"):
        ModelConfig(model_type="t", nvib=NVIBConfig()).validate()
    model, train = recipe_configs("baseline-vt")
    assert model.nvib is None
    apply_settings(model, train, {"model_type": "nvae", "alpha_delta": 0.2})  # the type first, then its settings
    assert model.nvib == NVIBConfig(alpha_delta=0.2)
