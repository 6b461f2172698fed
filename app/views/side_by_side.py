"""Side by side: the Inspect and Interpolate views of two checkpoints on the same input."""

import pandas as pd
import streamlit as st

from app import cache, chooser, controls, figures, inputs, latents, messages, output, state
from app.page import link_fragment, page_scaffold
from nvae.model import kept_set
from nvae.readout import sentence
from nvae.store.checkpoint import CheckpointError

PAGE = "side-by-side"
DEFAULT_S = ["The game was released in Japan in 2011."]
DEFAULT_A = "The film received positive reviews from critics."
DEFAULT_B = "He was born in a small village in the north of England."
VIEWS = {"inspect": "Inspect", "interpolate": "Interpolate"}

INTRO = """
Two checkpoints on the same input, next to each other: the **left** one is the app's checkpoint (the
one the other pages use), the **right** one any other checkpoint found, such as a baseline. *Inspect*
shows each model's latent of your sentences (retained components or latent vectors, reconstruction and
BLEU, and for a checkpoint whose kept components stand for segments, the split); *Interpolate*
each model's strip between two sentences, their BLEU curves together, and the decoded text at τ.
Both choices and the inputs are in the link.
"""

page = page_scaffold(PAGE, "Two models side by side", INTRO)
model, key = page.model, page.key
left_path = chooser.active_checkpoint()
others = {n: p for n, p in chooser.available_checkpoints().items() if p.resolve() != left_path.resolve()}
if not others:
    st.info("Only one checkpoint was found: put another one (e.g. a baseline) in `checkpoints/` to compare.")
    page.stop()  # before the link is declared: the address bar stays as it was
default_other = next((n for n, p in others.items() if p.name.startswith("baseline-")), next(iter(others)))
left_is_nvae = not latents.is_baseline(model.cfg)
PARAMS = [
    state.Param("other", "choice", default_other, choices=tuple(others), label="right checkpoint"),
    state.Param("view", "choice", "inspect", choices=tuple(VIEWS), label="view"),
    state.Param("s", "texts", DEFAULT_S, max_chars=2000, max_items=inputs.MAX_SENTENCES, label="sentences"),
    state.Param("a", "text", DEFAULT_A, max_chars=2000, label="sentence A"),
    state.Param("b", "text", DEFAULT_B, max_chars=2000, label="sentence B"),
    state.Param("tau", "float", 0.5, lo=0.0, hi=1.0, label="τ"),
    *([controls.alpha_param(model.cfg, label="α^Δ (left)")] if left_is_nvae else []),
    # the right model is chosen on this page: its alpha^Delta is checked against its range by its control
    state.Param("ad2", "float", None, lo=0.0, label="α^Δ (right)"),
]
ss = st.session_state
page.restore(PARAMS)
messages.show_notices(
    [
        state.clamp_choice(state.wkey(PAGE, "other"), list(others), default_other),
        state.clamp_number(state.wkey(PAGE, "tau"), 0.0, 1.0, 0.5),
    ]
)

c1, c2, c3 = st.columns([2, 2, 2])
with c1:
    chooser.checkpoint_selector(key="side_by_side_left", label="Left: the app's checkpoint")
with c2:
    other = st.selectbox("Right", list(others), key=state.wkey(PAGE, "other"), persist_state="session")
with c3:
    view = st.radio(
        "View", list(VIEWS), key=state.wkey(PAGE, "view"), horizontal=True, format_func=VIEWS.get,
        persist_state="session",
    )  # fmt: skip
page.link({"other": other, "view": view})  # until the view below gives the rest of the link
left_name = next((n for n, p in chooser.available_checkpoints().items() if p.resolve() == left_path.resolve()), None)
left_name = left_name or left_path.name
try:
    right = cache.load_model(others[other])
except CheckpointError as err:
    st.error(f"The right checkpoint could not be loaded. {output.md_escape(err)}", icon=":material/error:")
    page.stop()
right_key = cache.checkpoint_key(others[other])
right_is_nvae = not latents.is_baseline(right.cfg)
sides = [(left_name, model, key), (other, right, right_key)]


def kind(m) -> str:
    cfg = m.cfg
    return messages.latent_caption(cfg) if latents.is_baseline(cfg) else "NVAE, a mixture of Gaussian components"


def published(**now) -> dict:
    values = {"other": other, "view": view}
    if view == "inspect":
        values["s"] = state.lines_to_texts(ss[state.wkey(PAGE, "s")])
        values.update({k: v for k, v in now.items() if v is not None})
    else:
        values.update({"a": ss[state.wkey(PAGE, "a")], "b": ss[state.wkey(PAGE, "b")]})
        values["tau"] = now.get("tau", ss[state.wkey(PAGE, "tau")])
    return values


def retained_metrics(col, m, v) -> None:
    """Retained components (or latent vectors) and the retained proportion, in the model's own terms."""
    a, b = col.columns(2)
    if latents.is_baseline(m.cfg):
        a.metric("Latent vectors", f"{v.n_retained} / {v.n_inputs}", help="vectors / input tokens ([EOS] included)")
        b.metric("Vectors per input token", f"{v.retained_proportion:.2f}")
    else:
        a.metric("Retained components", f"{v.n_retained} / {v.n_inputs}", help="retained / input tokens")
        b.metric("Retained proportion ν", f"{v.retained_proportion:.2f}")


# -- inspect --------------------------------------------------------------------------------------


def inspect_view() -> None:
    raw = st.text_area(
        "Sentences, one per line (up to 5)", key=state.wkey(PAGE, "s"), height=90, persist_state="session"
    )
    cols = st.columns(2)
    ads = []
    for col, (name, m, _), ad_name in zip(cols, sides, ("ad", "ad2")):
        with col:
            st.markdown(f"**{output.md_escape(name)}**")
            st.caption(kind(m))
            messages.kept_set_note(m.cfg)
            if latents.is_baseline(m.cfg):
                ads.append(None)
            else:
                label = "α^Δ (left)" if ad_name == "ad" else "α^Δ (right)"
                ads.append(controls.alpha_delta_control(PAGE, m.cfg, name=ad_name, label=label))
    page.link(published(ad=ads[0] if left_is_nvae else None, ad2=ads[1]))
    check = inputs.check_text(raw)
    if not messages.text_messages(check):
        return
    texts = tuple(check.texts)
    views = [cache.inspect_sentences(m, k, texts, ad) for (_, m, k), ad in zip(sides, ads)]
    for i, info_view in enumerate(views[0]):  # what the tokenizer did, read on the left-hand checkpoint
        which = f"Sentence {i + 1}" if len(texts) > 1 else "The sentence"
        messages.token_messages(info_view, model, which, nothing_kept=False)
    for (name, m, _), vs in zip(sides, views):  # every decoded view: its own notice, naming sentence and checkpoint
        for i, v in enumerate(vs):
            which = f"Sentence {i + 1}" if len(texts) > 1 else "The sentence"
            messages.nothing_kept_notice(v, m, f"{which}, on {name},")
    summary = []
    for i in range(len(texts)):
        row = {"sentence": i + 1}
        for (name, _, _), vs in zip(sides, views):
            row[f"{name}: kept"] = f"{vs[i].n_retained} / {vs[i].n_inputs}"
            row[f"{name}: BLEU"] = round(vs[i].bleu, 1)
        summary.append(row)
    output.table(summary, width="stretch")
    tabs = st.tabs([f"Sentence {i + 1}" for i in range(len(texts))])
    for i, tab in enumerate(tabs):
        with tab:
            output.show_text("Input as the models read it", views[0][i].reference)
            cols = st.columns(2)
            for s, (col, (name, m, _), vs) in enumerate(zip(cols, sides, views)):
                v = vs[i]
                with col:
                    st.markdown(f"**{output.md_escape(name)}**")
                    retained_metrics(col, m, v)
                    messages.bleu_metric(col, "Reconstruction BLEU", v.bleu, v)
                    messages.bleu_warning(v)
                    output.show_text("Reconstruction (greedy decoding)", v.reconstruction)
                    tokens, weights, kept = sentence.token_weights(v)
                    output.token_strip(
                        tokens,
                        weights,
                        kept,
                        f"token-strip-{name}-{i + 1}",
                        key=f"strip_{s}_{i}",
                        title="Tokens coloured by weight",
                        width=8,
                    )
                    if kept_set.pools_segments(m.cfg):  # each kept component stands for a segment
                        output.show_text(latents.SPLIT_LABEL, latents.segment_split(v))
                        if rows := latents.segment_rows(v):
                            output.table(rows, width="stretch")


# -- interpolate ----------------------------------------------------------------------------------


def interpolate_view() -> None:
    with st.form("side_sentences", border=False):
        f1, f2 = st.columns(2)
        f1.text_input("Sentence A", key=state.wkey(PAGE, "a"), persist_state="session")
        f2.text_input("Sentence B", key=state.wkey(PAGE, "b"), persist_state="session")
        st.form_submit_button("Interpolate", icon=":material/swap_horiz:")
    raw_a, raw_b = ss[state.wkey(PAGE, "a")], ss[state.wkey(PAGE, "b")]
    checks = [inputs.check_text(raw_a, one_per_line=False), inputs.check_text(raw_b, one_per_line=False)]
    ok = [messages.text_messages(c) for c in checks]
    if not all(ok):
        page.link(published())
        return
    text_a, text_b = checks[0].texts[0], checks[1].texts[0]
    for col, (name, m, _) in zip(st.columns(2), sides):  # who chooses what each side mixes
        with col:
            st.markdown(f"**{output.md_escape(name)}**")
            messages.kept_set_note(m.cfg)
    infos = cache.token_info(model, key, (text_a, text_b))
    for name, info in zip("AB", infos):
        messages.token_messages(info, model, f"Sentence {name}")
    strips = {name: cache.interpolation_strip(m, k, text_a, text_b) for name, m, k in sides}
    ends = {name: cache.inspect_sentences(m, k, (text_a, text_b), None) for name, m, k in sides}
    st.caption(
        "Sweep mixing: an NVAE hands its components over from A to B first token first; a baseline blends "
        "its vectors position by position in the same order."
    )

    @link_fragment
    def at_tau() -> None:
        tau = st.slider(
            "τ (0 = sentence A, 1 = sentence B)", 0.0, 1.0, step=0.05, key=state.wkey(PAGE, "tau"),
            persist_state="session",
        )  # fmt: skip
        page.link(published(tau=tau))
        cols = st.columns(2)
        for col, (name, m, k) in zip(cols, sides):
            mixed = cache.mix_at(m, k, text_a, text_b, tau)
            with col:
                st.markdown(f"**{output.md_escape(name)}**")
                va, vb = ends[name]
                what = "vectors" if latents.is_baseline(m.cfg) else "retained components"
                st.caption(
                    f"{kind(m)}. {what.capitalize()}: A {va.n_retained} of {va.n_inputs}, "
                    f"B {vb.n_retained} of {vb.n_inputs} (each at the model's default α^Δ)."
                )
                output.show_text(f"Decoded at τ = {tau:.2f}", mixed["text"])
                m1, m2, m3 = st.columns(3)
                messages.bleu_metric(m1, "BLEU vs A", mixed["bleu_a"], infos[0])
                messages.bleu_metric(m2, "BLEU vs B", mixed["bleu_b"], infos[1])
                m3.metric("Distinct sentences", len({r["text"] for r in strips[name]}), help="in the strip")
        output.plot(figures.interpolation.strip_bleu(strips.items(), tau), "side-by-side-bleu", key="side_bleu")

    at_tau()
    st.subheader("The strips")
    cols = st.columns(2)
    for col, (name, _, _) in zip(cols, sides):
        rows = strips[name]
        with col:
            st.markdown(f"**{output.md_escape(name)}**")
            output.text_table(
                pd.DataFrame(
                    [
                        {"tau": r["tau"], "text": r["text"], "BLEU vs A": r["bleu_a"], "BLEU vs B": r["bleu_b"]}
                        for r in rows
                    ]
                ),
                highlight=[r["changed"] for r in rows],
                columns=["text"],
                formats={"tau": "{:.1f}", "BLEU vs A": "{:.1f}", "BLEU vs B": "{:.1f}"},
            )
            output.download_table(
                [{"checkpoint": name, "a": text_a, "b": text_b, **r} for r in rows],
                f"interpolation-strip-{name}",
                key=f"side_strip_{name}",
            )


if view == "inspect":
    inspect_view()
else:
    interpolate_view()
