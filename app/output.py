"""What the pages put out: plots (with a download as standalone HTML), tables, CSV/JSON exports,
and user or model text shown verbatim.

User text is only ever shown through st.code, st.text, st.dataframe or plotly (escaped); markdown
here is the app's own, and every text cell of a static table is escaped (`md_escape`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import streamlit as st

from app import figure_style

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text) -> str:
    """Text (a path, a folder name, an error message) made literal inside markdown."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def show_text(label: str, text: str) -> None:
    """A piece of user or model text, shown verbatim (never interpreted as markdown or HTML)."""
    st.caption(label)
    st.code(text if text else " ", language=None, wrap_lines=True)


def download_table(
    rows: list[dict[str, Any]], stem: str, key: str, json_too: bool = True, meta: dict[str, Any] | None = None
) -> None:
    """CSV (and JSON) download buttons for a table. With `meta` (where the numbers came from: the
    checkpoint, alpha^Delta, the inputs), the CSV gets one column per entry, the same on every row and
    named `meta.<name>`, and the JSON is {"meta": meta, "rows": rows}."""
    df = pd.DataFrame(rows)
    if meta:
        columns = {
            f"meta.{k}": (v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v))
            for k, v in meta.items()
        }
        df = pd.concat([pd.DataFrame({k: [v] * len(df) for k, v in columns.items()}, index=df.index), df], axis=1)
    row = st.container(horizontal=True)
    row.download_button(
        "Download CSV",
        df.to_csv(index=False).encode(),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
    )
    if json_too:
        payload = {"meta": meta, "rows": rows} if meta else rows
        row.download_button(
            "Download JSON",
            json.dumps(payload, ensure_ascii=False, indent=1).encode(),
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
        data=lambda: figure_style.to_html(figure_style.with_note(fig, note) if note else fig).encode(),
        file_name=f"{stem}.html",
        mime="text/html",
        key=f"{key}_html",
        on_click="ignore",
        icon=":material/download:",
    )
    return event


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
