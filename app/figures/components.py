"""Figures of the components of a latent: their mixture weights as bars, the input tokens coloured
by them, the weights drawn from the prior, and the component means of a corpus on a 2-D map."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from app.figures.style import BLUE, GREEN, GREY, ORANGE, RED, WEIGHT_SCALE, apply_layout, plain, shorten, unique_labels
from nvae.readout.sentence import component_weights

STRIP_WIDTH = 12  # tokens per row of a token strip
TOKEN_PALETTE = (BLUE, ORANGE, GREEN, RED, "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79")


def component_bars(components: list[dict], title: str = "Mixture weights of the components") -> go.Figure:
    """One bar per component, as high as `nvae.readout.sentence.component_weights` says: its weight pi
    (retained, blue) or, greyed, the share alpha / sum(alpha) it would have had (pruned). Log scale,
    so small weights stay visible."""
    labels = unique_labels([f"#{c['component']} {c['token']}" for c in components])
    heights = [max(h, 1e-12) for h in component_weights(components)]
    colours = [BLUE if c["retained"] else GREY for c in components]
    hover = [
        f"{lab}<br>{'retained' if c['retained'] else 'pruned'}<br>alpha = {c['alpha']:.4g}"
        f"<br>pi = {c['pi']:.4g}<br>mean variance = {c['mean_variance']:.3g}"
        for lab, c in zip(labels, components)
    ]
    fig = go.Figure(
        go.Bar(x=labels, y=heights, marker_color=colours, hovertext=hover, hoverinfo="text", showlegend=False)
    )
    for name, colour in (("retained", BLUE), ("pruned", GREY)):  # legend entries only
        fig.add_trace(go.Bar(x=[None], y=[None], marker_color=colour, name=name))
    fig.update_yaxes(type="log", title="weight (log scale)", dtick=1, exponentformat="power")
    fig.update_xaxes(tickangle=-45, type="category")
    return apply_layout(
        fig, title, height=360, barmode="overlay", legend=dict(orientation="h", y=1.12, x=1, xanchor="right")
    )


def token_strip(
    tokens: list[str],
    weights: list[float],
    retained: list[bool],
    title: str = "Input tokens coloured by the weight of their component",
    zmax: float | None = None,
    width: int = STRIP_WIDTH,
) -> go.Figure:
    """The input tokens in reading order, rows of `width` cells, each coloured by its component's
    weight; pruned tokens are grey (no colour)."""
    n = len(tokens)
    rows = max(1, math.ceil(n / width))
    z = np.full((rows, width), np.nan)
    text = [[""] * width for _ in range(rows)]
    hover = [[""] * width for _ in range(rows)]
    for i, (tok, w, keep) in enumerate(zip(tokens, weights, retained)):
        r, c = divmod(i, width)
        z[r, c] = w if keep else np.nan
        text[r][c] = plain(tok)
        hover[r][c] = f"{plain(tok)}<br>token {i}<br>{'pi' if keep else 'pruned, share'} = {w:.4g}"
    zmax = zmax if zmax is not None else (float(np.nanmax(z)) if np.isfinite(z).any() else 1.0)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            colorscale=WEIGHT_SCALE,
            zmin=0,
            zmax=zmax,
            xgap=3,
            ygap=3,
            colorbar=dict(title="pi", thickness=12, nticks=3),
            textfont=dict(size=13),
        )
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    return apply_layout(fig, title, height=90 + 46 * rows, plot_bgcolor=GREY)


def token_strip_html(
    tokens: list[str],
    weights: list[float],
    retained: list[bool],
    title: str = "Input tokens coloured by the weight of their component",
    zmax: float | None = None,
) -> str:
    """The token strip as plain HTML (what the pages show: a browser lays it out in about a
    millisecond, where a plotly heatmap costs tens): one chip per token in reading order, coloured
    by its component's weight on the same scale as `token_strip`, pruned tokens grey, the weight in
    each chip's tooltip, and a legend of the scale. All text is escaped."""
    kept_weights = [w for w, k in zip(weights, retained) if k]
    zmax = zmax if zmax is not None else (max(kept_weights) if kept_weights else 1.0)
    zmax = zmax if zmax > 0 else 1.0
    chips = []
    for i, (tok, w, keep) in enumerate(zip(tokens, weights, retained)):
        if keep:
            level = min(max(w / zmax, 0.0), 1.0)
            background = sample_colorscale(WEIGHT_SCALE, [level])[0]
            colour = "#ffffff" if level > 0.55 else "#1a1a1a"
            tip, border = f"token {i}: pi = {w:.4g}", "1px solid #2171b5"
        else:
            background, colour, border = GREY, "#333333", "1px dashed #8c8c8c"
            tip = f"token {i}: pruned (share {w:.4g})"
        chips.append(
            f'<span class="nvae-chip" title="{escape(tip)}" '
            f'style="background:{background};color:{colour};border:{border}">'
            f"{escape(str(tok))}</span>"
        )
    low, mid, high = sample_colorscale(WEIGHT_SCALE, [0.0, 0.5, 1.0])
    pruned_key = (
        f"<span class='nvae-chip' style='background:{GREY};padding:0 6px;border:1px dashed #8c8c8c'>grey</span> "
        "pruned · "
        if not all(retained)
        else ""
    )
    return (
        "<div class='nvae-strip'>"
        "<style>.nvae-strip .nvae-chip{display:inline-block;padding:3px 7px;margin:2px;border-radius:4px;"
        "font-size:14px;line-height:1.4;white-space:pre}"
        ".nvae-strip .nvae-scale{display:inline-block;width:90px;height:10px;border-radius:2px;"
        "vertical-align:middle;margin:0 6px}</style>"
        f"<div style='font-size:14px;margin-bottom:4px'>{escape(title)}</div>"
        f"<div>{''.join(chips) or '<em>no tokens</em>'}</div>"
        f"<div style='font-size:12px;margin-top:4px;opacity:0.8'>pi 0"
        f"<span class='nvae-scale' style='background:linear-gradient(to right,{low},{mid},{high})'></span>"
        f"{zmax:.3g} · {pruned_key}hover a token for its weight</div></div>"
    )


def sample_weights(samples: list[dict]) -> go.Figure:
    """Dirichlet weights of each prior sample (rows) over its components (columns)."""
    z = np.asarray([s["weights"] for s in samples], dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"z{j}" for j in range(z.shape[1])],
            y=[f"sample {s['sample']}" for s in samples],
            colorscale=WEIGHT_SCALE,
            zmin=0,
            colorbar=dict(title="pi", thickness=12),
            hovertemplate="%{y}, %{x}: pi = %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return apply_layout(fig, "Mixture weights drawn from the prior's Dirichlet", height=120 + 28 * len(samples))


def latent_map(
    corpus_xy: np.ndarray,
    corpus: dict,
    sentences: list[str],
    user_xy: np.ndarray | None = None,
    user: dict | None = None,
    user_sentences: list[str] | None = None,
    colour_by: str = "weight",
    top_tokens: Sequence[str] = (),
    title: str = "Component means of the corpus sample (UMAP)",
) -> go.Figure:
    """UMAP of component means: corpus points (small, coloured by weight, position, or token: the
    `top_tokens` each in its own colour, the others grey) and the user's components on top (larger,
    sized by weight). Corpus points carry customdata [0, index], the user's [1, index]."""
    n = len(corpus_xy)
    hover = [
        f"{plain(corpus['token'][i])} (position {int(corpus['position'][i])})"
        f"<br>{plain(shorten(sentences[int(corpus['sentence'][i])]))}"
        for i in range(n)
    ]
    fig = go.Figure()
    if colour_by == "token":
        tokens = np.asarray(corpus["token"], dtype=str)
        groups = [(t, np.flatnonzero(tokens == t)) for t in top_tokens]
        rest = np.flatnonzero(~np.isin(tokens, list(top_tokens))) if n else np.zeros(0, dtype=int)
        palette = TOKEN_PALETTE
        for k, (name, idx) in enumerate([("other tokens", rest), *groups]):
            fig.add_trace(
                go.Scattergl(
                    x=corpus_xy[idx, 0] if n else [],
                    y=corpus_xy[idx, 1] if n else [],
                    mode="markers",
                    name=plain(name) if k else name,
                    marker=dict(size=5 if k else 4, color=palette[(k - 1) % len(palette)] if k else GREY, opacity=0.8),
                    customdata=[[0, int(i)] for i in idx],
                    hovertext=[hover[i] for i in idx],
                    hoverinfo="text",
                )
            )
    else:
        if colour_by == "position":
            colour, cbar = corpus["position"], "token position"
        else:
            colour, cbar = np.log10(np.maximum(corpus["weight"], 1e-6)), "log10 pi"
        fig.add_trace(
            go.Scattergl(
                x=corpus_xy[:, 0] if n else [],
                y=corpus_xy[:, 1] if n else [],
                mode="markers",
                name="corpus components",
                marker=dict(
                    size=5,
                    color=colour,
                    colorscale="Viridis",
                    opacity=0.6,
                    colorbar=dict(title=cbar, thickness=12, x=1.0),
                ),
                customdata=[[0, i] for i in range(n)],
                hovertext=hover,
                hoverinfo="text",
            )
        )
    if user_xy is not None and user is not None and len(user_xy):
        w = np.asarray(user["weight"], dtype=float)
        sizes = 6 + 20 * np.sqrt(w / max(w.max(), 1e-9))
        texts = [plain(t) for t in user["token"]]
        hover = [
            f"{t}<br>pi = {wi:.3g}<br>{plain(shorten((user_sentences or [''])[int(s)]))}"
            for t, wi, s in zip(texts, w, user["sentence"])
        ]
        fig.add_trace(
            go.Scatter(
                x=user_xy[:, 0],
                y=user_xy[:, 1],
                mode="markers+text",
                name="your sentences",
                text=texts,
                textposition="top center",
                marker=dict(size=sizes, color=RED, opacity=0.75, line=dict(color="white", width=1)),
                customdata=[[1, i] for i in range(len(user_xy))],
                hovertext=hover,
                hoverinfo="text",
            )
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return apply_layout(fig, title, height=620, dragmode="lasso", legend=dict(orientation="h", y=-0.02))
