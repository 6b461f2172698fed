"""Figures of interpolation: BLEU along a strip or a path (one implementation, `bleu_curves`), the
mixed latent's components by the sentence they came from, and the curves of the study of many
pairs. The players (animations) are in player.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.style import BLUE, GREEN, GREY, ORANGE, RED, apply_layout, plain, unique_labels

WAYPOINT_COLOURS = {"A": BLUE, "B": ORANGE, "C": "#2ca02c", "D": "#9467bd", "E": "#8c564b"}
BLEND = "#7f7f7f"  # a position-wise blend of two waypoints' vectors (the baselines)
ORIGIN_COLOURS = {"A": BLUE, "B": ORANGE, "A+B": GREEN}  # a two-sentence mixture's components
STRIP_TITLE = "BLEU of each step against both endpoints"
PATH_TITLE = "BLEU of each step against every sentence"


def colour_of(origin: str) -> str:
    """The colour of a waypoint (A, B, C ...); grey for anything else."""
    return WAYPOINT_COLOURS.get(origin, BLEND)


def step_label(row: dict, labels: Sequence[str]) -> str:
    """'A→B τ=0.30' for a row of a path."""
    s = int(row["segment"])
    return f"{labels[s]}→{labels[s + 1]} τ={row['tau']:.2f}"


def waypoint_axis(labels: Sequence[str]) -> dict:
    """Axis ticks at 0, 1, 2 ... named by the waypoints' letters."""
    return dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=list(labels))


# -- BLEU along a strip or a path -----------------------------------------------------------------


@dataclass(frozen=True)
class BleuRun:
    """One model's steps for `bleu_curves`: where each step lies on the x axis, and its BLEU against
    each reference sentence."""

    name: str  # shown as typed
    x: list[float]
    bleu: list[Sequence[float]]
    mode: str = "lines+markers"
    marker: dict | None = None


def bleu_curves(
    runs: Sequence[BleuRun], references: Sequence[str], title: str, xaxis: dict, cursor: float | None = None
) -> go.Figure:
    """BLEU of each step against each reference: one line per run and reference, in the reference's
    colour (solid for the first run, dotted for the others), and a red line at `cursor`. `xaxis`
    sets the x axis (its title, range, ticks)."""
    fig = go.Figure()
    for k, run in enumerate(runs):
        for i, ref in enumerate(references):
            fig.add_trace(
                go.Scatter(
                    x=run.x,
                    y=[b[i] for b in run.bleu],
                    name=f"{plain(run.name)} vs {ref}",
                    mode=run.mode,
                    line=dict(color=colour_of(ref), dash=None if k == 0 else "dot"),
                    marker=run.marker,
                )
            )
    if cursor is not None:
        fig.add_vline(x=cursor, line=dict(color=RED, width=2))
    fig.update_xaxes(**xaxis)
    fig.update_yaxes(title="BLEU", range=[0, 105])
    return apply_layout(fig, title, height=340, legend=dict(orientation="h", y=-0.3))


def strip_bleu(strips: Iterable[tuple[str, list[dict]]], tau: float | None = None) -> go.Figure:
    """BLEU of each step against A and B as tau goes 0 -> 1, for one or more (name, strip) pairs
    (solid: the first, dotted: the others)."""
    runs = [
        BleuRun(name, [r["tau"] for r in rows], [(r["bleu_a"], r["bleu_b"]) for r in rows]) for name, rows in strips
    ]
    return bleu_curves(runs, ("A", "B"), STRIP_TITLE, dict(title="tau", range=[-0.02, 1.02]), tau)


def interpolation_bleu(
    rows: list[dict], tau: float | None = None, baseline: list[dict] | None = None, baseline_name: str = "baseline"
) -> go.Figure:
    """The Interpolate page's strip: the model's BLEU against A and B (as "NVAE"), and a baseline's
    dotted when there is one."""
    return strip_bleu([("NVAE", rows), *([(baseline_name, baseline)] if baseline else [])], tau)


def path_bleu(
    path: list[dict],
    labels: Sequence[str],
    position: float | None = None,
    baseline: list[dict] | None = None,
    baseline_name: str = "baseline",
    model_name: str = "NVAE",
) -> go.Figure:
    """BLEU of each step of the path against every waypoint, over the path (0 = A, 1 = B, ...)."""
    runs = [BleuRun(model_name, [r["position"] for r in path], [r["bleu"] for r in path], marker=dict(size=5))]
    if baseline:
        runs.append(BleuRun(baseline_name, [r["position"] for r in baseline], [r["bleu"] for r in baseline], "lines"))
    xaxis = dict(title="position on the path", range=[-0.05, len(labels) - 0.95], **waypoint_axis(labels))
    return bleu_curves(runs, labels, PATH_TITLE, xaxis, position)


# -- the mixed latent ---------------------------------------------------------------------------


def _bars_by_origin(
    components: list[dict], title: str, origins: Iterable[str], colour: Callable[[str], str]
) -> go.Figure:
    """The components' weights as bars, one trace per origin in `origins` (pruned ones faint)."""
    labels = unique_labels([f"{c['origin']} #{c['component']} {c['token']}" for c in components])
    fig = go.Figure()
    for origin in origins:
        idx = [i for i, c in enumerate(components) if c["origin"] == origin]
        if not idx:
            continue
        fig.add_trace(
            go.Bar(
                x=[labels[i] for i in idx],
                y=[components[i]["weight"] for i in idx],
                name=f"from {plain(origin)}",
                marker_color=colour(origin),
                marker_opacity=[1.0 if components[i]["retained"] else 0.3 for i in idx],
            )
        )
    fig.update_xaxes(tickangle=-45, type="category", categoryorder="array", categoryarray=labels)
    fig.update_yaxes(title="weight pi")
    return apply_layout(fig, title, height=360, legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))


def mixture_weights(components: list[dict], tau: float) -> go.Figure:
    """The mixed latent at tau: each component's weight, coloured by the sentence it came from."""
    share = {o: sum(c["weight"] for c in components if c["origin"] == o) for o in ORIGIN_COLOURS}
    parts = ", ".join(f"{o}: {share[o]:.2f}" for o in ORIGIN_COLOURS if any(c["origin"] == o for c in components))
    title = f"Mixed latent at tau = {tau:.2f} (total weight {parts})"
    return _bars_by_origin(components, title, ORIGIN_COLOURS, ORIGIN_COLOURS.__getitem__)


def path_mixture_weights(components: list[dict], title: str) -> go.Figure:
    """The mixed latent's components and their weights, coloured by the waypoint they came from."""
    return _bars_by_origin(components, title, dict.fromkeys(c["origin"] for c in components), colour_of)


# -- the study of many pairs ----------------------------------------------------------------------


def study_curves(result: dict) -> go.Figure:
    """Corpus-level curves over tau: mean BLEU against A and against B (left axis), the share of
    pairs whose step is a new sentence and whose step changed from the one before (right axis)."""
    c = result["curves"]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=c["tau"], y=c["bleu_a"], name="mean BLEU vs A", line=dict(color=BLUE)), secondary_y=False
    )
    fig.add_trace(
        go.Scatter(x=c["tau"], y=c["bleu_b"], name="mean BLEU vs B", line=dict(color=ORANGE)), secondary_y=False
    )
    fig.add_trace(
        go.Scatter(x=c["tau"], y=c["new"], name="share of new sentences", line=dict(color="#2ca02c", dash="dash")),
        secondary_y=True,
    )
    fig.add_trace(
        go.Scatter(
            x=c["tau"], y=c["changed"], name="share changed from the step before", line=dict(color=GREY, dash="dot")
        ),
        secondary_y=True,
    )
    fig.update_xaxes(title="tau", range=[-0.02, 1.02])
    fig.update_yaxes(title="BLEU", range=[0, 105], secondary_y=False)
    fig.update_yaxes(title="share of pairs", range=[0, 1.05], secondary_y=True, showgrid=False)
    return apply_layout(
        fig,
        f"Over all {result['pairs']} pairs: BLEU and new sentences along tau",
        height=380,
        legend=dict(orientation="h", y=-0.25),
    )
