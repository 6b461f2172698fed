"""Latent map: a 2-D UMAP of the component means of a corpus sample, with the user's sentences."""

import os

import streamlit as st

from app import analysis, cache, chooser, figures, messages, output, state

PAGE = "latent-map"
DEFAULT = ["The game was released in Japan in 2011."]
N_SENTENCES = max(10, min(5000, int(os.environ.get("NVAE_APP_MAP_SENTENCES", "300") or 300)))

INTRO_NVAE = f"""
Each point is a retained component of one of {N_SENTENCES} WikiText-2 test sentences: its mean
vector, placed in 2-D by UMAP (computed once per checkpoint, then cached), so components that play
similar roles sit together. Your sentences' components are drawn on top in red, sized by weight π;
draw a **box or lasso** around points to list their sentences and tokens.
"""
INTRO_BASELINE = f"""
This checkpoint is a **{{kind}} baseline**, whose latent is {{latent}}. Each point is one such vector
(its mean) from one of {N_SENTENCES} WikiText-2 test sentences, placed in 2-D by UMAP (computed once
per checkpoint, then cached), so vectors that play similar roles sit together. Your sentences' vectors
are drawn on top in red; draw a **box or lasso** around points to list their sentences and tokens.
"""

messages.header("Latent map")
model, key = chooser.get_model()
baseline = analysis.is_baseline(model.cfg)
messages.model_intro(model.cfg, INTRO_NVAE, INTRO_BASELINE)
PARAMS = [
    state.Param("s", "texts", DEFAULT, max_chars=2000, max_items=analysis.MAX_SENTENCES, label="sentences"),
    state.Param("colour", "choice", "weight", choices=("weight", "position"), label="colour"),
]
messages.show_notices(state.restore(PAGE, PARAMS, to_widget={"s": state.texts_to_lines}))

left, right = st.columns([3, 1])
raw = left.text_area(
    "Your sentences, one per line (overlaid in red)", key=state.wkey(PAGE, "s"), height=90, persist_state="session"
)
colour = right.radio(
    "Colour corpus points by",
    ["weight", "position"],
    key=state.wkey(PAGE, "colour"),
    persist_state="session",
    format_func={"weight": "weight π", "position": "token position"}.get,
)
state.publish(PARAMS, {"s": state.lines_to_texts(raw), "colour": colour}, chooser.checkpoint_extra())

with st.spinner(
    f"Encoding {N_SENTENCES} test sentences and fitting UMAP (once per checkpoint; this can take a minute)…"
):
    sentences, corpus, reducer = cache.latent_map(model, key, N_SENTENCES)
check = analysis.check_text(raw)
user, user_xy = None, None
if messages.text_messages(check):
    for i, info in enumerate(cache.token_info(model, key, tuple(check.texts))):
        messages.token_messages(info, model, f"Sentence {i + 1}" if len(check.texts) > 1 else "The sentence")
    user, user_xy = cache.map_overlay(model, key, N_SENTENCES, tuple(check.texts))
st.caption(
    f"{len(corpus['token']):,} latent vectors of {len(sentences)} sentences."
    if baseline
    else f"{len(corpus['token']):,} retained components of {len(sentences)} sentences "
    f"(the prior component, the same in every sentence, is left out)."
)


@st.fragment
def map_and_selection() -> None:
    """The map and the list of selected points: a selection reruns only this part."""
    fig = figures.latent_map(reducer.embedding_, corpus, sentences, user_xy, user, check.texts, colour)
    event = output.plot(fig, "latent-map", key="map", on_select="rerun", selection_mode=("box", "lasso"))
    points = event.selection.points if event and event.selection else []
    rows = analysis.selected_rows(points, corpus, sentences, user, check.texts)
    if rows:
        more = f" (the first {len(rows)} are listed)" if len(points) > len(rows) else ""
        st.subheader(f"{len(points)} selected component(s){more}")
        output.table(analysis.by_sentence(rows), width="stretch")
        output.download_table(rows, "latent-map-selection", key="selection")
    else:
        st.caption("Select points with the box or lasso tool (top right of the map) to list them here.")


map_and_selection()
