"""The figure modules (app/figures/): the data each figure draws, and user
text never reaching plotly as markup."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from app import figures

EVIL = "<script>alert(1)</script>"
COMPONENTS = [
    {
        "component": 0,
        "source": -1,
        "token": "⟨prior⟩",
        "alpha": 1.0,
        "pi": 0.05,
        "retained": True,
        "mean_variance": 1.0,
    },
    {"component": 1, "source": 0, "token": "the", "alpha": 12.0, "pi": 0.6, "retained": True, "mean_variance": 0.02},
    {"component": 2, "source": 1, "token": EVIL, "alpha": 0.05, "pi": 0.0, "retained": False, "mean_variance": 0.02},
    {"component": 3, "source": 2, "token": "the", "alpha": 7.0, "pi": 0.35, "retained": True, "mean_variance": 0.03},
]


def all_text(fig: go.Figure) -> str:
    return fig.to_json()


def test_plain_escapes_markup():
    assert figures.style.plain("<b>&x</b>") == "&lt;b&gt;&amp;x&lt;/b&gt;"
    assert figures.style.plain(3) == "3"


def test_unique_labels():
    assert figures.style.unique_labels(["a", "b", "a", "a"]) == ["a", "b", "a (2)", "a (3)"]


def test_component_bars():
    fig = figures.components.component_bars(COMPONENTS)
    bars = fig.data[0]
    assert len(bars.x) == 4 and len(set(bars.x)) == 4  # the two "the" stay separate bars
    assert list(bars.marker.color) == [figures.style.BLUE, figures.style.BLUE, figures.style.GREY, figures.style.BLUE]
    assert bars.y[1] == pytest.approx(0.6)
    assert bars.y[2] == pytest.approx(0.05 / 20.05)  # pruned: its share of the pseudo-counts
    assert fig.layout.yaxis.type == "log"
    assert EVIL not in all_text(fig) and "&lt;script&gt;" in all_text(fig)


def test_token_strip_layout():
    tokens = [f"t{i}" for i in range(15)] + [EVIL]
    weights = [0.1] * 16
    kept = [True] * 15 + [False]
    fig = figures.components.token_strip(tokens, weights, kept)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2, figures.components.STRIP_WIDTH)
    assert z[0, 0] == pytest.approx(0.1) and math.isnan(z[1, 3])  # pruned token: no colour
    assert fig.data[0].text[1][3] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert math.isnan(z[1, 11])  # padding cell
    assert EVIL not in all_text(fig)


def test_token_strip_empty_and_zmax():
    fig = figures.components.token_strip([], [], [])
    assert np.asarray(fig.data[0].z, dtype=float).shape == (1, figures.components.STRIP_WIDTH)
    fig = figures.components.token_strip(["a"], [0.2], [True], zmax=0.9)
    assert fig.data[0].zmax == 0.9


def test_token_strip_html_colours_escapes_and_greys_pruned_tokens():
    """The HTML strip the pages show: one chip per token in order, kept ones on the weight scale
    (the heaviest darkest), pruned ones grey, every token and tooltip escaped."""
    import re

    from plotly.colors import sample_colorscale

    html = figures.components.token_strip_html(
        ["low", "high", EVIL, "cut"], [0.1, 0.4, 0.2, 0.3], [True, True, True, False]
    )
    chips = re.findall(r'<span class="nvae-chip" title="([^"]*)" style="background:([^;]*);[^"]*">([^<]*)</span>', html)
    assert [c[2] for c in chips] == ["low", "high", "&lt;script&gt;alert(1)&lt;/script&gt;", "cut"]
    assert EVIL not in html
    top = sample_colorscale(figures.style.WEIGHT_SCALE, [1.0])[0]
    assert chips[1][1] == top and chips[0][1] != top  # the largest weight is the top of the scale
    assert chips[3][1] == figures.style.GREY and "pruned" in chips[3][0]
    assert chips[0][0] == "token 0: pi = 0.1"
    assert "0.4" in html.split("nvae-scale")[-1]  # the legend's top is the largest kept weight
    fixed = figures.components.token_strip_html(["a"], [0.2], [True], zmax=0.8)
    assert sample_colorscale(figures.style.WEIGHT_SCALE, [0.25])[0] in fixed
    assert "no tokens" in figures.components.token_strip_html([], [], [])
    assert "pruned" in html and "pruned" not in figures.components.token_strip_html(["a"], [1.0], [True])
    quoted = figures.components.token_strip_html(['"', "'", "&"], [0.1] * 3, [True] * 3, title='<b title="x">')
    assert '"</span>' not in quoted and "&quot;</span>" in quoted and "&amp;</span>" in quoted
    assert "<b " not in quoted and "&lt;b title=&quot;x&quot;&gt;" in quoted


def test_attention_heatmap():
    weights = [[0.1, 0.9, 0.0, 0.0], [0.5, 0.25, 0.0, 0.25]]
    fig = figures.attention.attention_heatmap(["the", EVIL], COMPONENTS, weights)
    hm = fig.data[0]
    assert np.asarray(hm.z).shape == (2, 4)
    assert len(hm.x) == 4 and len(hm.y) == 2
    assert EVIL not in all_text(fig)


def test_sparsity_curve():
    curve = {
        "alpha_delta": [0.01, 0.1, 1.0],
        "retained": [2, 5, 9],
        "bleu": [10.0, 50.0, 90.0],
        "n_inputs": 10,
        "proportion": [0.2, 0.5, 0.9],
    }
    fig = figures.sparsity.sparsity_curve(curve, (0.1, 1.0))
    assert list(fig.data[0].y) == [2, 5, 9] and list(fig.data[1].y) == [10.0, 50.0, 90.0]
    markers = [t for t in fig.data if t.name.startswith(("left", "right"))]
    assert [list(t.x) for t in markers] == [[0.1, 0.1], [1.0, 1.0]]
    assert [t.name for t in markers] == ["left: 0.1", "right: 1"]
    assert fig.layout.yaxis.range[1] == pytest.approx(10 * 1.08)  # room above the input-token line
    assert fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.tickvals) == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


def test_interpolation_bleu_with_baseline():
    rows = [{"tau": t / 10, "bleu_a": 100 - 10 * t, "bleu_b": 10 * t} for t in range(11)]
    fig = figures.interpolation.interpolation_bleu(rows, 0.3)
    assert len(fig.data) == 2 and list(fig.data[0].x) == [r["tau"] for r in rows]
    fig = figures.interpolation.interpolation_bleu(rows, 0.3, rows, baseline_name=EVIL)
    assert len(fig.data) == 4 and EVIL not in all_text(fig)


def test_one_bleu_figure_for_strips_and_paths():
    """Two models' strips (side by side) and a path with its baseline are drawn by `bleu_curves`:
    the first run solid, the others dotted, one line per reference sentence."""
    rows = [{"tau": t / 4, "bleu_a": 100 - 25 * t, "bleu_b": 25 * t} for t in range(5)]
    fig = figures.interpolation.strip_bleu({"tiny-nvae": rows, EVIL: rows}.items(), 0.5)
    assert [t.name for t in fig.data][:2] == ["tiny-nvae vs A", "tiny-nvae vs B"]
    assert [t.line.dash for t in fig.data] == [None, None, "dot", "dot"]
    assert fig.layout.title.text == figures.interpolation.STRIP_TITLE and EVIL not in all_text(fig)
    path = [
        {"step": k, "position": k / 2, "segment": min(k // 2, 1), "tau": (k % 2) / 2, "bleu": [90 - 20 * k, 20 * k, 10]}
        for k in range(5)
    ]
    fig = figures.interpolation.path_bleu(path, ["A", "B", "C"], 1.0, path, "baseline-vt", "VT")
    assert [t.name for t in fig.data] == [f"{m} vs {x}" for m in ("VT", "baseline-vt") for x in "ABC"]
    assert [t.mode for t in fig.data] == ["lines+markers"] * 3 + ["lines"] * 3
    assert list(fig.data[2].y) == [10] * 5 and list(fig.layout.xaxis.ticktext) == ["A", "B", "C"]
    player = figures.player.path_player([{**r, "text": EVIL, "changed": False} for r in path], ["A", "B", "C"])
    assert len(player.frames) == 5 and EVIL not in all_text(player)


def test_mixture_weights_by_origin():
    comps = [
        {"origin": "A", "component": 0, "token": "⟨prior⟩", "weight": 0.1, "retained": True},
        {"origin": "A", "component": 1, "token": "x", "weight": 0.4, "retained": True},
        {"origin": "B", "component": 2, "token": EVIL, "weight": 0.5, "retained": True},
        {"origin": "B", "component": 3, "token": "y", "weight": 0.0, "retained": False},
    ]
    fig = figures.interpolation.mixture_weights(comps, 0.5)
    assert [t.name for t in fig.data] == ["from A", "from B"]
    assert list(fig.data[1].y) == [0.5, 0.0]
    assert "A: 0.50, B: 0.50" in fig.layout.title.text
    assert EVIL not in all_text(fig)


def test_latent_map_layers():
    corpus = {
        "token": np.array(["a", EVIL, "c"]),
        "sentence": np.array([0, 0, 1]),
        "position": np.array([0, 1, 0]),
        "weight": np.array([0.5, 0.3, 0.2], dtype=np.float32),
    }
    user = {"token": np.array(["u"]), "sentence": np.array([0]), "weight": np.array([0.7])}
    xy = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 0.0]])
    fig = figures.components.latent_map(xy, corpus, ["s0", "s1 " + EVIL], np.array([[0.5, 0.5]]), user, ["mine"])
    assert len(fig.data) == 2
    assert [list(c) for c in fig.data[0].customdata] == [[0, 0], [0, 1], [0, 2]]
    assert [list(c) for c in fig.data[1].customdata] == [[1, 0]]
    assert EVIL not in all_text(fig)
    fig = figures.components.latent_map(xy, corpus, ["s0", "s1"], colour_by="position")
    assert len(fig.data) == 1 and list(fig.data[0].marker.color) == [0, 1, 0]


def test_latent_map_empty():
    empty = {
        "token": np.array([], dtype=str),
        "sentence": np.array([], dtype=int),
        "position": np.array([], dtype=int),
        "weight": np.array([], dtype=np.float32),
    }
    fig = figures.components.latent_map(np.zeros((0, 2)), empty, [])
    assert len(fig.data) == 1


def test_denoising_2d():
    result = {"ordinary": [1.0, 0.5], "denoised": [0.2, 0.1]}
    fig = figures.attention.denoising_2d([(0, 0), (2, 1)], [(0.5, 0.5), (1.0, 0.2)], [0.6, 0.4], (1, -1), result)
    names = [t.name for t in fig.data]
    assert "ordinary attention" in names and "denoising attention" in names and "query u" in names
    ordinary = next(t for t in fig.data if t.name == "ordinary attention")
    assert (ordinary.x[0], ordinary.y[0]) == (1.0, 0.5)
    ellipses = [t for t in fig.data if t.fill == "toself"]
    assert len(ellipses) == 4  # 1 and 2 standard deviations for each component
    xs = np.asarray(ellipses[0].x)
    assert xs.max() == pytest.approx(math.sqrt(0.5), abs=1e-3)  # 1 sd of component 1 along x
    assert len(fig.layout.annotations) == 2  # arrows from the query


def test_attention_weights_bars():
    fig = figures.attention.attention_weights_bars([0.2, 0.8], [0.5, 0.5])
    assert [list(t.y) for t in fig.data] == [[0.2, 0.8], [0.5, 0.5]]


def test_training_curves_skips_junk():
    rows = [
        {"kind": "train", "step": 1, "loss": 3.0, "ce": float("nan"), "lr": True},
        {"kind": "train", "step": 2, "loss": 2.0, "ce": 1.5, "lr": "x"},
        {"kind": "eval", "step": 2, "bleu": 12.0},
        {"kind": "train", "step": "bad", "loss": 1.0},
        {"step": 3, "loss": 1.0},
    ]
    fig = figures.training.training_curves(rows)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["loss (train)", "ce (train)", "bleu (eval)"]
    loss = fig.data[0]
    assert list(loss.x) == [1, 2, 3] and list(loss.y) == [3.0, 2.0, 1.0]
    assert list(fig.data[1].x) == [2]
    assert "No training metrics" in figures.training.training_curves([]).layout.title.text


def test_sample_weights():
    samples = [{"sample": 0, "weights": [0.5, 0.5, 0.0]}, {"sample": 1, "weights": [0.1, 0.2, 0.7]}]
    fig = figures.components.sample_weights(samples)
    assert np.asarray(fig.data[0].z).shape == (2, 3)


def test_to_html_is_standalone_and_inert():
    html = figures.style.to_html(figures.components.component_bars(COMPONENTS))
    assert "<html>" in html[:100] and "plotly" in html and "cdn.plot.ly" not in html[:5000]
    assert EVIL not in html


def test_figure_notes_and_new_figures_are_inert():
    points = [{"sentence": "<b>bold</b> & <script>x</script>", "tokens": 5, "retained": 3}] * 3
    fig = figures.sparsity.study_lengths(points)
    assert all("<b>" not in str(h) and "<script>" not in str(h) for h in fig.data[0].hovertext)
    noted = figures.style.with_note(fig, "Checkpoint x.\nCorpus: the file <img src=x onerror=alert(1)>.txt")
    note = noted.layout.annotations[-1].text
    assert "&lt;img" in note and "<img" not in note and noted.layout.meta["source"].startswith("Checkpoint x.")
    assert len(fig.layout.annotations) == 0, "the page's own figure is left as it was"
    assert "&lt;img" in figures.style.to_html(noted)
    shares = figures.sparsity.retained_shares([{"class": "[UNK]", "retained_share": 0.0, "count": 4}], "t")
    assert list(shares.data[0].x) == [0.0] and shares.data[0].text[0] == "0% of 4"
    sweep = figures.sparsity.study_sweep([{"alpha_delta": 0.1, "retained_proportion": 0.5, "bleu": 40.0}], 0.1)
    assert sweep.layout.xaxis.type == "linear"  # one value: no log axis to draw
    bars = figures.walkthrough.next_token([{"token": "<i>", "id": 5, "probability": 0.7}], {"id": 5})
    assert list(bars.data[0].y) == ["&lt;i&gt;"]
