"""Session state and shareable URL query parameters.

Each page declares its parameters (`Param`: kind, default, range, length). The page's view lives in
widgets keyed `<page>.<name>` that keep their value across page switches
(`persist_state="session"`), and is mirrored into the URL's query string after every run, so the
address bar always holds a link that reopens the same view:

    http://localhost:8501/interpolate?a=the+film...&b=he+was...&tau=0.3

Opening such a link (a new session, or query parameters that differ from the ones this session
wrote) restores the view. Every value is validated (type, range, length) first: a bad value falls
back to the default with a notice that names the control ("α^Δ: 5 is outside this model's range
[0.01, 1]; using the default, 0.3.") and never repeats the link's text, only a number parsed from it.
A value that is valid but that the control cannot show (a select-slider's stops) is moved by
`clamp_choice` / `clamp_number`, with the same kind of notice when an opened link had set it. One
notice per bad value: a value that parsing replaced was reported then, and is not reported again.

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
    label: str = ""  # how notices name it: the label of its control ("α^Δ (left)"); defaults to name
    range_name: str = "the allowed range"  # how a notice names [lo, hi] ("this model's range")

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
    bad = f"{param.title}: the link's value is not valid; {_using_default(param)}."
    if param.kind == "texts":
        texts, notice = [], None
        for v in values:
            if len(v) > param.max_chars:
                v, notice = (
                    v[: param.max_chars],
                    f"{param.title}: a sentence in the link was longer than {param.max_chars} characters and was cut.",
                )
            if v.strip():
                texts.append(v)
        if len(texts) > param.max_items:
            texts, notice = (
                texts[: param.max_items],
                f"{param.title}: the link holds more than {param.max_items} sentences; only the first "
                f"{param.max_items} are used.",
            )
        if not texts:
            return param.default, bad
        return texts, notice
    value = values[-1]
    if param.kind == "text":
        if len(value) > param.max_chars:
            cut = f"{param.title}: the link's text was longer than {param.max_chars} characters and was cut."
            return value[: param.max_chars], cut
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
                f"{param.title}: {_show(number)} is outside {param.range_name} "
                f"[{_fmt(param.lo, '-inf')}, {_fmt(param.hi, 'inf')}]; {_using_default(param)}."
            )
        return number, None
    raise ValueError(f"unknown parameter kind {param.kind!r}")


def _fmt(x, unbounded: str) -> str:
    return unbounded if x is None else _show(x)


def _show(number) -> str:
    """A number as a notice shows it: only numbers the parser produced, never raw text from a link."""
    return str(number) if isinstance(number, int) else f"{number:g}"


def _using_default(param: Param) -> str:
    """'using the default, 0.3' (numbers, choices, switches: the app's own values) or 'using the default'."""
    if param.kind == "bool":
        return f"using the default, {'on' if param.default else 'off'}"
    if param.kind in ("int", "float") and isinstance(param.default, (int, float)):
        return f"using the default, {_show(param.default)}"
    if param.kind == "choice":
        return f"using the default, {param.default}"
    return "using the default"


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
    ss["_from_link"] = {}
    for p in params:
        key = wkey(page, p.name)
        if key not in ss:
            ss[key] = to_widget.get(p.name, _identity)(p.default)
    now = _query_now()
    if not now or now == ss.get("_query_last"):  # nothing, or the link this session wrote last
        return []
    ss["_query_last"] = now
    notices = []
    for p in params:
        if p.name not in now:
            continue
        value, notice = parse_param(p, now[p.name])
        ss[wkey(page, p.name)] = to_widget.get(p.name, _identity)(value)
        if notice:  # said once, here: a clamp of the value that replaced the link's says nothing more
            notices.append(notice)
        else:
            ss["_from_link"][wkey(page, p.name)] = p.title
    return notices


def from_link(key: str) -> str | None:
    """The title of the control `key` when an opened link set its value in this run, else None; asked
    once (the value's one notice is the asker's to give)."""
    import streamlit as st

    return st.session_state.get("_from_link", {}).pop(key, None)


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


def _adjusted(key: str, before: Any, after: Any, why: str) -> str | None:
    """The notice for a value that an opened link set (this run) and that had to change: it names the
    control ("α^Δ: 5 is ...; using 1"). None when the value was not the link's or did not change."""
    title = from_link(key)
    if title is None or before == after:
        return None
    shown = _show(before) if _is_number(before) else "the link's value"
    return f"{title}: {shown} {why}; using {_show(after) if _is_number(after) else after}."


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def clamp_choice(key: str, options: Sequence[Any], default: Any) -> str | None:
    """Make a select-slider's stored value one of `options` (the options can change with the model):
    the nearest option for a number, else `default`. Returns a notice naming the control when it
    changed a value that an opened link had set."""
    import streamlit as st

    value = st.session_state.get(key)
    if value in options:
        st.session_state.get("_from_link", {}).pop(key, None)
        return None
    if _is_number(value) and options and all(_is_number(o) for o in options):
        new = min(options, key=lambda o: abs(o - value))
    else:
        new = default if default in options else options[0]
    st.session_state[key] = new
    return _adjusted(key, value, new, "is not one of this control's values")


def clamp_number(key: str, lo: float, hi: float, default: float) -> str | None:
    """Keep a slider's stored value inside [lo, hi]. Returns a notice naming the control when it
    changed a value that an opened link had set."""
    import streamlit as st

    value = st.session_state.get(key, default)
    new = value if _is_number(value) else default
    new = type(default)(min(max(new, lo), hi))
    st.session_state[key] = new
    return _adjusted(key, value, new, f"is outside this control's range [{lo:g}, {hi:g}]")
