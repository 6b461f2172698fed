"""The demo set (`nvae demo`, nvae/tools/demo_set.py): which sentences and pairs are chosen, and the files
the command writes for the app's Examples menus."""

from __future__ import annotations

import pytest

from nvae.cli.main import main
from nvae.data import examples
from nvae.store.checkpoint import load_checkpoint
from nvae.tools import demo_set

VALIDATION = [
    "The museum opened to the public in the spring of that year.",  # sparse, exact
    "Archived from the original on the fourth of May in that year.",  # boilerplate: never drawn
    "the lower case start of a sentence that would read back well.",  # not capitalised
    "The band toured across the country for most of the next year.",  # exact, less sparse
    "The bridge was closed for repairs during the whole of that winter.",  # not exact
    "Hi.",  # too short
]


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def test_choose_keeps_exact_sentences_sparsest_first_and_unique_pairs(model, monkeypatch):
    exact = {"He was born in London.", "The cat sat on the mat.", VALIDATION[0], VALIDATION[3]}
    sparse = {VALIDATION[0]: 0.5, VALIDATION[3]: 0.7}

    def readback(model, texts, ad):
        return [
            {"text": t, "ids": [5 + k], "reconstruction": t.lower() if t in exact else "x",
             "exact": t in exact, "retained_proportion": sparse.get(t, 0.9)}
            for k, t in enumerate(texts)
        ]  # fmt: skip

    monkeypatch.setattr(demo_set, "MAX_TOKENS", 60)  # the tiny model's tokenizer cuts words into many pieces
    drawn = []
    monkeypatch.setattr(demo_set, "_readback", lambda m, texts, ad: drawn.append(list(texts)) or readback(m, texts, ad))
    seen = []

    def record(model, a, b, taus, ad):
        seen.append((a, b))
        distinct = 6 if (a, b) == ([5], [6]) else 3
        return {"distinct": distinct, "largest_step": 20.0 + len(seen), "endpoints_exact": True, "strip": ["s"] * 11}

    monkeypatch.setattr(demo_set, "pair_record", record)
    res = demo_set.choose(
        model, VALIDATION, written=["He was born in London.", "The cat sat on the mat.", "Not read back."],
        n_sentences=5, n_pairs=3, alpha_delta=0.5,
    )  # fmt: skip
    # only readable validation sentences of 8 to 24 tokens were drawn
    assert "Archived" not in " ".join(drawn[1]) and "Hi." not in drawn[1]
    assert not any(t.startswith("the lower") for t in drawn[1])
    assert res["sentences"] == ["He was born in London.", "The cat sat on the mat.", VALIDATION[0], VALIDATION[3]]
    assert res["left_out"] == [{"text": "Not read back.", "reconstruction": "x"}]
    assert len(seen) == 6  # every pair of the four chosen sentences was interpolated
    # the pair that moves through most sentences first; then no sentence twice
    assert res["pairs"][0] == ("He was born in London.", "The cat sat on the mat.")
    assert len(res["pairs"]) == 2 and res["pairs"][1] == (VALIDATION[0], VALIDATION[3])


def test_a_baseline_has_no_demo_set(tiny_baseline_checkpoint):
    with pytest.raises(ValueError, match="NVAE"):
        demo_set.choose(load_checkpoint(tiny_baseline_checkpoint), VALIDATION)


def test_the_command_writes_the_files_the_app_reads(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    chosen = {
        "alpha_delta": 0.2,
        "sentences": ["The cat sat on the mat.", "He was born in London."],
        "pairs": [("The cat sat on the mat.", "He was born in London.")],
        "measures": {
            "sentences": [{"text": "The cat sat on the mat.", "source": "written", "retained_proportion": 0.8},
                          {"text": "He was born in London.", "source": "written", "retained_proportion": 0.7}],
            "pairs": [{"a": "The cat sat on the mat.", "b": "He was born in London.", "distinct": 5,
                       "largest_step": 30.0, "endpoints_exact": True, "strip": []}],
            "validation_drawn": 10,
            "validation_exact": 0,
        },
        "left_out": [{"text": "She plays the piano every day.", "reconstruction": "she plays the the day."}],
    }  # fmt: skip
    monkeypatch.setattr(demo_set, "choose", lambda *a, **k: chosen)
    out = tmp_path / "examples"
    assert main(["demo", "--checkpoint", str(tiny_checkpoint), "--out", str(out)]) == 0
    monkeypatch.setenv("NVAE_EXAMPLES_DIR", str(out))
    assert examples.sentences() == chosen["sentences"]
    assert examples.pairs() == chosen["pairs"]
    card = (out / "README.md").read_text()
    assert "python -m nvae demo" in card and "She plays the piano every day." in card and "| 5 | 30.0 |" in card
    assert main(["demo", "--checkpoint", str(tiny_checkpoint), "--out", str(out)]) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    assert main(["demo", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--force"]) == 0
