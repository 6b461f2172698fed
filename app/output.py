"""What the pages put out: plots (with a download as standalone HTML), tables, CSV/JSON exports,
and user or model text shown verbatim.

User text is only ever shown through st.code, st.text, st.dataframe, plotly or the token strip's
HTML (escaped with `html.escape`); markdown here is the app's own, and every text cell of a static
table is escaped (`md_escape`). Downloads are built when clicked, not on every rerun.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import streamlit as st

from app import figures

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text) -> str:
    """Text (a path, a folder name, an error message) made literal inside markdown."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def plural(n: int, word: str) -> str:
    """'1 component', '2 components': a count and its noun."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def show_text(label: str, text: str) -> None:
    """A piece of user or model text, shown verbatim (never interpreted as markdown or HTML)."""
    st.caption(label)
    st.code(text if text else " ", language=None, wrap_lines=True)


def table_csv(rows: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> bytes:
    """A table as CSV; with `meta`, one column per entry first, the same on every row, named
    `meta.<name>` (lists and dicts as JSON)."""
    df = pd.DataFrame(rows)
    if meta:
        columns = {
            f"meta.{k}": (v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v))
            for k, v in meta.items()
        }
        df = pd.concat([pd.DataFrame({k: [v] * len(df) for k, v in columns.items()}, index=df.index), df], axis=1)
    return df.to_csv(index=False).encode()


def table_json(rows: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> bytes:
    """A table as JSON: its rows, or {"meta": meta, "rows": rows} with `meta`."""
    return json.dumps({"meta": meta, "rows": rows} if meta else rows, ensure_ascii=False, indent=1).encode()


def download_table(
    rows: list[dict[str, Any]], stem: str, key: str, json_too: bool = True, meta: dict[str, Any] | None = None
) -> None:
    """CSV (and JSON) download buttons for a table (`table_csv`, `table_json`), the files made on
    click: a rerun that moves a slider builds none of them."""
    row = st.container(horizontal=True)
    row.download_button(
        "Download CSV",
        lambda: table_csv(rows, meta),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
    )
    if json_too:
        row.download_button(
            "Download JSON",
            lambda: table_json(rows, meta),
            file_name=f"{stem}.json",
            mime="application/json",
            key=f"{key}_json",
            on_click="ignore",
            icon=":material/download:",
        )


def plot(fig, stem: str, key: str, note: str | None = None, **kwargs):
    """st.plotly_chart plus a button that downloads the figure as standalone HTML (made on click).
    `note` (where the figure's numbers came from) is written under the figure in the HTML file."""
    event = st.plotly_chart(fig, key=key, **kwargs)
    st.download_button(
        "Figure as HTML",
        data=lambda: figures.style.to_html(figures.style.with_note(fig, note) if note else fig).encode(),
        file_name=f"{stem}.html",
        mime="text/html",
        key=f"{key}_html",
        on_click="ignore",
        icon=":material/download:",
    )
    return event


def token_strip(
    tokens: list[str],
    weights: list[float],
    retained: list[bool],
    stem: str,
    key: str,
    title: str = "Input tokens coloured by the weight of their component",
    zmax: float | None = None,
    width: int = figures.components.STRIP_WIDTH,
) -> None:
    """The input tokens coloured by weight, drawn as HTML (`figures.components.token_strip_html`);
    the download button still gives the plotly figure as standalone HTML, built on click."""
    st.html(figures.components.token_strip_html(tokens, weights, retained, title=title, zmax=zmax))
    st.download_button(
        "Figure as HTML",
        data=lambda: figures.style.to_html(
            figures.components.token_strip(tokens, weights, retained, title=title, zmax=zmax, width=width)
        ).encode(),
        file_name=f"{stem}.html",
        mime="text/html",
        key=f"{key}_html",
        on_click="ignore",
        icon=":material/download:",
    )


def table(rows: list[dict[str, Any]], **kwargs) -> None:
    """An interactive table (sortable, scrollable; cells show text verbatim)."""
    st.dataframe(pd.DataFrame(rows), hide_index=True, **kwargs)


def text_table(
    df: pd.DataFrame,
    highlight: list[bool] | None = None,
    columns: list[str] | None = None,
    formats: dict[str, str] | None = None,
) -> None:
    """A static table whose long text wraps. st.table renders markdown, so every text cell is
    escaped first (shown verbatim). `highlight` marks rows whose `columns` get a yellow background."""
    df = df.map(lambda v: md_escape(v) if isinstance(v, str) else v)
    styled = df.style.hide(axis="index").format(formats or {})
    if highlight is not None:
        styled = styled.apply(
            lambda col: ["background-color: #fff3bf" if h else "" for h in highlight],
            axis=0,
            subset=columns or list(df.columns),
        )
    st.table(styled)
