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

from app import figures

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text) -> str:
    """Text (a path, a folder name, an error message) made literal inside markdown."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def show_text(label: str, text: str) -> None:
    """A piece of user or model text, shown verbatim (never interpreted as markdown or HTML)."""
    st.caption(label)
    st.code(text if text else " ", language=None, wrap_lines=True)


def download_table(rows: list[dict[str, Any]], stem: str, key: str, json_too: bool = True) -> None:
    """CSV (and JSON) download buttons for a table."""
    df = pd.DataFrame(rows)
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
        row.download_button(
            "Download JSON",
            json.dumps(rows, ensure_ascii=False, indent=1).encode(),
            file_name=f"{stem}.json",
            mime="application/json",
            key=f"{key}_json",
            on_click="ignore",
            icon=":material/download:",
        )


def plot(fig, stem: str, key: str, **kwargs):
    """st.plotly_chart plus a button that downloads the figure as standalone HTML (made on click)."""
    event = st.plotly_chart(fig, key=key, **kwargs)
    st.download_button(
        "Figure as HTML",
        data=lambda: figures.to_html(fig).encode(),
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
