"""End to end in a real browser, for the paths, the player and the side-by-side view:
`streamlit run app/main.py` on tiny checkpoints, driven by Playwright with Debian's /usr/bin/chromium
(the fixtures follow tests/test_browser.py). The ▶ Play button of the path player steps τ in the
browser with no rerun; the side-by-side page shows both models and keeps both choices in the link;
a shared link to a path through four sentences reopens it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import (
    CHROMIUM,
    IDLE,
    SLOW,
    TINY_SHOTS,
    idle,
    make_app_checkpoints,
    screenshot,
    serve_app,
    texts,
    url_query,
    visit,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port, on the tiny checkpoints; yields its base URL."""
    folder = tmp_path_factory.mktemp("browser-paths-ckpts")
    paths = make_app_checkpoints(folder)
    env = dict(
        NVAE_CHECKPOINT=str(paths["nvae"]),
        NVAE_CHECKPOINTS_DIR=str(folder),
        NVAE_APP_MAP_SENTENCES="60",
        NVAE_APP_CACHE_DIR=str(folder / "map-cache"),
    )
    with serve_app(env, folder / "server.log") as url:
        yield url
    text = (folder / "server.log").read_text()
    assert "Traceback" not in text, text[-2000:]


PLAYER_STEP = """(title) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => g.layout && g.layout.title && String(g.layout.title.text || g.layout.title).includes(title));
  if (!gd) return null;
  const text = gd.querySelector('.textpoint text');
  return {active: gd._fullLayout.sliders[0].active, text: text ? text.textContent : null,
          frames: (gd._transitionData && gd._transitionData._frames || []).length};
}"""


def player(pg, title: str = "Each step: the decoded") -> dict | None:
    return pg.evaluate(PLAYER_STEP, title)


# -- tests ---------------------------------------------------------------------------------------


def test_play_button_steps_tau_without_a_rerun(server, page):
    a, b, c = "The ship sailed at dawn.", "A storm hit the coast.", "He was born in London."
    visit(page, server, "interpolate", f"a={quote(a)}&b={quote(b)}&c={quote(c)}&steps=5")
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Each step: the decoded").first
    chart.scroll_into_view_if_needed()
    sync_api.expect(chart.locator(".updatemenu-button").first).to_be_visible(timeout=SLOW)
    before = player(page)
    assert before is not None and before["frames"] == 2 * 5 - 1 and before["active"] == 0
    runs = page.evaluate("() => document.querySelectorAll('[data-testid=\"stException\"]').length")
    chart.locator(".updatemenu-button").first.click()  # ▶ Play
    page.wait_for_function(
        "(title) => { const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && "
        "g.layout.title && String(g.layout.title.text || g.layout.title).includes(title)); "
        "return gd && gd._fullLayout.sliders[0].active >= 3; }",
        arg="Each step: the decoded",
        timeout=30_000,
    )
    after = player(page)
    assert after["active"] >= 3
    # the animation runs in the browser: the page did not rerun (still idle, no new element, same URL)
    assert page.locator(IDLE).count() == 1
    assert page.evaluate("() => document.querySelectorAll('[data-testid=\"stException\"]').length") == runs
    assert url_query(page)["c"] == [c]
    screenshot(page, "interpolate-path-player", TINY_SHOTS)  # always the tiny checkpoints


def test_side_by_side_shows_both_models_and_keeps_both_choices(server, page):
    visit(page, server, "side-by-side")
    labels = page.locator('[data-testid="stMetricLabel"]')
    # both columns (the NVAE's and the baseline's), waited for: on a loaded machine the second
    # column can still be drawing when the first label appears
    for label in ("Retained components", "Latent vectors"):
        sync_api.expect(labels.filter(has_text=label).first).to_be_visible(timeout=SLOW)
    q = url_query(page)
    assert q["other"] == ["baseline-vt"] and q["view"] == ["inspect"]
    page.locator('[data-testid="stRadio"] label').filter(has_text="Interpolate").first.click()
    idle(page)
    sync_api.expect(
        page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Decoded at τ = 0.50")
    ).to_have_count(2, timeout=SLOW)
    assert url_query(page)["view"] == ["interpolate"]
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    thumb.press("ArrowRight")
    idle(page)
    sync_api.expect(
        page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Decoded at τ = 0.55")
    ).to_have_count(2, timeout=SLOW)
    assert url_query(page)["tau"] == ["0.55"]
    screenshot(page, "side-by-side", TINY_SHOTS)
    # the link reopens the same view in a fresh page
    link = page.url
    fresh = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        fresh.goto(link)
        idle(fresh)
        sync_api.expect(
            fresh.locator('[data-testid="stCaptionContainer"]').filter(has_text="Decoded at τ = 0.55")
        ).to_have_count(2, timeout=SLOW)
        assert url_query(fresh)["other"] == ["baseline-vt"] and url_query(fresh)["view"] == ["interpolate"]
    finally:
        fresh.close()


def test_shared_link_to_a_path_restores_it(server, page):
    a, b, c, d = "The ship sailed at dawn.", "A storm hit the coast.", "He was born in London.", "She plays the piano."
    q = f"a={quote(a)}&b={quote(b)}&c={quote(c)}&d={quote(d)}&t=2.5&steps=7&grid=logodds"
    visit(page, server, "interpolate", q)
    sync_api.expect(
        page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Decoded at 2.50: C → D, τ = 0.50")
    ).to_be_visible(timeout=SLOW)
    # the boxes can be redrawn just after the caption arrives (CI once read box A empty there):
    # expect() waits for each value instead of reading it once
    inputs = page.locator('[data-testid="stTextInput"] input')
    sync_api.expect(inputs).to_have_count(5, timeout=SLOW)
    for i, text in enumerate([a, b, c, d, ""]):
        sync_api.expect(inputs.nth(i)).to_have_value(text, timeout=SLOW)
    tabs = [t.inner_text().strip() for t in page.get_by_role("tab").all()]
    assert tabs == ["A → B", "B → C", "C → D"]
    got = url_query(page)
    assert got["t"] == ["2.5"] and got["steps"] == ["7"] and got["grid"] == ["logodds"] and got["d"] == [d]
    # the metrics can arrive after the caption: wait for all four before reading them
    labels = page.locator('[data-testid="stMetricLabel"]').filter(has_text="BLEU vs")
    sync_api.expect(labels).to_have_count(4, timeout=SLOW)
    metrics = texts(page, "stMetricLabel")
    assert [m for m in metrics if m.startswith("BLEU vs")] == ["BLEU vs A", "BLEU vs B", "BLEU vs C", "BLEU vs D"]


def test_the_pair_chooser_names_the_uploaded_pairs_after_an_upload(server, page, tmp_path):
    """Uploading a TSV of pairs replaces the examples everywhere, the chooser of the strip included
    (its label used to keep naming the examples file's first pair)."""
    visit(page, server, "interpolate", "mode=batch&steps=3")
    upload = tmp_path / "mine.tsv"
    upload.write_text("Uploaded first sentence here.\tAnother uploaded sentence there.\nOne more.\tAnd the last.\n")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
    idle(page)
    page.get_by_text("input **mine.tsv**".replace("**", "")).first.wait_for(timeout=SLOW)
    chooser = page.locator('[data-testid="stSelectbox"]').filter(has_text="Show the strip of pair")
    shown = chooser.locator('input[role="combobox"]').input_value()
    assert shown.startswith("1. Uploaded first sentence here."), shown


def test_inspect_has_its_own_address_too(server, page):
    """/inspect opens Inspect (the default page, also at /) with the link's settings, not a "Page not
    found" dialog."""
    visit(page, server, "inspect", "s=The+cat+sat+on+the+mat.")
    assert page.locator("h1").first.inner_text() == "Inspect a sentence"
    assert page.get_by_text("Page not found").count() == 0
    assert "the cat sat on the mat." in texts(page, "stCode")
    assert url_query(page)["s"] == ["The cat sat on the mat."]
