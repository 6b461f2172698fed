"""Segments wherever a kept set is shown (issue 33, item 4): for a checkpoint whose kept components
stand for segments (`kept_pooling` "segment"), Inspect and Side by side show each kept component's
span and the sentence split into its segments, the Corpus study measures the segments' lengths and
how many are whole words, and the Walkthrough's pruning step explains the split. Library functions on
hand-made examples with known answers, then the pages under streamlit.testing on tiny checkpoints,
with and without pooling."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from helpers import captions, codes, metric, no_exception, open_page, variant_checkpoint

from app import latents
from nvae.config import model_config
from nvae.model import kept_set
from nvae.model.mixture import PRIOR
from nvae.readout import corpus_study, sentence, walkthrough

SENTENCE = "The river flows north through the valley to the sea."


def records(tokens: list[str], kept: list[int]) -> list[dict]:
    """`LatentMixture.records` rows as dicts: the prior, then one row per token (kept: 1 or 0)."""
    rows = [{"component": 0, "source": PRIOR, "token": "⟨prior⟩", "retained": True}]
    return rows + [
        {"component": i + 1, "source": i, "token": t, "retained": bool(k)} for i, (t, k) in enumerate(zip(tokens, kept))
    ]


# -- the library ------------------------------------------------------------------------------------


def test_which_checkpoints_pool_segments():
    chooser = model_config(kept_pooling="segment", kept_chooser="segments")
    score = model_config(kept_pooling="segment")
    assert kept_set.pools_segments(chooser) and kept_set.chooses_segments(chooser)
    assert kept_set.pools_segments(score) and not kept_set.chooses_segments(score)
    assert not kept_set.pools_segments(model_config()) and not kept_set.pools_segments(model_config(model_type="vt"))


def test_the_split_at_a_glance_and_the_positions():
    tokens = ["the", "cat", "sat", "on", "the", "mat", "[EOS]"]
    rows = records(tokens, [0, 1, 0, 0, 1, 0, 1])
    assert sentence.segment_split(rows) == "the cat sat on | the mat | [EOS]"
    spans = sentence.segment_spans(rows)
    assert [sentence.segment_positions(s["span"]) for s in spans] == ["0–3", "4–5", "6"]
    assert sentence.segment_split(records(tokens, [0] * 7)) == ""  # nothing kept: no segment


def test_segment_bounds_follow_the_readout_and_the_pooling_rule():
    tokens = ["the", "cat", "sat", "on", "the", "mat", "[EOS]"]
    for kept in ([0, 1, 0, 0, 1, 0, 1], [1, 0, 0, 0, 0, 0, 0], [1] * 7, [0, 0, 0, 0, 0, 0, 1]):
        positions = {i for i, k in enumerate(kept) if k}
        expected = [tuple(s["span"]) for s in sentence.segment_spans(records(tokens, kept))]
        assert corpus_study.segment_bounds(positions, len(tokens)) == expected
    assert corpus_study.segment_bounds({1, 4, 6}, 7) == [(0, 4), (4, 6), (6, 7)]
    assert corpus_study.segment_bounds(set(), 7) == []


def test_segment_lengths_and_whole_words_on_a_known_example():
    # "the play | ##ing cat [EOS]": both cut the word "playing"; "a | dog ran | . [EOS]": whole words
    cut = (["the", "play", "##ing", "cat", "[EOS]"], [(0, 2), (2, 5)])
    whole = (["a", "dog", "ran", ".", "[EOS]"], [(0, 1), (1, 3), (3, 5)])
    assert not corpus_study.whole_words(cut[0], 0, 2) and not corpus_study.whole_words(cut[0], 2, 5)
    assert all(corpus_study.whole_words(whole[0], s, e) for s, e in whole[1])
    assert corpus_study.whole_words(["play", "##ing"], 0, 2)  # a whole word of two pieces
    study = corpus_study.segment_study([cut, whole])
    assert study == {
        "segments": 5,
        "mean_length": 2.0,  # lengths 2, 3, 1, 2, 2
        "median_length": 2.0,
        "by_length": [
            {"length": 1, "count": 1, "share": 0.2},
            {"length": 2, "count": 3, "share": 0.6},
            {"length": 3, "count": 1, "share": 0.2},
        ],
        "whole_words": 3,
        "whole_word_share": 0.6,
    }
    assert corpus_study.segment_study([(["a", "[EOS]"], [(0, 1), (1, 2)])])["median_length"] == 1.0
    empty = corpus_study.segment_study([(["a", "[EOS]"], [])])
    assert empty["segments"] == 0 and empty["mean_length"] is None and empty["whole_word_share"] is None


def test_the_walkthrough_explains_the_split_for_each_chooser():
    tr = SimpleNamespace(n_retained=3, alpha_delta=0.2, threshold=0.1)
    segments = model_config(kept_pooling="segment", kept_chooser="segments", min_kept=1)
    text = walkthrough.split_explanation(segments, tr)
    assert "split into 3 runs of neighbouring tokens" in text and "3 is the number of components" in text
    assert "α^Δ = 0.2" in text and "at least 1" in text
    assert "the mean of its tokens' means" in text and "its pseudo-count the sum of theirs" in text
    assert text.count(". ") == 1 and text.endswith(".")  # two sentences
    score = model_config(kept_pooling="segment", min_kept=0)
    text = walkthrough.split_explanation(score, tr)
    assert "each kept component stands for its own token and the pruned tokens after it" in text
    assert "above the threshold 0.1)" in text and "its pseudo-count stays its own token's" in text
    floored = walkthrough.split_explanation(model_config(kept_pooling="segment", min_kept=2), tr)
    assert "always the 2 with the largest α" in floored
    assert walkthrough.split_explanation(model_config(), tr) is None
    assert walkthrough.split_explanation(model_config(model_type="vt"), tr) is None


def test_the_segment_lengths_figure_counts_each_length():
    from app import figures

    rows = [{"length": 1, "count": 4, "share": 0.4}, {"length": 3, "count": 6, "share": 0.6}]
    (bars,) = figures.sparsity.segment_lengths(rows).data
    assert list(bars.x) == [1, 3] and list(bars.y) == [4, 6] and list(bars.customdata) == [0.4, 0.6]


# -- tiny checkpoints with and without pooling ------------------------------------------------------


@pytest.fixture(scope="module")
def folder(app_checkpoints, tmp_path_factory):
    """tiny-nvae (no pooling), baseline-vt, tiny-segments (pooled, the segmentation chooser, a floor of one) and
    tiny-pooled (pooled, the score chooser), side by side in one folder."""
    root = tmp_path_factory.mktemp("segments-shown")
    shutil.copytree(app_checkpoints["nvae"], root / "tiny-nvae")
    shutil.copytree(app_checkpoints["baseline"], root / "baseline-vt")
    variant_checkpoint(
        app_checkpoints["nvae"], root / "tiny-segments", kept_pooling="segment", kept_chooser="segments", min_kept=1
    )
    variant_checkpoint(app_checkpoints["nvae"], root / "tiny-pooled", kept_pooling="segment")
    return root


@pytest.fixture
def app_on(folder, monkeypatch, tmp_path_factory):
    """Point the app at one of `folder`'s checkpoints (by name), the others listed beside it."""

    def use(name: str):
        monkeypatch.setenv("NVAE_CHECKPOINT", str(folder / name))
        monkeypatch.setenv("NVAE_CHECKPOINTS_DIR", str(folder))
        monkeypatch.setenv("NVAE_APP_MAP_SENTENCES", "40")
        monkeypatch.setenv("NVAE_APP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "app-map-cache"))

    return use


def test_the_corpus_study_measures_segments_only_for_a_pooling_model(folder):
    from nvae.store.checkpoint import load_checkpoint

    texts = [SENTENCE, "The cat sat on the mat.", "He was born in a small village in the north of England."]
    pooled = load_checkpoint(folder / "tiny-segments")
    tables = corpus_study.study_tables(pooled, texts, 0.1)
    seg = tables["segments"]
    kept = sum(p["retained"] for p in tables["retained_vs_length"])
    assert seg["segments"] == kept > 0
    assert sum(r["count"] for r in seg["by_length"]) == kept
    # every sentence keeps a component (the floor), so its segments cover it once
    tokens = sum(p["tokens"] for p in tables["retained_vs_length"])
    assert sum(r["length"] * r["count"] for r in seg["by_length"]) == tokens
    assert seg["mean_length"] == pytest.approx(tokens / kept)
    assert 0.0 <= seg["whole_word_share"] <= 1.0
    assert "segments" not in corpus_study.study_tables(load_checkpoint(folder / "tiny-nvae"), texts, 0.1)


# -- the pages ----------------------------------------------------------------------------------------


def test_inspect_shows_each_kept_components_segment_and_the_split(app_on):
    app_on("tiny-segments")
    at = open_page("inspect", {"s": SENTENCE, "ad": "0.1"}, fresh=True)
    no_exception(at)
    table = next(df.value for df in at.dataframe if "segment" in df.value.columns)
    tokens = table[table["source"] != "prior"]
    kept = tokens[tokens["status"] == "retained"]
    assert 0 < len(kept) < len(tokens), "the test needs kept and pruned tokens"
    assert (kept["segment"].str.len() > 0).all() and (tokens[tokens["status"] == "pruned"]["segment"] == "").all()
    assert kept["segment"].iloc[0].startswith("0")  # the segmentation's first run opens at the first token
    assert any(c.startswith("The sentence split") for c in captions(at))
    assert " | ".join(kept["stands for"]) in codes(at)  # the split: each kept component's tokens, a bar between
    assert any(latents.SUMMED_ALPHA in c for c in captions(at))


def test_inspect_shows_no_segment_for_a_model_without_pooling(app_on):
    app_on("tiny-nvae")
    at = open_page("inspect", {"s": SENTENCE, "ad": "0.1"}, fresh=True)
    no_exception(at)
    assert not any("segment" in df.value.columns or "stands for" in df.value.columns for df in at.dataframe)
    assert not any(c.startswith("The sentence split") for c in captions(at))


def test_side_by_side_shows_the_segments_of_the_pooling_side_only(app_on):
    app_on("tiny-segments")
    at = open_page("side_by_side", {"other": "tiny-nvae", "s": [SENTENCE], "ad": "0.1", "ad2": "0.1"}, fresh=True)
    no_exception(at)
    assert sum(c.startswith("The sentence split") for c in captions(at)) == 1  # the left side's
    (rows,) = [df.value for df in at.dataframe if "stands for" in df.value.columns]
    assert list(rows.columns) == ["component", "token", "segment", "stands for"]
    assert rows["segment"].iloc[0].startswith("0") and " | ".join(rows["stands for"]) in codes(at)
    app_on("tiny-nvae")  # neither side pools segments
    at = open_page("side_by_side", {"other": "baseline-vt", "s": [SENTENCE]}, fresh=True)
    no_exception(at)
    assert at.selectbox(key="side-by-side.other").value == "baseline-vt"
    assert not any(c.startswith("The sentence split") for c in captions(at))


def test_the_corpus_study_has_a_segments_tab_only_for_a_pooling_model(app_on):
    query = {"src": "paste", "s": [SENTENCE, "The cat sat on the mat.", "She plays the piano every day."], "ad": "0.1"}
    app_on("tiny-segments")
    at = open_page("corpus_study", query, fresh=True)
    no_exception(at)
    assert "Segments" in [t.label for t in at.tabs]
    at.session_state["corpus-study.tab"] = "Segments"
    at.run()
    no_exception(at)
    segments = int(metric(at, "Segments").replace(",", ""))
    assert segments == int(metric(at, "Retained components").replace(",", "")) > 0
    assert metric(at, "Whole words").endswith("%") and metric(at, "Median length")
    lengths = next(df.value for df in at.dataframe if "length" in df.value.columns)
    assert lengths["count"].sum() == segments
    app_on("tiny-nvae")
    at = open_page("corpus_study", query, fresh=True)
    no_exception(at)
    assert "Segments" not in [t.label for t in at.tabs]


def test_the_walkthrough_explains_the_split_in_its_pruning_step(app_on):
    query = {"s": SENTENCE, "ad": "0.1", "step": "5"}
    app_on("tiny-segments")
    at = open_page("walkthrough", query, fresh=True)
    no_exception(at)
    text = " ".join(m.value for m in at.markdown)
    assert "How the sentence is split" in text and "runs of neighbouring tokens" in text
    assert "how many token components are kept" in text
    assert any(c.startswith("The sentence split") for c in captions(at))
    assert latents.SUMMED_ALPHA in captions(at)  # why a kept bar can sit under the threshold
    app_on("tiny-pooled")
    at = open_page("walkthrough", query, fresh=True)
    no_exception(at)
    text = " ".join(m.value for m in at.markdown)
    assert "each kept component stands for its own token" in text and "runs of neighbouring" not in text
    assert latents.SUMMED_ALPHA not in captions(at)  # the score's choice: each kept α is its token's own
    app_on("tiny-nvae")
    at = open_page("walkthrough", query, fresh=True)
    no_exception(at)
    assert "How the sentence is split" not in " ".join(m.value for m in at.markdown)
    assert not any(c.startswith("The sentence split") for c in captions(at))
