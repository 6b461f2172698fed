"""Inspect: the latent mixture of typed sentences, its reconstruction and the decoder's attention."""

import streamlit as st

from app import analysis, figures, state, ui
from app import model as models

PAGE = "inspect"
DEFAULT = ["The game was released in Japan in 2011.", "He was born in a small village in the north of England."]
INTRO_NVAE = """
The encoder turns a sentence into a **mixture of Gaussian components**, one per input token plus a
*prior* component; components whose pseudo-count α falls under the threshold are **pruned** (grey),
the others share the weight π that the decoder attends to. For each sentence you see its
components, its tokens coloured by weight, the decoder's reconstruction (with BLEU against the
input) and which components each output token attends to.
"""
INTRO_BASELINE = """
This checkpoint is a **{kind} baseline**: the encoder turns a sentence into {latent}, which the
decoder attends to with equal weight. For each sentence you see its latent vectors, its tokens, the
decoder's reconstruction (with BLEU against the input) and which vectors each output token attends to.
"""

ui.header("Inspect a sentence")
model, key = ui.get_model()
baseline = analysis.is_baseline(model.cfg)
ui.model_intro(model.cfg, INTRO_NVAE, INTRO_BASELINE)
PARAMS = [
    state.Param("s", "texts", DEFAULT, max_chars=2000, max_items=analysis.MAX_SENTENCES, label="sentences"),
    *([] if baseline else [ui.alpha_param(model.cfg)]),  # a baseline has no alpha^Delta
]
ui.show_notices(state.restore(PAGE, PARAMS, to_widget={"s": state.texts_to_lines}))

left, right = st.columns([3, 2])
raw = left.text_area(
    "Sentences, one per line (up to 5)", key=state.wkey(PAGE, "s"), height=110, persist_state="session"
)
with right:
    if baseline:
        ad = None
        st.caption(f"This checkpoint is a {ui.latent_caption(model.cfg)}.")
    else:
        ad = ui.alpha_delta_control(PAGE, model.cfg)
state.publish(PARAMS, {"s": state.lines_to_texts(raw), **({} if ad is None else {"ad": ad})}, ui.checkpoint_extra())

check = analysis.check_text(raw)
if ui.text_messages(check):
    views = models.inspect_sentences(key, tuple(check.texts), ad)
    tabs = st.tabs([f"Sentence {i + 1}" for i in range(len(views))])
    for i, (tab, view) in enumerate(zip(tabs, views)):
        with tab:
            ui.token_messages(view, model)
            m1, m2, m3 = st.columns(3)
            if baseline:
                m1.metric(
                    "Latent vectors",
                    f"{view.n_retained} / {view.n_inputs}",
                    help="vectors the decoder attends to / input tokens ([EOS] included)",
                )
                m2.metric("Vectors per input token", f"{view.retained_proportion:.2f}")
            else:
                m1.metric(
                    "Retained components",
                    f"{view.n_retained} / {view.n_inputs}",
                    help="retained non-prior components / input tokens ([EOS] included)",
                )
                m2.metric("Retained proportion ν", f"{view.retained_proportion:.2f}")
            ui.bleu_metric(m3, "Reconstruction BLEU", view.bleu, view)
            with m3:
                ui.bleu_warning(view)
            ui.show_text("Input as the model reads it (lower-cased; unknown pieces as [UNK])", view.reference)
            ui.show_text("Reconstruction (greedy decoding)", view.reconstruction)
            tokens, weights, kept = analysis.token_weights(view)
            strip_title, bars_title = (
                ("Input tokens coloured by the weight of their vector", "Weights of the latent vectors (all equal)")
                if baseline
                else ("Input tokens coloured by the weight of their component", "Mixture weights of the components")
            )
            ui.plot(
                figures.token_strip(tokens, weights, kept, title=strip_title), f"token-strip-{i + 1}", key=f"strip_{i}"
            )
            ui.plot(figures.component_bars(view.components, title=bars_title), f"components-{i + 1}", key=f"bars_{i}")
            rows = analysis.components_table(view)
            if baseline:  # every vector is kept with the same weight: no pseudo-count, nothing pruned
                rows = [{k: v for k, v in r.items() if k not in ("alpha", "status")} for r in rows]
                st.caption("Latent vectors (the decoder attends to each with the same weight)")
            else:
                st.caption("Components (component 0 is the prior)")
            ui.table(rows, width="stretch")
            ui.download_table(rows, f"components-{i + 1}", key=f"components_{i}")
            ui.plot(
                figures.attention_heatmap(view.out_tokens, view.components, view.attention),
                f"cross-attention-{i + 1}",
                key=f"attn_{i}",
            )
