"""Inspect: the latent mixture of typed sentences, its reconstruction and the decoder's attention."""

import streamlit as st

from app import cache, controls, figures, inputs, latents, messages, output, state
from app.page import page_scaffold
from nvae.model import kept_set
from nvae.readout import sentence

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


def kept_tokens(view) -> str:
    """The kept components' tokens, in sentence order."""
    kept = [r["token"] for r in view.components if r["retained"] and r["source"] >= 0]
    return " ".join(kept) if kept else "(no token: the decoder reads the prior component alone)"


def prior_comparison(view, other, prior: float, model_prior: float) -> None:
    """The kept set and the reconstruction with the prior shown and with the other choice (the
    content score alone, or the model's own prior when the content score is shown)."""
    other_prior = 0.0 if prior else model_prior
    rows = []
    for v, strength in ((view, prior), (other, other_prior)):
        what = "content score alone" if strength == 0 else f"positional prior {strength:g}"
        if strength == model_prior:
            what += " (the model's)"
        rows.append(
            {
                "kept set chosen by": what,
                "kept": f"{v.n_retained} / {v.n_inputs}",
                "BLEU": round(v.bleu, 1),  # before the long columns, so that a long reconstruction never hides it
                "kept tokens": kept_tokens(v),
                "reconstruction": v.reconstruction,
            }
        )
    st.caption("What the positional prior changes: the same sentence and α^Δ, kept by each choice")
    output.table(rows, width="stretch")


page = page_scaffold(PAGE, "Inspect a sentence", intros=(INTRO_NVAE, INTRO_BASELINE), kept_set=True)
model, key = page.model, page.key
baseline = latents.is_baseline(model.cfg)
pooled = kept_set.pools_segments(model.cfg)  # each kept component stands for a segment of the sentence
has_prior = controls.has_positional_prior(model.cfg)
PARAMS = [
    state.Param("s", "texts", DEFAULT, max_chars=2000, max_items=inputs.MAX_SENTENCES, label="sentences"),
    *([] if baseline else [controls.alpha_param(model.cfg)]),  # a baseline has no alpha^Delta
    *([controls.prior_param(model.cfg)] if has_prior else []),
]
page.restore(PARAMS)  # the link: the sentences, alpha^Delta and the prior's strength, as their controls hold them

left, right = st.columns([3, 2])
raw = left.text_area(
    "Sentences, one per line (up to 5)", key=state.wkey(PAGE, "s"), height=110, persist_state="session"
)
with left:
    controls.examples_menu(state.wkey(PAGE, "s"), "inspect.example", all_of_them=inputs.MAX_SENTENCES)
with right:
    if baseline:
        ad = None
        st.caption(f"This checkpoint is a {messages.latent_caption(model.cfg)}.")
    else:
        ad = controls.alpha_delta_control(PAGE, model.cfg)
    prior = controls.prior_control(PAGE, model.cfg) if has_prior else None
# the model's own prior is None (its cached views are shared with the other pages); another strength is this
# page's view only
shown_prior = None if prior is None or prior == model.cfg.nvib.spread_bias else prior

check = inputs.check_text(raw)
if messages.text_messages(check):
    views = cache.inspect_sentences(model, key, tuple(check.texts), ad, shown_prior)
    # beside it, the other choice: the content score alone, or (when that is shown) the model's own prior
    other_prior = 0.0 if prior else None
    others = cache.inspect_sentences(model, key, tuple(check.texts), ad, other_prior) if has_prior else None
    # Only the open tab is drawn (a tab switch reruns the page from the cache): each sentence's
    # figures cost about 50 ms, and an alpha^Delta move would otherwise redraw every hidden one.
    tabs = st.tabs([f"Sentence {i + 1}" for i in range(len(views))], key=f"{PAGE}.tab", on_change="rerun")
    for i, (tab, view) in enumerate(zip(tabs, views)):
        if tab.open is False:
            continue
        with tab:
            messages.token_messages(view, model)
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
            messages.bleu_metric(m3, "Reconstruction BLEU", view.bleu, view)
            with m3:
                messages.bleu_warning(view)
            if others is not None:
                prior_comparison(view, others[i], prior, model.cfg.nvib.spread_bias)
            output.show_text("Input as the model reads it (lower-cased; unknown pieces as [UNK])", view.reference)
            output.show_text("Reconstruction (greedy decoding)", view.reconstruction)
            tokens, weights, kept = sentence.token_weights(view)
            strip_title, bars_title = (
                ("Input tokens coloured by the weight of their vector", "Weights of the latent vectors (all equal)")
                if baseline
                else ("Input tokens coloured by the weight of their component", "Mixture weights of the components")
            )
            output.token_strip(tokens, weights, kept, f"token-strip-{i + 1}", key=f"strip_{i}", title=strip_title)
            if pooled:  # each kept component stands for a segment: the split at a glance
                output.show_text(latents.SPLIT_LABEL, latents.segment_split(view))
            output.plot(
                figures.components.component_bars(view.components, title=bars_title),
                f"components-{i + 1}",
                key=f"bars_{i}",
            )
            rows = latents.components_table(view, pooled=pooled)
            if baseline:  # every vector is kept with the same weight: no pseudo-count, nothing pruned
                rows = [{k: v for k, v in r.items() if k not in ("alpha", "status")} for r in rows]
                st.caption("Latent vectors (the decoder attends to each with the same weight)")
            else:
                st.caption(
                    "Components (component 0 is the prior)"
                    + (
                        "; “stands for”: the tokens of each kept component's segment, “segment”: their positions, "
                        "counted from 0" + (". " + latents.SUMMED_ALPHA if kept_set.chooses_segments(model.cfg) else "")
                        if pooled
                        else ""
                    )
                )
                if model.cfg.nvib.alpha_conditioning == "quantile":
                    st.caption(
                        "Under this model's quantile conditioning a token's α comes from its rank in the sentence: "
                        "the sentence's α values are spread evenly by rank and set in level by α^Δ, so a change of "
                        "the positional prior reorders which token gets which value, not the values."
                    )
            output.table(rows, width="stretch")
            output.download_table(rows, f"components-{i + 1}", key=f"components_{i}")
            output.plot(
                figures.attention.attention_heatmap(view.out_tokens, view.components, view.attention),
                f"cross-attention-{i + 1}",
                key=f"attn_{i}",
            )
