"""The Corpus study and Walkthrough pages and the Examples menu, under streamlit.testing (AppTest) on
tiny checkpoints: every control changes what is shown, bad input gives a message and never a
traceback, the page's study gives the numbers `nvae study FILE` prints, and each walkthrough step
shows the real model's numbers."""

from __future__ import annotations

import json

import pytest
from helpers import each_tab, metric, no_exception, open_page
from streamlit.testing.v1 import AppTest

SENTENCES = [
    "The cat sat on the mat.",
    "A storm hit the coast in June, 2011.",
    "She plays the piano every day.",
    "The game was released in Japan in 2011.",
    "He was born in London.",
    "The river flows north through the valley before it reaches the sea.",
    "After the war, the town was rebuilt with money from the new government.",
    "The film was released in the United States in 1998.",
]
pytestmark = pytest.mark.usefixtures("app_env")


def alerts(at: AppTest) -> list[str]:
    return [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]


def shown(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + alerts(at))


def query_all(at: AppTest, name: str) -> list[str]:
    value = at.query_params.get(name)
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def frame(at: AppTest, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def paste(at: AppTest, lines: list[str] | str) -> AppTest:
    at.radio(key="corpus-study.src").set_value("paste").run()
    at.text_area(key="corpus-study.s").set_value(lines if isinstance(lines, str) else "\n".join(lines)).run()
    return at


# -- corpus study ----------------------------------------------------------------------------------


def test_corpus_study_default_sample():
    at = open_page("corpus_study", {"n": "30"})
    no_exception(at)
    assert not at.error
    assert metric(at, "Sentences") == "30"
    assert [t.label for t in at.tabs] == [
        "Retained against length",
        "Pruned tokens",
        "Words",
        "α^Δ sweep",
        "The whole study",
    ]
    # only the open tab is drawn: the first shows the length figure and the sentences' table
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("Figure as HTML") == 1 and labels.count("Download CSV") == 1
    assert not any("bleu" in df.value.columns for df in at.dataframe)  # the sweep is not computed yet
    assert len(frame(at, "tokens")) == 30
    seen: list[str] = []
    for tab in each_tab(at, "corpus-study.tab"):
        no_exception(tab)
        seen += [b.label for b in tab.get("download_button")]
        if any("class" in df.value.columns for df in tab.dataframe):
            classes = list(frame(tab, "class")["class"])
            assert classes[-2:] == ["end of sentence", "first position"]
        if any("bleu" in df.value.columns for df in tab.dataframe):
            assert len(frame(tab, "bleu")) == 7  # the sweep
        if "Study as JSON" in seen and "Sentences (.txt)" in seen:
            assert any("python -m nvae study corpus.txt" in c.value for c in tab.code)
    assert seen.count("Figure as HTML") == 4  # length, class, band, sweep
    assert seen.count("Download CSV") == seen.count("Download JSON") >= 6
    assert "Study as JSON" in seen and "Sentences (.txt)" in seen
    assert at.query_params["src"] == "test" and at.query_params["n"] == "30"


def test_corpus_study_gives_the_command_lines_numbers(app_checkpoints, tmp_path, capsys):
    """The page and `nvae study FILE` read the same lines and print the same numbers."""
    from nvae.cli.main import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 2) + "\n\n")
    assert main(["study", "--checkpoint", str(app_checkpoints["nvae"]), str(corpus), "--alpha-delta", "0.5"]) == 0
    cli = json.loads(capsys.readouterr().out)
    at = open_page("corpus_study", {"ad": "0.5"})
    paste(at, corpus.read_text())
    no_exception(at)
    assert at.select_slider(key="corpus-study.ad").value == 0.5
    assert metric(at, "Sentences") == str(cli["sentences"])
    assert metric(at, "Mean retained proportion") == f"{cli['mean_retained_proportion']:.3f}"
    assert frame(at, "tokens").to_dict("records") == cli["retained_vs_length"]
    assert any("repeat an earlier one" in w for w in alerts(at))
    tabs = {t.label: t for t in at.tabs}
    assert set(tabs) >= {"Pruned tokens", "Words", "α^Δ sweep"}
    at.session_state["corpus-study.tab"] = "Pruned tokens"
    assert frame(at.run(), "class").to_dict("records") == cli["by_class"]
    at.session_state["corpus-study.tab"] = "Words"
    most = next(df.value for df in at.run().dataframe if "word" in df.value.columns)
    assert most.to_dict("records") == cli["most_pruned_words"]
    at.session_state["corpus-study.tab"] = "α^Δ sweep"
    assert frame(at.run(), "bleu").to_dict("records") == cli["sweep"]


def test_corpus_study_alpha_delta_and_cache():
    at = open_page("corpus_study", {"n": "20"})
    slider = at.select_slider(key="corpus-study.ad")
    slider.set_value(float(slider.options[0])).run()
    low = metric(at, "Retained components")
    at.select_slider(key="corpus-study.ad").set_value(1.0).run()
    no_exception(at)
    assert metric(at, "Retained components") != low
    assert at.query_params["ad"] == "1"
    from app import cache

    def sweeps() -> int:
        return sum(k[0] == "sweep" for k in cache.study_results().keys())

    before = sweeps()  # moving the slider on the first tab computes no sweep
    at.session_state["corpus-study.tab"] = "α^Δ sweep"
    no_exception(at.run())
    assert sweeps() == before + 1
    keys = cache.study_results().keys()
    assert {k[3] for k in keys if k[0] == "tables"} >= {float(slider.options[0]), 1.0}


@pytest.mark.parametrize(
    "name, content, expect",
    [
        ("big.txt", b"The cat sat on the mat.\n" * 50_000, "1.2 MB"),
        ("empty.txt", b"", "is empty"),
        ("blank.txt", b"   \n\n\t\n", "is empty"),
        ("zero-width.txt", "\u200b\n\u200b\u200b\n".encode(), "invisible"),
        ("binary.bin", bytes(range(256)) * 40, "does not look like text"),
        ("utf16.txt", "The cat sat on the mat.\n".encode("utf-16"), "NUL bytes"),
        ("noise.bin", bytes((i * 97 + 13) % 256 for i in range(5000)).replace(b"\x00", b"\x01"), "not valid UTF-8"),
        ("accents.txt", "\u0301\u0300\n\u0302\n".encode(), "no line has a token left"),
    ],
)
def test_corpus_study_bad_files_give_a_message(name, content, expect):
    at = open_page("corpus_study")
    at.radio(key="corpus-study.src").set_value("file").run()
    assert any("Upload a text file" in i.value for i in at.info)
    at.file_uploader(key="corpus-study.file").upload(name, content, "text/plain").run()
    no_exception(at)
    assert at.error, "a bad file is refused with an error"
    assert any(expect in e.value for e in at.error), [e.value for e in at.error]
    assert not at.metric, "nothing is studied"


def test_corpus_study_uploaded_file_and_latin1():
    at = open_page("corpus_study")
    at.radio(key="corpus-study.src").set_value("file").run()
    content = ("\n".join(SENTENCES) + "\nCafé au lait.\n").encode("latin-1")
    at.file_uploader(key="corpus-study.file").upload("corpus.txt", content, "text/plain").run()
    no_exception(at)
    assert not at.error
    assert metric(at, "Sentences") == str(len(SENTENCES) + 1)
    assert any("not valid UTF-8" in w.value for w in at.warning)
    assert any("does not hold an uploaded file" in c.value for c in at.caption)


def test_corpus_study_identical_sentences():
    at = open_page("corpus_study")
    paste(at, ["The cat sat on the mat."] * 5)
    no_exception(at)
    assert not at.error
    assert metric(at, "Sentences") == "5"
    assert any("All 5 sentences are the same sentence" in w for w in alerts(at))
    assert any("Only 5 sentence(s)" in c.value for c in at.caption)


@pytest.mark.parametrize("text", ["", "   \n \n", "\u200b\u200b\n\u2060"])
def test_corpus_study_empty_paste(text):
    at = open_page("corpus_study")
    paste(at, text)
    no_exception(at)
    assert at.error and not at.metric


def test_corpus_study_examples_fill_the_text_area():
    from nvae.data.examples import sentences

    at = open_page("corpus_study")
    at.radio(key="corpus-study.src").set_value("paste").run()
    at.selectbox(key="corpus-study.example").set_value("All of them").run()
    no_exception(at)
    assert at.text_area(key="corpus-study.s").value == "\n".join(sentences())
    assert at.selectbox(key="corpus-study.example").value is None  # the menu goes back to its placeholder
    assert metric(at, "Sentences") == str(len(sentences()))
    assert query_all(at, "s") == sentences()


def test_corpus_study_link_restores_and_long_paste_is_not_in_the_link():
    at = open_page("corpus_study", {"src": "paste", "s": ["First one here.", "Second one there."], "ad": "0.2"})
    no_exception(at)
    assert at.text_area(key="corpus-study.s").value == "First one here.\nSecond one there."
    assert at.select_slider(key="corpus-study.ad").value == 0.2
    assert metric(at, "Sentences") == "2"
    paste(at, [f"Sentence number {i} is here." for i in range(25)])
    no_exception(at)
    assert "s" not in at.query_params
    assert any("does not hold these sentences" in c.value for c in at.caption)


@pytest.mark.parametrize("query", [{"n": "5"}, {"n": "abc"}, {"src": "<script>"}, {"seed": "-1"}, {"ad": "7"}])
def test_corpus_study_bad_link_values(query):
    at = open_page("corpus_study", {**query, **({} if "n" in query else {"n": "10"})})
    no_exception(at)
    assert at.warning
    assert not any("<script>" in a for a in alerts(at))


def test_corpus_study_baseline_in_its_own_terms(monkeypatch, app_checkpoints):
    monkeypatch.setenv("NVAE_CHECKPOINT", str(app_checkpoints["baseline"]))
    at = open_page("corpus_study", {"src": "paste", "n": "40"})
    no_exception(at)
    assert not at.error and not at.metric
    text = shown(at)
    assert "VT baseline" in text and "one Gaussian vector per token" in text and "nothing to study" in text
    assert "prior" not in text
    assert at.query_params["src"] == "paste" and at.query_params["n"] == "40"


def test_check_corpus_bounds():
    from app.inputs import MAX_STUDY_SENTENCES, check_corpus

    check = check_corpus("\n".join(f"Line {i}." for i in range(MAX_STUDY_SENTENCES + 200)), "The text")
    assert not check.errors and len(check.texts) == MAX_STUDY_SENTENCES
    assert any(f"studies the first {MAX_STUDY_SENTENCES:,}" in n for n in check.notices)
    assert check_corpus(["A.", "B.", "A."]).distinct == 2
    assert check_corpus("\ufeffThe cat.\n").texts == ["The cat."]
    assert check_corpus("x" * 1_000_001).errors
    assert check_corpus(None).errors


# -- walkthrough -----------------------------------------------------------------------------------


def test_walkthrough_next_and_back():
    at = open_page("walkthrough")
    no_exception(at)
    assert at.subheader[0].value == "1. The tokens"
    assert at.button(key="walkthrough.back").disabled
    at.button(key="walkthrough.next").click().run()
    no_exception(at)
    assert at.subheader[0].value == "2. The encoder states"
    assert at.query_params["step"] == "2"
    at.button(key="walkthrough.back").click().run()
    assert at.subheader[0].value == "1. The tokens" and at.query_params["step"] == "1"
    at.selectbox(key="walkthrough.step").set_value(9).run()
    no_exception(at)
    assert at.subheader[0].value == "9. The whole reconstruction"
    assert at.button(key="walkthrough.next").disabled


@pytest.mark.parametrize("step", range(1, 10))
def test_walkthrough_every_step(step):
    at = open_page("walkthrough", {"step": str(step)})
    no_exception(at)
    assert not at.error
    assert at.subheader[0].value.startswith(f"{step}. ")
    assert at.page_link, "every step links to the page that explores it"
    paragraph = next(m.value for m in at.markdown if len(m.value) > 120 and "**" in m.value)
    assert 2 <= paragraph.count(". ") + 1 <= 5, "two or three plain sentences"
    assert at.get("plotly_chart") or at.metric or at.dataframe


def test_walkthrough_numbers_are_the_models(app_checkpoints):
    from nvae.readout import walkthrough
    from nvae.store.checkpoint import load_checkpoint

    text = "The river flows into the sea."
    model = load_checkpoint(app_checkpoints["nvae"])
    tr = walkthrough.trace(model, text, 1.0)
    at = open_page("walkthrough", {"s": text, "ad": "1", "step": "5"})
    no_exception(at)
    assert f"{tr.n_retained} of the {tr.n_inputs} token components survive" in shown(at)
    at = open_page("walkthrough", {"s": text, "ad": "1", "step": "1"})
    assert f"n = {tr.n_inputs} tokens" in shown(at)
    at = open_page("walkthrough", {"s": text, "ad": "1", "step": "9"})
    assert tr.reconstruction in [c.value for c in at.code]
    at = open_page("walkthrough", {"s": text, "ad": "1", "step": "8", "t": "0"})
    assert f"probability {tr.chosen[0]['probability']:.2f}" in shown(at)


def test_walkthrough_query_controls_and_link():
    at = open_page("walkthrough", {"step": "7"})
    no_exception(at)
    first = shown(at)
    assert "√E = 2.82843, E = 8 being the width of one head's vectors" in first  # d_model 32 over 4 heads
    at.select_slider(key="walkthrough.t").set_value(2).run()
    no_exception(at)
    assert "To write token 3" in shown(at) and shown(at) != first
    at.radio(key="walkthrough.h").set_value(1).run()
    no_exception(at)
    assert "head 2's" in shown(at)
    assert at.query_params["t"] == "2" and at.query_params["h"] == "1" and at.query_params["step"] == "7"
    link = {k: query_all(at, k) for k in at.query_params}
    again = open_page("walkthrough", link)
    no_exception(again)
    assert again.select_slider(key="walkthrough.t").value == 2 and again.radio(key="walkthrough.h").value == 1


@pytest.mark.parametrize(
    "typed, kind",
    [
        ("   ", "error"),
        ("\u200b\u200b", "error"),
        ("word " * 200, "warning"),  # cut to the model's limit, with a notice
        ("I love it 😀😀 🎉", "info"),  # outside the vocabulary: [UNK]
        ("\u0301\u0300", "warning"),  # nothing left after normalisation but [EOS]
    ],
)
def test_walkthrough_bad_sentences(typed, kind):
    at = open_page("walkthrough", {"step": "7"})
    at.text_input(key="walkthrough.s").set_value(typed).run()
    no_exception(at)
    assert {"error": at.error, "warning": at.warning, "info": at.info}[kind]
    if kind != "error":
        assert at.subheader[0].value == "7. One decoder query"


@pytest.mark.parametrize("query", [{"step": "99"}, {"t": "1000"}, {"h": "<b>"}, {"s": "   "}, {"ad": "nan"}])
def test_walkthrough_bad_link_values(query):
    at = open_page("walkthrough", query)
    no_exception(at)
    assert at.warning and not at.error
    assert not any("<b>" in a for a in alerts(at))


def test_walkthrough_baseline(monkeypatch, app_checkpoints):
    monkeypatch.setenv("NVAE_CHECKPOINT", str(app_checkpoints["baseline"]))
    at = open_page("walkthrough", {"step": "4"})
    no_exception(at)
    assert not at.error and at.info
    assert "VT baseline" in shown(at) and "one Gaussian vector per token" in shown(at)
    assert at.query_params["step"] == "4"


# -- the Examples menu -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page, target, kind",
    [
        ("inspect", "inspect.s", "text_area"),
        ("sparsity", "sparsity.s", "text_input"),
        ("walkthrough", "walkthrough.s", "text_input"),
    ],
)
def test_examples_menu_fills_the_input(page, target, kind):
    from nvae.data.examples import sentences

    at = open_page(page)
    menu = at.selectbox(key=f"{page}.example")
    assert list(menu.options)[: len(sentences())] == sentences()
    menu.set_value(sentences()[1]).run()
    no_exception(at)
    assert getattr(at, kind)(key=target).value == sentences()[1]
    assert at.selectbox(key=f"{page}.example").value is None
    assert sentences()[1] in query_all(at, "s")


def test_examples_menu_all_of_them_on_inspect():
    from nvae.data.examples import sentences

    at = open_page("inspect")
    at.selectbox(key="inspect.example").set_value("All of them").run()
    no_exception(at)
    assert at.text_area(key="inspect.s").value.splitlines() == sentences()[:5]
    assert len(at.tabs) == 5


def test_examples_menu_without_a_demo_set(monkeypatch, tmp_path):
    from app import cache

    monkeypatch.setenv("NVAE_EXAMPLES_DIR", str(tmp_path / "none"))
    cache.example_sentences.clear()
    try:
        at = open_page("inspect")
        no_exception(at)
        assert not [s for s in at.selectbox if s.key == "inspect.example"]
    finally:
        cache.example_sentences.clear()


@pytest.mark.parametrize("which", ["missing", "broken"])
@pytest.mark.parametrize("page", ["corpus_study", "walkthrough"])
def test_bad_default_checkpoint_shows_error(which, page, app_checkpoints, monkeypatch, tmp_path):
    path = tmp_path / "nope" if which == "missing" else app_checkpoints["broken"]
    monkeypatch.setenv("NVAE_CHECKPOINT", str(path))
    at = open_page(page)
    no_exception(at)
    assert at.error and "could not be loaded" in at.error[0].value
    assert at.selectbox, "the checkpoints that do exist are offered"
