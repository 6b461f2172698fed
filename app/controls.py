"""The alpha^Delta control: its select-slider (round, about log-spaced stops over the model's trained
range; `nearest` picks the stop closest to a value) and its shareable, validated URL parameter; and
the Examples menu that fills a text input with a sentence of the demo set (`examples/`, read by
`nvae.data.examples`).
"""

from __future__ import annotations

import math

import streamlit as st

from app import cache, state
from nvae.config import alpha_delta_range
from nvae.model.grids import slider_stops
from nvae.readout.sentence import alpha_delta_active

AD_LABEL = "α^Δ"


def nearest(value: float, options: list[float]) -> float:
    """The option closest to `value` (in log space when all are positive)."""
    if all(o > 0 for o in options) and value > 0:
        return min(options, key=lambda o: abs(math.log(o) - math.log(value)))
    return min(options, key=lambda o: abs(o - value))


def alpha_delta_control(page: str, cfg, name: str = "ad", label: str = "α^Δ (conditional prior)") -> float:
    """The alpha^Delta select-slider: round, about log-spaced stops over the trained range
    (`nvae.model.grids.slider_stops`), plus the exact value a link or the docs gave when it lies inside the
    range, so `ad=0.3` stays 0.3. Disabled, with a one-line reason, for an NVAE trained at a fixed
    alpha^Delta; a baseline has no alpha^Delta and its pages do not call this."""
    key = state.wkey(page, name)
    current = st.session_state.get(key)
    stops = slider_stops(cfg, [current])
    if isinstance(current, (int, float)) and not isinstance(current, bool) and current != float(f"{current:.6g}"):
        if float(f"{current:.6g}") in stops:
            st.session_state[key] = float(f"{current:.6g}")  # the stop as the slider labels it
    active = alpha_delta_active(cfg)
    own = nearest(cfg.nvib.alpha_delta, stops)
    if active:
        notice = state.clamp_choice(key, stops, own)
    else:  # a disabled slider shows the value the model uses, whatever the page's default or link
        linked = state.from_link(key)
        notice = (
            f"{linked}: this model was trained at a fixed α^Δ = {cfg.nvib.alpha_delta:g}, so the link's "
            f"{current:g} is not used."
            if linked is not None and isinstance(current, (int, float)) and current != own
            else None
        )
        st.session_state[key] = own
    if notice:
        st.warning(notice, icon=":material/link:")
    value = st.select_slider(
        label,
        options=stops,
        key=key,
        disabled=not active,
        format_func=lambda v: f"{v:g}",
        persist_state="session",
        help="How much total weight the prior expects per input token: larger values keep more components.",
    )
    if not active:
        st.caption(
            f"Disabled: this model was trained at a fixed α^Δ = {cfg.nvib.alpha_delta:g}, "
            "so its latent does not depend on it."
        )
    return float(value)


PRIOR_STOPS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)  # strengths of the positional prior offered (plus the model's)
PRIOR_LABEL = "positional prior (0 = the content score alone)"


def has_positional_prior(cfg) -> bool:
    """An NVAE exported with a positional prior on its kept set (`spread_bias` > 0)."""
    return bool(cfg.is_nvae and cfg.nvib.spread_bias)


def prior_param(cfg) -> state.Param:
    """The shareable strength of the positional prior, `prior` in the link (default: the model's)."""
    return state.Param("prior", "float", float(cfg.nvib.spread_bias), lo=0.0, hi=50.0, label=PRIOR_LABEL)


def prior_control(page: str, cfg) -> float:
    """A select-slider over the positional prior's strength: 0 (the content score alone), a few round
    values and the model's own; what it changes is this page's view only, never the shared model."""
    key = state.wkey(page, "prior")
    current = st.session_state.get(key)
    stops = sorted(
        {*PRIOR_STOPS, float(cfg.nvib.spread_bias), *([float(current)] if isinstance(current, float) else [])}
    )
    notice = state.clamp_choice(key, stops, float(cfg.nvib.spread_bias))
    if notice:
        st.warning(notice, icon=":material/link:")
    value = st.select_slider(
        "Positional prior",
        options=stops,
        key=key,
        format_func=lambda v: (
            f"{v:g}" + (" (the model's)" if v == cfg.nvib.spread_bias else " (content only)" if v == 0 else "")
        ),
        persist_state="session",
        help="The strength of the prior that pulls the kept set towards evenly spaced positions. 0 leaves the "
        "choice to the content score alone; the checkpoint was exported with "
        f"{cfg.nvib.spread_bias:g}.",
    )
    return float(value)


def alpha_param(cfg, name: str = "ad", default: float | None = None, label: str = AD_LABEL) -> state.Param:
    """The shareable alpha^Delta setting, validated against the model's trained range
    (`nvae.config.alpha_delta_range`): a link's value outside it falls back to the default with a
    notice. `label` names the control in notices. A model trained at one alpha^Delta has no range to
    check: its disabled control says that a link's other value is not used (`alpha_delta_control`)."""
    lo, hi = alpha_delta_range(cfg) if alpha_delta_active(cfg) else (0.0, None)
    return state.Param(
        name,
        "float",
        float(cfg.nvib.alpha_delta if default is None else default),
        lo=lo,
        hi=hi,
        label=label,
        range_name="this model's range" if alpha_delta_active(cfg) else "the allowed range",
    )


ALL_EXAMPLES = "All of them"


def examples_menu(target: str, menu_key: str, all_of_them: int = 0, label: str = "Examples") -> None:
    """A small select box over the demo sentences (examples/sentences.txt); choosing one puts it into
    the text input whose session-state key is `target` (and the menu goes back to its placeholder).
    With `all_of_them` > 0 the menu also offers the first that many sentences at once, one per line
    (for a text area of several sentences). Nothing is shown when the demo set is missing."""
    sentences = cache.example_sentences()
    if not sentences:
        return
    options = list(sentences) + ([ALL_EXAMPLES] if all_of_them > 1 and len(sentences) > 1 else [])

    def fill() -> None:
        choice = st.session_state.get(menu_key)
        if choice is None:
            return
        st.session_state[target] = "\n".join(sentences[:all_of_them]) if choice == ALL_EXAMPLES else choice
        st.session_state[menu_key] = None

    st.selectbox(
        label,
        options,
        index=None,
        key=menu_key,
        on_change=fill,
        placeholder="Choose an example sentence…",
        format_func=lambda o: (
            f"All of them ({min(all_of_them, len(sentences))} sentences, one per line)" if o == ALL_EXAMPLES else o
        ),
        help="Sentences of the demo set that ships with the project (examples/sentences.txt).",
    )
