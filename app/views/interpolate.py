"""Interpolate: decode mixtures between two sentences' latents."""

import pandas as pd
import streamlit as st

from app import analysis, figures, state, ui
from app import model as models
from nvae.checkpoint import CheckpointError

PAGE = "interpolate"
DEFAULT_A = "The film received positive reviews from critics."
DEFAULT_B = "He was born in a small village in the north of England."

ui.header(
    "Interpolate between two sentences",
    """
An NVAE latent is a *set* of weighted components, so two sentences blend by **mixing their sets**:
F_τ = (1 − τ)·F_A + τ·F_B keeps every component of both and scales their weights. Move τ to decode
one mixture; the strip decodes 11 steps at once and marks what changes from step to step, beside a
baseline's position-by-position interpolation when a baseline checkpoint exists.
""",
)

model, key = ui.get_model()
PARAMS = [
    state.Param("a", "text", DEFAULT_A, max_chars=2000, label="sentence A"),
    state.Param("b", "text", DEFAULT_B, max_chars=2000, label="sentence B"),
    state.Param("tau", "float", 0.5, lo=0.0, hi=1.0, label="tau"),
]
ui.show_notices(state.restore(PAGE, PARAMS))
state.clamp_number(state.wkey(PAGE, "tau"), 0.0, 1.0, 0.5)

with st.form("sentences", border=False):
    c1, c2 = st.columns(2)
    c1.text_input("Sentence A", key=state.wkey(PAGE, "a"), persist_state="session")
    c2.text_input("Sentence B", key=state.wkey(PAGE, "b"), persist_state="session")
    st.form_submit_button("Interpolate", icon=":material/swap_horiz:")
raw_a, raw_b = st.session_state[state.wkey(PAGE, "a")], st.session_state[state.wkey(PAGE, "b")]
checks = [analysis.check_text(raw_a, one_per_line=False), analysis.check_text(raw_b, one_per_line=False)]
ok = [ui.text_messages(c) for c in checks]
if not all(ok):
    state.publish(
        PARAMS, {"a": raw_a, "b": raw_b, "tau": st.session_state[state.wkey(PAGE, "tau")]}, ui.checkpoint_extra()
    )
    st.stop()
text_a, text_b = checks[0].texts[0], checks[1].texts[0]
pair = models.encode_pair(key, text_a, text_b)
for name, truncated in zip("AB", pair.truncated):
    if truncated:
        st.warning(
            f"Sentence {name} is longer than the model's limit of {model.cfg.max_len - 1} tokens: "
            f"only its first {model.cfg.max_len - 1} tokens were encoded.",
            icon=":material/content_cut:",
        )
strip = models.interpolation_strip(key, text_a, text_b)

baselines = models.baseline_checkpoints(exclude=models.active_checkpoint()) if model.cfg.model_type == "nvae" else {}
baseline_name, baseline_strip = None, None
if baselines:
    choice = st.selectbox(
        "Compare with the baseline",
        ["(none)", *baselines],
        index=1,
        key=state.wkey(PAGE, "baseline"),
        persist_state="session",
    )
    if choice in baselines:
        try:
            baseline_strip = models.interpolation_strip_of(baselines[choice], text_a, text_b)
            baseline_name = choice
        except CheckpointError as err:
            st.warning(f"The baseline could not be loaded. {ui.md_escape(err)}")


@st.fragment
def at_tau() -> None:
    """The tau slider and what depends on it alone: reruns without the rest of the page."""
    tau = st.slider(
        "τ (0 = sentence A, 1 = sentence B)", 0.0, 1.0, step=0.05, key=state.wkey(PAGE, "tau"), persist_state="session"
    )
    state.publish(PARAMS, {"a": raw_a, "b": raw_b, "tau": tau}, ui.checkpoint_extra())
    mixed = models.mix_at(key, text_a, text_b, tau)
    left, right = st.columns([2, 3])
    with left:
        ui.show_text(f"Decoded at τ = {tau:.2f}", mixed["text"])
        m1, m2 = st.columns(2)
        m1.metric("BLEU vs A", f"{mixed['bleu_a']:.1f}")
        m2.metric("BLEU vs B", f"{mixed['bleu_b']:.1f}")
        ui.plot(
            figures.interpolation_bleu(strip, tau, baseline_strip, baseline_name or "baseline"),
            "interpolation-bleu",
            key="bleu_curve",
        )
    with right:
        ui.plot(figures.mixture_weights(mixed["components"], tau), "mixed-latent", key="mix_bars")


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
    ui.text_table(
        df,
        highlight=[r["changed"] for r in rows],
        columns=["text", "change"],
        formats={"tau": "{:.1f}", "BLEU vs A": "{:.1f}", "BLEU vs B": "{:.1f}"},
    )


cols = st.columns(2) if baseline_strip else [st.container()]
with cols[0]:
    st.caption(f"{model.cfg.model_type.upper()}: mixture of the two sets")
    strip_table(strip)
    ui.download_table(strip, "interpolation-strip", key="strip", json_too=False)
if baseline_strip:
    with cols[1]:
        st.caption(f"{ui.md_escape(baseline_name)}: position-wise interpolation")
        strip_table(baseline_strip)
        ui.download_table(baseline_strip, f"interpolation-strip-{baseline_name}", key="strip_baseline", json_too=False)
