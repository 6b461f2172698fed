"""nvae.readout.corpus_study in parts (what the app's Corpus study page caches apart) gives the same numbers as the
whole study `nvae study FILE` prints."""

from __future__ import annotations

import json

import pytest
from helpers import make_tiny_checkpoint

from nvae.model.grids import alpha_delta_values
from nvae.readout import corpus_study
from nvae.store.checkpoint import load_checkpoint

TEXTS = [
    "The cat sat on the mat.",
    "",
    "A storm hit the coast in June, 2011.",
    "The cat sat on the mat.",
    "She plays the piano every day, and he was born in London.",
    "\u0301\u0300",  # nothing left after the tokenizer's normalisation
    "The game was released in Japan in 2011.",
]


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def test_parts_make_the_whole_study(model):
    ranks = corpus_study.frequency_ranks(model, corpus_study.reference_texts(model))
    seen = []
    whole = corpus_study.corpus_study(model, TEXTS, 0.5, ranks=ranks, progress=lambda d, n: seen.append((d, n)))
    corpus = corpus_study.prepare_corpus(model, TEXTS)
    tables = corpus_study.study_tables(model, corpus, 0.5, ranks)
    sweep = corpus_study.study_sweep(model, corpus, 0.5)
    assert whole == {**{k: v for k, v in tables.items() if k != "mean_retained_proportion"}, "sweep": sweep,
                     "mean_retained_proportion": tables["mean_retained_proportion"]}  # fmt: skip
    assert list(whole) == [
        "sentences",
        "truncated",
        "alpha_delta",
        "retained_vs_length",
        "by_class",
        "by_frequency_band",
        "most_pruned_words",
        "least_pruned_words",
        "sweep",
        "mean_retained_proportion",
    ]
    total = len(corpus.ids) * (1 + len(sweep))
    assert [n for _, n in seen] == [total] * len(seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == total
    with_refs = corpus_study.corpus_study(model, TEXTS, 0.5, reference_texts=corpus_study.reference_texts(model))
    assert with_refs == whole


def test_encoder_states_serve_every_alpha_delta(model):
    """The app keeps a corpus's encoder states and reruns only the NVIB layer when alpha^Delta moves:
    the tables must be those of a fresh encoding, at every value (batches of 2 to cross a boundary)."""
    corpus = corpus_study.prepare_corpus(model, TEXTS)
    encoded = corpus_study.encode_corpus(model, corpus, batch_size=2)
    assert len(encoded.batches) == 3 and [s.shape[0] for s in encoded.states] == [2, 2, 1]
    for ad in (0.05, 0.5, 1.0):
        assert corpus_study.study_tables(model, corpus, ad, encoded=encoded) == corpus_study.study_tables(
            model, corpus, ad
        )


def test_prepare_corpus(model):
    corpus = corpus_study.prepare_corpus(model, TEXTS)
    assert corpus.given == 6 and corpus.skipped == 1 and corpus.capped == 0
    assert corpus.texts == [t for t in TEXTS if t.strip() and t != "\u0301\u0300"]
    assert len(corpus.ids) == len(corpus.truncated) == 5
    capped = corpus_study.prepare_corpus(model, TEXTS, max_sentences=2)
    assert capped.capped == 4 and capped.texts == [TEXTS[0], TEXTS[2]]
    for bad in ([], ["", "   "], ["\u0301"]):
        with pytest.raises(ValueError, match="no sentence"):
            corpus_study.prepare_corpus(model, bad)


def test_sweep_of_a_fixed_model_has_its_one_value(tmp_path):
    fixed = load_checkpoint(make_tiny_checkpoint(tmp_path / "fixed", conditional=False, alpha_delta=0.2))
    assert alpha_delta_values(fixed.cfg, corpus_study.SWEEP_POINTS) == [0.2]
    sweep = corpus_study.study_sweep(fixed, ["The cat sat on the mat."])
    assert [r["alpha_delta"] for r in sweep] == [0.2]


def test_reference_texts_and_draws(model, tmp_path):
    refs = corpus_study.reference_texts(model)
    assert refs and len(refs) <= corpus_study.REFERENCE_SENTENCES
    corpus_file = tmp_path / "train.txt"
    corpus_file.write_text("One sentence.\n")
    model.train_cfg.data, data = str(corpus_file), model.train_cfg.data
    try:
        assert corpus_study.reference_texts(model) is None  # trained on a file: no bands
    finally:
        model.train_cfg.data = data
    pool = [f"s{i}" for i in range(50)]
    assert corpus_study.draw(pool, 10, 3) == corpus_study.draw(pool, 10, 3) != corpus_study.draw(pool, 10, 4)
    assert set(corpus_study.draw(pool, 10, 3)) <= set(pool) and corpus_study.draw(pool, 99) == pool


def test_a_baseline_has_nothing_to_study(tiny_baseline_checkpoint):
    baseline = load_checkpoint(tiny_baseline_checkpoint)
    for call in (corpus_study.study_tables, corpus_study.study_sweep):
        with pytest.raises(ValueError, match="baseline"):
            call(baseline, ["The cat sat on the mat."])


def test_the_command_line_prints_the_library_study(model, tiny_checkpoint, tmp_path, capsys):
    from nvae.cli.main import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    assert main(["study", "--checkpoint", str(tiny_checkpoint), str(corpus)]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = corpus_study.corpus_study(
        model, corpus.read_text().splitlines(), None, corpus_study.reference_texts(model)
    )
    assert printed == {"checkpoint": str(tiny_checkpoint), "file": str(corpus), **expected}
