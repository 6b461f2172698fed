"""The Latent map page (AppTest) with a map shipped in the checkpoint: it is used as it is (no UMAP
fit, no recomputation), the caption says where the layout came from, and a stale shipped file is
skipped with a notice (the map is then computed, with progress, and kept on disk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import MAIN, captions, make_tiny_checkpoint
from streamlit.testing.v1 import AppTest

from nvae.readout import latent_map
from nvae.store.checkpoint import load_checkpoint

N = 25


def pca_layout(vectors, seed=0):
    v = np.asarray(vectors, dtype=np.float64)
    v = v - v.mean(0)
    _, _, vt = np.linalg.svd(v, full_matrices=False)
    return (v @ vt[:2].T).astype(np.float32)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Two tiny checkpoints with a latent_map.npz each: `good` made for its weights, `stale` one
    whose file was made for other weights."""
    root = tmp_path_factory.mktemp("map-ckpts")
    good = make_tiny_checkpoint(root / "good")
    stale = make_tiny_checkpoint(root / "stale", seed=1)
    original = latent_map.fit_layout
    latent_map.fit_layout = pca_layout
    try:
        m = latent_map.compute_map(load_checkpoint(good), N)
    finally:
        latent_map.fit_layout = original
    latent_map.save_map(latent_map.map_file(good), m)
    latent_map.save_map(latent_map.map_file(stale), m)  # good's map: other weights
    plain = make_tiny_checkpoint(root / "plain", seed=2)  # no map shipped
    return {"good": good, "stale": stale, "plain": plain, "map": m}


@pytest.fixture
def no_umap(monkeypatch):
    """Any map computation fails the test (the page must use the shipped file)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a UMAP fit was called")

    monkeypatch.setattr(latent_map, "fit_layout", refuse)
    monkeypatch.setattr("app.cache.compute_map", refuse)


def open_map(monkeypatch, tmp_path, checkpoint: Path, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("NVAE_CHECKPOINT", str(checkpoint))
    monkeypatch.setenv("NVAE_CHECKPOINTS_DIR", str(checkpoint.parent))
    monkeypatch.setenv("NVAE_APP_MAP_SENTENCES", str(N))
    monkeypatch.setenv("NVAE_APP_CACHE_DIR", str(tmp_path / "map-cache"))
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.run()
    at.switch_page("views/latent_map.py")
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def the_map(at) -> dict:
    import json

    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        if "Component means" in str(fig["layout"].get("title", "")):
            return fig
    raise AssertionError("no map figure")


def n_values(x) -> int:
    """How many numbers a plotly trace's x holds (a list, or plotly's {"dtype", "bdata"} encoding)."""
    if isinstance(x, dict):
        import base64

        return len(base64.b64decode(x["bdata"])) // np.dtype(x["dtype"]).itemsize
    return len(x)


def test_the_page_uses_the_shipped_map_without_umap(shipped, no_umap, monkeypatch, tmp_path):
    m = shipped["map"]
    at = open_map(monkeypatch, tmp_path, shipped["good"])
    assert any("shipped with the checkpoint" in c and "latent_map.npz" in c for c in captions(at))
    assert any(f"nearest corpus means ({len(m.reference):,} of the {m.n_points:,}" in c for c in captions(at))
    assert any(f"retained components of {N} sentences" in c for c in captions(at))
    assert not notices_of(at) and not at.error
    fig = the_map(at)
    corpus = [d for d in fig["data"] if d.get("name") != "your sentences"]
    assert sum(n_values(d["x"]) for d in corpus) == m.n_points
    assert any(d.get("name") == "your sentences" for d in fig["data"])  # the default sentence, placed by k-NN
    # the stored measures are the caption's numbers
    caption = next(c for c in captions(at) if c.startswith("**What the axes encode"))
    projection = at.radio(key="latent-map.proj").value
    assert f"R² = {m.measures[projection]['position']:.2f}" in caption.replace("-0.00", "0.00")
    at.radio(key="latent-map.proj").set_value("residual" if projection == "means" else "means").run()
    assert not at.exception
    at.text_area(key="latent-map.s").set_value("A storm hit the coast.\nThe ship sailed at dawn.").run()
    assert not at.exception
    assert any(d.get("name") == "your sentences" for d in the_map(at)["data"])


def test_the_path_is_placed_on_the_shipped_map_without_umap(shipped, no_umap, monkeypatch, tmp_path):
    monkeypatch.setenv("NVAE_CHECKPOINT", str(shipped["good"]))
    monkeypatch.setenv("NVAE_CHECKPOINTS_DIR", str(shipped["good"].parent))
    monkeypatch.setenv("NVAE_APP_MAP_SENTENCES", str(N))
    monkeypatch.setenv("NVAE_APP_CACHE_DIR", str(tmp_path / "map-cache"))
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.run()
    at.switch_page("views/interpolate/page.py")
    at.query_params.update({"map": "1", "steps": "3"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("layout" in c and "R²" in c for c in captions(at))


def test_a_stale_shipped_map_is_skipped_with_a_notice(shipped, monkeypatch, tmp_path):
    calls = []

    def fit(vectors, seed=0):
        calls.append(len(vectors))
        return pca_layout(vectors)

    monkeypatch.setattr(latent_map, "fit_layout", fit)
    at = open_map(monkeypatch, tmp_path, shipped["stale"])
    notices = notices_of(at)
    assert any("latent_map.npz was not used" in n and "other weights" in n for n in notices), notices
    assert len(calls) == 2  # computed here instead: both layouts
    assert any("computed by this app on this visit" in c for c in captions(at))
    assert list((tmp_path / "map-cache").glob("*.npz"))  # and kept on disk


def test_without_a_shipped_map_the_computed_one_is_kept_on_disk(shipped, monkeypatch, tmp_path):
    """A damaged copy in the app's own disk cache is recomputed (never trusted); after a restart
    (the in-memory store emptied) the good copy is used as it is: no UMAP, no numba compile."""
    from app import cache

    calls = []

    def fit(vectors, seed=0):
        calls.append(len(vectors))
        return pca_layout(vectors)

    monkeypatch.setattr(latent_map, "fit_layout", fit)
    monkeypatch.setenv("NVAE_APP_CACHE_DIR", str(tmp_path / "map-cache"))
    own = cache.map_cache_file(cache.checkpoint_key(shipped["plain"]), N)
    own.parent.mkdir(parents=True)
    own.write_bytes(b"garbage, not an npz")
    at = open_map(monkeypatch, tmp_path, shipped["plain"])
    assert len(calls) == 2 and not notices_of(at)
    assert any("computed by this app on this visit" in c for c in captions(at))
    assert latent_map.load_map(own, load_checkpoint(shipped["plain"]), N)[0] is not None  # rewritten

    cache.map_results().clear()  # a fresh server: only the disk copy is left
    monkeypatch.setattr(latent_map, "fit_layout", lambda *a, **k: pytest.fail("a UMAP fit was called"))
    at = open_map(monkeypatch, tmp_path, shipped["plain"])
    assert any("computed by this app on an earlier visit" in c for c in captions(at))


def notices_of(at) -> list[str]:
    """The page's info boxes other than the one that says who chooses the kept set (always shown)."""
    return [i.value for i in at.info if not i.value.startswith("Who chooses the kept set")]
