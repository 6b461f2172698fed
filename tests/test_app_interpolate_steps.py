"""The Interpolate page says what its steps are (issue 34, defect 3), under AppTest on the tiny
checkpoints: each step of a strip named by the report's kinds (copy of A or B, splice,
concatenation, other) with a line that counts them, their shares over a path and over a batch of
pairs, each step's perplexity under the fluency LM when there is one (a tiny LM built here), and a
notice for an end that does not reproduce its own input. Also one notice per bad link value (a
contradictory pair before), and the rate-distortion figure's markers that hid each other."""

from __future__ import annotations

import functools
import os

import helpers
import pytest
from helpers import make_tiny_checkpoint, no_exception

from app.output import md_escape
from nvae.data import examples
from nvae.evaluation.lm import CausalLM, FluencyLM, LMConfig, load_lm
from nvae.evaluation.step_kinds import step_kinds
from nvae.model.grids import tau_grid
from nvae.model.mixture import DEFAULT_MIXING
from nvae.readout import pair_study, sentence, sentence_paths, strip_steps
from nvae.store.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("app_env")
open_page = functools.partial(helpers.open_page, fresh=True)
A, B, C = "He hates cold rain.", "The cat sat on the mat.", "We walked to the river."
TWO = {"a": A, "b": B, "steps": "5", "baseline": "none"}
KIND_METRICS = ["Copies", "Splices", "Concatenations", "Other"]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A tiny untrained fluency LM on a word-level tokenizer, saved as `nvae lm train` saves one."""
    import torch

    torch.manual_seed(0)
    tok = helpers.make_tokenizer()
    cfg = LMConfig(vocab_size=tok.get_vocab_size(), d_model=16, n_heads=2, n_layers=1, d_ff=32, dropout=0.0)
    folder = tmp_path_factory.mktemp("lm") / "lm-tiny"
    FluencyLM(CausalLM(cfg), tok, {"validation_perplexity": 42.0}).save(folder)
    return folder


@pytest.fixture
def with_lm(tiny_lm, monkeypatch):
    monkeypatch.setenv("NVAE_LM_DIR", str(tiny_lm))
    return load_lm(tiny_lm)


@pytest.fixture
def without_lm(tmp_path, monkeypatch):
    monkeypatch.setenv("NVAE_LM_DIR", str(tmp_path / "no-lm-here"))


def kinds_shown(table) -> list[str]:
    """The `kind` column of a strip's table (its cells are escaped for markdown)."""
    return [k.replace("\\", "") for k in table.value["kind"]]


def lines(at, start: str) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(start)]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def shares(strips) -> list[str]:
    return [f"{v:.0%}" for v in step_kinds(strips)["shares"].values()]


# -- the library: kinds in words, ends that do not reproduce --------------------------------------


def test_each_step_is_named_and_the_middle_steps_counted_in_words():
    a, b = "the castle was built in the twelfth century.", "he returned to england the next day."
    strip = [a, a, "the castle was built the next day.", "a river flows north!", a + " " + b, b, b]
    assert strip_steps.strip_labels(strip) == [
        "start (A)", "copy of A", "splice", "other", "concatenation", "copy of B", "end (B)",
    ]  # fmt: skip
    assert strip_steps.kinds_line([strip], ("A", "B")) == (
        "Of 5 middle steps: 2 copies (1 of A, 1 of B), 1 splice, 1 concatenation, 1 other."
    )
    assert strip_steps.kinds_line([strip[:3] + [b]]) == (
        "Of 2 middle steps: 1 copy, 1 splice; none is a concatenation or of another kind."
    )
    assert strip_steps.kinds_line([[a, b]]).startswith("There is no middle step")


def test_an_end_is_compared_with_its_input_as_the_report_compares_it():
    ends, refs = ["he less cold rain.", "the cat sat on the mat."], ["he hates cold rain.", "the cat sat on the mat."]
    assert strip_steps.unreproduced(ends, refs, [A, B]) == [
        {"name": "A", "input": A, "read_as": "he hates cold rain.", "decoded": "he less cold rain."}
    ]
    assert strip_steps.unreproduced(refs, refs, [A, B]) == []  # the tokenizer's lower-casing is not a miss


# -- the strip: each step's kind, the count in words, the LM's perplexity --------------------------


def test_the_strip_says_what_each_step_is_and_counts_them(without_lm):
    at = open_page("interpolate", TWO)
    no_exception(at)
    texts = list(at.table[0].value["text"])
    assert kinds_shown(at.table[0]) == strip_steps.strip_labels(texts)
    assert "LM perplexity" not in at.table[0].value.columns
    line = strip_steps.kinds_line([texts], ("A", "B"))
    assert line.startswith("Of 3 middle steps: ")
    assert lines(at, "**What the middle steps are.**") == [f"**What the middle steps are.** {line}"]
    shown = metrics(at)
    assert [shown[k] for k in KIND_METRICS] == shares([texts])
    assert any(c.value.startswith("No fluency measure: no fluency language model") for c in at.caption)


def test_with_the_fluency_lm_every_step_has_its_perplexity(with_lm):
    at = open_page("interpolate", TWO)
    no_exception(at)
    table = at.table[0].value
    texts = list(table["text"])
    assert list(table["LM perplexity"]) == pytest.approx([with_lm.perplexity([t]) for t in texts])
    middle = with_lm.perplexity(texts[1:-1])
    assert metrics(at)["LM perplexity, middle steps"] == f"{middle:.0f}"


def test_an_end_that_does_not_reproduce_its_input_is_flagged(app_env, without_lm):
    at = open_page("interpolate", TWO)
    no_exception(at)
    model = load_checkpoint(app_env["nvae"])
    pair = sentence.encode_pair(model, A, B)
    strip = [r["text"] for r in sentence.interpolation_strip(model, pair, tau_grid(5), DEFAULT_MIXING)]
    notices = [w.value for w in at.warning if "is not reproduced" in w.value]
    expected = [
        (name, text, end)
        for name, text, ref, end in zip("AB", (A, B), (pair.ref_a, pair.ref_b), (strip[0], strip[-1]))
        if end != ref
    ]
    assert expected, "the untrained tiny model reproduces neither sentence"
    assert len(notices) == len(expected)
    for (name, text, end), notice in zip(expected, notices):
        assert notice.startswith(f"Sentence {name} is not reproduced: the model decodes “{md_escape(text)}” as ")
        assert f"“{md_escape(end)}”" in notice


# -- a path and a batch of pairs: the share of each kind -------------------------------------------


def test_the_path_view_shows_the_share_of_each_kind(app_env, with_lm):
    at = open_page("interpolate", {**TWO, "c": C})
    no_exception(at)
    model = load_checkpoint(app_env["nvae"])
    path = sentence_paths.path_strip(model, [A, B, C], 5, "linear")
    strips = [[r["text"] for r in s] for s in path["segments"]]
    assert lines(at, "**What the path's middle steps are.**") == [
        f"**What the path's middle steps are.** {strip_steps.kinds_line(strips)}"
    ]
    shown = metrics(at)
    assert [shown[k] for k in KIND_METRICS] == shares(strips)
    middle = with_lm.perplexity(strip_steps.middle_texts(strips))
    assert shown["LM perplexity, middle steps"] == f"{middle:.0f}"
    notices = [w.value for w in at.warning if "is not reproduced" in w.value]
    missed = strip_steps.unreproduced(
        [s[0] for s in strips] + [strips[-1][-1]], path["waypoints"], [A, B, C], ["A", "B", "C"]
    )
    assert [n.split(" is not")[0] for n in notices] == [f"Sentence {m['name']}" for m in missed]


def test_the_batch_view_shows_the_share_of_each_kind_and_the_pairs_that_miss_an_end(app_env, with_lm):
    at = open_page("interpolate", {"mode": "batch", "steps": "5"})
    no_exception(at)
    model = load_checkpoint(app_env["nvae"])
    records = [pair_study.study_pair(model, a, b, 5, "linear") for a, b in examples.pairs()]
    strips = [[s["text"] for s in r["strip"]] for r in records]
    assert lines(at, "**What the pairs' middle steps are.**") == [
        f"**What the pairs' middle steps are.** {strip_steps.kinds_line(strips)}"
    ]
    shown = metrics(at)
    assert [shown[k] for k in KIND_METRICS] == shares(strips)
    assert shown["LM perplexity, middle steps"] == f"{with_lm.perplexity(strip_steps.middle_texts(strips)):.0f}"
    pairs = at.dataframe[0].value
    assert list(pairs["copies"]) == [step_kinds([s])["counts"]["copy"] for s in strips]
    assert list(pairs["other"]) == [step_kinds([s])["counts"]["other"] for s in strips]
    assert list(pairs["LM perplexity, middle"]) == pytest.approx(
        [with_lm.perplexity(s[1:-1]) for s in strips], abs=0.051
    )
    missed = [i + 1 for i, r in enumerate(records) if r["endpoints_reproduce_inputs"] < 1]
    assert missed, "the untrained tiny model reproduces no pair's ends"
    assert any(
        w.value.startswith(f"In {len(missed)} of the {len(records)} pairs an end is not reproduced") for w in at.warning
    )
    assert kinds_shown(at.table[0]) == strip_steps.strip_labels(strips[0])  # the pair shown first
    assert any(w.value.startswith("Sentence A is not reproduced") for w in at.warning) == (
        strips[0][0] != records[0]["ref_a"]
    )


# -- one notice per bad link value ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fixed_alpha(tmp_path_factory):
    """A tiny NVAE trained at one alpha^Delta (0.3): its alpha^Delta control is disabled."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("fixed") / "fixed-nvae", conditional=False)


def link_notices(at) -> list[str]:
    return [w.value for w in at.warning if "is not reproduced" not in w.value]


def test_a_bad_right_alpha_delta_gets_one_notice_not_two():
    """`?ckpt=baseline-vt&ad2=abc` on Side by side gave "α^Δ (right): the link's value is not valid;
    using the default." and then "α^Δ (right): the link's value is not one of this control's values;
    using 0.3." for the same value."""
    at = open_page("side_by_side", {"ckpt": "baseline-vt", "ad2": "abc"})
    no_exception(at)
    assert [n for n in link_notices(at) if n.startswith("α^Δ (right)")] == [
        "α^Δ (right): the link's value is not valid; using the default."
    ]


def test_a_model_trained_at_one_alpha_delta_says_the_link_s_value_is_not_used(fixed_alpha, app_env, monkeypatch):
    """The link's α^Δ on a model trained at one α^Δ: one notice that agrees with the disabled control,
    not "5 is outside this model's range [0.01, 1]" beside "trained at a fixed α^Δ = 0.3"."""
    monkeypatch.setenv("NVAE_CHECKPOINT", str(fixed_alpha))
    for value in ("5", "0.5"):
        at = open_page("sparsity", {"ad": value})
        no_exception(at)
        assert link_notices(at) == [
            f"α^Δ (left): this model was trained at a fixed α^Δ = 0.3, so the link's {value} is not used."
        ]
        assert at.select_slider(key="sparsity.ad").value == 0.3
    at = open_page("sparsity", {"ad": "0.3"})
    assert link_notices(at) == []
    monkeypatch.setenv("NVAE_CHECKPOINT", str(app_env["nvae"]))
    monkeypatch.setenv("NVAE_CHECKPOINTS_DIR", os.pathsep.join([str(app_env["nvae"].parent), str(fixed_alpha.parent)]))
    at = open_page("side_by_side", {"other": "fixed-nvae", "ad2": "5"})
    no_exception(at)
    assert [n for n in link_notices(at) if n.startswith("α^Δ (right)")] == [
        "α^Δ (right): this model was trained at a fixed α^Δ = 0.3, so the link's 5 is not used."
    ]


def test_an_unknown_checkpoint_and_an_unknown_page_each_get_their_notice():
    at = open_page("sparsity", {"page": "nope", "ckpt": "nope"})
    no_exception(at)
    notices = link_notices(at)
    assert any(n.startswith("checkpoint: the link names a checkpoint that is not available") for n in notices)
    assert "The link names a page that does not exist; showing this one." in notices
