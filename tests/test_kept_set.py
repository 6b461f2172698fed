"""Who chooses the kept set is said on every page that shows kept and pruned components and in
`nvae encode`: the content score, a positional prior and its strength, or a baseline's fixed rule
(`readout.kept_set_rule`)."""

from __future__ import annotations

import json

import pytest
from helpers import latent_config, no_exception, open_page, variant_checkpoint

from nvae.config import ModelConfig, model_config
from nvae.readout.sentence import kept_set_rule
from nvae.store.checkpoint import load_checkpoint


def test_the_rule_names_what_decides_for_each_kind_of_checkpoint():
    content = kept_set_rule(latent_config(spread_bias=0.0))
    assert content.startswith("Who chooses the kept set: the model's content score.") and "prior" not in content
    prior = kept_set_rule(model_config(spread_bias=5.0))  # the shipped default's kind
    assert "position and content together" in prior and "positional prior of strength 5" in prior
    assert "evenly spaced positions" in prior and "α^Δ sets how many" in prior
    paired = kept_set_rule(model_config(spread_bias=2.0, keep_positions="tournament"))
    assert "one token of every neighbouring pair" in paired and "strength 2" in paired
    vts = kept_set_rule(model_config(model_type="vts", stride=2))
    assert "a fixed rule, every second position" in vts and "whatever the words" in vts
    assert "nobody" in kept_set_rule(model_config(model_type="t"))
    assert "pooled" in kept_set_rule(model_config(model_type="vtp"))
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


@pytest.mark.usefixtures("app_env")
@pytest.mark.parametrize("page", ["inspect", "sparsity", "walkthrough", "corpus_study", "side_by_side"])
def test_each_page_with_kept_components_says_who_chooses(page, app_checkpoints):
    at = open_page(page, fresh=page == "inspect")
    no_exception(at)
    rule = kept_set_rule(load_checkpoint(app_checkpoints["nvae"]).cfg)
    assert rule in infos(at)
    if page == "side_by_side":  # both models, each in its own terms
        assert kept_set_rule(load_checkpoint(app_checkpoints["baseline"]).cfg) in infos(at)


# -- the positional prior's strength as a control ----------------------------------------------------


@pytest.fixture
def prior_checkpoint(app_checkpoints, tmp_path, monkeypatch):
    """The tiny NVAE exported with a positional prior of strength 5 (as the shipped default is), opened
    by the app."""
    folder = variant_checkpoint(app_checkpoints["nvae"], tmp_path / "tiny-prior", spread_bias=5.0)
    monkeypatch.setenv("NVAE_CHECKPOINT", str(folder))
    return folder


def test_encode_takes_the_prior_strength_for_one_call(prior_checkpoint, app_checkpoints):
    import torch

    from nvae.data.text import encode_batch

    model = load_checkpoint(prior_checkpoint)
    batch = encode_batch(model.tokenizer, ["The river flows north through the valley to the sea."], model.cfg.max_len)
    own = model.encode(batch.src, batch.pad_mask, 0.1).latent
    assert torch.equal(model.encode(batch.src, batch.pad_mask, 0.1, 5.0).latent.alpha, own.alpha)
    content = model.encode(batch.src, batch.pad_mask, 0.1, 0.0).latent
    plain = load_checkpoint(app_checkpoints["nvae"])  # the same weights with no prior in its config
    assert torch.equal(content.alpha, plain.encode(batch.src, batch.pad_mask, 0.1).latent.alpha)
    assert not torch.equal(content.alpha, own.alpha) and model.cfg.nvib.spread_bias == 5.0  # the model is untouched
    baseline = load_checkpoint(app_checkpoints["baseline"])
    with pytest.raises(ValueError, match="no positional prior"):
        baseline.encode(batch.src, batch.pad_mask, None, 0.0)


@pytest.mark.usefixtures("app_env")
def test_inspect_shows_the_content_choice_beside_the_prior_and_takes_its_strength_from_the_link(prior_checkpoint):
    sentence = "The river flows north through the valley to the sea."
    model = load_checkpoint(prior_checkpoint)
    own, content = (readout_views(model, sentence, p) for p in (None, 0.0))
    at = open_page("inspect", {"s": sentence, "ad": "0.3"}, fresh=True)
    no_exception(at)
    prior = next(s for s in at.select_slider if s.key == "inspect.prior")
    assert prior.value == 5.0 and at.query_params["prior"] == "5"
    table = comparison(at)
    assert list(table["kept set chosen by"]) == ["positional prior 5 (the model's)", "content score alone"]
    assert list(table["reconstruction"]) == [own.reconstruction, content.reconstruction]
    assert list(table.columns).index("BLEU") < list(table.columns).index("kept tokens")  # never pushed off
    assert metric_value(at, "Retained components") == f"{own.n_retained} / {own.n_inputs}"
    prior.set_value(0.0).run()  # the content score alone: the page's view, and the link, follow
    no_exception(at)
    assert at.query_params["prior"] == "0"
    table = comparison(at)
    assert list(table["kept set chosen by"]) == ["content score alone", "positional prior 5 (the model's)"]
    again = open_page("inspect", {"s": sentence, "ad": "0.3", "prior": "0"}, fresh=True)
    no_exception(again)
    assert next(s for s in again.select_slider if s.key == "inspect.prior").value == 0.0


@pytest.mark.usefixtures("app_env")
def test_a_checkpoint_without_a_prior_has_no_prior_control():
    at = open_page("inspect", {"s": "The cat sat on the mat."}, fresh=True)
    no_exception(at)
    assert not [s for s in at.select_slider if s.key == "inspect.prior"] and "prior" not in at.query_params


def readout_views(model, sentence: str, prior):
    from nvae.readout.sentence import inspect_sentences

    return inspect_sentences(model, [sentence], 0.3, prior)[0]


def metric_value(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def comparison(at):
    """The page's table of what the positional prior changes."""
    return next(d.value for d in [*at.dataframe, *at.table] if "kept set chosen by" in d.value.columns)


PRUNING_STEP = 5  # "Pruning at the threshold", the Walkthrough's fifth step

SENTENCES = [
    "The river flows north through the valley to the sea.",
    "After the war, the town was rebuilt with money from the new government.",
    "The film was released in the United States in 1998.",
]


def test_the_corpus_study_counts_the_kept_components_the_content_score_would_keep(prior_checkpoint, app_checkpoints):
    from nvae.readout.corpus_study import study_tables
    from nvae.readout.sentence import inspect_sentences

    model = load_checkpoint(prior_checkpoint)
    tables = study_tables(model, SENTENCES, 0.3)
    kept = also = 0
    for own, content in zip(inspect_sentences(model, SENTENCES, 0.3), inspect_sentences(model, SENTENCES, 0.3, 0.0)):
        mine = {r["source"] for r in own.components if r["retained"] and r["source"] >= 0}
        theirs = {r["source"] for r in content.components if r["retained"] and r["source"] >= 0}
        kept, also = kept + len(mine), also + len(mine & theirs)
    assert tables["content_agreement"] == {
        "spread_bias": 5.0,
        "kept": kept,
        "also_by_content": also,
        "share": also / kept,
    }
    assert "content_agreement" not in study_tables(load_checkpoint(app_checkpoints["nvae"]), SENTENCES, 0.3)


@pytest.mark.usefixtures("app_env")
def test_the_corpus_study_page_says_who_chose(prior_checkpoint):
    from test_app_pages import paste

    at = open_page("corpus_study", {"ad": "0.3"})
    paste(at, "\n".join(SENTENCES))
    no_exception(at)
    said = [i for i in infos(at) if i.startswith("Who chose them: of the ")]
    assert said and "would also be kept by the content score alone" in said[0] and "strength 5" in said[0]


def test_the_walkthrough_trace_carries_the_content_score_beside_the_prior(prior_checkpoint, app_checkpoints):
    import math

    from nvae.readout import walkthrough

    tr = walkthrough.trace(load_checkpoint(prior_checkpoint), SENTENCES[0], 0.3)
    content = readout_views(load_checkpoint(app_checkpoints["nvae"]), SENTENCES[0], None)  # no prior, same weights
    for r, c in zip(tr.components, content.components):
        assert math.isclose(r["log_alpha_content"], math.log(max(c["alpha"], 1e-300)), rel_tol=1e-5, abs_tol=1e-5)
        assert r["retained_by_content"] == c["retained"]
    plain = walkthrough.trace(load_checkpoint(app_checkpoints["nvae"]), SENTENCES[0], 0.3)
    assert "log_alpha_content" not in plain.components[1]


@pytest.mark.usefixtures("app_env")
def test_the_walkthrough_pruning_step_shows_the_content_score_beside_the_prior(prior_checkpoint):
    from nvae.readout import walkthrough

    at = open_page("walkthrough", {"s": SENTENCES[0], "ad": "0.3", "step": str(PRUNING_STEP)}, fresh=True)
    no_exception(at)
    table = next(d.value for d in [*at.dataframe, *at.table] if "log α, content score alone" in d.value.columns)
    tr = walkthrough.trace(load_checkpoint(prior_checkpoint), SENTENCES[0], 0.3)
    assert list(table["kept by the content alone"]) == [c["retained_by_content"] for c in tr.components[1:]]
    assert any("positional prior** of strength 5" in m.value for m in at.markdown)


def test_a_checkpoint_never_trained_on_the_evaluation_form_is_said_to_be_understated():
    from nvae.config import recipe_configs
    from nvae.readout.sentence import reading_notice

    paper = recipe_configs("paper")[0]
    paper.nvib.decode_form = "integral"
    assert "understate" in reading_notice(paper)
    assert reading_notice(ModelConfig()) is None and reading_notice(model_config(model_type="vts")) is None


@pytest.mark.usefixtures("app_env")
def test_inspect_warns_that_a_paper_recipe_checkpoint_is_read_in_another_form(app_checkpoints, tmp_path, monkeypatch):
    from nvae.readout.sentence import reading_notice

    folder = variant_checkpoint(app_checkpoints["nvae"], tmp_path / "tiny-paper", gaussian_train_prob=0.0)
    monkeypatch.setenv("NVAE_CHECKPOINT", str(folder))
    at = open_page("inspect", {"s": "The cat sat on the mat."}, fresh=True)
    no_exception(at)
    assert reading_notice(load_checkpoint(folder).cfg) in [w.value for w in at.warning]


@pytest.mark.usefixtures("app_env")
def test_a_sentence_that_keeps_no_token_says_the_prior_component_in_one_sense(prior_checkpoint):
    """The comparison's 'kept tokens' cell for a sentence that keeps none: 'prior' there names the prior
    component, never the positional prior of the row's other cell."""
    at = open_page("inspect", {"s": "the war ended.", "ad": "0.01"}, fresh=True)
    no_exception(at)
    cells = list(comparison(at)["kept tokens"])
    assert cells == ["(no token: the decoder reads the prior component alone)"] * 2


@pytest.mark.usefixtures("app_env")
def test_a_fixed_alpha_delta_models_disabled_sliders_show_the_value_it_uses(tmp_path, monkeypatch):
    """Sparsity on a model trained at one alpha^Delta: both sliders are disabled and both show that
    value (the right one used to show its own default, 0.1, for a model at 0.3)."""
    from helpers import make_tiny_checkpoint

    folder = make_tiny_checkpoint(tmp_path / "fixed", conditional=False, alpha_delta=0.3)
    monkeypatch.setenv("NVAE_CHECKPOINT", str(folder))
    at = open_page("sparsity", {"s": "The cat sat on the mat."}, fresh=True)
    no_exception(at)
    sliders = {s.key: s for s in at.select_slider}
    assert sliders["sparsity.ad"].disabled and sliders["sparsity.ad2"].disabled
    assert sliders["sparsity.ad"].value == sliders["sparsity.ad2"].value == 0.3


def test_the_segments_note_says_where_leading_pruned_tokens_go():
    """Pruned tokens join the kept component before them, except before the first kept one, where they
    join the one after: the note must not say 'left neighbour' alone (a leading 'the' joins the right)."""
    from helpers import latent_config

    from nvae.readout.sentence import kept_set_rule

    rule = kept_set_rule(latent_config(kept_pooling="segment", min_kept=1))
    assert "before the first kept one join the first" in rule and "left neighbour" not in rule


@pytest.mark.usefixtures("app_env")
def test_inspect_says_that_quantile_conditioned_alphas_are_rank_based(prior_checkpoint):
    """The same α values reshuffle between prior strengths; the page says why (quantile conditioning)."""
    at = open_page("inspect", {"s": "The river flows north through the valley to the sea.", "ad": "0.3"}, fresh=True)
    no_exception(at)
    assert load_checkpoint(prior_checkpoint).cfg.nvib.alpha_conditioning == "quantile"
    assert any("comes from its rank in the sentence" in c.value for c in at.caption)


def test_the_command_line_takes_the_prior_as_inspect_does(prior_checkpoint, app_checkpoints, capsys):
    """`nvae encode --prior X`: the positional prior's strength for this call, as Inspect's control and
    its link's `prior`: the same components as the library at that strength; refused for a baseline."""
    import json

    from nvae.cli.main import main

    text = "The river flows north through the valley to the sea."
    model = load_checkpoint(prior_checkpoint)
    content = readout_views(model, text, 0.0)
    assert main(["encode", text, "--checkpoint", str(prior_checkpoint), "--alpha-delta", "0.3", "--prior", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["retained"] for c in out["components"]] == [c["retained"] for c in content.components]
    assert out["prior"] == 0.0 and "the model's content score" in out["kept_by"]
    assert main(["encode", text, "--checkpoint", str(prior_checkpoint), "--alpha-delta", "0.3"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert "prior" not in own and "position and content together" in own["kept_by"]
    assert [c["alpha"] for c in own["components"]] != [c["alpha"] for c in out["components"]]
    assert main(["encode", text, "--checkpoint", str(app_checkpoints["baseline"]), "--prior", "1"]) == 2
    assert "no positional prior" in capsys.readouterr().err
