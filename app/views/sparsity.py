"""Sparsity: how alpha^Delta sets the number of retained components."""

import math

import streamlit as st

from app import cache, chooser, controls, figures, inputs, latents, messages, output, state
from nvae.model.grids import rounded_alpha_deltas, slider_stops
from nvae.readout import sentence as readout

PAGE = "sparsity"
DEFAULT = "The game was released in Japan in 2011 and sold well."

INTRO_NVAE = """
α^Δ, the *conditional prior*, sets how much total weight the prior expects per input token: with a
model trained loss-conditionally, **larger values keep more components** and smaller ones prune
more. Move a slider to re-encode the sentence at that value (two values side by side); the curve
shows the whole trained range at once. How one loss-conditional model compares with models each
trained at a single fixed α^Δ is measured in the project's report (`docs/results.md`).
"""
INTRO_BASELINE = """
This page shows how an NVAE prunes its latent. This checkpoint is a **{kind} baseline**, whose latent
is {latent}: the number of vectors is fixed by the sentence, so there is nothing to prune.
"""

messages.header("Sparsity")
model, key = chooser.get_model()
cfg = model.cfg
messages.model_intro(cfg, INTRO_NVAE, INTRO_BASELINE)
messages.kept_set_note(cfg)
GRID = rounded_alpha_deltas(cfg)  # the curve: 26 log-spaced values, encoded in one batch
# the right-hand default: half-way (in log scale) from the default down to the sparsest trained value
COMPARE = controls.nearest(math.sqrt(cfg.alpha_delta_min * cfg.alpha_delta), slider_stops(cfg))
baseline = latents.is_baseline(cfg)
PARAMS = [
    state.Param("s", "text", DEFAULT, max_chars=2000, label="sentence"),
    *(  # a baseline has no alpha^Delta: its link keeps the sentence and the checkpoint
        []
        if baseline
        else [
            controls.alpha_param(cfg, label="α^Δ (left)"),
            controls.alpha_param(cfg, "ad2", default=COMPARE, label="α^Δ (right)"),
        ]
    ),
]
messages.show_notices(state.restore(PAGE, PARAMS))
if baseline:
    state.publish(PARAMS, {"s": st.session_state[state.wkey(PAGE, "s")]}, chooser.checkpoint_extra())
    st.info("A baseline has no sparsity to control. Choose an NVAE checkpoint on the Model page.")
    st.stop()

typed, examples = st.columns([3, 2], vertical_alignment="bottom")
raw = typed.text_input("Sentence", key=state.wkey(PAGE, "s"), persist_state="session")
with examples:
    controls.examples_menu(state.wkey(PAGE, "s"), "sparsity.example")
check = inputs.check_text(raw, one_per_line=False)
if not messages.text_messages(check):
    state.publish(
        PARAMS,
        {"s": raw, "ad": st.session_state[state.wkey(PAGE, "ad")], "ad2": st.session_state[state.wkey(PAGE, "ad2")]},
        chooser.checkpoint_extra(),
    )
    st.stop()
text = check.texts[0]
active = readout.alpha_delta_active(cfg)
curve = cache.sparsity_curve(model, key, text, tuple(GRID)) if active else None


@st.fragment
def compare() -> None:
    """The two alpha^Delta values, the curve's markers and the two encodings: reruns alone."""
    c1, c2 = st.columns(2)
    with c1:
        ad = controls.alpha_delta_control(PAGE, cfg, "ad", "α^Δ (left)")
    with c2:
        ad2 = controls.alpha_delta_control(PAGE, cfg, "ad2", "α^Δ (right), to compare")
    state.publish(PARAMS, {"s": raw, "ad": ad, "ad2": ad2}, chooser.checkpoint_extra())
    views = cache.inspect_sentences(model, key, (text,), ad) + cache.inspect_sentences(model, key, (text,), ad2)
    messages.token_messages(views[0], model)
    if curve is not None:
        output.plot(figures.sparsity.sparsity_curve(curve, (ad, ad2)), "sparsity-curve", key="curve")
        if views[0].mostly_unknown:
            st.caption("The curve's BLEU is not meaningful for this sentence: most of its pieces are [UNK].")
    else:
        st.info(
            f"This model was trained at a fixed α^Δ = {cfg.alpha_delta:g}: its latent does not depend on "
            f"α^Δ, so there is no curve to draw."
        )
    messages.bleu_warning(views[0], "the sentence")
    vmax = max(max(readout.token_weights(v)[1] or [0]) for v in views) or 1.0
    for col, view, name in zip(st.columns(2), views, ("left", "right")):
        with col:
            st.metric(
                f"Retained at α^Δ = {view.alpha_delta if view.alpha_delta is not None else cfg.alpha_delta:g}",
                f"{view.n_retained} / {view.n_inputs}",
                help="retained components / input tokens",
            )
            tokens, weights, kept = readout.token_weights(view)
            output.token_strip(
                tokens,
                weights,
                kept,
                f"strip-{name}",
                key=f"strip_{name}",
                title="Tokens coloured by weight",
                zmax=vmax,
            )
            flag = f": {messages.BLEU_FLAG}" if view.mostly_unknown else ""
            output.show_text(f"Reconstruction (BLEU {view.bleu:.1f}{flag})", view.reconstruction)


compare()
