"""The Walkthrough's figures: each step of the model on one sentence (the encoder states, the
pseudo-counts against the threshold, the decoder's next token)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.figures.style import BLUE, GREEN, GREY, RED, apply_layout, unique_labels


def encoder_states(tokens: list[str], states, dims: int = 48) -> go.Figure:
    """The encoder states h_i as a heat map: one row per token, the first `dims` of the P numbers."""
    z = np.asarray(states, dtype=float)[:, :dims]
    rows = unique_labels(tokens)
    lim = float(np.abs(z).max()) if z.size else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            y=rows,
            x=list(range(z.shape[1])),
            colorscale="RdBu",
            zmid=0,
            zmin=-lim,
            zmax=lim,
            colorbar=dict(title="value", thickness=12),
            hovertemplate="%{y}, dimension %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title=f"dimension (the first {z.shape[1]} of {np.asarray(states).shape[1]})")
    return apply_layout(fig, "Encoder states h_i, one row per token", height=max(260, 110 + 24 * len(rows)))


def pseudo_counts(components: list[dict], threshold: float | None = None) -> go.Figure:
    """Each component's pseudo-count alpha (log scale), the prior in green. With `threshold`, kept
    components blue and pruned ones grey, and the threshold drawn across."""
    labels = unique_labels([f"#{c['component']} {c['token']}" for c in components])
    if threshold is None:
        colours = [GREEN if c["source"] < 0 else BLUE for c in components]
    else:
        colours = [GREEN if c["source"] < 0 else (BLUE if c["retained"] else GREY) for c in components]
    hover = [
        f"{lab}<br>alpha = {c['alpha']:.4g}<br>log alpha = {c['log_alpha']:.3f}"
        + ("" if threshold is None else f"<br>{'kept' if c['retained'] else 'pruned'}")
        for lab, c in zip(labels, components)
    ]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[max(c["alpha"], 1e-12) for c in components],
            marker_color=colours,
            hovertext=hover,
            hoverinfo="text",
            showlegend=False,
        )
    )
    legend = [("prior", GREEN)] if any(c["source"] < 0 for c in components) else []
    legend += [("token", BLUE)] if threshold is None else [("kept", BLUE), ("pruned", GREY)]
    for name, colour in legend:
        fig.add_trace(go.Bar(x=[None], y=[None], marker_color=colour, name=name))
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line=dict(color=RED, dash="dash"),
            annotation_text=f"threshold {threshold:g}",
            annotation_position="top left",
        )
    fig.update_yaxes(type="log", title="pseudo-count alpha (log scale)", exponentformat="power")
    fig.update_xaxes(tickangle=-45, type="category")
    return apply_layout(
        fig,
        "Pseudo-count alpha of each component" + ("" if threshold is None else ", against the threshold"),
        height=360,
        barmode="overlay",
        legend=dict(orientation="h", y=1.12, x=1, xanchor="right"),
    )


def next_token(choices: list[dict], chosen: dict | None = None, title: str = "The next token") -> go.Figure:
    """The decoder's most probable next tokens (horizontal bars, best first); the one written in red."""
    labels = unique_labels([c["token"] for c in choices])
    written = chosen["id"] if chosen else None
    fig = go.Figure(
        go.Bar(
            x=[c["probability"] for c in choices],
            y=labels,
            orientation="h",
            marker_color=[RED if c["id"] == written else BLUE for c in choices],
            text=[f"{c['probability']:.3f}" for c in choices],
            textposition="auto",
            hovertemplate="%{y}: probability %{x:.4f}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_xaxes(title="probability", range=[0, 1])
    fig.update_yaxes(autorange="reversed", type="category")
    return apply_layout(fig, title, height=110 + 36 * max(len(choices), 1))
