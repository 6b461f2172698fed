"""The app's plain functions, on the tiny checkpoints (no server): typed text checked (app/inputs.py),
the alpha^Delta slider's stops (`nvae.model.grids`, `app.controls.nearest`), a checkpoint's latent
in its own terms and as table rows, and the map's selections (app/latents.py). What is read off a
latent is tests/test_sentence_readout.py; the map's layout is tests/test_latent_map.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app import controls, inputs, latents
from nvae.model.grids import rounded_alpha_deltas, slider_stops
from nvae.readout import sentence
from nvae.store.checkpoint import load_checkpoint


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As in the app: one torch thread (two contend badly on a busy 2-core machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models(app_checkpoints, one_thread):
    return {"nvae": load_checkpoint(app_checkpoints["nvae"]), "vt": load_checkpoint(app_checkpoints["baseline"])}


# -- typed text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\n\n\t", "\u200b\u200d", None, 42])
def test_check_text_empty(raw):
    check = inputs.check_text(raw)
    assert check.errors and not check.texts


def test_check_text_lines_and_limits():
    check = inputs.check_text("one\n\n two \nthree")
    assert check.texts == ["one", "two", "three"] and not check.errors and not check.notices
    check = inputs.check_text("\n".join(f"s{i}" for i in range(9)))
    assert len(check.texts) == inputs.MAX_SENTENCES and check.notices
    check = inputs.check_text("a\nb", one_per_line=False)
    assert check.texts == ["a b"]
    check = inputs.check_text("x" * (inputs.MAX_INPUT_CHARS + 10))
    assert check.notices and len(check.texts[0]) == inputs.MAX_INPUT_CHARS


def test_alpha_grid_and_nearest(models):
    cfg = models["nvae"].cfg
    grid = rounded_alpha_deltas(cfg)
    assert grid[0] == cfg.nvib.alpha_delta_min and grid[-1] == cfg.nvib.alpha_delta_max and cfg.nvib.alpha_delta in grid
    assert grid == sorted(set(grid))
    assert controls.nearest(0.29, grid) == 0.3
    assert controls.nearest(5.0, grid) == 1.0


# -- tables and the map ---------------------------------------------------------------------------


def test_components_table(models):
    v = sentence.inspect_sentences(models["nvae"], ["The game was released in Japan.", "hi 😀 <b>"], 0.3)[0]
    rows = latents.components_table(v)
    assert rows[0]["source"] == "prior" and {r["status"] for r in rows} <= {"retained", "pruned"}


def test_selected_rows_and_grouping():
    corpus = {"token": np.array(["a", "b", "c"]), "sentence": np.array([0, 0, 1]), "weight": np.array([0.1, 0.2, 0.3])}
    user = {"token": np.array(["u"]), "sentence": np.array([0]), "weight": np.array([0.9])}
    points = [
        {"customdata": [0, 0]},
        {"customdata": [0, 1]},
        {"customdata": [1, 0]},
        {"customdata": [0, 99]},
        {"customdata": ["x", 1]},
        {"customdata": None},
        {},
        "junk",
        {"customdata": [0, -1]},
    ]
    rows = latents.selected_rows(points, corpus, ["s0", "s1"], user, ["mine"])
    assert [(r["from"], r["token"]) for r in rows] == [("corpus", "a"), ("corpus", "b"), ("yours", "u")]
    grouped = latents.by_sentence(rows)
    assert grouped[0]["from"] == "yours" and grouped[1]["tokens"] == "a b" and grouped[1]["components"] == 2
    assert latents.selected_rows(points, corpus, ["s0", "s1"]) == rows[:2]


# -- alpha^Delta stops, baselines in their own terms -------------------------------------------


@pytest.mark.parametrize("lo, hi, default", [(0.01, 1.0, 0.3), (0.05, 1.0, 0.11), (0.005, 0.2, 0.05)])
def test_alpha_stops_are_round_and_inside_the_range(lo, hi, default):
    from types import SimpleNamespace

    cfg = SimpleNamespace(nvib=SimpleNamespace(alpha_delta_min=lo, alpha_delta_max=hi, alpha_delta=default))
    stops = slider_stops(cfg)
    assert stops == sorted(set(stops)) and stops[0] == lo and stops[-1] == hi and default in stops
    assert {v for v in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0) if lo <= v <= hi} <= set(stops)
    assert all(len(f"{v:g}") <= 5 for v in stops)  # round values: 0.012, 0.25, never 0.0121
    ratios = [b / a for a, b in zip(stops, stops[1:])]
    assert max(ratios) <= 1.34  # about log-spaced: no gap wider than a third
    with_link = slider_stops(cfg, [0.0316, 7.0, float("nan"), None, 0.30000001])
    assert (0.0316 in with_link) == (lo <= 0.0316 <= hi) and 7.0 not in with_link
    assert len(with_link) == len(set(f"{v:g}" for v in with_link))  # labels stay distinct


def test_latent_descriptions():
    assert latents.latent_description("t").startswith("the encoder states themselves")
    assert latents.latent_description("vt").startswith("one Gaussian vector per token")
    assert latents.latent_description("vtp").startswith("one Gaussian vector pooled")
    assert latents.latent_description("vts", 2).startswith("a Gaussian vector on every second position")
    assert latents.latent_description("vts", 4).startswith("a Gaussian vector on every 4th position")
    # VTS drops the positions between by a fixed rule, and the pages mark them pruned: never "nothing pruned"
    assert "dropped by that fixed rule" in latents.latent_description("vts") and not any(
        "nothing pruned" in latents.latent_description(t) for t in ("vts", "vtp")
    )
    assert "prior" in latents.latent_description("nvae")
    assert not any("prior" in latents.latent_description(t) for t in ("t", "vt", "vtp", "vts"))


def test_one_helper_tells_the_nvae_from_a_baseline(models):
    """`is_nvae` / `is_baseline` read a model's config or its config.json as a dict (the Model page's)."""
    assert latents.is_nvae(models["nvae"].cfg) and not latents.is_baseline(models["nvae"].cfg)
    assert latents.is_baseline(models["vt"].cfg) and not latents.is_nvae(models["vt"].cfg)
    assert latents.is_nvae({"model_type": "nvae"}) and latents.is_baseline({"model_type": "vts"})
