"""What every figure shares: the colours, the plotly template and layout, safe text, and saving a
figure as HTML (with a note of where its numbers came from).

Plotly renders a few HTML tags inside text (<b>, <br>, <a href>...), so every piece of text that
may come from a user (tokens, sentences) goes through `plain()` first: it is then shown as typed.
The figure modules are pure functions: plain lists and dicts in, plotly figures out (no streamlit,
no model).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import plotly.io as pio

BLUE, ORANGE, GREEN, GREY, RED = "#1f77b4", "#ff7f0e", "#2ca02c", "#c7c7c7", "#d62728"
WEIGHT_SCALE = "Blues"


def plain(text) -> str:
    """Text made inert for plotly: &, < and > become entities, so no tag is ever interpreted."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int = 90) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    """The house layout: `title`, small margins, the lean template; `kwargs` go to update_layout."""
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
