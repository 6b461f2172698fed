"""The Streamlit app under streamlit.testing (AppTest), on tiny checkpoints: every page runs without
an exception; typing, sliders and query parameters change what is shown; bad input and bad
checkpoints give an error or warning element, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import APP_TIMEOUT, MAIN, metric, no_exception, open_page
from streamlit.testing.v1 import AppTest

PAGES = [
    "inspect",
    "sparsity",
    "interpolate",
    "latent_map",
    "samples",
    "denoising",
    "model_page",
    "corpus_study",
    "walkthrough",
]
pytestmark = pytest.mark.usefixtures("restore_torch_threads", "app_env")


def codes(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


def alerts(at: AppTest) -> list[str]:
    return [e.value for e in at.error] + [w.value for w in at.warning]


# -- every page ----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_page_runs(page):
    at = open_page(page)
    no_exception(at)
    assert at.title, "every page has a title"
    assert not at.error


def test_page_query_param_opens_page():
    at = AppTest.from_file(MAIN, default_timeout=APP_TIMEOUT)
    at.query_params["page"] = "interpolate"
    at.query_params["tau"] = "0.2"
    at.run()
    no_exception(at)
    assert at.title[0].value.startswith("Interpolate")
    assert at.slider(key="interpolate.tau").value == pytest.approx(0.2)


def test_unknown_page_param_gives_notice():
    at = AppTest.from_file(MAIN, default_timeout=APP_TIMEOUT)
    at.query_params["page"] = "<script>alert(1)</script>"
    at.run()
    no_exception(at)
    assert any("page" in w for w in alerts(at))
    assert all("<script>" not in w for w in alerts(at))


# -- inspect -------------------------------------------------------------------------------------


def test_inspect_typing_changes_view():
    at = open_page("inspect")
    before = codes(at)
    at.text_area(key="inspect.s").set_value("The river flows into the sea.").run()
    no_exception(at)
    assert codes(at) != before
    assert "the river flows into the sea." in codes(at)
    assert at.query_params["s"] == "The river flows into the sea."
    assert len(at.tabs) == 1


def test_inspect_alpha_delta_changes_view():
    at = open_page("inspect")
    slider = at.select_slider(key="inspect.ad")
    slider.set_value(float(slider.options[0])).run()
    low = metric(at, "Retained components")
    at.select_slider(key="inspect.ad").set_value(1.0).run()
    no_exception(at)
    assert metric(at, "Retained components") != low
    assert float(at.query_params["ad"]) == 1.0


def test_inspect_exports_and_figures():
    at = open_page("inspect")
    labels = [b.label for b in at.get("download_button")]
    assert "Download CSV" in labels and "Download JSON" in labels and "Figure as HTML" in labels
    assert len(at.dataframe) >= 1


@pytest.mark.parametrize(
    "text, expect",
    [
        ("", "error"),
        ("   \n\t  ", "error"),
        ("\u200b\u200b", "error"),
        ("word " * 2000, "warning"),  # 10,000 characters: cut to the model's limit, with a notice
        ("I love it 😀😀 🎉", "info"),  # emoji are outside the vocabulary
        ("Москва 東京 القاهرة", "info"),
        ("<script>alert('x')</script> <b>bold</b> [link](javascript:alert(1))", "info"),
    ],
)
def test_inspect_bad_input(text, expect):
    at = open_page("inspect")
    at.text_area(key="inspect.s").set_value(text).run()
    no_exception(at)
    elements = {"error": at.error, "warning": at.warning, "info": at.info}[expect]
    assert elements, f"expected a {expect} element"
    if expect != "error":
        assert at.code, "the text is still encoded and shown"


def test_script_text_is_shown_as_plain_text():
    at = open_page("inspect")
    at.text_area(key="inspect.s").set_value("<script>alert(1)</script>").run()
    no_exception(at)
    markdown = " ".join(m.value for m in at.markdown)
    assert "<script>" not in markdown  # never rendered through markdown/HTML
    assert not at.get("html")


# -- sparsity ------------------------------------------------------------------------------------


def test_sparsity_slider_reencodes():
    at = open_page("sparsity")
    no_exception(at)
    at.select_slider(key="sparsity.ad").set_value(0.01).run()
    low = at.metric[0].value
    at.select_slider(key="sparsity.ad").set_value(1.0).run()
    no_exception(at)
    assert at.metric[0].value != low
    assert at.metric[0].label.startswith("Retained at α^Δ = 1")


def test_sparsity_compares_with_a_sparser_value_by_default(app_checkpoints):
    """The right-hand slider starts half-way (log scale) between the sparsest trained value and the
    default, so it shows a sparser latent without starting at the edge of the range."""
    at = open_page("sparsity")
    no_exception(at)
    left, right = at.select_slider(key="sparsity.ad").value, at.select_slider(key="sparsity.ad2").value
    from nvae.checkpoint import load_checkpoint

    cfg = load_checkpoint(app_checkpoints["nvae"]).cfg
    assert left == pytest.approx(cfg.alpha_delta, rel=0.05)
    assert cfg.alpha_delta_min < right < left


def test_sparsity_empty_sentence():
    at = open_page("sparsity")
    at.text_input(key="sparsity.s").set_value("   ").run()
    no_exception(at)
    assert at.error


# -- interpolate ---------------------------------------------------------------------------------


def test_interpolate_tau_changes_view():
    at = open_page("interpolate")
    no_exception(at)
    caption = [c.value for c in at.caption]
    at.slider(key="interpolate.tau").set_value(0.9).run()
    no_exception(at)
    assert [c.value for c in at.caption] != caption
    assert any("τ = 0.90" in c.value for c in at.caption)
    assert at.query_params["tau"] == "0.9"


def test_interpolate_shows_baseline_strip():
    at = open_page("interpolate")
    assert at.selectbox(key="interpolate.baseline").value == "baseline-vt"
    assert len(at.table) == 2  # NVAE strip and the baseline's
    assert any("position-wise" in c.value for c in at.caption)


def test_interpolate_new_sentences_and_bad_input():
    at = open_page("interpolate")
    at.text_input(key="interpolate.a").set_value("A cat sat on the mat.")
    at.text_input(key="interpolate.b").set_value("")
    at.button[0].click().run()
    no_exception(at)
    assert at.error
    at.text_input(key="interpolate.b").set_value("x " * 5000)
    at.button[0].click().run()
    no_exception(at)
    assert any("longer than the model's limit" in w.value for w in at.warning)


# -- query parameters ----------------------------------------------------------------------------


def test_query_params_restore_view():
    at = open_page("interpolate", {"a": "Alpha sentence here.", "b": "Beta sentence there.", "tau": "0.3"})
    no_exception(at)
    assert at.text_input(key="interpolate.a").value == "Alpha sentence here."
    assert at.slider(key="interpolate.tau").value == pytest.approx(0.3)
    at = open_page("inspect", {"s": ["First one.", "Second one."], "ad": "1.0"})
    no_exception(at)
    assert at.text_area(key="inspect.s").value == "First one.\nSecond one."
    assert at.select_slider(key="inspect.ad").value == 1.0
    assert len(at.tabs) == 2


@pytest.mark.parametrize(
    "query",
    [
        {"ad": "nan"},
        {"ad": "inf"},
        {"ad": "-1"},
        {"ad": "1e308"},
        {"ad": "<script>"},
        {"ad": "0x10"},
        {"s": ["x" * 10_000]},
        {"s": [f"s{i}" for i in range(50)]},
        {"s": ""},
        {"ckpt": "../../etc"},
    ],
)
def test_bad_query_params_fall_back_with_notice(query):
    at = open_page("inspect", query)
    no_exception(at)
    assert at.warning, "a notice says the link's value was not used"
    assert not any("<script>" in w or "../../etc" in w for w in alerts(at))


def test_bad_tau_and_samples_params():
    at = open_page("interpolate", {"tau": "7"})
    no_exception(at)
    assert at.warning and at.slider(key="interpolate.tau").value == pytest.approx(0.5)
    at = open_page("samples", {"k": "99999999999999", "seed": "-3", "temp": "abc"})
    no_exception(at)
    assert len(at.warning) == 3


# -- checkpoints ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["missing", "broken"])
@pytest.mark.parametrize("page", ["inspect", "interpolate", "latent_map", "samples", "sparsity"])
def test_bad_default_checkpoint_shows_error(which, page, app_checkpoints, monkeypatch, tmp_path):
    path = tmp_path / "nope" if which == "missing" else app_checkpoints["broken"]
    monkeypatch.setenv("NVAE_CHECKPOINT", str(path))
    at = open_page(page)
    no_exception(at)
    assert at.error and "could not be loaded" in at.error[0].value
    assert at.selectbox, "the checkpoints that do exist are offered"


def test_model_page_selects_other_checkpoint():
    at = open_page("model_page")
    no_exception(at)
    assert any("Tiny test NVAE" in m.value for m in at.markdown)
    at.selectbox(key="model_page_ckpt").set_value("baseline-vt").run()
    no_exception(at)
    assert at.metric[0].value == "VT"
    assert at.query_params.get("ckpt") == "baseline-vt"
    at.switch_page("views/sparsity.py").run()
    no_exception(at)
    assert at.info  # a baseline has no sparsity control
    at.switch_page("views/interpolate.py").run()
    no_exception(at)
    assert at.table


def test_fallback_selector_recovers(monkeypatch, tmp_path):
    monkeypatch.setenv("NVAE_CHECKPOINT", str(tmp_path / "nope"))
    at = open_page("inspect")
    at.selectbox[0].set_value("tiny-nvae").run()
    no_exception(at)
    assert not at.error
    assert at.code


# -- other pages ---------------------------------------------------------------------------------


def test_samples_controls():
    at = open_page("samples")
    before = at.table[0].value.copy()
    at.number_input(key="samples.seed").set_value(7)
    at.button[0].click().run()
    no_exception(at)
    assert not before.equals(at.table[0].value)
    assert at.query_params["seed"] == "7"


def test_denoising_page_moves_with_query():
    at = open_page("denoising")
    first = [m.value for m in at.metric]
    at.slider(key="denoising.ux").set_value(-3.0).run()
    no_exception(at)
    assert [m.value for m in at.metric] != first
    assert any("Identity check" in c.value for c in at.caption)


def test_latent_map_overlay():
    at = open_page("latent_map")
    no_exception(at)
    assert any("retained components of 40 sentences" in c.value for c in at.caption)
    at.text_area(key="latent-map.s").set_value("").run()
    no_exception(at)
    assert at.error


def test_baseline_checkpoint_pages(monkeypatch, app_checkpoints):
    monkeypatch.setenv("NVAE_CHECKPOINT", str(app_checkpoints["baseline"]))
    for page in ("inspect", "samples", "latent_map"):
        at = open_page(page)
        no_exception(at)
        assert not at.error


# -- fixes: BLEU on [UNK] input, token notices, baselines, exact alpha^Delta, every setting in the URL


ARABIC = "القاهرة هي عاصمة مصر وأكبر مدنها اليوم"  # seven words, each one [UNK] for the tiny tokenizer


def test_bleu_is_flagged_when_the_input_is_mostly_unknown():
    """Seven [UNK] in, seven [UNK] out would read BLEU 100: the number is flagged, with a warning
    beside it saying why it is not meaningful; an ordinary sentence is not flagged."""
    at = open_page("inspect", {"s": [ARABIC, "The game was released in Japan in 2011."]})
    no_exception(at)
    bleu = [m for m in at.metric if m.label == "Reconstruction BLEU"]
    assert len(bleu) == 2
    assert "not meaningful" in bleu[0].delta and "[UNK]" in bleu[0].delta
    assert not bleu[1].delta
    warnings = [w.value for w in at.warning if "BLEU is not meaningful" in w.value]
    assert len(warnings) == 1 and "7 of the 7 pieces" in warnings[0] and "[UNK]" in warnings[0]
    at = open_page("sparsity", {"s": ARABIC})
    no_exception(at)
    assert any("BLEU is not meaningful" in w.value for w in at.warning)
    assert any("not meaningful" in c.value for c in at.caption)
    at = open_page("interpolate", {"a": ARABIC, "b": "He was born in England."})
    no_exception(at)
    assert "not meaningful" in next(m for m in at.metric if m.label == "BLEU vs A").delta
    assert not next(m for m in at.metric if m.label == "BLEU vs B").delta
    assert any("BLEU is not meaningful" in w.value and "sentence A" in w.value for w in at.warning)


@pytest.mark.parametrize("page", ["inspect", "sparsity", "interpolate", "latent_map"])
def test_every_page_that_encodes_text_shows_unknown_and_truncation_notices(page):
    """The [UNK] and truncation notices of Inspect and Sparsity (messages.token_messages) on every page
    that encodes typed text."""
    long_text, emoji = "word " * 200, "I love it 😀😀 🎉"
    query = {
        "inspect": {"s": [long_text, emoji]},
        "latent_map": {"s": [long_text, emoji]},
        "sparsity": {"s": emoji + " " + long_text},
        "interpolate": {"a": long_text, "b": emoji},
    }[page]
    at = open_page(page, query)
    no_exception(at)
    assert any("longer than the model's limit of 49 tokens" in w.value for w in at.warning)
    assert any("outside the model's vocabulary; they appear as [UNK]" in i.value for i in at.info)


def test_baselines_are_described_in_their_own_terms(monkeypatch, app_checkpoints):
    """A baseline has no prior component and no alpha^Delta: no page says so of it, each describes
    its latent (VT: one Gaussian vector per token)."""
    monkeypatch.setenv("NVAE_CHECKPOINT", str(app_checkpoints["baseline"]))

    def text_of(at):
        return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])

    at = open_page("inspect")
    no_exception(at)
    assert not [s for s in at.select_slider if s.key == "inspect.ad"], "no alpha^Delta control for a baseline"
    assert "ad" not in at.query_params
    shown = text_of(at)
    assert "one Gaussian vector per token" in shown and "VT baseline" in shown
    assert "component 0 is the prior" not in shown and "prior* component" not in shown
    assert [m.label for m in at.metric][:2] == ["Latent vectors", "Vectors per input token"]
    assert "alpha" not in at.dataframe[0].value.columns and "status" not in at.dataframe[0].value.columns
    at = open_page("model_page")
    no_exception(at)
    assert not any(m.label.startswith("α^Δ") for m in at.metric)
    assert next(m for m in at.metric if m.label == "Latent").value == "vector per token"
    assert "one Gaussian vector per token" in text_of(at)
    settings = [r for df in at.dataframe if "setting" in df.value.columns for r in df.value["setting"]]
    assert "d_model" in settings and not any(r.startswith("alpha_delta") for r in settings)
    at = open_page("interpolate")
    no_exception(at)
    shown = text_of(at)
    assert "VT: position-wise interpolation" in shown and "mixture of the two sets" not in shown
    assert "position by" in shown and "set* of weighted components" not in shown
    at = open_page("latent_map")
    no_exception(at)
    assert "prior" not in text_of(at) and "one Gaussian vector per token" in text_of(at)
    for page in ("sparsity", "samples"):
        at = open_page(page)
        no_exception(at)
        assert "one Gaussian vector per token" in text_of(at)


def test_model_page_describes_the_nvae_alpha_delta_range():
    at = open_page("model_page")
    no_exception(at)
    assert next(m for m in at.metric if m.label.startswith("α^Δ range")).value == "0.01 – 1"


ROUND = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]


@pytest.mark.parametrize("value", ["0.05", "0.02", "0.2", "0.0316", "0.123"])
def test_alpha_delta_link_values_are_exact(value):
    """A link's alpha^Delta is used as given (it used to snap to the nearest of 26 log-spaced stops:
    0.05 became 0.0464), with no notice; the stops include the round values."""
    at = open_page("inspect", {"ad": value, "s": "The film was good."})
    no_exception(at)
    slider = at.select_slider(key="inspect.ad")
    assert slider.value == float(value)
    assert at.query_params["ad"] == value
    assert not at.warning
    assert {float(o) for o in slider.options} >= set(ROUND)
    at = open_page("sparsity", {"ad": "0.5", "ad2": value})
    no_exception(at)
    assert at.select_slider(key="sparsity.ad").value == 0.5
    assert at.select_slider(key="sparsity.ad2").value == float(value)
    assert at.metric[1].label == f"Retained at α^Δ = {float(value):g}"


def test_alpha_delta_round_stops_follow_the_model_range(app_checkpoints, tmp_path, monkeypatch):
    """The stops come from the model's range (here [0.005, 0.2]), not from numbers in the app."""
    from helpers import make_tiny_checkpoint

    from nvae.checkpoint import load_checkpoint, save_checkpoint

    path = make_tiny_checkpoint(tmp_path / "narrow-nvae")
    model = load_checkpoint(path)
    model.cfg.alpha_delta_min, model.cfg.alpha_delta_max, model.cfg.alpha_delta = 0.005, 0.2, 0.05
    save_checkpoint(path, model, model.train_cfg)
    monkeypatch.setenv("NVAE_CHECKPOINT", str(path))
    at = open_page("inspect", {"ad": "0.3"})
    no_exception(at)
    stops = [float(o) for o in at.select_slider(key="inspect.ad").options]
    assert stops[0] == 0.005 and stops[-1] == 0.2 and {0.01, 0.02, 0.05, 0.1} <= set(stops)
    assert at.select_slider(key="inspect.ad").value == 0.05
    assert "α^Δ: 0.3 is outside this model's range [0.005, 0.2]; using the default, 0.05." in alerts(at)


def test_notices_about_link_values_name_their_control():
    at = open_page("inspect", {"ad": "5"})
    no_exception(at)
    assert "α^Δ: 5 is outside this model's range [0.01, 1]; using the default, 0.3." in alerts(at)
    at = open_page("sparsity", {"ad2": "5", "ad": "abc"})
    no_exception(at)
    notices = alerts(at)
    assert any(n.startswith("α^Δ (right): 5 is outside this model's range [0.01, 1]") for n in notices)
    assert any(n.startswith("α^Δ (left): the link's value is not valid") for n in notices)
    at = open_page("denoising", {"d": "3", "ux": "9"})
    no_exception(at)
    notices = alerts(at)
    assert "d (noise variance √d): 3 is not one of this control's values; using 2." in notices
    assert any(n.startswith("query u, x: 9 is outside the allowed range [-5, 5]") for n in notices)
    at = open_page("interpolate", {"tau": "7"})
    assert any(n.startswith("τ: 7 is outside the allowed range [0, 1]") for n in alerts(at))


def test_denoising_settings_are_in_the_url():
    at = open_page("denoising")
    at.slider(key="denoising.mx0").set_value(1.5).run()
    at.slider(key="denoising.w2").set_value(0.7).run()
    no_exception(at)
    assert at.query_params["mx0"] == "1.5" and at.query_params["w2"] == "0.7"
    assert at.query_params["k"] == "3" and at.query_params["d"] == "2"
    link = dict(at.query_params)
    first = [m.value for m in at.metric]
    at = open_page("denoising", link)  # a new session opening the link: the same view
    no_exception(at)
    assert at.slider(key="denoising.mx0").value == 1.5 and at.slider(key="denoising.w2").value == 0.7
    assert [m.value for m in at.metric] == first
    at = open_page("denoising", {"k": "2", "vy1": "3.5"})
    assert at.slider(key="denoising.vy1").value == 3.5 and "w2" not in at.query_params


@pytest.mark.parametrize(
    "page, query, kept",
    [
        ("sparsity", {"s": "A storm hit the coast."}, {"s": "A storm hit the coast."}),
        ("samples", {"seed": "7", "temp": "0.5"}, {"seed": "7", "temp": "0.5", "k": "10", "n": "5"}),
        ("denoising", {"ux": "2"}, {"ux": "2"}),
        ("interpolate", {"tau": "0.3"}, {"tau": "0.3"}),
        ("latent_map", {"colour": "position"}, {"colour": "position"}),
        ("inspect", {"s": "Hello there."}, {"s": "Hello there."}),
    ],
)
def test_links_keep_the_checkpoint_and_settings_on_every_page(page, query, kept):
    """With a baseline checkpoint active every page still writes its settings and `ckpt` into the
    URL (Sparsity and Samples used to stop before writing anything)."""
    at = open_page("model_page")
    at.selectbox(key="model_page_ckpt").set_value("baseline-vt").run()
    at.switch_page(f"views/{page}.py")
    at.query_params.clear()
    at.run()
    no_exception(at)
    assert at.query_params.get("ckpt") == "baseline-vt"
    at.query_params.clear()
    at.query_params.update({"ckpt": "baseline-vt", **query})
    at.run()
    no_exception(at)
    assert at.query_params.get("ckpt") == "baseline-vt"
    assert {k: at.query_params.get(k) for k in kept} == kept


def test_interpolate_baseline_choice_is_in_the_url():
    at = open_page("interpolate")
    assert at.query_params["baseline"] == "baseline-vt"
    at.selectbox(key="interpolate.baseline").set_value("(none)").run()
    no_exception(at)
    assert at.query_params["baseline"] == "none" and len(at.table) == 1
    at = open_page("interpolate", {"baseline": "none"})
    no_exception(at)
    assert at.selectbox(key="interpolate.baseline").value == "(none)" and len(at.table) == 1


def test_md_escape():
    from app.output import md_escape

    assert md_escape("a_b*c [x](javascript:alert(1)) `x` $y$") == (
        r"a\_b\*c \[x\]\(javascript\:alert\(1\)\) \`x\` \$y\$"
    )


def _text_table_script(root):
    import sys

    import pandas as pd

    sys.path.insert(0, root)
    from app import output

    output.text_table(
        pd.DataFrame({"text": ["**bold** [x](javascript:alert(1)) :red[big] $x^2$", "- item"], "n": [1, 2]}),
        highlight=[False, True],
        columns=["text"],
    )


def test_text_table_escapes_markdown():
    at = AppTest.from_function(_text_table_script, kwargs={"root": str(Path(MAIN).parents[1])})
    at.run()
    no_exception(at)
    cells = list(at.table[0].value["text"])
    assert cells[0] == r"\*\*bold\*\* \[x\]\(javascript\:alert\(1\)\) \:red\[big\] \$x^2\$"
    assert cells[1] == r"\- item"


def test_slider_moves_stick_while_text_is_empty():
    at = open_page("inspect")
    at.text_area(key="inspect.s").set_value("").run()
    assert at.error
    at.select_slider(key="inspect.ad").set_value(1.0).run()
    at.run()
    assert at.select_slider(key="inspect.ad").value == 1.0
    assert "s" not in at.query_params and at.query_params["ad"] == "1"


def test_text_that_normalises_to_nothing():
    at = open_page("inspect")
    at.text_area(key="inspect.s").set_value("\u0301\u0300").run()
    no_exception(at)
    assert any("no token left" in w.value for w in at.warning)


# -- the model shared by every session -----------------------------------------------------------


def _shared_model(path):
    from app import cache

    return cache.loaded_model(cache.checkpoint_key(path))


def _fingerprint_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "fingerprint" in c.value)


def test_sessions_never_change_the_shared_model(app_checkpoints):
    """Every page and control, used from several sessions in one process (as Streamlit serves
    them), leaves the cached model bit-for-bit as it was loaded from disk, in eval mode."""
    from nvae.checkpoint import fingerprint, load_checkpoint

    on_disk = fingerprint(load_checkpoint(app_checkpoints["nvae"]))
    for page in PAGES:
        no_exception(open_page(page))
    at = open_page("inspect")
    at.text_area(key="inspect.s").set_value("Tokens 🌍 and <b>markup</b>\u202e!").run()
    at.select_slider(key="inspect.ad").set_value(1.0).run()
    at = open_page("interpolate")
    at.slider(key="interpolate.tau").set_value(0.7).run()
    at = open_page("samples")
    at.number_input(key="samples.seed").set_value(3)
    at.button[0].click().run()
    no_exception(at)

    shared = _shared_model(app_checkpoints["nvae"])
    assert shared.loaded_fingerprint == on_disk
    assert fingerprint(shared) == on_disk
    assert not any(m.training for m in shared.modules())
    at = open_page("model_page")
    no_exception(at)
    assert not at.error
    caption = _fingerprint_caption(at)
    assert on_disk[:16] in caption and "unchanged" in caption


def test_model_page_reports_a_changed_shared_model(app_checkpoints):
    from app import cache

    open_page("model_page")
    shared = _shared_model(app_checkpoints["nvae"])
    try:
        with torch.no_grad():
            next(shared.parameters()).add_(1e-3)  # what a careless page might do
        at = open_page("model_page")
        no_exception(at)
        assert at.error and "has changed since it was loaded" in at.error[0].value
    finally:
        cache.loaded_model.clear()  # later tests get a fresh copy from disk


# -- safe defaults -------------------------------------------------------------------------------


def test_safe_server_defaults():
    """The shipped server settings: loopback only, XSRF protection on, small uploads."""
    import tomllib

    cfg = tomllib.loads((Path(MAIN).parents[1] / ".streamlit" / "config.toml").read_text())
    server = cfg["server"]
    assert server["address"] == "localhost"
    assert server.get("enableXsrfProtection", True) is True  # Streamlit's default is on
    assert server.get("enableCORS", True) is True
    assert 0 < server["maxUploadSize"] <= 1
    assert cfg["browser"]["gatherUsageStats"] is False


def test_no_raw_html_anywhere_in_the_app():
    """No user text can reach raw HTML: the app never renders HTML unescaped at all."""
    sources = sorted((Path(MAIN).parent).rglob("*.py"))
    assert len(sources) > 5
    for file in sources:
        code = file.read_text()
        for banned in ("unsafe_allow_html", "st.html(", "components.v1", "components.html("):
            assert banned not in code, f"{file.name} uses {banned}"
