"""Shared fixtures: tiny checkpoints (built by `helpers.make_tiny_checkpoint`) for the CLI and app
tests, the app's checkpoints (`helpers.make_app_checkpoints`) and the environment that points the app
at them (an AppTest module asks for it with `pytestmark = pytest.mark.usefixtures("app_env")`), and,
for every test, torch's thread count given back as the test found it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import CHROMIUM, CHROMIUM_ARGS, make_app_checkpoints, make_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-nvae")


@pytest.fixture(scope="session")
def tiny_baseline_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "baseline-vt", model_type="vt")


@pytest.fixture(scope="session")
def app_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """tiny-nvae, baseline-vt and broken (`helpers.make_app_checkpoints`), built once a session."""
    return make_app_checkpoints(tmp_path_factory.mktemp("app-ckpts"))


@pytest.fixture
def app_env(app_checkpoints, monkeypatch, tmp_path_factory) -> dict[str, Path]:
    """The app opened on tiny-nvae, with its folder's checkpoints listed, a latent map of 40
    sentences, and the maps it computes kept in the session's temporary folder."""
    monkeypatch.setenv("NVAE_CHECKPOINT", str(app_checkpoints["nvae"]))
    monkeypatch.setenv("NVAE_CHECKPOINTS_DIR", str(app_checkpoints["nvae"].parent))
    monkeypatch.setenv("NVAE_APP_MAP_SENTENCES", "40")
    monkeypatch.setenv("NVAE_APP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "app-map-cache"))
    return app_checkpoints


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """Every test leaves torch's thread count as it found it: the app sets it when it runs
    (cache.use_app_threads, from app/main.py), and a library can change it behind torch's back (numba's
    OpenMP layer under UMAP did: one thread became two, and a later test ran 13 times slower)."""
    before = torch.get_num_threads()
    yield
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def browser():
    """Headless chromium (Debian's, never a downloaded one) for the browser tests."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh 1400 x 1000 tab."""
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    yield pg
    pg.close()
