"""app/analysis.py: what the pages compute, on the tiny checkpoints (no streamlit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import make_app_checkpoints

from app import analysis
from nvae.checkpoint import load_checkpoint


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As in the app: one torch thread (two contend badly on a busy 2-core machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models(tmp_path_factory, one_thread):
    paths = make_app_checkpoints(tmp_path_factory.mktemp("analysis-ckpts"))
    return {"nvae": load_checkpoint(paths["nvae"]), "vt": load_checkpoint(paths["baseline"])}


# -- typed text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\n\n\t", "\u200b\u200d", None, 42])
def test_check_text_empty(raw):
    check = analysis.check_text(raw)
    assert check.errors and not check.texts


def test_check_text_lines_and_limits():
    check = analysis.check_text("one\n\n two \nthree")
    assert check.texts == ["one", "two", "three"] and not check.errors and not check.notices
    check = analysis.check_text("\n".join(f"s{i}" for i in range(9)))
    assert len(check.texts) == analysis.MAX_SENTENCES and check.notices
    check = analysis.check_text("a\nb", one_per_line=False)
    assert check.texts == ["a b"]
    check = analysis.check_text("x" * (analysis.MAX_INPUT_CHARS + 10))
    assert check.notices and len(check.texts[0]) == analysis.MAX_INPUT_CHARS


def test_word_diff():
    assert analysis.word_diff("a b c", "a b c") == ""
    assert analysis.word_diff("a b c", "a x c") == "-b +x"
    assert analysis.word_diff("a b", "a b c d") == "+c d"
    assert analysis.word_diff("a b c", "a") == "-b c"


def test_alpha_grid_and_nearest(models):
    cfg = models["nvae"].cfg
    grid = analysis.alpha_grid(cfg)
    assert grid[0] == cfg.alpha_delta_min and grid[-1] == cfg.alpha_delta_max and cfg.alpha_delta in grid
    assert grid == sorted(set(grid))
    assert analysis.nearest(0.29, grid) == 0.3
    assert analysis.nearest(5.0, grid) == 1.0
    assert analysis.alpha_delta_arg(cfg, 7.0) == cfg.alpha_delta_max
    assert analysis.alpha_delta_arg(models["vt"].cfg, 0.5) is None


# -- model calls ---------------------------------------------------------------------------------


def test_inspect_sentences(models):
    model = models["nvae"]
    views = analysis.inspect_sentences(model, ["The game was released in Japan.", "hi 😀 <b>"], 0.3)
    v = views[0]
    assert v.tokens[-1] == "[EOS]" and v.n_inputs == len(v.tokens)
    assert len(v.components) == v.n_inputs + 1 and v.components[0]["token"] == "⟨prior⟩"
    assert v.n_retained == sum(c["retained"] for c in v.components[1:])
    assert np.asarray(v.attention).shape == (len(v.out_tokens), len(v.components))
    assert np.allclose(np.asarray(v.attention).sum(-1), 1.0, atol=1e-4)
    assert 0 <= v.bleu <= 100 and v.reference == "the game was released in japan."
    assert views[1].n_unknown >= 1
    rows = analysis.components_table(v)
    assert rows[0]["source"] == "prior" and {r["status"] for r in rows} <= {"retained", "pruned"}
    tokens, weights, kept = analysis.token_weights(v)
    assert tokens == v.tokens and len(weights) == len(kept) == len(tokens)
    assert sum(w for w, k in zip(weights, kept) if k) <= 1.0 + 1e-6


def test_inspect_truncates_long_text(models):
    v = analysis.inspect_sentences(models["nvae"], ["word " * 500])[0]
    assert v.truncated and v.n_inputs == models["nvae"].cfg.max_len


def test_sparsity_curve_monotone_for_responsive_model(models):
    model = models["nvae"]
    grid = analysis.alpha_grid(model.cfg)
    curve = analysis.sparsity_curve(model, "The game was released in Japan in 2011.", grid)
    assert len(curve["retained"]) == len(grid) == len(curve["bleu"])
    assert curve["retained"][0] < curve["retained"][-1]
    single = analysis.inspect_sentences(model, ["The game was released in Japan in 2011."], grid[3])[0]
    assert single.n_retained == curve["retained"][3]  # batch of alpha values = one at a time


@pytest.mark.parametrize("kind", ["nvae", "vt"])
def test_interpolation(models, kind):
    model = models[kind]
    pair = analysis.encode_pair(model, "The film was good.", "He was born in a small village in England.")
    rows = analysis.interpolation_strip(model, pair)
    assert [r["tau"] for r in rows] == analysis.STRIP_TAUS
    ends = [
        analysis.inspect_sentences(model, [t])[0].reconstruction
        for t in ("The film was good.", "He was born in a small village in England.")
    ]
    assert rows[0]["text"] == ends[0] and rows[-1]["text"] == ends[1]  # tau 0 and 1 decode like the ends
    for prev, row in zip(rows, rows[1:]):
        assert row["changed"] == (row["text"] != prev["text"])
    mixed = analysis.mix_at(model, pair, 0.3)
    total = sum(c["weight"] for c in mixed["components"])
    assert total == pytest.approx(1.0, abs=1e-4)
    if kind == "nvae":
        share_b = sum(c["weight"] for c in mixed["components"] if c["origin"] == "B")
        assert share_b == pytest.approx(0.3, abs=1e-4)
        assert mixed["components"][0]["token"] == "⟨prior⟩"
    else:
        assert {c["origin"] for c in mixed["components"]} == {"A+B"}


def test_prior_samples(models):
    samples = analysis.prior_samples(models["nvae"], 5, 3, seed=1, temperature=0.7)
    again = analysis.prior_samples(models["nvae"], 5, 3, seed=1, temperature=0.7)
    assert [s["text"] for s in samples] == [s["text"] for s in again]
    assert all(len(s["weights"]) == 6 and math.isclose(sum(s["weights"]), 1.0, rel_tol=1e-4) for s in samples)
    with pytest.raises(ValueError):
        analysis.prior_samples(models["vt"], 5, 1, 0, 0.0)


def test_component_points_and_map(models):
    model = models["nvae"]
    texts = [f"Sentence number {i} is about the war." for i in range(8)]
    pts = analysis.component_points(model, texts, batch_size=3)
    m = len(pts["token"])
    assert pts["means"].shape == (m, model.cfg.d_model)
    assert len(pts["sentence"]) == len(pts["weight"]) == m and set(pts["sentence"]) == set(range(8))
    reducer = analysis.fit_map(pts["means"])
    again = analysis.fit_map(pts["means"], init=reducer.embedding_)
    assert np.allclose(again.embedding_, reducer.embedding_)
    new = pts["means"][:3]
    assert np.allclose(again.transform(new), reducer.transform(new), atol=1e-4)


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
    rows = analysis.selected_rows(points, corpus, ["s0", "s1"], user, ["mine"])
    assert [(r["from"], r["token"]) for r in rows] == [("corpus", "a"), ("corpus", "b"), ("yours", "u")]
    grouped = analysis.by_sentence(rows)
    assert grouped[0]["from"] == "yours" and grouped[1]["tokens"] == "a b" and grouped[1]["components"] == 2
    assert analysis.selected_rows(points, corpus, ["s0", "s1"]) == rows[:2]


def test_denoising_demo_properties():
    means, variances = [(-2.0, 0.0), (2.0, 1.0)], [(0.3, 0.3), (1.5, 0.4)]
    out = analysis.denoising_demo(means, variances, [0.5, 0.5], (1.0, -1.0), d=2)
    assert out["identity_gap"] < 1e-9  # ordinary attention = denoising attention over weighted impulses
    assert out["noise_var"] == pytest.approx(math.sqrt(2))
    assert sum(out["denoised_weights"]) == pytest.approx(1.0) and sum(out["ordinary_weights"]) == pytest.approx(1.0)
    # all weight on one narrow component: the query is pulled almost onto its mean
    narrow = analysis.denoising_demo(
        [(3.0, 3.0), (-3.0, -3.0)], [(1e-6, 1e-6), (1.0, 1.0)], [1.0, 1e-12], (0.0, 0.0), d=4
    )
    assert narrow["denoised"] == pytest.approx([3.0, 3.0], abs=1e-3)
    # a very wide component trusts the query: little movement
    wide = analysis.denoising_demo([(0.0, 0.0), (5.0, 5.0)], [(1e4, 1e4), (1e4, 1e4)], [0.5, 0.5], (1.0, 2.0), d=1)
    assert wide["denoised"] == pytest.approx([1.0, 2.0], abs=2e-3)
    # numerical integration of the definition in 2-D, for one component
    mu, var, u, noise = np.array([1.0, -0.5]), np.array([0.7, 0.2]), np.array([0.3, 0.4]), math.sqrt(2)
    out = analysis.denoising_demo([tuple(mu)], [tuple(var)], [1.0], tuple(u), d=2)
    g = np.linspace(-6, 6, 801)
    X, Y = np.meshgrid(g, g)
    prior = np.exp(-0.5 * ((X - mu[0]) ** 2 / var[0] + (Y - mu[1]) ** 2 / var[1]))
    like = np.exp(-0.5 * ((u[0] - X) ** 2 + (u[1] - Y) ** 2) / noise)
    post = prior * like
    expected = [(post * X).sum() / post.sum(), (post * Y).sum() / post.sum()]
    assert out["denoised"] == pytest.approx(expected, abs=1e-3)


def test_ordinary_attention_limits():
    z = np.array([[1.0, 0.0], [0.0, 1.0]])
    result, w = analysis.ordinary_attention(np.array([100.0, 0.0]), z, 1.0)
    assert result == pytest.approx([1.0, 0.0]) and w[0] == pytest.approx(1.0)


# -- display helpers: [UNK]-heavy BLEU, alpha^Delta stops, baselines in their own terms ------------


def test_mostly_unknown_threshold():
    assert analysis.mostly_unknown(7, 8)  # seven [UNK] pieces + [EOS]
    assert analysis.mostly_unknown(3, 6) and not analysis.mostly_unknown(2, 5)  # more than half of the pieces
    assert not analysis.mostly_unknown(0, 1) and not analysis.mostly_unknown(0, 9)


def test_token_info_matches_inspect(models):
    model = models["nvae"]
    texts = ["القاهرة هي عاصمة مصر وأكبر مدنها اليوم", "The game was released in Japan.", "word " * 100]
    infos = analysis.token_info(model, texts)
    views = analysis.inspect_sentences(model, texts)
    for info, view in zip(infos, views):
        assert (info.n_inputs, info.n_unknown, info.truncated) == (view.n_inputs, view.n_unknown, view.truncated)
        assert info.mostly_unknown == view.mostly_unknown
    assert [i.mostly_unknown for i in infos] == [True, False, False]
    assert views[0].reference == " ".join(["[UNK]"] * 7)
    assert analysis.sentence_bleu(views[0].reference, views[0].reference) == pytest.approx(100.0)  # the flag: why


@pytest.mark.parametrize("lo, hi, default", [(0.01, 1.0, 0.3), (0.05, 1.0, 0.11), (0.005, 0.2, 0.05)])
def test_alpha_stops_are_round_and_inside_the_range(lo, hi, default):
    from types import SimpleNamespace

    cfg = SimpleNamespace(alpha_delta_min=lo, alpha_delta_max=hi, alpha_delta=default)
    stops = analysis.alpha_stops(cfg)
    assert stops == sorted(set(stops)) and stops[0] == lo and stops[-1] == hi and default in stops
    assert {v for v in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0) if lo <= v <= hi} <= set(stops)
    assert all(len(f"{v:g}") <= 5 for v in stops)  # round values: 0.012, 0.25, never 0.0121
    ratios = [b / a for a, b in zip(stops, stops[1:])]
    assert max(ratios) <= 1.34  # about log-spaced: no gap wider than a third
    with_link = analysis.alpha_stops(cfg, [0.0316, 7.0, float("nan"), None, 0.30000001])
    assert (0.0316 in with_link) == (lo <= 0.0316 <= hi) and 7.0 not in with_link
    assert len(with_link) == len(set(f"{v:g}" for v in with_link))  # labels stay distinct


def test_latent_descriptions():
    assert analysis.latent_description("t").startswith("the encoder states themselves")
    assert analysis.latent_description("vt").startswith("one Gaussian vector per token")
    assert analysis.latent_description("vtp").startswith("one Gaussian vector pooled")
    assert analysis.latent_description("vts", 2).startswith("a Gaussian vector on every second position")
    assert analysis.latent_description("vts", 4).startswith("a Gaussian vector on every 4th position")
    assert "prior" in analysis.latent_description("nvae")
    assert not any("prior" in analysis.latent_description(t) for t in ("t", "vt", "vtp", "vts"))
