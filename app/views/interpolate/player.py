"""Interpolate, the players: the decoded path as an animation, and (opt-in) the path drawn on the
latent map, both stepped through in the browser."""

from __future__ import annotations

import streamlit as st

from app import cache, output, state
from app.page import link_fragment
from app.views.interpolate.path import DecodedPath
from app.views.interpolate.settings import PAGE, InterpolatePage
from nvae.readout import map_stats


def play_path(page: InterpolatePage, path: DecodedPath) -> None:
    """The path as an animation: every step's sentence and its BLEU against every waypoint."""
    st.subheader("Play the path")
    st.caption(
        "▶ Play steps τ through the whole path in your browser (no rerun); the slider under the figure picks a step. "
        "The decoded sentence turns red where it changed from the step before. *Figure as HTML* saves it for slides."
    )
    fig = cache.path_player(page.key, path.texts, path.steps, path.grid, path.mixing, path.rows, tuple(path.labels))
    output.plot(fig, "interpolation-player", key="player")


@link_fragment
def on_the_map(page: InterpolatePage, path: DecodedPath) -> None:
    """The path's mixtures placed on the latent map (opt-in: without a shipped map its first fit takes a minute)."""
    show = st.toggle(
        "Draw the path on the latent map",
        key=state.wkey(PAGE, "map"),
        persist_state="session",
        help="The components each step's mixture holds, placed on the Latent map's layout by their nearest "
        "corpus means, and the weighted centre of each step joined into a line.",
    )
    if not show:
        return
    model, key = page.model, page.key
    n_map = cache.map_sentences()
    with st.spinner(f"Building the latent map of {n_map} sentences (once per checkpoint; this can take a minute)…"):
        measures = cache.map_measures(model, key, n_map)
        projection = measures["default"]
        fig = cache.path_map_figure(
            model, key, n_map, projection, path.texts, path.steps, path.grid, path.mixing, path.rows, tuple(path.labels)
        )
    layout = measures["layouts"][projection]
    r2 = map_stats.show_r2
    where = (
        f"The Latent map's {'position-removed ' if projection == 'residual' else ''}layout (the one it opens on), "
        f"whose axes encode {map_stats.axes_encode(layout)} (position R² = {r2(layout['position'])}, token R² = "
        f"{r2(layout['token'])}). "
    )
    st.caption(
        where
        + (
            "A position-wise blend makes new vectors at every step, each placed on the map; ▶ Play steps through them."
            if page.is_baseline
            else "A mixture of sets holds its sentences' own components, so they stay in place and only their weights "
            "change; ▶ Play resizes them step by step and moves the weighted centre."
        )
    )
    output.plot(fig, "interpolation-map", key="path_map")
