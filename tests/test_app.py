"""The Streamlit app under streamlit.testing (AppTest), on tiny checkpoints: every page runs without
an exception; typing, sliders and query parameters change what is shown; bad input and bad
checkpoints give an error or warning element, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import (
    APP_TIMEOUT,
    MAIN,
    alerts,
    app_pages,
    codes,
    make_app_checkpoints,
    metric,
    no_exception,
    open_page,
)
from streamlit.testing.v1 import AppTest

from nvae.data.text import encode_batch
from nvae.store.checkpoint import load_checkpoint

PAGES = app_pages()  # every page app/main.py lists, Side by side included
pytestmark = pytest.mark.usefixtures("app_env")


# -- every page ----------------------------------------------------------------------------------


def test_the_page_list_is_read_from_the_app():
    """`app_pages` finds every st.Page of app/main.py's PAGES, each a script that exists."""
    main = Path(MAIN).read_text(encoding="utf-8")
    assert len(PAGES) == len(set(PAGES)) == main.split("\nPAGES = {", 1)[1].split("\n}", 1)[0].count("st.Page(")
    assert {"inspect", "interpolate", "side_by_side", "model_page"} <= set(PAGES)
    views = Path(MAIN).parent / "views"
    assert all((views / f"{p}.py").is_file() or (views / p / "page.py").is_file() for p in PAGES)


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
    html = [h.proto.body for h in at.get("html")]  # the token strip: the text escaped
    assert html and all("<script>" not in h for h in html)


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
    cfg = load_checkpoint(app_checkpoints["nvae"]).cfg
    assert left == pytest.approx(cfg.nvib.alpha_delta, rel=0.05)
    assert cfg.nvib.alpha_delta_min < right < left


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
    assert any(w.value.startswith("τ: 7") for w in at.warning)
    assert at.slider(key="interpolate.tau").value == pytest.approx(0.5)
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
    at.switch_page("views/interpolate/page.py").run()
    no_exception(at)
    assert at.table


def test_fallback_selector_recovers(monkeypatch, tmp_path):
    monkeypatch.setenv("NVAE_CHECKPOINT", str(tmp_path / "nope"))
    at = open_page("inspect")
    at.selectbox[0].set_value("tiny-nvae").run()
    no_exception(at)
    assert not at.error
    assert at.code


def test_responsive_checkpoint_reacts_to_alpha_delta(tmp_path):
    paths = make_app_checkpoints(tmp_path)
    model = load_checkpoint(paths["nvae"])
    with torch.inference_mode():
        batch = encode_batch(model.tokenizer, ["The game was released in Japan in 2011."], model.cfg.max_len)
        low = int(model.encode(batch.src, batch.pad_mask, alpha_delta=0.01).latent.n_retained[0])
        high = int(model.encode(batch.src, batch.pad_mask, alpha_delta=1.0).latent.n_retained[0])
    assert low < high


# -- other pages ---------------------------------------------------------------------------------


def test_samples_controls():
    at = open_page("samples")
    before = at.table[0].value.copy()
    at.number_input(key="samples.seed").set_value(7)
    at.button[0].click().run()
    no_exception(at)
    assert not before.equals(at.table[0].value)
    assert at.query_params["seed"] == "7"


def test_samples_are_kept_and_the_next_seed_is_drawn_ahead(app_checkpoints):
    """The Samples page keeps what it drew, and draws the next seed's samples in the background:
    the same numbers `sentence.drawn_samples` gives, ready before they are asked for."""
    from app import cache
    from nvae.readout import sentence

    model = load_checkpoint(app_checkpoints["nvae"]).eval()
    first = cache.drawn_samples(model, "prefetch-test", "prior", 4, 2, 7, 0.0, None)
    assert first == sentence.drawn_samples(model, "prior", 4, 2, 7, 0.0)
    ahead = ("prefetch-test", "prior", 4, 2, 8, 0.0, None)
    cache.prefetcher().wait(ahead)
    kept = cache.sample_results().get(ahead)
    assert kept == sentence.drawn_samples(model, "prior", 4, 2, 8, 0.0)
    assert cache.drawn_samples(model, "prefetch-test", "prior", 4, 2, 8, 0.0, None) is kept  # not drawn again
    assert cache.sample_results().get(("prefetch-test", "prior", 4, 2, 6, 0.0, None)) is None  # only ahead


def test_the_stores_import_no_streamlit():
    """app/stores.py (what the caches are built from) needs no streamlit: importing it in a fresh
    interpreter leaves streamlit unloaded."""
    import subprocess
    import sys

    code = "import sys, app.stores; print(sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(MAIN).parents[1], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_result_store_prefetcher_and_keyed_locks():
    """The stores on their own: least recently used out first, one computation per key ahead of time
    (a failed one left for the caller), one lock per key."""
    from app.stores import KeyedLocks, Prefetcher, ResultStore

    store = ResultStore(max_entries=2)
    store.put("a", 1)
    store.put("b", 2)
    assert store.get("a") == 1  # "a" is now the most recently used
    store.put("c", 3)
    assert store.keys() == ["a", "c"] and store.get("b") is None
    store.clear()
    assert store.keys() == []
    ahead, calls = Prefetcher(), []
    ahead.submit("k", store, lambda: calls.append(1) or "v")
    ahead.submit("k", store, lambda: calls.append(2) or "w")  # running or stored: not computed again
    ahead.wait("k")
    assert store.get("k") == "v" and calls == [1]
    ahead.submit("bad", store, lambda: 1 / 0)
    ahead.wait("bad")  # the failure is not raised here
    assert store.get("bad") is None
    locks = KeyedLocks()
    assert locks.get("x") is locks.get("x") and locks.get("x") is not locks.get("y")


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


# -- the model shared by every session -----------------------------------------------------------


def _shared_model(path):
    from app import cache

    return cache.loaded_model(cache.checkpoint_key(path))


def _fingerprint_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "fingerprint" in c.value)


def test_sessions_never_change_the_shared_model(app_checkpoints):
    """Every page and control, used from several sessions in one process (as Streamlit serves
    them), leaves the cached model bit-for-bit as it was loaded from disk, in eval mode."""
    from nvae.store.checkpoint import fingerprint, load_checkpoint

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
    """No user text can reach raw HTML: the one HTML element the app draws is the token strip,
    whose every token is escaped (`figures.components.token_strip_html`, tested in test_figures);
    nothing else renders HTML."""
    sources = sorted((Path(MAIN).parent).rglob("*.py"))
    assert len(sources) > 5
    for file in sources:
        code = file.read_text()
        for banned in ("unsafe_allow_html", "components.v1", "components.html("):
            assert banned not in code, f"{file.name} uses {banned}"
        calls = code.count("st.html(")
        if file.name == "output.py":
            assert calls == 1 and "st.html(figures.components.token_strip_html(" in code
        else:
            assert calls == 0, f"{file.name} uses st.html("
