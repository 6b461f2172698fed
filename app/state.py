"""Session state and shareable URL query parameters.

Each page declares its parameters (`Param`: kind, default, range, length). The page's view lives in
widgets keyed `<page>.<name>` that keep their value across page switches
(`persist_state="session"`), and is mirrored into the URL's query string after every run, so the
address bar always holds a link that reopens the same view:

    http://localhost:8501/interpolate?a=the+film...&b=he+was...&tau=0.3

Opening such a link (a new session, or query parameters that differ from the ones this session
wrote) restores the view. Every value is validated (type, range, length) first: a bad value falls
back to the default with a notice that never repeats the value itself.

`parse_params` and `encode_params` are pure (unit-tested); `restore` and `publish` are the
streamlit glue.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_RAW_CHARS = 100  # a bool or number longer than this is not looked at
MAX_VALUES = 20  # repeated values of one key beyond this are ignored
_INT = re.compile(r"[+-]?\d{1,12}", re.ASCII)
_FLOAT = re.compile(r"[+-]?(\d{1,12}(\.\d{0,12})?|\.\d{1,12})([eE][+-]?\d{1,3})?", re.ASCII)


@dataclass(frozen=True)
class Param:
    """One shareable setting.

    kind: "text" (one string), "texts" (a list of strings, a repeated key), "float", "int",
    "choice" (one of `choices`) or "bool". lo/hi bound numbers; max_chars bounds each string;
    max_items bounds a list.
    """

    name: str
    kind: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    max_chars: int = 1000
    max_items: int = 5
    choices: tuple = field(default_factory=tuple)
    label: str = ""  # how notices name it ("alpha^Delta"); defaults to name

    @property
    def title(self) -> str:
        return self.label or self.name


def _as_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, (list, tuple)):
        values = list(raw)[:MAX_VALUES]
    else:
        values = [raw]
    return [v if isinstance(v, str) else str(v) for v in values]


def parse_param(param: Param, raw: Any) -> tuple[Any, str | None]:
    """(value, notice): the validated value of one parameter, or its default and why."""
    values = _as_list(raw)
    if not values:
        return param.default, None
    bad = f"The link's value for {param.title} is not valid; using the default."
    if param.kind == "texts":
        texts, notice = [], None
        for v in values:
            if len(v) > param.max_chars:
                v, notice = (
                    v[: param.max_chars],
                    f"A sentence in the link was longer than {param.max_chars} characters and was cut.",
                )
            if v.strip():
                texts.append(v)
        if len(texts) > param.max_items:
            texts, notice = (
                texts[: param.max_items],
                f"The link holds more than {param.max_items} sentences; only the first {param.max_items} are used.",
            )
        if not texts:
            return param.default, bad
        return texts, notice
    value = values[-1]
    if param.kind == "text":
        if len(value) > param.max_chars:
            return value[
                : param.max_chars
            ], f"The link's {param.title} was longer than {param.max_chars} characters and was cut."
        return (value, None) if value.strip() else (param.default, bad)
    if param.kind == "choice":
        return (value, None) if value in param.choices else (param.default, bad)
    value = value[:MAX_RAW_CHARS]
    if param.kind == "bool":
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True, None
        if low in ("0", "false", "no", "off"):
            return False, None
        return param.default, bad
    if param.kind in ("int", "float"):
        text = value.strip()
        if len(text) > 40 or not (_INT if param.kind == "int" else _FLOAT).fullmatch(text):
            return param.default, bad
        number = int(text) if param.kind == "int" else float(text)
        if isinstance(number, float) and not math.isfinite(number):
            return param.default, bad
        if (param.lo is not None and number < param.lo) or (param.hi is not None and number > param.hi):
            return param.default, (
                f"The link's {param.title} lies outside [{_fmt(param.lo)}, {_fmt(param.hi)}]; using the default."
            )
        return number, None
    raise ValueError(f"unknown parameter kind {param.kind!r}")


def _fmt(x) -> str:
    return "-inf" if x is None else f"{x:g}"


def parse_params(params: Sequence[Param], raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate the query parameters named in `params` that `raw` holds ({name: str | list[str]}).

    Returns ({name: value} for the names present, notices). Names not in `params` are ignored.
    """
    values, notices = {}, []
    for p in params:
        if p.name in raw:
            value, notice = parse_param(p, raw[p.name])
            values[p.name] = value
            if notice:
                notices.append(notice)
    return values, notices


def encode_value(param: Param, value: Any) -> str | list[str]:
    if param.kind == "texts":
        return [str(v)[: param.max_chars] for v in list(value)[: param.max_items]]
    if param.kind == "bool":
        return "1" if value else "0"
    if param.kind == "float":
        return f"{float(value):.6g}"
    if param.kind == "int":
        return str(int(value))
    return str(value)[: param.max_chars]


def encode_params(params: Sequence[Param], values: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """{name: query value} for the query string; parse_params(encode_params(v)) gives v back."""
    return {p.name: encode_value(p, values[p.name]) for p in params if p.name in values and values[p.name] is not None}


def texts_to_lines(texts: Sequence[str]) -> str:
    return "\n".join(texts)


def lines_to_texts(text: str) -> list[str]:
    return [line for line in str(text or "").splitlines() if line.strip()]


# -- streamlit glue ------------------------------------------------------------------------------


def wkey(page: str, name: str) -> str:
    """Session-state key of a page's widget."""
    return f"{page}.{name}"


def _query_now() -> dict[str, list[str]]:
    import streamlit as st

    return {k: st.query_params.get_all(k) for k in st.query_params}


def restore(page: str, params: Sequence[Param], to_widget: Mapping[str, Any] | None = None) -> list[str]:
    """Fill the page's widget state: defaults first, then the values in the URL when it holds query
    parameters this session did not write itself (an opened link). Returns notices to show.

    `to_widget` maps a parameter name to a function turning its value into the widget's value
    (e.g. sentences -> the text of a text area).
    """
    import streamlit as st

    to_widget = to_widget or {}
    ss = st.session_state
    for p in params:
        key = wkey(page, p.name)
        if key not in ss:
            ss[key] = to_widget.get(p.name, _identity)(p.default)
    now = _query_now()
    if not now or now == ss.get("_query_last"):  # nothing, or the link this session wrote last
        return []
    ss["_query_last"] = now
    values, notices = parse_params(params, now)
    for name, value in values.items():
        ss[wkey(page, name)] = to_widget.get(name, _identity)(value)
    return notices


def publish(params: Sequence[Param], values: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> None:
    """Mirror the page's view into the URL (only when it changed, so no needless messages)."""
    import streamlit as st

    encoded = encode_params(params, values)
    encoded.update(extra or {})
    wanted = {k: _as_list(v) for k, v in encoded.items() if _as_list(v)}
    if _query_now() != wanted:
        st.query_params.from_dict({k: v for k, v in encoded.items() if k in wanted})
    st.session_state["_query_last"] = _query_now()  # as the URL now reads: restore() skips it


def _identity(x):
    return x


def clamp_choice(key: str, options: Sequence[Any], default: Any) -> None:
    """Make a select-slider's stored value one of `options` (the options can change with the model)."""
    import streamlit as st

    if st.session_state.get(key) not in options:
        value = st.session_state.get(key)
        if isinstance(value, (int, float)) and options and all(isinstance(o, (int, float)) for o in options):
            st.session_state[key] = min(options, key=lambda o: abs(o - value))
        else:
            st.session_state[key] = default if default in options else options[0]


def clamp_number(key: str, lo: float, hi: float, default: float) -> None:
    """Keep a slider's stored value inside [lo, hi]."""
    import streamlit as st

    value = st.session_state.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        value = default
    st.session_state[key] = type(default)(min(max(value, lo), hi))
