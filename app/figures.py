"""Pure functions -> plotly figures. No streamlit, no model: plain lists and dicts in, figures out.

Plotly renders a few HTML tags inside text (<b>, <br>, <a href>...), so every piece of text that
may come from a user (tokens, sentences) goes through `plain()` first: it is then shown as typed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from nvae.readout import component_weights

BLUE, ORANGE, GREEN, GREY, RED = "#1f77b4", "#ff7f0e", "#2ca02c", "#c7c7c7", "#d62728"
ORIGIN_COLOURS = {"A": BLUE, "B": ORANGE, "A+B": GREEN}
WEIGHT_SCALE = "Blues"
STRIP_WIDTH = 12  # tokens per row of a token strip
TOKEN_PALETTE = (BLUE, ORANGE, GREEN, RED, "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79")


def plain(text) -> str:
    """Text made inert for plotly: &, < and > become entities, so no tag is ever interpreted."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lean_template() -> go.layout.Template:
    """The look of plotly's "plotly_white", layout only. Naming "plotly_white" makes plotly copy and
    validate its whole template (trace defaults for every trace type) into each figure, about 11 ms
    a figure: most of a rerun of the Inspect page (measured with py-spy, docs/app.md)."""
    base = pio.templates["plotly_white"].layout

    def axis(a) -> dict:
        return dict(
            gridcolor=a.gridcolor,
            linecolor=a.linecolor,
            zerolinecolor=a.zerolinecolor,
            zerolinewidth=2,
            ticks="",
            automargin=True,
            title=dict(standoff=15),
        )

    return go.layout.Template(
        layout=dict(
            colorway=list(base.colorway),
            font=dict(color=base.font.color),
            paper_bgcolor="white",
            plot_bgcolor="white",
            hovermode=base.hovermode,
            hoverlabel=dict(align="left"),
            xaxis=axis(base.xaxis),
            yaxis=axis(base.yaxis),
        )
    )


TEMPLATE = _lean_template()


def apply_layout(fig: go.Figure, title: str, height: int | None = None, **kwargs) -> go.Figure:
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=50, b=10), height=height, template=TEMPLATE, **kwargs)
    return fig


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Category labels made distinct (plotly merges equal categories): repeats get a suffix."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        label = plain(label)
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


# -- inspect / sparsity --------------------------------------------------------------------------


def component_bars(components: list[dict], title: str = "Mixture weights of the components") -> go.Figure:
    """One bar per component, as high as `nvae.readout.component_weights` says: its weight pi
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


def sparsity_curve(curve: dict, current: Sequence[float] = ()) -> go.Figure:
    """Retained components (and reconstruction BLEU) against alpha^Delta; vertical lines mark the
    values chosen on the page."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=curve["alpha_delta"],
            y=curve["retained"],
            mode="lines+markers",
            name="retained components",
            line=dict(color=BLUE),
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=curve["alpha_delta"],
            y=curve["bleu"],
            mode="lines+markers",
            name="BLEU vs input",
            line=dict(color=ORANGE, dash="dot"),
        ),
        secondary_y=True,
    )
    n = curve.get("n_inputs") or 0
    top = 1.08 * max([n, *curve["retained"], 1])
    if n:
        fig.add_hline(
            y=n,
            line=dict(color=GREY, dash="dash"),
            annotation_text=f"{n} input tokens",
            annotation_position="bottom right",
        )
    for k, x in enumerate(current):  # the chosen values, as vertical lines with a legend entry
        fig.add_trace(
            go.Scatter(
                x=[x, x],
                y=[0, top],
                mode="lines",
                name=f"{('left', 'right')[k % 2]}: {x:g}",
                line=dict(color=RED if k == 0 else GREEN, width=2, dash="solid" if k == 0 else "dash"),
                hoverinfo="skip",
            ),
            secondary_y=False,
        )
    grid = curve["alpha_delta"]
    ticks = [m * 10.0**e for e in range(-4, 3) for m in (1, 2, 5)]
    ticks = [t for t in ticks if grid and min(grid) <= t <= max(grid)]
    fig.update_xaxes(
        type="log",
        title="alpha^Delta (conditional prior)",
        tickvals=ticks or None,
        ticktext=[f"{t:g}" for t in ticks] or None,
    )
    fig.update_yaxes(title="retained components", range=[0, top], secondary_y=False)
    fig.update_yaxes(
        title="BLEU", range=[0, 100], tickmode="linear", tick0=0, dtick=20, secondary_y=True, showgrid=False
    )
    return apply_layout(
        fig, "Sparsity against alpha^Delta for this sentence", height=380, legend=dict(orientation="h", y=-0.25)
    )


# -- interpolate ---------------------------------------------------------------------------------


def interpolation_bleu(
    rows: list[dict], tau: float | None = None, baseline: list[dict] | None = None, baseline_name: str = "baseline"
) -> go.Figure:
    """BLEU of each decoded step against sentence A and against sentence B, as tau goes 0 -> 1."""
    fig = go.Figure()
    taus = [r["tau"] for r in rows]
    fig.add_trace(
        go.Scatter(x=taus, y=[r["bleu_a"] for r in rows], name="NVAE vs A", mode="lines+markers", line=dict(color=BLUE))
    )
    fig.add_trace(
        go.Scatter(
            x=taus, y=[r["bleu_b"] for r in rows], name="NVAE vs B", mode="lines+markers", line=dict(color=ORANGE)
        )
    )
    if baseline:
        bt = [r["tau"] for r in baseline]
        name = plain(baseline_name)
        fig.add_trace(
            go.Scatter(
                x=bt,
                y=[r["bleu_a"] for r in baseline],
                name=f"{name} vs A",
                mode="lines+markers",
                line=dict(color=BLUE, dash="dot"),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=bt,
                y=[r["bleu_b"] for r in baseline],
                name=f"{name} vs B",
                mode="lines+markers",
                line=dict(color=ORANGE, dash="dot"),
            )
        )
    if tau is not None:
        fig.add_vline(x=tau, line=dict(color=RED, width=2))
    fig.update_xaxes(title="tau", range=[-0.02, 1.02])
    fig.update_yaxes(title="BLEU", range=[0, 105])
    return apply_layout(
        fig, "BLEU of each step against both endpoints", height=340, legend=dict(orientation="h", y=-0.3)
    )


def mixture_weights(components: list[dict], tau: float) -> go.Figure:
    """The mixed latent at tau: each component's weight, coloured by the sentence it came from."""
    labels = unique_labels([f"{c['origin']} #{c['component']} {c['token']}" for c in components])
    fig = go.Figure()
    for origin, colour in ORIGIN_COLOURS.items():
        idx = [i for i, c in enumerate(components) if c["origin"] == origin]
        if not idx:
            continue
        fig.add_trace(
            go.Bar(
                x=[labels[i] for i in idx],
                y=[components[i]["weight"] for i in idx],
                name=f"from {origin}",
                marker_color=colour,
                marker_opacity=[1.0 if components[i]["retained"] else 0.3 for i in idx],
            )
        )
    share = {o: sum(c["weight"] for c in components if c["origin"] == o) for o in ORIGIN_COLOURS}
    parts = ", ".join(f"{o}: {share[o]:.2f}" for o in ORIGIN_COLOURS if any(c["origin"] == o for c in components))
    fig.update_xaxes(tickangle=-45, type="category", categoryorder="array", categoryarray=labels)
    fig.update_yaxes(title="weight pi")
    return apply_layout(
        fig,
        f"Mixed latent at tau = {tau:.2f} (total weight {parts})",
        height=360,
        legend=dict(orientation="h", y=1.12, x=1, xanchor="right"),
    )


# -- latent map ----------------------------------------------------------------------------------


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
        f"<br>{plain(_short(sentences[int(corpus['sentence'][i])]))}"
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
            f"{t}<br>pi = {wi:.3g}<br>{plain(_short((user_sentences or [''])[int(s)]))}"
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


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- denoising attention in 2-D ------------------------------------------------------------------


def _ellipse(cx: float, cy: float, sx: float, sy: float, k: float = 1.0, n: int = 60) -> tuple[list, list]:
    t = np.linspace(0, 2 * np.pi, n)
    return (cx + k * sx * np.cos(t)).tolist(), (cy + k * sy * np.sin(t)).tolist()


PALETTE = [BLUE, ORANGE, GREEN, "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


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


# -- model page ----------------------------------------------------------------------------------

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


def to_html(fig: go.Figure) -> str:
    """A standalone HTML file of the figure (plotly.js embedded, so it opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def with_note(fig: go.Figure, note: str) -> go.Figure:
    """A copy of the figure with `note` (where its numbers came from) written under it, and kept in
    its layout's `meta`. The note is shown as typed (no markup)."""
    out = go.Figure(fig)
    lines = [plain(line) for line in str(note).splitlines() if line.strip()]
    bottom = 60 + 16 * len(lines)
    out.update_layout(meta={"source": str(note)}, margin=dict(b=bottom), height=(fig.layout.height or 450) + bottom)
    out.add_annotation(
        text="<br>".join(lines),
        xref="paper",
        yref="paper",
        x=0,
        y=0,
        yshift=-bottom + 8,
        xanchor="left",
        yanchor="bottom",
        align="left",
        showarrow=False,
        font=dict(size=11, color="#555"),
    )
    return out


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


# -- corpus study --------------------------------------------------------------------------------


def study_lengths(points: list[dict], title: str = "Retained components against input length") -> go.Figure:
    """One point per sentence: input tokens ([EOS] included) against retained components (the
    paper's Figure 4); hover shows the sentence. The dashed line keeps every token; the orange line
    is the mean at each length."""
    x = [p["tokens"] for p in points]
    y = [p["retained"] for p in points]
    rng = np.random.default_rng(0)  # a little horizontal jitter so repeated lengths stay visible
    jitter = rng.uniform(-0.18, 0.18, len(x)) if len(x) > 1 else np.zeros(len(x))
    hover = [f"{plain(_short(p['sentence'], 120))}<br>{p['tokens']} tokens, {p['retained']} retained" for p in points]
    fig = go.Figure(
        go.Scatter(
            x=np.asarray(x, dtype=float) + jitter,
            y=y,
            mode="markers",
            name="sentences",
            marker=dict(size=7, color=BLUE, opacity=0.55, line=dict(color="white", width=0.5)),
            hovertext=hover,
            hoverinfo="text",
        )
    )
    top = max(x + [1])
    fig.add_trace(
        go.Scatter(x=[0, top], y=[0, top], mode="lines", name="every token kept", line=dict(color=GREY, dash="dash"))
    )
    by_length: dict[int, list[int]] = {}
    for n, r in zip(x, y):
        by_length.setdefault(n, []).append(r)
    lengths = sorted(by_length)
    fig.add_trace(
        go.Scatter(
            x=lengths,
            y=[sum(by_length[n]) / len(by_length[n]) for n in lengths],
            mode="lines+markers",
            name="mean at each length",
            line=dict(color=ORANGE, width=2),
            marker=dict(size=4),
            hovertemplate="%{x} tokens: mean %{y:.2f} retained<extra></extra>",
        )
    )
    fig.update_xaxes(title="input tokens ([EOS] included)", rangemode="tozero")
    fig.update_yaxes(title="retained components", rangemode="tozero")
    return apply_layout(fig, title, height=420, legend=dict(orientation="h", y=-0.2))


def retained_shares(rows: list[dict], title: str, key: str = "class", height: int | None = None) -> go.Figure:
    """Horizontal bars: the retained share of each row's tokens (`retained_share`, 0..1), labelled
    with how many tokens it counts."""
    labels = unique_labels([r[key] for r in rows])
    shares = [r["retained_share"] for r in rows]
    fig = go.Figure(
        go.Bar(
            x=shares,
            y=labels,
            orientation="h",
            marker_color=BLUE,
            text=[f"{s:.0%} of {r['count']:,}" for s, r in zip(shares, rows)],
            textposition=["inside" if s > 0.3 else "outside" for s in shares],
            hovertemplate="%{y}: %{x:.1%} retained<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_xaxes(title="share of tokens retained", range=[0, 1.04], tickformat=".0%", dtick=0.2)
    fig.update_yaxes(autorange="reversed", type="category")
    return apply_layout(fig, title, height=height or 90 + 34 * max(len(rows), 1))


def study_sweep(sweep: list[dict], current: float | None = None) -> go.Figure:
    """Retained proportion and corpus BLEU against alpha^Delta (the paper's Figure 5 on this corpus);
    a vertical line marks the alpha^Delta of the page."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    xs = [r["alpha_delta"] for r in sweep]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[r["retained_proportion"] for r in sweep],
            mode="lines+markers",
            name="retained proportion",
            line=dict(color=BLUE),
            hovertemplate="α^Δ %{x:.3g}: retained %{y:.3f}<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[r["bleu"] for r in sweep],
            mode="lines+markers",
            name="BLEU",
            line=dict(color=ORANGE, dash="dot"),
            hovertemplate="α^Δ %{x:.3g}: BLEU %{y:.1f}<extra></extra>",
        ),
        secondary_y=True,
    )
    if current is not None:
        fig.add_trace(
            go.Scatter(
                x=[current, current],
                y=[0, 1.02],
                mode="lines",
                name=f"this page: {current:g}",
                line=dict(color=RED, width=2),
                hoverinfo="skip",
            ),
            secondary_y=False,
        )
    log = len(xs) > 1 and min(xs) > 0
    ticks = [m * 10.0**e for e in range(-4, 3) for m in (1, 2, 5)]
    ticks = [t for t in ticks if xs and min(xs) <= t <= max(xs)]
    fig.update_xaxes(
        type="log" if log else "linear",
        title="alpha^Delta (conditional prior)",
        tickvals=(ticks or None) if log else None,
        ticktext=([f"{t:g}" for t in ticks] or None) if log else None,
    )
    fig.update_yaxes(title="retained proportion", range=[0, 1.02], dtick=0.2, secondary_y=False)
    fig.update_yaxes(
        title="BLEU", range=[0, 102], tickmode="linear", tick0=0, dtick=20, secondary_y=True, showgrid=False
    )
    return apply_layout(
        fig, "Retained proportion and BLEU against alpha^Delta", height=380, legend=dict(orientation="h", y=-0.25)
    )


# -- walkthrough ---------------------------------------------------------------------------------


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
