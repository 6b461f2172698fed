"""What a user must be told about how the model read their text: a latent that keeps nothing of its
sentence (the decoder then writes a made-up sentence; the lengths the model was trained on), and
accents the tokenizer drops. In the library (`sentence.prior_only_notice`, `sentence.dropped_accents`),
the command line (`nvae encode`, `nvae interpolate`) and every page that shows a sentence's latent
(`app.messages.token_messages`; here Inspect, the Walkthrough and the Corpus study, on the tiny test
NVAE)."""

from __future__ import annotations

import json

import pytest
from helpers import alerts, no_exception, open_page

from nvae.readout import sentence
from nvae.store.checkpoint import load_checkpoint

SHORT = "the war ended."
LONG = "The game was released in Japan in 2011 and sold well in the following years."


def test_the_library_says_when_nothing_is_kept_and_names_the_trained_lengths(app_checkpoints):
    model = load_checkpoint(app_checkpoints["nvae"])
    low, high = (sentence.inspect_sentences(model, [SHORT], ad)[0] for ad in (0.01, 1.0))
    assert low.n_retained == 0 and high.n_retained > 0
    notice = sentence.prior_only_notice(model, low.n_retained, low.n_inputs)
    assert notice.startswith("The sentence keeps nothing") and "prior component" in notice
    assert "trained on sentences of 6 to 49 pieces" in notice and f"{low.n_inputs - 1} pieces" in notice
    assert "floor of kept components (min_kept" in notice  # where to find a model that keeps something
    assert sentence.prior_only_notice(model, high.n_retained, high.n_inputs) is None
    baseline = load_checkpoint(app_checkpoints["baseline"])  # a baseline keeps its vectors: no notice
    assert sentence.prior_only_notice(baseline, 0, 5) is None
    info = sentence.token_info(model, [SHORT, LONG])  # at the model's default alpha^Delta
    assert [i.n_retained for i in info] == [
        v.n_retained for v in sentence.inspect_sentences(model, [SHORT, LONG], model.cfg.nvib.alpha_delta)
    ]


def test_the_command_line_adds_the_notice(app_checkpoints, capsys, tmp_path):
    from nvae.cli.main import main

    ckpt = str(app_checkpoints["nvae"])
    assert main(["encode", SHORT, "--checkpoint", ckpt, "--alpha-delta", "0.01"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["retained"] == 0 and len(row["notices"]) == 1  # one key, one shape: a list, as interpolate's
    assert "keeps nothing" in row["notices"][0] and "6 to 49" in row["notices"][0]
    assert main(["encode", SHORT, "--checkpoint", ckpt, "--alpha-delta", "1.0"]) == 0
    assert "notices" not in json.loads(capsys.readouterr().out)
    from helpers import variant_checkpoint

    sparse = variant_checkpoint(app_checkpoints["nvae"], tmp_path / "sparse", alpha_delta=0.01)
    assert main(["interpolate", SHORT, LONG, "--checkpoint", str(sparse), "--steps", "3"]) == 0
    strip = json.loads(capsys.readouterr().out)
    assert strip["notices"][0].startswith("Sentence A keeps nothing")  # the same key and shape as encode's


@pytest.mark.usefixtures("app_env")
@pytest.mark.parametrize("page", ["inspect", "walkthrough"])
def test_a_page_warns_when_nothing_is_kept(page):
    at = open_page(page, {"s": SHORT, "ad": "0.01"}, fresh=True)
    no_exception(at)
    assert any("keeps nothing" in a and "6 to 49 pieces" in a for a in alerts(at)), alerts(at)
    at = open_page(page, {"s": SHORT, "ad": "1"}, fresh=True)
    no_exception(at)
    assert not any("keeps nothing" in a for a in alerts(at))


@pytest.mark.usefixtures("app_env")
def test_the_corpus_study_counts_the_sentences_that_keep_nothing():
    from test_app_pages import paste

    at = open_page("corpus_study", {"ad": "0.01"})
    paste(at, "the war ended.\nit rained.\nThe game was released in Japan in 2011.\n")
    no_exception(at)
    warned = [a for a in alerts(at) if "keep nothing" in a]
    assert warned and warned[0].startswith("3 of the 3 sentences keep nothing") and "6 to 49 pieces" in warned[0]
    at = open_page("corpus_study", {"ad": "1"})
    paste(at, "The game was released in Japan in 2011 and sold well in the following years.\n")
    no_exception(at)
    assert not [a for a in alerts(at) if "keep nothing" in a]


def test_dropped_accents_are_named(app_checkpoints):
    model = load_checkpoint(app_checkpoints["nvae"])
    assert sentence.dropped_accents(model.tokenizer, "Café au lait in Zürich, naïve. The CAT.") == [
        "Café → cafe",
        "Zürich → zurich",
        "naïve → naive",
    ]
    assert sentence.dropped_accents(model.tokenizer, "The cat sat on the mat.") == []
    # the spaces the tokenizer puts around Chinese characters drop no accent
    assert sentence.dropped_accents(model.tokenizer, "猫坐在垫子上 café") == ["café → cafe"]
    assert sentence.token_info(model, ["Un café."])[0].accents == ["café → cafe"]
    assert sentence.inspect_sentences(model, ["Un café."])[0].accents == ["café → cafe"]


@pytest.mark.usefixtures("app_env")
@pytest.mark.parametrize("page", ["inspect", "walkthrough"])
def test_a_page_says_when_accents_are_dropped(page):
    at = open_page(page, {"s": "Un café à Zürich."}, fresh=True)
    no_exception(at)
    said = [i.value for i in at.info if "loses its accents" in i.value]
    assert said and "café → cafe" in said[0] and "Zürich → zurich" in said[0]
    for plain in ("The cat sat on the mat.", "猫坐在垫子上"):
        at = open_page(page, {"s": plain}, fresh=True)
        no_exception(at)
        assert not [i.value for i in at.info if "loses its accents" in i.value], plain


@pytest.mark.usefixtures("app_env")
def test_the_walkthroughs_last_step_counts_one_component_in_the_singular():
    """A sentence that keeps nothing is decoded from the prior component alone: '1 component'."""
    at = open_page("walkthrough", {"s": SHORT, "ad": "0.01", "step": "9"}, fresh=True)
    no_exception(at)
    said = " ".join(m.value for m in at.markdown)
    assert "decoded from 1 component (the prior and 0 of the" in said
    assert "1 components" not in said


@pytest.mark.usefixtures("app_env")
def test_sparsity_warns_for_the_right_hand_view_too():
    """The right-hand α^Δ that keeps nothing gets its own notice, naming that α^Δ (it used to get none)."""
    at = open_page("sparsity", {"s": SHORT, "ad": "1", "ad2": "0.01"}, fresh=True)
    no_exception(at)
    said = [a for a in alerts(at) if "keeps nothing" in a]
    assert len(said) == 1 and said[0].startswith("At the right-hand α^Δ = 0.01, the sentence keeps nothing")


@pytest.mark.usefixtures("app_env")
def test_side_by_side_warns_for_every_view_naming_the_sentence_and_the_checkpoint(
    app_checkpoints, tmp_path, monkeypatch
):
    """Two NVAEs side by side, three sentences: each view that keeps nothing says which sentence on which
    checkpoint (the page used to check the left-hand views only, with one unnamed notice)."""
    import shutil

    from helpers import variant_checkpoint

    root = tmp_path / "pair"
    shutil.copytree(app_checkpoints["nvae"], root / "tiny-nvae")
    variant_checkpoint(app_checkpoints["nvae"], root / "tiny-sparse", alpha_delta=0.01)
    monkeypatch.setenv("NVAE_CHECKPOINT", str(root / "tiny-nvae"))
    monkeypatch.setenv("NVAE_CHECKPOINTS_DIR", str(root))
    texts = [SHORT, "it rained.", LONG]
    at = open_page("side_by_side", {"s": texts, "other": "tiny-sparse", "ad": "1", "ad2": "0.01"}, fresh=True)
    no_exception(at)
    said = [a for a in alerts(at) if "keeps nothing" in a]
    assert said, alerts(at)
    assert all(
        a.startswith(("Sentence 1, on tiny-sparse,", "Sentence 2, on tiny-sparse,", "Sentence 3, on tiny-sparse,"))
        for a in said
    )
    assert any(a.startswith("Sentence 1, on tiny-sparse, keeps nothing") for a in said)
    assert not [a for a in said if "on tiny-nvae" in a]  # the left keeps something at α^Δ 1


def test_the_notices_advice_is_computed_for_that_input_on_that_checkpoint(app_checkpoints, tmp_path):
    """'A larger α^Δ keeps more' was said whatever the input; now the notice names the smallest slider
    value that keeps something of this sentence, checked against encoding there and just below, or says
    that none does (a model whose slider stops before any value keeps it)."""
    from helpers import variant_checkpoint

    from nvae.model.grids import slider_stops

    model = load_checkpoint(app_checkpoints["nvae"])
    low = sentence.inspect_sentences(model, [SHORT], 0.01)[0]
    notice = sentence.prior_only_notice(model, low.n_retained, low.n_inputs, text=SHORT)
    first = sentence.smallest_keeping_alpha_delta(model, SHORT)
    assert first is not None and f"From α^Δ = {first:g} on, it keeps at least one component." in notice
    stops = slider_stops(model.cfg)
    assert sentence.inspect_sentences(model, [SHORT], first)[0].n_retained > 0
    below = [s for s in stops if s < first]
    assert not below or sentence.inspect_sentences(model, [SHORT], max(below))[0].n_retained == 0
    narrow = load_checkpoint(
        variant_checkpoint(
            app_checkpoints["nvae"], tmp_path / "narrow", alpha_delta=0.01, alpha_delta_min=0.01, alpha_delta_max=0.011
        )
    )
    assert sentence.smallest_keeping_alpha_delta(narrow, SHORT) is None
    notice = sentence.prior_only_notice(narrow, 0, low.n_inputs, text=SHORT)
    assert "No α^Δ the slider offers (up to 0.011) keeps a component of it" in notice
    assert "larger α^Δ keeps more" not in notice
    assert "α^Δ" not in sentence.prior_only_notice(model, 0, low.n_inputs)  # without the text: no claim


@pytest.mark.usefixtures("app_env")
@pytest.mark.parametrize(
    "page, params",
    [
        ("interpolate", {"a": "The cat sat on the mat.", "b": "A storm hit the coast in June."}),
        ("latent_map", {}),
        ("side_by_side", {"view": "interpolate", "a": "Alpha here.", "b": "Beta there.", "tau": "0.3"}),
    ],
)
def test_who_chooses_the_kept_set_on_every_page_that_shows_one(page, params):
    """Interpolate, Latent map and Side by side's Interpolate view say who chooses the kept set, as
    Inspect does (side by side: for each checkpoint)."""
    at = open_page(page, params, fresh=True)
    no_exception(at)
    said = [i.value for i in at.info if i.value.startswith("Who chooses the kept set")]
    assert len(said) == (2 if page == "side_by_side" else 1), said
