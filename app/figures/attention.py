"""Figures of attention: the decoder's cross-attention over the latent components, and denoising
attention in 2-D (the mixture, a query and where ordinary and denoising attention send it)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from app.figures.style import BLUE, GREEN, ORANGE, RED, apply_layout, plain, unique_labels

PALETTE = [BLUE, ORANGE, GREEN, "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def attention_heatmap(out_tokens: list[str], components: list[dict], weights: list[list[float]]) -> go.Figure:
    """Cross-attention of the last decoder layer (mean over heads): rows = output tokens, columns =
    latent components."""
    cols = unique_labels([f"#{c['component']} {c['token']}" for c in components])
    rows = unique_labels(out_tokens)
    z = np.asarray(weights, dtype=float)[:, : len(cols)] if weights else np.zeros((0, len(cols)))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=rows,
            colorscale="Viridis",
            zmin=0,
            colorbar=dict(title="attention", thickness=12),
            hovertemplate="output %{y}<br>component %{x}<br>weight %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(tickangle=-45, type="category")
    fig.update_yaxes(autorange="reversed", type="category", title="output token")
    return apply_layout(fig, "Which components each output token attends to", height=max(300, 120 + 18 * len(rows)))


def _ellipse(cx: float, cy: float, sx: float, sy: float, k: float = 1.0, n: int = 60) -> tuple[list, list]:
    t = np.linspace(0, 2 * np.pi, n)
    return (cx + k * sx * np.cos(t)).tolist(), (cy + k * sy * np.sin(t)).tolist()


def denoising_2d(
    means, variances, weights, query, result: dict, labels: Sequence[str] | None = None, title: str | None = None
) -> go.Figure:
    """The mixture (ellipses at 1 and 2 standard deviations, opacity by weight), the query u and
    where ordinary and denoising attention send it. `labels` names the components (tokens: shown as
    typed), else mu1, mu2, ..."""
    fig = go.Figure()
    colours = [BLUE, ORANGE, GREEN] if labels is None else PALETTE
    wmax = max(weights) or 1.0
    for i, ((mx, my), (vx, vy), w) in enumerate(zip(means, variances, weights)):
        colour = colours[i % len(colours)]
        name = f"mu{i + 1}" if labels is None else plain(labels[i])
        for k, opacity in ((1.0, 0.35), (2.0, 0.15)):
            x, y = _ellipse(mx, my, math.sqrt(vx), math.sqrt(vy), k)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    fill="toself",
                    mode="lines",
                    line=dict(color=colour, width=1),
                    opacity=0.25 + 0.75 * opacity * w / wmax,
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        fig.add_trace(
            go.Scatter(
                x=[mx],
                y=[my],
                mode="markers+text",
                text=[f"{name} (pi={w:.2f})"],
                textposition="bottom center",
                marker=dict(color=colour, size=10),
                name=f"component {i + 1}" if labels is None else name,
                showlegend=labels is None,
            )
        )
    ux, uy = query
    ox, oy = result["ordinary"]
    dx, dy = result["denoised"]
    fig.add_trace(
        go.Scatter(x=[ux], y=[uy], mode="markers", name="query u", marker=dict(symbol="star", size=16, color="black"))
    )
    fig.add_trace(
        go.Scatter(
            x=[ox], y=[oy], mode="markers", name="ordinary attention", marker=dict(symbol="x", size=14, color=RED)
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[dx],
            y=[dy],
            mode="markers",
            name="denoising attention",
            marker=dict(symbol="diamond", size=14, color="purple"),
        )
    )
    for (x, y), colour in (((ox, oy), RED), ((dx, dy), "purple")):
        fig.add_annotation(
            x=x,
            y=y,
            ax=ux,
            ay=uy,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowwidth=2,
            arrowcolor=colour,
        )
    fig.update_yaxes(scaleanchor="x")
    return apply_layout(
        fig, title or "Where attention sends the query", height=560, legend=dict(orientation="h", y=-0.12)
    )


def attention_weights_bars(
    weights_ordinary: list[float], weights_denoising: list[float], labels: Sequence[str] | None = None
) -> go.Figure:
    if labels is None:
        names = [f"component {i + 1}" for i in range(len(weights_ordinary))]
    else:
        names = unique_labels(labels)
    fig = go.Figure(
        [
            go.Bar(x=names, y=weights_ordinary, name="ordinary", marker_color=RED),
            go.Bar(x=names, y=weights_denoising, name="denoising", marker_color="purple"),
        ]
    )
    fig.update_yaxes(range=[0, 1], title="weight")
    return apply_layout(fig, "Attention weights per component", height=300, barmode="group")
