"""alpha^Delta's trained range, one owner (`nvae.config.resolve_alpha_delta` and its helpers): its rules
for each caller's policy, the model's own check (`NVIB._alpha_delta`), that no caller of the model
passes a value outside a loss-conditional model's range, and that the app, the CLI and the readers
go through the owner with the notice and the error they always gave."""

from __future__ import annotations

import json
import math
import random
from types import SimpleNamespace

import pytest
import torch
from helpers import make_tokenizer, tiny_model

from nvae.config import (
    ALPHA_DELTA_ROUNDING,
    RECIPES,
    AlphaDeltaError,
    ModelConfig,
    TrainConfig,
    alpha_delta_in_range,
    alpha_delta_is_input,
    alpha_delta_range,
    check_trained_range,
    model_config,
    recipe_configs,
    resolve_alpha_delta,
)
from nvae.locations import CHECKPOINTS_DIR
from nvae.model.grids import alpha_delta_values, interior_alpha_deltas, rounded_alpha_deltas, slider_stops

CONDITIONAL = ModelConfig()  # the shipped default's recipe: loss-conditional over [0.03, 0.5]
ONE_ALPHA = model_config(alpha_delta=0.3, alpha_delta_conditional=False, alpha_conditioning="none")
BASELINE = model_config(model_type="vt")  # no NVIB settings: no alpha^Delta, no range
CLI_RANGE_ERROR = "--alpha-delta must lie in [0.03, 0.5], the range this model was trained on"
# the ranges the project trains over: the shipped default's, the first models' and the ablations',
# the narrow ones of docs/experiments.md, and two of no round numbers
RANGES = [(0.03, 0.5), (0.01, 1.0), (0.005, 0.2), (0.07, 0.11), (0.09, 0.11), (0.0123456, 0.987654), (1e-4, 3.3)]


def conditional(lo: float, hi: float, **kw) -> ModelConfig:
    return model_config(alpha_delta=math.sqrt(lo * hi), alpha_delta_min=lo, alpha_delta_max=hi, **kw)


def accepted(cfg, value: float) -> bool:
    """Whether the model of `cfg` takes `value` (its own check)."""
    try:
        check_trained_range(cfg, value)
    except ValueError:
        return False
    return True


# -- the owner's rules -------------------------------------------------------------------------------


def test_the_range_and_who_reads_alpha_delta_as_an_input():
    assert alpha_delta_range(CONDITIONAL) == (0.03, 0.5)
    assert alpha_delta_range(SimpleNamespace(nvib=SimpleNamespace(alpha_delta_min=1, alpha_delta_max=2))) == (1.0, 2.0)
    assert alpha_delta_range(BASELINE) == (0.03, 0.5)  # a baseline has none: grids span the default NVAE's
    assert alpha_delta_is_input(CONDITIONAL)
    assert not alpha_delta_is_input(ONE_ALPHA) and not alpha_delta_is_input(BASELINE)
    assert alpha_delta_in_range(CONDITIONAL, 0.03) and alpha_delta_in_range(CONDITIONAL, 0.5)
    assert not alpha_delta_in_range(CONDITIONAL, 0.5000001) and not alpha_delta_in_range(CONDITIONAL, 0.0299999)
    assert alpha_delta_in_range(CONDITIONAL, 0.5000001, ALPHA_DELTA_ROUNDING)


@pytest.mark.parametrize("value", [0.03, 0.0301, 0.1, 0.3, 0.5])
def test_a_value_inside_the_range_is_used_as_given_by_every_policy(value):
    assert resolve_alpha_delta(CONDITIONAL, value, "refuse") == value
    assert resolve_alpha_delta(CONDITIONAL, value, "clamp") == value


def test_nothing_asked_means_the_model_s_own_value():
    for cfg in (CONDITIONAL, ONE_ALPHA, BASELINE):
        assert resolve_alpha_delta(cfg, None, "refuse") is None
        assert resolve_alpha_delta(cfg, None, "clamp") is None


def test_outside_the_range_the_cli_policy_refuses_in_the_cli_s_words():
    for value in (0.0, 0.01, 0.5001, 7.0):
        with pytest.raises(AlphaDeltaError) as err:
            resolve_alpha_delta(CONDITIONAL, value, "refuse", what="--alpha-delta")
        assert str(err.value) == CLI_RANGE_ERROR
    with pytest.raises(AlphaDeltaError, match=r"^--alpha-delta must be >= 0$"):
        resolve_alpha_delta(CONDITIONAL, -1.0, "refuse", what="--alpha-delta")
    with pytest.raises(AlphaDeltaError, match=r"^alpha_delta must lie in \[0.03, 0.5\]"):
        resolve_alpha_delta(CONDITIONAL, 0.9)  # "refuse" is the default
    assert isinstance(AlphaDeltaError("x"), ValueError)


def test_outside_the_range_the_reader_policy_clamps_to_the_nearer_end():
    assert resolve_alpha_delta(CONDITIONAL, 7.0, "clamp") == 0.5
    assert resolve_alpha_delta(CONDITIONAL, 0.001, "clamp") == 0.03
    assert resolve_alpha_delta(CONDITIONAL, -1.0, "clamp") == 0.03
    assert isinstance(resolve_alpha_delta(CONDITIONAL, 1, "clamp"), float)


def test_a_model_trained_at_one_alpha_delta_reads_it_in_its_prior_only():
    """No range binds it: the CLI passes a value on as given (with its note), a reader shows the latent
    the model makes at its own value (None), and the model takes any value >= 0."""
    assert resolve_alpha_delta(ONE_ALPHA, 7.0, "refuse") == 7.0
    assert resolve_alpha_delta(ONE_ALPHA, 0.001, "refuse") == 0.001
    assert resolve_alpha_delta(ONE_ALPHA, 7.0, "clamp") is None
    with pytest.raises(AlphaDeltaError, match=">= 0"):
        resolve_alpha_delta(ONE_ALPHA, -0.5, "refuse")
    check_trained_range(ONE_ALPHA, 0.0, 1e6)


def test_a_baseline_ignores_alpha_delta():
    """A baseline's config has no NVIB settings, so no trained range binds it: the CLI passes a value on
    (with its note), a reader gets None, and the model takes any value >= 0."""
    assert BASELINE.nvib is None
    assert resolve_alpha_delta(BASELINE, 7.0, "refuse") == 7.0
    assert resolve_alpha_delta(BASELINE, 0.2, "clamp") is None
    with pytest.raises(AlphaDeltaError, match=">= 0"):
        resolve_alpha_delta(BASELINE, -0.5, "refuse")
    check_trained_range(BASELINE, 0.0, 1e6)


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="out_of_range"):
        resolve_alpha_delta(CONDITIONAL, 0.1, "extrapolate")


def test_the_model_s_check_allows_rounding_of_the_stored_bounds_and_nothing_more():
    for lo, hi in RANGES:
        cfg = conditional(lo, hi)
        for end in (lo, hi, math.exp(math.log(lo)), math.exp(math.log(hi))):
            assert accepted(cfg, end)
            assert accepted(cfg, float(torch.tensor(end, dtype=torch.float32)))  # a bound read in float32
        assert not accepted(cfg, lo * (1 - 1e-4)) and not accepted(cfg, hi * (1 + 1e-4))
        assert not accepted(cfg, float("nan"))
    with pytest.raises(ValueError) as err:
        check_trained_range(CONDITIONAL, 0.1, 0.7)
    assert "alpha_delta=0.7" in str(err.value) and "[0.03, 0.5]" in str(err.value)


# -- the model's assertion ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


def _batch(model, tok):
    ids = torch.tensor([tok.encode("the cat sat on the mat").ids + [model.cfg.eos_id]])
    return ids, torch.zeros_like(ids, dtype=torch.bool)


def test_a_loss_conditional_model_refuses_a_value_outside_its_range(tok):
    model = tiny_model(tok, alpha_delta_conditional=True, alpha_delta_min=0.03, alpha_delta_max=0.5).eval()
    ids, pad = _batch(model, tok)
    h = model.encode_states(ids, pad)
    with torch.no_grad():
        for value in (0.03, 0.5, 0.2, torch.tensor([0.03]), torch.tensor([0.5], dtype=torch.float32)):
            model.latent(h, pad, value)  # inside, or at an end read in float32
        for value in (0.7, 0.01, torch.tensor([0.7]), 7):
            with pytest.raises(ValueError, match=r"is outside \[0.03, 0.5\], the range this loss-conditional"):
                model.latent(h, pad, value)
        with pytest.raises(ValueError, match=r"alpha_delta=0.7 "):
            model.encode(ids, pad, 0.7)
        with pytest.raises(ValueError, match=r"alpha_delta=0.01 "):
            model.latent.log_alphas(h, pad, 0.01)
        two = torch.cat([ids, ids])
        with pytest.raises(ValueError, match=r"alpha_delta=0.9 "):  # one value a sentence: the extreme is named
            model.encode(two, torch.zeros_like(two, dtype=torch.bool), torch.tensor([0.1, 0.9]))
        model.latent(h, pad, None)  # the config's own value
    with pytest.raises(ValueError, match="outside"):  # training too
        model.train()(ids, pad, 0.6)


def test_a_model_trained_at_one_alpha_delta_and_a_baseline_take_any_value(tok):
    one = tiny_model(tok, alpha_delta=0.3).eval()  # one alpha^Delta, in the prior only
    ids, pad = _batch(one, tok)
    h = one.encode_states(ids, pad)
    with torch.no_grad():
        own, _, kl_own = one.latent(h, pad, None)
        other, _, kl_other = one.latent(h, pad, 7.0)
    assert torch.equal(own.alpha, other.alpha)  # its latent does not depend on it ...
    assert not torch.equal(kl_own, kl_other)  # ... its prior does
    vt = tiny_model(tok, "vt", alpha_delta_conditional=True).eval()
    with torch.no_grad():
        vt.encode(ids, pad, 7.0)


# -- every caller of the model stays inside the range -------------------------------------------------


@pytest.mark.parametrize(("lo", "hi"), RANGES)
def test_the_grids_sweeps_and_filters_give_the_model_values_it_takes(lo, hi):
    from nvae.evaluation.evaluate import ALPHA_DELTA_SWEEP
    from nvae.evaluation.measures import alpha_delta_for_retained
    from nvae.tools.ablate import MEASURE_ALPHAS

    cfg = conditional(lo, hi)
    grids = [alpha_delta_values(cfg), alpha_delta_values(cfg, 41), interior_alpha_deltas(cfg)]
    grids += [rounded_alpha_deltas(cfg), slider_stops(cfg, [lo / 2, hi * 2, math.sqrt(lo * hi)])]
    # the evaluation sweep and the ablation harness keep the values inside the range
    grids += [[a for a in ALPHA_DELTA_SWEEP if alpha_delta_in_range(cfg, a)]]
    grids += [[a for a in MEASURE_ALPHAS if alpha_delta_in_range(cfg, a)]]
    # the rate-distortion rows: alpha^Delta interpolated along the retained curve over the grid
    curve = [{"alpha_delta": v, "retained_proportion": k / 40} for k, v in enumerate(alpha_delta_values(cfg, 41))]
    grids += [[alpha_delta_for_retained(curve, t / 100) for t in range(101)]]
    for grid in grids:
        assert grid and all(accepted(cfg, v) for v in grid), grid


@pytest.mark.parametrize(("lo", "hi"), RANGES)
def test_training_draws_and_the_warm_up_stay_inside_the_range(lo, hi):
    """The loop draws exp(uniform(floor, log max)); its extremes, at every step of the warm-up."""
    from nvae.training.schedules import alpha_delta_floor

    cfg = conditional(lo, hi)
    rng = random.Random(0)
    for warm in (0.0, lo, math.sqrt(lo * hi), hi, 10 * hi):
        train = TrainConfig(kl_start_step=10, kl_anneal_steps=10, alpha_delta_warmup_min=warm)
        for step in (0, 9, 10, 15, 20, 1000):
            floor, top = alpha_delta_floor(train, cfg, step), math.log(cfg.nvib.alpha_delta_max)
            draws = [math.exp(floor), math.exp(top), *(math.exp(rng.uniform(floor, top)) for _ in range(20))]
            assert all(accepted(cfg, v) for v in draws), (warm, step)


def test_every_recipe_and_shipped_checkpoint_has_its_default_inside_its_range():
    """The model takes its config's own value (None) on trust: a loss-conditional config's default lies
    in its range, for every recipe (and the ablation harness's range) and every shipped checkpoint."""
    from nvae.tools.ablate import SMALL

    configs = [recipe_configs(name)[0] for name in RECIPES]
    configs.append(model_config(**{k: v for k, v in SMALL.items() if k.startswith("alpha_delta")}))
    for path in sorted(CHECKPOINTS_DIR.glob("*/config.json")):
        configs.append(ModelConfig.from_dict(json.loads(path.read_text())["model"]))
    assert len(configs) > len(RECIPES)
    for cfg in configs:
        if alpha_delta_is_input(cfg):
            assert alpha_delta_in_range(cfg, cfg.nvib.alpha_delta), cfg


def test_export_s_chosen_default_rounded_to_five_decimals_stays_inside_the_shipped_range():
    for value in alpha_delta_values(CONDITIONAL):
        assert alpha_delta_in_range(CONDITIONAL, round(value, 5))


# -- the app, the CLI and the readers go through the owner ----------------------------------------


def test_the_readers_clamp_through_the_owner(tok):
    from nvae.readout import sentence

    cfg = conditional(0.03, 0.5)
    for value in (None, -1.0, 0.001, 0.03, 0.2, 0.5, 7.0):
        assert sentence.alpha_delta_arg(cfg, value) == resolve_alpha_delta(cfg, value, "clamp")
        assert sentence.alpha_delta_arg(ONE_ALPHA, value) is None
    assert sentence.alpha_delta_active(cfg) and not sentence.alpha_delta_active(ONE_ALPHA)
    model = tiny_model(tok, alpha_delta_conditional=True, alpha_delta_min=0.03, alpha_delta_max=0.5).eval()
    above = sentence.inspect_sentences(model, ["the cat sat on the mat"], 7.0)  # no error: clamped
    at_max = sentence.inspect_sentences(model, ["the cat sat on the mat"], 0.5)
    assert [v.components for v in above] == [v.components for v in at_max]


def test_the_cli_refuses_through_the_owner_with_its_one_line(capsys):
    from nvae.cli.args import UsageError, check_alpha_delta

    with pytest.raises(UsageError) as err:
        check_alpha_delta(SimpleNamespace(cfg=CONDITIONAL), 7.0)
    assert str(err.value) == CLI_RANGE_ERROR
    with pytest.raises(UsageError, match=r"^--alpha-delta must be >= 0$"):
        check_alpha_delta(SimpleNamespace(cfg=CONDITIONAL), -1.0)
    assert check_alpha_delta(SimpleNamespace(cfg=CONDITIONAL), 0.5) == 0.5
    assert check_alpha_delta(SimpleNamespace(cfg=CONDITIONAL), None) is None
    capsys.readouterr()
    assert check_alpha_delta(SimpleNamespace(cfg=ONE_ALPHA), 7.0) == 7.0
    assert capsys.readouterr().err.startswith("note: this model was trained at alpha_delta=0.3;")


def test_the_cli_command_on_the_shipped_default_gives_the_same_line(capsys):
    from nvae.cli.main import main

    capsys.readouterr()
    assert main(["encode", "x", "--alpha-delta", "7", "--checkpoint", str(CHECKPOINTS_DIR / "nvae-default")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {CLI_RANGE_ERROR}"


def test_the_app_s_link_parameter_uses_the_owner_s_range_and_keeps_its_notice():
    from app import controls, state

    cfg = model_config(alpha_delta=0.203)
    param = controls.alpha_param(cfg)
    assert (param.lo, param.hi) == alpha_delta_range(cfg)
    assert state.parse_param(param, "5") == (
        0.203,
        "α^Δ: 5 is outside this model's range [0.03, 0.5]; using the default, 0.203.",
    )
    assert state.parse_param(param, "0.3") == (0.3, None)
    assert all(accepted(cfg, v) for v in slider_stops(cfg, [5.0, 0.3]))  # the slider offers none outside
