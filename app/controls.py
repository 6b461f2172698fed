"""The alpha^Delta control: its select-slider (round, about log-spaced stops over the model's trained
range) and its shareable, validated URL parameter.
"""

from __future__ import annotations

import streamlit as st

from app import analysis, state
from nvae.readout import alpha_delta_active

AD_LABEL = "α^Δ"


def alpha_delta_control(page: str, cfg, name: str = "ad", label: str = "α^Δ (conditional prior)") -> float:
    """The alpha^Delta select-slider: round, about log-spaced stops over the trained range
    (`analysis.alpha_stops`), plus the exact value a link or the docs gave when it lies inside the
    range, so `ad=0.3` stays 0.3. Disabled, with a one-line reason, for an NVAE trained at a fixed
    alpha^Delta; a baseline has no alpha^Delta and its pages do not call this."""
    key = state.wkey(page, name)
    current = st.session_state.get(key)
    stops = analysis.alpha_stops(cfg, [current])
    if isinstance(current, (int, float)) and not isinstance(current, bool) and current != float(f"{current:.6g}"):
        if float(f"{current:.6g}") in stops:
            st.session_state[key] = float(f"{current:.6g}")  # the stop as the slider labels it
    notice = state.clamp_choice(key, stops, analysis.nearest(cfg.alpha_delta, stops))
    if notice:
        st.warning(notice, icon=":material/link:")
    active = alpha_delta_active(cfg)
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
            f"Disabled: this model was trained at a fixed α^Δ = {cfg.alpha_delta:g}, "
            "so its latent does not depend on it."
        )
    return float(value)


def alpha_param(cfg, name: str = "ad", default: float | None = None, label: str = AD_LABEL) -> state.Param:
    """The shareable alpha^Delta setting, validated against the model's trained range
    (cfg.alpha_delta_min..alpha_delta_max). `label` names the control in notices."""
    return state.Param(
        name,
        "float",
        float(cfg.alpha_delta if default is None else default),
        lo=float(cfg.alpha_delta_min),
        hi=float(cfg.alpha_delta_max),
        label=label,
        range_name="this model's range",
    )
