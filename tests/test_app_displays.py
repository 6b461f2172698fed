"""Honest displays and links in the app (AppTest, tiny checkpoints): BLEU flagged on [UNK] input,
token notices on every page that encodes text, baselines described in their own terms, exact
alpha^Delta values from links, every setting in the URL, text shown as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import MAIN, alerts, each_tab, no_exception, open_page
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.usefixtures("app_env")


# -- fixes: BLEU on [UNK] input, token notices, baselines, exact alpha^Delta, every setting in the URL


ARABIC = "القاهرة هي عاصمة مصر وأكبر مدنها اليوم"  # seven words, each one [UNK] for the tiny tokenizer


def test_bleu_is_flagged_when_the_input_is_mostly_unknown():
    """Seven [UNK] in, seven [UNK] out would read BLEU 100: the number is flagged, with a warning
    beside it saying why it is not meaningful; an ordinary sentence is not flagged."""
    at = open_page("inspect", {"s": [ARABIC, "The game was released in Japan in 2011."]})
    no_exception(at)
    assert len([m for m in at.metric if m.label == "Reconstruction BLEU"]) == 1  # the hidden tab is not drawn
    bleu, warnings = [], []
    for tab in each_tab(at, "inspect.tab"):  # only the open tab is drawn
        no_exception(tab)
        bleu += [m for m in tab.metric if m.label == "Reconstruction BLEU"]
        warnings += [w.value for w in tab.warning if "BLEU is not meaningful" in w.value]
    assert len(bleu) == 2
    assert "not meaningful" in bleu[0].delta and "[UNK]" in bleu[0].delta
    assert not bleu[1].delta
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
    warnings, infos = [w.value for w in at.warning], [i.value for i in at.info]
    if page == "inspect":  # a notice sits in its sentence's tab, and only the open tab is drawn
        for tab in each_tab(at, "inspect.tab"):
            warnings += [w.value for w in tab.warning]
            infos += [i.value for i in tab.info]
    assert any("longer than the model's limit of 49 tokens" in w for w in warnings)
    assert any("outside the model's vocabulary; they appear as [UNK]" in i for i in infos)


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
    assert not [w for w in at.warning if "keeps nothing" not in w.value]  # no notice about the link's value
    assert {float(o) for o in slider.options} >= set(ROUND)
    at = open_page("sparsity", {"ad": "0.5", "ad2": value})
    no_exception(at)
    assert at.select_slider(key="sparsity.ad").value == 0.5
    assert at.select_slider(key="sparsity.ad2").value == float(value)
    assert at.metric[1].label == f"Retained at α^Δ = {float(value):g}"


def test_alpha_delta_round_stops_follow_the_model_range(app_checkpoints, tmp_path, monkeypatch):
    """The stops come from the model's range (here [0.005, 0.2]), not from numbers in the app."""
    from helpers import make_tiny_checkpoint

    from nvae.store.checkpoint import load_checkpoint, save_checkpoint

    path = make_tiny_checkpoint(tmp_path / "narrow-nvae")
    model = load_checkpoint(path)
    model.cfg.nvib.alpha_delta_min, model.cfg.nvib.alpha_delta_max, model.cfg.nvib.alpha_delta = 0.005, 0.2, 0.05
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
        ("interpolate/page", {"tau": "0.3"}, {"tau": "0.3"}),
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
