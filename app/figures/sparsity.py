"""Figures of sparsity: how many components survive, against alpha^Delta for one sentence, and over
a corpus (against input length, by token class, and against alpha^Delta; the lengths of the segments a
pooling checkpoint's kept components stand for)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.style import BLUE, GREEN, GREY, ORANGE, RED, apply_layout, plain, shorten, unique_labels


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


def study_lengths(points: list[dict], title: str = "Retained components against input length") -> go.Figure:
    """One point per sentence: input tokens ([EOS] included) against retained components (the
    paper's Figure 4); hover shows the sentence. The dashed line keeps every token; the orange line
    is the mean at each length."""
    x = [p["tokens"] for p in points]
    y = [p["retained"] for p in points]
    rng = np.random.default_rng(0)  # a little horizontal jitter so repeated lengths stay visible
    jitter = rng.uniform(-0.18, 0.18, len(x)) if len(x) > 1 else np.zeros(len(x))
    hover = [f"{plain(shorten(p['sentence'], 120))}<br>{p['tokens']} tokens, {p['retained']} retained" for p in points]
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


def segment_lengths(by_length: list[dict], title: str = "Segment lengths") -> go.Figure:
    """Bars: how many segments have each length in tokens (rows of `corpus_study.segment_study`'s
    `by_length`: length, count, share)."""
    fig = go.Figure(
        go.Bar(
            x=[r["length"] for r in by_length],
            y=[r["count"] for r in by_length],
            marker_color=BLUE,
            customdata=[r["share"] for r in by_length],
            hovertemplate="%{x} tokens: %{y:,} segments (%{customdata:.1%})<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_xaxes(title="segment length in tokens", dtick=1, rangemode="tozero")
    fig.update_yaxes(title="segments", rangemode="tozero")
    return apply_layout(fig, title, height=360)


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


# -- learned against fixed compression: a checkpoint's stored rate-distortion result ---------------

# choice -> (legend name, colour, dash, marker symbol, marker size). The evenly spaced and random choices
# keep as many components as the learned one in every sentence, so their markers lie at the same rate
# (and a stride rule's often near it): drawn in this order, each smaller than the one under it and all
# but the first hollow, every marker stays visible where they meet. Never moved off its true rate.
CHOICE_STYLES = {
    "learned": ("learned choice", BLUE, "solid", "circle", 16),
    "stride": ("nearest stride rule", ORANGE, "dash", "square-open", 13),
    "evenly_spaced": ("evenly spaced positions", GREEN, "dot", "diamond-open", 10),
    "random": ("random subset", RED, "dashdot", "x-thin-open", 8),
}
OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def _choice_hover(row: dict, choice: str) -> str:
    p = row[choice]
    rule = f" ({plain(p['rule'])})" if choice == "stride" and p.get("rule") else ""
    ad = f"α^Δ {row['alpha_delta']:.3g}, " if row.get("alpha_delta") is not None else ""
    return (
        f"{CHOICE_STYLES[choice][0]}{rule}<br>{ad}retained {p['retained_proportion']:.3f}<br>"
        f"BLEU {p['bleu']:.1f}, exact {p.get('exact_match', 0):.0%}"
    )


def rate_distortion(own: dict, name: str, others: Sequence[tuple[str, dict]] = ()) -> go.Figure:
    """BLEU against the retained proportion from stored rate-distortion results
    (`nvae.readout.rate_distortion_file`): the checkpoint's own choices as lines (learned, the nearest
    stride rule, evenly spaced positions, a random subset; markers only where it has one rate), its
    own default as a ringed point, and `others` (label, result): a baseline's own rule as a point, another
    NVAE's learned choice as a thin line (or a point)."""
    fig = go.Figure()
    rows = own.get("rows") or []
    mode = "lines+markers" if len(rows) > 1 else "markers"
    for choice, (label, colour, dash, marker, size) in CHOICE_STYLES.items():
        if not rows:
            break
        label = f"{label} ({plain(rows[0]['stride']['rule'])})" if choice == "stride" and len(rows) == 1 else label
        fig.add_trace(
            go.Scatter(
                x=[r[choice]["retained_proportion"] for r in rows],
                y=[r[choice]["bleu"] for r in rows],
                mode=mode,
                name=label,
                line=dict(color=colour, dash=dash, width=3 if choice == "learned" else 2),
                marker=dict(
                    symbol=marker,
                    size=size + 2 if len(rows) == 1 else size,
                    color=colour,
                    opacity=0.6 if choice == "learned" else 1.0,
                    line=dict(color="white" if choice == "learned" else colour, width=1 if choice == "learned" else 2),
                ),
                hovertext=[_choice_hover(r, choice) for r in rows],
                hoverinfo="text",
            )
        )
    point = own["point"]
    what = f"{plain(name)}: {'its own rule' if own['kind'] == 'baseline' else 'default α^Δ'}"
    if point.get("alpha_delta") is not None:
        what += f" {point['alpha_delta']:g}"
    fig.add_trace(
        go.Scatter(
            x=[point["retained_proportion"]],
            y=[point["bleu"]],
            mode="markers",
            name=what,
            marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(color=BLUE, width=2), symbol="circle"),
            hovertemplate=f"{what}<br>retained %{{x:.3f}}<br>BLEU %{{y:.1f}}<extra></extra>",
        )
    )
    for k, (label, other) in enumerate(others):
        colour = OTHER_COLOURS[k % len(OTHER_COLOURS)]
        label = plain(label)
        other_rows = other.get("rows") or []
        if other["kind"] == "curve" and len(other_rows) > 1:
            fig.add_trace(
                go.Scatter(
                    x=[r["learned"]["retained_proportion"] for r in other_rows],
                    y=[r["learned"]["bleu"] for r in other_rows],
                    mode="lines+markers",
                    name=f"{label}: learned choice",
                    line=dict(color=colour, width=1.5),
                    marker=dict(size=5, color=colour),
                    hovertemplate=f"{label}, learned<br>retained %{{x:.3f}}<br>BLEU %{{y:.1f}}<extra></extra>",
                )
            )
            continue
        p = other["point"]
        fig.add_trace(
            go.Scatter(
                x=[p["retained_proportion"]],
                y=[p["bleu"]],
                mode="markers",
                name=label,
                marker=dict(size=12, color=colour, symbol="star" if other["kind"] == "baseline" else "circle"),
                hovertemplate=f"{label}<br>retained %{{x:.3f}}<br>BLEU %{{y:.1f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title="retained proportion (share of components kept)", range=[0, 1.03], dtick=0.25)
    fig.update_yaxes(title="BLEU", range=[0, 102], dtick=20)
    return apply_layout(fig, "BLEU against the retained proportion", height=440, legend=dict(orientation="h", y=-0.22))
