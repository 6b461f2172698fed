"""Interpolate: decode mixtures between two sentences' latents."""

import pandas as pd
import streamlit as st

from app import analysis, cache, chooser, figures, messages, output, state
from nvae.checkpoint import CheckpointError

PAGE = "interpolate"
DEFAULT_A = "The film received positive reviews from critics."
DEFAULT_B = "He was born in a small village in the north of England."

INTRO_NVAE = """
An NVAE latent is a *set* of weighted components, so two sentences blend by **mixing their sets**:
F_τ = (1 − τ)·F_A + τ·F_B keeps every component of both and scales their weights. Move τ to decode
one mixture; the strip decodes 11 steps at once and marks what changes from step to step, beside a
baseline's position-by-position interpolation when a baseline checkpoint exists.
"""
INTRO_BASELINE = """
This checkpoint is a **{kind} baseline**: its latent is {latent}, so two sentences blend **position by
position**: the vector at each position is (1 − τ)·(A's vector) + τ·(B's vector). Move τ to decode one
blend; the strip decodes 11 steps at once and marks what changes from step to step.
"""

messages.header("Interpolate between two sentences")
model, key = chooser.get_model()
baseline = analysis.is_baseline(model.cfg)
messages.model_intro(model.cfg, INTRO_NVAE, INTRO_BASELINE)
baselines = {} if baseline else chooser.baseline_checkpoints(exclude=chooser.active_checkpoint())
NONE = "(none)"  # the select box's "no baseline"; `baseline=none` in the link
PARAMS = [
    state.Param("a", "text", DEFAULT_A, max_chars=2000, label="sentence A"),
    state.Param("b", "text", DEFAULT_B, max_chars=2000, label="sentence B"),
    state.Param("tau", "float", 0.5, lo=0.0, hi=1.0, label="τ"),
    *(
        [state.Param("baseline", "choice", next(iter(baselines)), choices=("none", *baselines), label="baseline")]
        if baselines
        else []
    ),
]
messages.show_notices(state.restore(PAGE, PARAMS, to_widget={"baseline": lambda v: NONE if v == "none" else v}))
messages.show_notices([state.clamp_number(state.wkey(PAGE, "tau"), 0.0, 1.0, 0.5)])
if baselines:
    messages.show_notices([state.clamp_choice(state.wkey(PAGE, "baseline"), [NONE, *baselines], next(iter(baselines)))])


def settings(tau: float) -> dict:
    """The page's view as the link holds it."""
    values = {"a": raw_a, "b": raw_b, "tau": tau}
    if baselines:
        choice = st.session_state[state.wkey(PAGE, "baseline")]
        values["baseline"] = "none" if choice == NONE else choice
    return values


with st.form("sentences", border=False):
    c1, c2 = st.columns(2)
    c1.text_input("Sentence A", key=state.wkey(PAGE, "a"), persist_state="session")
    c2.text_input("Sentence B", key=state.wkey(PAGE, "b"), persist_state="session")
    st.form_submit_button("Interpolate", icon=":material/swap_horiz:")
raw_a, raw_b = st.session_state[state.wkey(PAGE, "a")], st.session_state[state.wkey(PAGE, "b")]
checks = [analysis.check_text(raw_a, one_per_line=False), analysis.check_text(raw_b, one_per_line=False)]
ok = [messages.text_messages(c) for c in checks]
if not all(ok):
    state.publish(PARAMS, settings(st.session_state[state.wkey(PAGE, "tau")]), chooser.checkpoint_extra())
    st.stop()
text_a, text_b = checks[0].texts[0], checks[1].texts[0]
infos = cache.token_info(model, key, (text_a, text_b))
for name, info in zip("AB", infos):
    messages.token_messages(info, model, f"Sentence {name}")
strip = cache.interpolation_strip(model, key, text_a, text_b)

baseline_name, baseline_strip = None, None
if baselines:
    choice = st.selectbox(
        "Compare with the baseline",
        [NONE, *baselines],
        key=state.wkey(PAGE, "baseline"),
        persist_state="session",
    )
    if choice in baselines:
        try:
            baseline_strip = cache.interpolation_strip_of(baselines[choice], text_a, text_b)
            baseline_name = choice
        except CheckpointError as err:
            st.warning(f"The baseline could not be loaded. {output.md_escape(err)}")


@st.fragment
def at_tau() -> None:
    """The tau slider and what depends on it alone: reruns without the rest of the page."""
    tau = st.slider(
        "τ (0 = sentence A, 1 = sentence B)", 0.0, 1.0, step=0.05, key=state.wkey(PAGE, "tau"), persist_state="session"
    )
    state.publish(PARAMS, settings(tau), chooser.checkpoint_extra())
    mixed = cache.mix_at(model, key, text_a, text_b, tau)
    left, right = st.columns([2, 3])
    with left:
        output.show_text(f"Decoded at τ = {tau:.2f}", mixed["text"])
        m1, m2 = st.columns(2)
        messages.bleu_metric(m1, "BLEU vs A", mixed["bleu_a"], infos[0])
        messages.bleu_metric(m2, "BLEU vs B", mixed["bleu_b"], infos[1])
        for name, info in zip("AB", infos):
            messages.bleu_warning(info, f"sentence {name}")
        output.plot(
            figures.interpolation_bleu(strip, tau, baseline_strip, baseline_name or "baseline"),
            "interpolation-bleu",
            key="bleu_curve",
        )
    with right:
        output.plot(figures.mixture_weights(mixed["components"], tau), "mixed-latent", key="mix_bars")


at_tau()

st.subheader("The strip: 11 steps decoded at once")
st.caption(
    "Highlighted rows differ from the step before; the `change` column lists the words removed (-) and added (+)."
)


def strip_table(rows: list[dict]) -> None:
    """The strip as a wrapping table; rows that differ from the step before are highlighted."""
    df = pd.DataFrame(
        [
            {
                "tau": r["tau"],
                "text": r["text"],
                "change": r["change"],
                "BLEU vs A": r["bleu_a"],
                "BLEU vs B": r["bleu_b"],
            }
            for r in rows
        ]
    )
    output.text_table(
        df,
        highlight=[r["changed"] for r in rows],
        columns=["text", "change"],
        formats={"tau": "{:.1f}", "BLEU vs A": "{:.1f}", "BLEU vs B": "{:.1f}"},
    )


cols = st.columns(2) if baseline_strip else [st.container()]
with cols[0]:
    st.caption(
        f"{model.cfg.model_type.upper()}: position-wise interpolation"
        if baseline
        else f"{model.cfg.model_type.upper()}: mixture of the two sets"
    )
    strip_table(strip)
    output.download_table(strip, "interpolation-strip", key="strip", json_too=False)
if baseline_strip:
    with cols[1]:
        st.caption(f"{output.md_escape(baseline_name)}: position-wise interpolation")
        strip_table(baseline_strip)
        output.download_table(
            baseline_strip, f"interpolation-strip-{baseline_name}", key="strip_baseline", json_too=False
        )
