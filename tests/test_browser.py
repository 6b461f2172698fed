"""End to end in a real browser: `streamlit run app/main.py` on tiny checkpoints, driven by
Playwright (sync API) with Debian's /usr/bin/chromium (never `playwright install`: offline).

Opens every page (saving a screenshot of each), types a sentence, moves the alpha^Delta and tau
sliders with the keyboard, box-selects points on the latent map and opens shared links. Skipped
when chromium or playwright is missing. NVAE_BROWSER_CHECKPOINT=DIR runs it on another checkpoint
instead of the tiny one and then retakes the README's screenshots in docs/screenshots; otherwise
they go to the temporary folder.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SLOW,
    idle,
    make_app_checkpoints,
    screenshot,
    serve_app,
    texts,
    url_query,
    visit,
)

from nvae.config import load_configs

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SERVER_LOGS: dict[str, Path] = {}  # the running server's log and checkpoint, for the concurrency test
PAGES = {
    "inspect": "",
    "sparsity": "sparsity",
    "interpolate": "interpolate",
    "latent-map": "latent-map",
    "samples": "samples",
    "denoising": "denoising",
    "model": "model",
    "corpus-study": "corpus-study",
    "side-by-side": "side-by-side",
    "walkthrough": "walkthrough",
    "interpolate-path": "interpolate?a=The+ship+sailed+at+dawn.&b=A+storm+hit+the+coast+in+June."
    "&c=He+was+born+in+a+small+village.&steps=5",
}

if not Path(CHROMIUM).is_file():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port; yields its base URL."""
    folder = tmp_path_factory.mktemp("browser-ckpts")
    paths = make_app_checkpoints(folder)
    checkpoint = os.environ.get("NVAE_BROWSER_CHECKPOINT") or str(paths["nvae"])
    # with a real checkpoint, list its neighbours (e.g. the shipped baselines) rather than the test ones
    listed = str(Path(checkpoint).resolve().parent) if os.environ.get("NVAE_BROWSER_CHECKPOINT") else str(folder)
    env = dict(NVAE_CHECKPOINT=checkpoint, NVAE_CHECKPOINTS_DIR=listed, NVAE_APP_CACHE_DIR=str(folder / "map-cache"))
    # a small map for the tiny checkpoint; a real one opens on the map shipped with it
    if os.environ.get("NVAE_APP_MAP_SENTENCES") or not os.environ.get("NVAE_BROWSER_CHECKPOINT"):
        env["NVAE_APP_MAP_SENTENCES"] = os.environ.get("NVAE_APP_MAP_SENTENCES", "120")
    SERVER_LOGS["current"] = folder / "server.log"
    SERVER_LOGS["checkpoint"] = Path(checkpoint)
    with serve_app(env, folder / "server.log") as url:
        yield url


def press(pg, slider_index: int, key: str, times: int = 1) -> None:
    thumb = pg.locator('[data-testid="stSlider"] input[type="range"]').nth(slider_index)
    thumb.focus()
    for _ in range(times):
        thumb.press(key)
    idle(pg)


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders(server, page, name):
    visit(page, server, PAGES[name])
    assert page.locator("h1").first.inner_text()
    if name != "latent-map":  # its screenshot is taken with a selection, below
        screenshot(page, name)


def largest_alpha_delta() -> float:
    """The top of the served checkpoint's alpha^Delta slider: its trained range's end."""
    return load_configs(SERVER_LOGS["checkpoint"] / "config.json")[0].nvib.alpha_delta_max


def test_type_sentence_and_move_alpha_delta(server, page):
    visit(page, server, "")
    area = page.locator('[data-testid="stTextArea"] textarea')
    area.fill("The river flows into the sea.")
    area.press("Control+Enter")
    idle(page)
    assert "the river flows into the sea." in texts(page, "stCode")
    assert url_query(page)["s"] == ["The river flows into the sea."]
    before = texts(page, "stMetricValue")[0]
    press(page, 0, "Home")  # the smallest alpha^Delta
    low = texts(page, "stMetricValue")[0]
    press(page, 0, "End")  # the largest
    assert url_query(page)["ad"] == [f"{largest_alpha_delta():g}"]
    assert texts(page, "stMetricValue")[0] != low or before != low


def test_sparsity_slider(server, page):
    visit(page, server, "sparsity")
    before = texts(page, "stMetric")[0]
    press(page, 0, "End")
    after = texts(page, "stMetric")[0]
    assert before != after and f"α^Δ = {largest_alpha_delta():g}" in after


def test_token_strip_is_html_chips_and_shows_text_as_text(server, page):
    """The strip is drawn as HTML: one chip per token (the sentence's pieces plus [EOS]), the
    weight in each chip's tooltip; markup typed into the sentence stays text."""
    visit(page, server, "sparsity", "s=" + quote("<b>bold</b> and <i>x</i>"))
    strip = page.locator(".nvae-strip").first
    strip.wait_for(timeout=SLOW)
    chips = strip.locator(".nvae-chip:not(:has-text('grey'))")
    assert chips.count() >= 3 and chips.last.inner_text() == "[EOS]"
    assert strip.locator("b, i, script").count() == 0  # nothing typed became an element
    assert "<" in strip.inner_text() or "[UNK]" in strip.inner_text()
    assert chips.first.get_attribute("title").startswith("token 0: ")


def test_tau_slider_updates_text(server, page):
    visit(page, server, "interpolate")
    assert any("τ = 0.50" in c for c in texts(page, "stCaptionContainer"))
    press(page, 0, "ArrowRight", times=2)
    assert any("τ = 0.60" in c for c in texts(page, "stCaptionContainer"))
    assert url_query(page)["tau"] == ["0.6"]


def test_latent_map_box_select(server, page):
    visit(page, server, "latent-map")
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    chart.hover()
    page.locator('.modebar-btn[data-title="Box Select"]').first.click()
    box = chart.locator(".nsewdrag").first.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    x1, y1 = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    idle(page)
    headings = [h.inner_text() for h in page.locator("h3").all()]
    assert any("selected component" in h for h in headings), headings
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=SLOW)
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    page.mouse.move(0, 0)  # no hover label over the selection in the screenshot
    screenshot(page, "latent-map")


def test_shared_link_restores_view(server, page):
    a, b = "The ship sailed at dawn.", "A storm hit the coast."
    visit(page, server, "interpolate", f"a={quote(a)}&b={quote(b)}&tau=0.3")
    inputs = page.locator('[data-testid="stTextInput"] input')
    # the page may render its inputs a moment after the run has finished: wait for their values
    sync_api.expect(inputs.nth(0)).to_have_value(a, timeout=SLOW)
    sync_api.expect(inputs.nth(1)).to_have_value(b, timeout=SLOW)
    assert any("τ = 0.30" in c for c in texts(page, "stCaptionContainer"))
    visit(page, server, "", "s=First%20one.&s=Second%20one.&ad=1")
    # on a busy machine the run may start after idle() returned: wait for its output
    sync_api.expect(page.locator('[data-testid="stTextArea"] textarea')).to_have_value(
        "First one.\nSecond one.", timeout=SLOW
    )
    sync_api.expect(page.locator('[data-testid="stCode"]').filter(has_text="first one.").first).to_be_visible(
        timeout=SLOW
    )
    visit(page, server, "", "page=samples&seed=5")
    sync_api.expect(page.locator("h1").first).to_have_text(re.compile(r"^Samples"), timeout=SLOW)
    assert url_query(page)["seed"] == ["5"]


def test_markup_is_plain_text(server, page):
    visit(page, server, "")
    area = page.locator('[data-testid="stTextArea"] textarea')
    area.fill('<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> <b>bold</b>')
    area.press("Control+Enter")
    idle(page)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator("img[src=x]").count() == 0


def test_bad_link_values_give_notice(server, page):
    visit(page, server, "interpolate", "tau=NaN&a=%20%20")
    notices = texts(page, "stAlertContentWarning")
    assert notices, "a notice says the link's values were not used"
    assert any("τ = 0.50" in c for c in texts(page, "stCaptionContainer"))


@pytest.mark.slow
def test_eight_concurrent_sessions(server):
    """8 browser sessions move the tau and alpha^Delta sliders at once for 40 s: no error element,
    no exception in the server log, the shared model's fingerprint (Model page) still that of the
    checkpoint on disk; latency from key press to finished rerun reported."""
    import statistics
    import threading

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.time() + 40

    def session(i: int) -> None:
        try:
            with sync_api.sync_playwright() as p:
                b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                pg = b.new_page(viewport={"width": 1200, "height": 900})
                path = "interpolate" if i % 2 else "sparsity"
                visit(pg, server, path)
                key, moves = "ArrowRight", 0
                while time.time() < stop_at or moves < 2:  # at least 2 moves each, however busy the machine
                    moves += 1
                    thumb = pg.locator('[data-testid="stSlider"] input[type="range"]').first
                    thumb.focus()
                    t0 = time.perf_counter()
                    thumb.press(key)
                    idle(pg, timeout=120_000)
                    with lock:
                        latencies.append((time.perf_counter() - t0) * 1000)
                    if pg.locator('[data-testid="stException"]').count():
                        raise AssertionError(pg.locator('[data-testid="stException"]').first.inner_text())
                    key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
                b.close()
        except Exception as e:  # reported below, with the session number
            with lock:
                errors.append(f"session {i}: {e!r}"[:500])

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=400)
    assert not errors, errors
    log = SERVER_LOGS["current"].read_text()
    assert "Traceback" not in log and "Exception" not in log, log[-2000:]
    assert len(latencies) >= 16
    # the model all sessions shared is still, bit for bit, the one on disk
    from nvae.store.checkpoint import fingerprint, load_checkpoint

    on_disk = fingerprint(load_checkpoint(SERVER_LOGS["checkpoint"]))
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = b.new_page(viewport={"width": 1200, "height": 900})
        visit(pg, server, "model")
        caption = next(c for c in texts(pg, "stCaptionContainer") if "fingerprint" in c)
        assert not pg.locator('[data-testid="stAlertContentError"]').count()
        b.close()
    assert on_disk[:16] in caption and "unchanged" in caption, caption
    q = statistics.quantiles(latencies, n=20)
    print(f"8 sessions, {len(latencies)} slider moves: p50 {statistics.median(latencies):.0f} ms, p95 {q[18]:.0f} ms")
