"""Latent map: a 2-D UMAP of the component means of a corpus sample, with the user's sentences, and
what its axes encode (measured: how much token position and token identity explain of the layout)."""

import streamlit as st

from app import cache, figures, inputs, latents, messages, output, state
from app.page import page_scaffold
from nvae.readout import latent_map, map_stats

PAGE = "latent-map"
DEFAULT = ["The game was released in Japan in 2011."]
N_SENTENCES = cache.map_sentences()
N_TOKENS = 10  # tokens named when colouring by token

INTRO_NVAE = f"""
Each point is a retained component of one of {N_SENTENCES} WikiText-2 test sentences: its mean
vector, placed in 2-D by UMAP (shipped with the checkpoint, or computed once and cached). The caption
under the controls says what the layout's axes mostly encode, **measured**: how much of it token
position and token identity explain. Your sentences' components are drawn on top in red, sized by
weight π, each placed among its nearest corpus means; draw a **box or lasso** around points to list
their sentences and tokens.
"""
INTRO_BASELINE = f"""
This checkpoint is a **{{kind}} baseline**, whose latent is {{latent}}. Each point is one such vector
(its mean) from one of {N_SENTENCES} WikiText-2 test sentences, placed in 2-D by UMAP (shipped with
the checkpoint, or computed once and cached). The caption under the controls says what the layout's
axes mostly encode, measured. Your sentences' vectors are drawn on top in red, each placed among its
nearest corpus vectors; draw a **box or lasso** around points to list their sentences and tokens.
"""
PROJECTIONS = {"means": "the means (plain UMAP)", "residual": "the means with position removed"}
COLOURS = {"token": f"token ({N_TOKENS} most frequent)", "weight": "weight π", "position": "token position"}

page = page_scaffold(PAGE, "Latent map", intros=(INTRO_NVAE, INTRO_BASELINE), kept_set=True)
model, key = page.model, page.key
baseline = latents.is_baseline(model.cfg)

slot = st.empty()


def show_progress(done: int, total: int, what: str) -> None:
    """Drawn only while the map is computed (no usable latent_map.npz shipped with the checkpoint)."""
    slot.progress(
        min(1.0, done / max(total, 1)),
        text=f"Building the latent map of {N_SENTENCES} test sentences (once per checkpoint; this can take a "
        f"minute or two): {what}…",
    )


with st.spinner(f"Loading the latent map of {N_SENTENCES} test sentences…"):
    try:
        data = cache.latent_map(model, key, N_SENTENCES, progress=show_progress)
    except ValueError as err:  # too few components to lay out (a checkpoint that prunes everything)
        slot.empty()
        st.error(f"No latent map for this checkpoint: {err}.")
        page.stop()  # before the link is declared: the address bar stays as it was
slot.empty()
if data.notice:
    st.info(f"{data.notice} The map was computed by this app instead (`python -m nvae map` writes a new file).")
sentences, corpus = data.sentences, data.points
measures = cache.map_measures(model, key, N_SENTENCES)

PARAMS = [
    state.Param("s", "texts", DEFAULT, max_chars=2000, max_items=inputs.MAX_SENTENCES, label="sentences"),
    state.Param("colour", "choice", "token", choices=tuple(COLOURS), label="colour"),
    state.Param("proj", "choice", measures["default"], choices=tuple(PROJECTIONS), label="layout"),
]
page.restore(PARAMS)  # the link: the sentences, the colouring and the layout, as their controls hold them

left, right = st.columns([3, 2])
raw = left.text_area(
    "Your sentences, one per line (overlaid in red)", key=state.wkey(PAGE, "s"), height=90, persist_state="session"
)
with right:
    c1, c2 = st.columns(2)
    colour = c1.radio(
        "Colour corpus points by",
        list(COLOURS),
        key=state.wkey(PAGE, "colour"),
        persist_state="session",
        format_func=COLOURS.get,
    )
    projection = c2.radio(
        "Layout of",
        list(PROJECTIONS),
        key=state.wkey(PAGE, "proj"),
        persist_state="session",
        format_func=lambda p: PROJECTIONS[p] + (" · chosen by the measurements" if p == measures["default"] else ""),
        help="Removing position: the mean of the component means at each token position is subtracted "
        "(a regression on position) before UMAP, for the corpus and your sentences alike.",
    )

layout = data.layouts[projection]
here = cache.layout_measures(model, key, N_SENTENCES, projection)
ORIGINS = {
    "shipped": "shipped with the checkpoint (its latent_map.npz, written {created} by `python -m nvae map`)",
    "cached": "computed by this app on an earlier visit and kept on disk",
    "computed": "computed by this app on this visit (kept on disk for later visits)",
}


r2 = map_stats.show_r2


def measured_caption() -> str:
    """What the axes of this layout encode, with the measured numbers (and the other layout's)."""
    what = "vectors" if baseline else "components"
    text = (
        f"**What the axes encode: {map_stats.axes_encode(here)}.** On this layout of {PROJECTIONS[projection]}, "
        f"token position explains R² = {r2(here['position'])} of the 2-D coordinates and token identity "
        f"R² = {r2(here['token'])} (each point predicted by the mean place of its position, or of its token, "
        f"in the other sentences: 5-fold cross-validation over sentences; 0 is no better than the overall "
        f"mean, below 0 worse). Position carries {measures['position_share']:.0%} of the variance of the "
        f"{what}' means themselves."
    )
    others = {p: m for p, m in measures["layouts"].items() if p != projection}
    for p, m in others.items():
        text += f" On the layout of {PROJECTIONS[p]}: position R² = {r2(m['position'])}, token R² = {r2(m['token'])}."
    if projection == measures["default"] == "residual":
        text += " This view opens by default because position explains less of it."
    return text


st.caption(measured_caption())
st.caption(
    f"Layout {ORIGINS.get(data.origin, data.origin).format(created=data.created[:10] or 'earlier')}. "
    f"Your sentences' {'vectors' if baseline else 'components'} are placed by their "
    f"{latent_map.K_NEIGHBOURS} nearest corpus means ({len(data.reference):,} of the {data.n_points:,} are "
    f"kept for this), weighted by 1 / distance in the space this layout was fitted on, not by UMAP itself."
)

check = inputs.check_text(raw)
user, user_xy = None, None
if messages.text_messages(check):
    for i, info in enumerate(cache.token_info(model, key, tuple(check.texts))):
        messages.token_messages(info, model, f"Sentence {i + 1}" if len(check.texts) > 1 else "The sentence")
    user, user_xy = cache.map_overlay(model, key, N_SENTENCES, tuple(check.texts), projection)
st.caption(
    f"{len(corpus['token']):,} latent vectors of {len(sentences)} sentences."
    if baseline
    else f"{len(corpus['token']):,} retained components of {len(sentences)} sentences "
    f"(the prior component, the same in every sentence, is left out)."
)
top = map_stats.top_tokens(corpus["token"], N_TOKENS)


@st.fragment
def map_and_selection() -> None:
    """The map and the list of selected points: a selection reruns only this part."""
    title = "Component means of the corpus sample (UMAP)" + (", position removed" if projection == "residual" else "")
    fig = figures.components.latent_map(
        layout, corpus, sentences, user_xy, user, check.texts, colour, top_tokens=top, title=title
    )
    event = output.plot(fig, "latent-map", key="map", on_select="rerun", selection_mode=("box", "lasso"))
    points = event.selection.points if event and event.selection else []
    rows = latents.selected_rows(points, corpus, sentences, user, check.texts)
    if rows:
        more = f" (the first {len(rows)} are listed)" if len(points) > len(rows) else ""
        st.subheader(f"{len(points)} selected component(s){more}")
        output.table(latents.by_sentence(rows), width="stretch")
        output.download_table(rows, "latent-map-selection", key="selection")
    else:
        st.caption("Select points with the box or lasso tool (top right of the map) to list them here.")


map_and_selection()
