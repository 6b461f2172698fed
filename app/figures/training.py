"""The Model page's figure: the training curves of a checkpoint's metrics.jsonl."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.style import BLUE, ORANGE, apply_layout

TRAIN_SERIES = ("loss", "ce", "kl_g", "kl_d", "retained", "lr", "alpha_delta")
EVAL_SERIES = ("bleu", "cross_entropy", "retained_proportion")


def training_curves(rows: list[dict]) -> go.Figure:
    """Training curves from metrics.jsonl rows: one small panel per series that has data."""
    train = [r for r in rows if r.get("kind", "train") == "train" and isinstance(r.get("step"), (int, float))]
    evals = [r for r in rows if r.get("kind") == "eval" and isinstance(r.get("step"), (int, float))]
    series = [("train", k) for k in TRAIN_SERIES if any(_num(r.get(k)) for r in train)]
    series += [("eval", k) for k in EVAL_SERIES if any(_num(r.get(k)) for r in evals)]
    if not series:
        return apply_layout(go.Figure(), "No training metrics recorded", height=200)
    cols = 3
    nrows = math.ceil(len(series) / cols)
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=[f"{k} ({kind})" for kind, k in series])
    for j, (kind, key) in enumerate(series):
        src = train if kind == "train" else evals
        pts = [(r["step"], r[key]) for r in src if _num(r.get(key))]
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in pts],
                y=[p[1] for p in pts],
                mode="lines" if kind == "train" else "lines+markers",
                name=f"{key}",
                showlegend=False,
                line=dict(color=BLUE if kind == "train" else ORANGE),
            ),
            row=j // cols + 1,
            col=j % cols + 1,
        )
    fig.update_xaxes(title_text="step", row=nrows)
    return apply_layout(fig, "Training curves (metrics.jsonl)", height=260 * nrows)


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
