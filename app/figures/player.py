"""The players: plotly animations of a path (`path_player`), of a path on the latent map (`path_map`)
and of the study's strips (`study_animation`). A Play button and a slider step through the frames
in the browser, with no rerun of the page, and the same figure saved as HTML
(`figures.style.to_html`) plays offline, for slides. All user or model text goes through `plain`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.interpolation import colour_of, step_label, waypoint_axis
from app.figures.style import GREY, RED, apply_layout, plain
from nvae.readout.sentence_paths import path_centroids

FRAME_MS = 700  # one step of a player
PLAYER_TITLE = "Each step: the decoded sentence and its BLEU against every sentence"


def _wrap(text: str, width: int = 80) -> str:
    """Model text made inert for plotly and wrapped into lines (plotly text does not wrap)."""
    return "<br>".join(plain(line) for line in textwrap.wrap(text or " ", width) or [" "])


def _ticks(labels: Sequence[str], most: int = 12) -> list[str]:
    """Slider tick labels: every label when there are few, else about `most` of them (the rest blank,
    so they do not overlap; each frame names its own step)."""
    n = len(labels)
    stride = max(1, -(-n // most))
    return [lab if k % stride == 0 or k == n - 1 else "" for k, lab in enumerate(labels)]


def _player_controls(names: Sequence[str], ticks: Sequence[str], y: float = -0.08) -> dict:
    """Play / pause buttons and a slider over the frames `names` (tick labels `ticks`, thinned)."""
    play = {"frame": {"duration": FRAME_MS, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}}
    pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    return dict(
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                showactive=False,
                x=0,
                y=y,
                xanchor="left",
                yanchor="top",
                pad=dict(t=0, r=10),
                buttons=[
                    dict(label="▶ Play", method="animate", args=[None, play]),
                    dict(label="❚❚ Pause", method="animate", args=[[None], pause]),
                ],
            )
        ],
        sliders=[
            dict(
                active=0,
                x=0.17,
                len=0.83,
                y=y + 0.03,
                yanchor="top",
                pad=dict(t=0),
                currentvalue=dict(visible=False),
                font=dict(size=10),
                steps=[
                    dict(
                        label=tick,
                        method="animate",
                        args=[[n], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}],
                    )
                    for n, tick in zip(names, _ticks(ticks))
                ],
            )
        ],
    )


def _step_text(row: dict, labels: Sequence[str]) -> str:
    """The player's text at one step: which step (small, grey), then the decoded sentence."""
    return f"<span style='font-size:12px;color:#666'>{plain(step_label(row, labels))}</span><br>{_wrap(row['text'])}"


def path_player(path: list[dict], labels: Sequence[str], title: str = PLAYER_TITLE) -> go.Figure:
    """An animation over the steps of a path: the decoded sentence (red when it changed from the
    step before) above the BLEU curves against every waypoint, with the current step marked."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.4, 0.6], vertical_spacing=0.06)
    first = path[0]
    fig.add_trace(
        go.Scatter(
            x=[0],
            y=[1],
            mode="text",
            text=[_step_text(first, labels)],
            textposition="bottom right",  # grows downwards from the top, however many lines
            textfont=dict(size=16, color="black"),
            cliponaxis=False,
            hoverinfo="skip",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    x = [r["position"] for r in path]
    for i, name in enumerate(labels):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[r["bleu"][i] for r in path],
                name=f"vs {name}",
                mode="lines",
                line=dict(color=colour_of(name)),
            ),
            row=2,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=[first["position"]] * len(labels),
            y=list(first["bleu"]),
            mode="markers",
            marker=dict(size=11, color=[colour_of(n) for n in labels], line=dict(color="black", width=1)),
            name="this step",
            hoverinfo="skip",
        ),
        row=2,
        col=1,
    )
    text_trace, marker_trace = 0, len(labels) + 1
    names = [f"step {r['step']}" for r in path]
    fig.frames = [
        go.Frame(
            name=n,
            traces=[text_trace, marker_trace],
            data=[
                go.Scatter(
                    text=[_step_text(r, labels)], textfont=dict(size=16, color=RED if r["changed"] else "black")
                ),
                go.Scatter(x=[r["position"]] * len(labels), y=list(r["bleu"])),
            ],
        )
        for n, r in zip(names, path)
    ]
    fig.update_xaxes(visible=False, range=[-0.02, 1], row=1, col=1)
    fig.update_yaxes(visible=False, range=[-1, 1.05], row=1, col=1)
    fig.update_xaxes(range=[-0.05, len(labels) - 0.95], row=2, col=1, **waypoint_axis(labels))
    fig.update_yaxes(title="BLEU", range=[0, 105], row=2, col=1)
    apply_layout(fig, title, height=540, legend=dict(orientation="h", y=1.02, x=1, xanchor="right"))
    fig.update_layout(**_player_controls(names, [f"{r['position']:.2f}" for r in path], y=-0.08))
    fig.update_layout(margin=dict(l=10, r=10, t=50, b=80))
    return fig


def path_map(
    corpus_xy: np.ndarray,
    comps: dict,
    xy: np.ndarray,
    path: list[dict],
    labels: Sequence[str],
    title: str = "The path on the latent map",
) -> go.Figure:
    """The corpus map (grey), the components the path's mixtures hold (coloured by waypoint), the
    weighted centre of each step joined into a line, and a player over the steps: the components
    sized by their weight at that step and the step's centre marked."""
    weights = np.asarray(comps["weights"], dtype=float)
    centres = path_centroids(xy, weights)
    n = len(corpus_xy)
    fig = go.Figure(
        go.Scattergl(
            x=corpus_xy[:, 0] if n else [],
            y=corpus_xy[:, 1] if n else [],
            mode="markers",
            name="corpus components",
            marker=dict(size=4, color=GREY, opacity=0.5),
            hoverinfo="skip",
        )
    )
    origins = list(comps["origin"])
    hover = [f"{plain(t)} (from {plain(o)})" for t, o in zip(comps["token"], origins)]
    fig.add_trace(
        go.Scatter(
            x=xy[:, 0] if len(xy) else [],
            y=xy[:, 1] if len(xy) else [],
            mode="markers",
            name="the path's components",
            marker=dict(size=6, color=[colour_of(o) for o in origins], opacity=0.35),
            hovertext=hover,
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=centres[:, 0],
            y=centres[:, 1],
            mode="lines+markers",
            name="centre of each step",
            line=dict(color="black", width=2),
            marker=dict(size=5, color="black"),
            hovertext=[step_label(r, labels) for r in path],
            hoverinfo="text",
        )
    )

    top = max(float(weights.max()) if weights.size else 1.0, 1e-9)

    def at_step(s: int) -> dict:
        shown = np.flatnonzero(weights[s] > 0) if len(weights) else np.zeros(0, dtype=int)
        return dict(
            x=xy[shown, 0] if len(xy) else [],
            y=xy[shown, 1] if len(xy) else [],
            size=list(6 + 28 * np.sqrt(weights[s, shown] / top)) if len(shown) else [],
            color=[colour_of(origins[j]) for j in shown],
            hover=[hover[j] for j in shown],
        )

    def now(s: int) -> list[go.Scatter]:
        a = at_step(s)
        return [
            go.Scatter(x=a["x"], y=a["y"], marker=dict(size=a["size"], color=a["color"]), hovertext=a["hover"]),
            go.Scatter(x=[centres[s, 0]], y=[centres[s, 1]]),
        ]

    a = at_step(0)
    fig.add_trace(
        go.Scatter(
            x=a["x"],
            y=a["y"],
            mode="markers",
            name="components at this step (size: weight)",
            marker=dict(size=a["size"], color=a["color"], opacity=0.85, line=dict(color="white", width=1)),
            hovertext=a["hover"],
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[centres[0, 0]],
            y=[centres[0, 1]],
            mode="markers",
            name="this step's centre",
            marker=dict(size=16, color=RED, symbol="x", line=dict(color="white", width=1)),
            hoverinfo="skip",
        )
    )
    names = [f"step {r['step']}" for r in path]
    fig.frames = [
        go.Frame(
            name=nm, traces=[3, 4], data=now(s), layout=dict(title_text=f"{title} · {plain(step_label(r, labels))}")
        )
        for s, (nm, r) in enumerate(zip(names, path))
    ]
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    apply_layout(
        fig, f"{title} · {plain(step_label(path[0], labels))}", height=620, legend=dict(orientation="h", y=1.02, x=0)
    )
    fig.update_layout(**_player_controls(names, [f"{r['position']:.2f}" for r in path], y=-0.02))
    fig.update_layout(margin=dict(l=10, r=10, t=70, b=80))
    return fig


def study_animation(result: dict, caption: str = "", max_pairs: int = 30) -> go.Figure:
    """Every pair's strip as one animation (for slides): one line per pair, the sentence decoded at
    the current tau (red where it changed from the step before); Play steps tau from 0 to 1."""
    records = result["records"][:max_pairs]
    taus = result["taus"]
    n = len(records)
    ys = [-i for i in range(n)]

    def frame(k: int) -> list[go.Scatter]:
        return [
            go.Scatter(
                text=[f"{i + 1}. " + _wrap(r["strip"][k]["text"], 110) for i, r in enumerate(records)],
                textfont=dict(size=14, color=[RED if r["strip"][k]["changed"] else "black" for r in records]),
            ),
            go.Scatter(text=[f"τ = {taus[k]:.3g}"]),
        ]

    first = frame(0)
    fig = go.Figure(
        go.Scatter(
            x=[0] * n,
            y=ys,
            mode="text",
            text=first[0].text,
            textposition="middle right",
            textfont=first[0].textfont,
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[0],
            y=[1],
            mode="text",
            text=first[1].text,
            textposition="middle right",
            textfont=dict(size=15, color="#666"),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    names = [f"tau {t:.3g}" for t in taus]
    fig.frames = [go.Frame(name=nm, traces=[0, 1], data=frame(k)) for k, nm in enumerate(names)]
    fig.update_xaxes(visible=False, range=[-0.01, 1])
    fig.update_yaxes(visible=False, range=[-n + 0.5, 1.5])
    more = f" (the first {max_pairs} of {len(result['records'])})" if len(result["records"]) > max_pairs else ""
    title = f"Interpolation strips{more}" + (f"<br><sup>{plain(caption)}</sup>" if caption else "")
    apply_layout(fig, title, height=200 + 34 * n)
    fig.update_layout(**_player_controls(names, [f"{t:.3g}" for t in taus], y=-0.02))
    fig.update_layout(margin=dict(l=10, r=10, t=70, b=90))
    return fig
