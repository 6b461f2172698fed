"""Walkthrough: one sentence through the model, one step at a time (for a teacher in front of a class)."""

import numpy as np
import streamlit as st

from app import cache, chooser, controls, figures, inputs, latents, messages, output, state
from app.page import link_fragment, page_scaffold
from nvae.data.examples import MAX_EXAMPLE_CHARS
from nvae.model import kept_set
from nvae.readout import sentence, walkthrough

PAGE = "walkthrough"
DEFAULT = "The game was released in Japan in 2011."
STEPS = [
    "The tokens",
    "The encoder states",
    "Mean, variance and pseudo-count",
    "The prior component",
    "Pruning at the threshold",
    "The weights π",
    "One decoder query",
    "The next token",
    "The whole reconstruction",
]
INTRO_NVAE = """
A guided tour for a class: **one sentence goes through the model one step at a time**, from its
tokens to its reconstruction. Every number is the real model's, for the sentence and α^Δ above;
**Back** and **Next** move between the nine steps (the step is in the address, so a link opens on
it), and each step links to the page that explores it further.
"""
INTRO_BASELINE = """
This tour follows an NVAE's latent: its Gaussian components, their pseudo-counts α, the prior
component and pruning. This checkpoint is a **{kind} baseline**, whose latent is {latent}: it has
none of these steps.
"""

page = page_scaffold(PAGE, "Walkthrough", intros=(INTRO_NVAE, INTRO_BASELINE), kept_set=True)
model, key, cfg = page.model, page.key, page.cfg
baseline = latents.is_baseline(cfg)
PARAMS = [
    state.Param("s", "text", DEFAULT, max_chars=MAX_EXAMPLE_CHARS, label="sentence"),
    *([] if baseline else [controls.alpha_param(cfg)]),
    state.Param("step", "int", 1, lo=1, hi=len(STEPS), label="step"),
    state.Param("t", "int", 0, lo=0, hi=cfg.max_len, label="output step"),
    state.Param("h", "int", 0, lo=0, hi=max(cfg.n_heads - 1, 0), label="head"),
]
page.restore(PARAMS)  # the link: the sentence, alpha^Delta, the step, the output step and the head

if baseline:
    st.info("Choose an NVAE checkpoint on the Model page to follow a sentence through its latent.")
    page.stop()

typed, menu, slider = st.columns([3, 2, 2], vertical_alignment="bottom")
raw = typed.text_input("Sentence", key=state.wkey(PAGE, "s"), persist_state="session")
with menu:
    controls.examples_menu(state.wkey(PAGE, "s"), "walkthrough.example")
with slider:
    ad = controls.alpha_delta_control(PAGE, cfg)
check = inputs.check_text(raw, one_per_line=False)
if not messages.text_messages(check):
    page.stop()
text = check.texts[0]
tr = cache.walkthrough_trace(model, key, text, ad)
messages.token_messages(tr, model)
T, H, P = tr.queries.shape
n = tr.n_inputs
extra = chooser.checkpoint_extra()
ad_link = {"ad": f"{tr.alpha_delta:.6g}"} if sentence.alpha_delta_active(cfg) else {}


def q(token: str) -> str:
    """A token quoted inside the app's own markdown (escaped: it is the user's text)."""
    return f"“{output.md_escape(token)}”"


def link(page: str, label: str, icon: str, params: dict | None = None) -> None:
    """A link to another page: `page` is its script under app/views/ without .py ("inspect", or
    "interpolate/page" for a page in a folder of its own)."""
    st.page_link(f"views/{page}.py", label=label, icon=icon, query_params={**(params or {}), **extra})


def move(delta: int) -> None:
    k = state.wkey(PAGE, "step")
    st.session_state[k] = min(max(int(st.session_state[k]) + delta, 1), len(STEPS))


def output_step_control() -> int:
    """The output step a query or a next-token choice is read at (shared by steps 7 and 8)."""
    k = state.wkey(PAGE, "t")
    messages.show_notices([state.clamp_choice(k, list(range(T)), 0)])
    return st.select_slider(
        "Output step",
        options=list(range(T)),
        key=k,
        format_func=lambda t: f"{t + 1}: writes {tr.out_tokens[t]}",
        persist_state="session",
        help="Which token of the reconstruction is being written.",
    )


# -- the steps -------------------------------------------------------------------------------------


def step_tokens() -> None:
    unknown = f" {tr.n_unknown} piece(s) are outside the vocabulary and read as [UNK]." if tr.n_unknown else ""
    st.markdown(
        f"The tokenizer lower-cases the sentence and cuts it into **{n - 1} word pieces** (WordPiece: a piece "
        f"that starts with ## continues the word before it), then appends [EOS], the end-of-sentence token: "
        f"**n = {n} tokens**. Each of them will become one component of the latent.{unknown}"
    )
    output.show_text("The tokens, in order", "  ·  ".join(tr.tokens))
    with st.expander("Each token's position and vocabulary id"):
        output.table(
            [{"position": i, "token": t, "id": tid} for i, (t, tid) in enumerate(zip(tr.tokens, tr.token_ids))],
            width="stretch",
            height=min(400, 38 + 35 * n),
        )
    link("inspect", "See this sentence's components on Inspect", ":material/search:", {"s": text, **ad_link})


def step_states() -> None:
    norms = np.linalg.norm(tr.states, axis=1)
    st.markdown(
        f"A Transformer encoder ({cfg.n_enc_layers} layers, {cfg.n_heads} attention heads) reads all {n} tokens "
        f"at once and turns each into a vector h_i of **{P} numbers** that depends on the whole sentence, not on "
        f"its token alone. Below, one row per token: the first 48 of its {P} numbers (the vectors' lengths run "
        f"from {norms.min():.1f} to {norms.max():.1f})."
    )
    output.plot(figures.walkthrough.encoder_states(tr.tokens, tr.states), "walkthrough-encoder-states", key="states")
    link(
        "latent_map",
        "See where such vectors' components lie among a corpus's on the Latent map",
        ":material/bubble_chart:",
        {"s": text},
    )


def step_components() -> None:
    toks = [c for c in tr.components if c["source"] >= 0]
    top = max(toks, key=lambda c: c["alpha"])
    st.markdown(
        f"Three linear maps of each h_i give that token's **Gaussian component**: a mean μ_i ({P} numbers), a "
        f"variance σ²_i for each of them, and a **pseudo-count α_i > 0**, how much weight the token asks for. "
        f"The largest α is {q(top['token'])}'s: ‖μ‖ = {top['mu_norm']:.2f}, mean σ² = {top['mean_variance']:.4f}, "
        f"α = {top['alpha']:.3f}."
    )
    output.plot(figures.walkthrough.pseudo_counts(toks), "walkthrough-pseudo-counts", key="alphas")
    rows = [
        {
            "component": c["component"],
            "token": c["token"],
            "|mu|": c["mu_norm"],
            "mean variance": c["mean_variance"],
            "log alpha": c["log_alpha"],
            "alpha": c["alpha"],
        }
        for c in toks
    ]
    output.table(rows, width="stretch")
    link("inspect", "The components table on Inspect", ":material/search:", {"s": text, **ad_link})


def step_prior() -> None:
    st.markdown(
        f"Component 0 is not a token: it is the **prior**, mean {tr.prior_mean:g} and variance "
        f"{tr.prior_variance:g} in every dimension, pseudo-count α_0 = {tr.prior_alpha:g}. It is part of every "
        f"sentence's mixture and is never pruned: a query that no token explains falls back on it. With "
        f"α^Δ = {tr.alpha_delta:g} the prior expects a total of 1 + α^Δ·n = {tr.prior_total:.3g} pseudo-counts; "
        f"this sentence's components hold {tr.posterior_total:.3g}."
    )
    m = st.columns(3)
    m[0].metric("Prior pseudo-count α_0", f"{tr.prior_alpha:g}")
    m[1].metric("Expected total 1 + α^Δ·n", f"{tr.prior_total:.3g}")
    m[2].metric("This sentence's total Σα", f"{tr.posterior_total:.3g}")
    link("samples", "Sentences decoded from latents drawn from the prior: Samples", ":material/casino:")


def step_pruning() -> None:
    toks = [c for c in tr.components if c["source"] >= 0]
    pruned = [c["token"] for c in toks if not c["retained"]]
    if pruned:
        shown = ", ".join(q(t) for t in pruned[:12]) + (" …" if len(pruned) > 12 else "")
        which = f"Pruned (grey): {shown}."
    else:
        which = "None is pruned at this α^Δ: lower α^Δ above to see tokens go."
    rule = (
        "The pseudo-counts decide **how many token components are kept**, and the split below which ones."
        if kept_set.chooses_segments(cfg)
        else f"A token's component is **kept only when its α is above the threshold {tr.threshold:g}**."
    )
    st.markdown(
        f"{rule} At α^Δ = {tr.alpha_delta:g}, **{tr.n_retained} of the {n} token components survive** "
        f"(retained proportion ν = {tr.retained_proportion:.2f}). {which}"
    )
    output.plot(figures.walkthrough.pseudo_counts(tr.components, tr.threshold), "walkthrough-pruning", key="pruning")
    if kept_set.chooses_segments(cfg):
        st.caption(latents.SUMMED_ALPHA)
    split = walkthrough.split_explanation(cfg, tr)
    if split:  # each kept component stands for a segment of the sentence: how it is cut, and the cut
        st.markdown(f"**How the sentence is split.** {split}")
        output.show_text(latents.SPLIT_LABEL, latents.segment_split(tr))
        st.caption("On the next steps, a kept component's mean and variance are those of its segment.")
    if toks and "log_alpha_content" in toks[0]:
        by_content = [c["token"] for c in toks if c["retained_by_content"]]
        st.markdown(
            f"This checkpoint adds a **positional prior** of strength {model.cfg.nvib.spread_bias:g} to each token's "
            "score, pulling the kept set towards evenly spaced positions. The table shows each token's log α "
            "from the content score alone (the prior at 0) beside the log α with the prior: their difference is "
            "what the prior changes (through the ranking, as α^Δ's conditioning ranks the scores). "
            "The content score alone would keep "
            + (
                ", ".join(q(t) for t in by_content[:12]) + (" …" if len(by_content) > 12 else "")
                if by_content
                else "none"
            )
            + "."
        )
        output.table(
            [
                {
                    "position": c["source"],
                    "token": c["token"],
                    "log α, content score alone": round(c["log_alpha_content"], 2),
                    "log α with the prior": round(c["log_alpha"], 2),
                    "change from the prior": round(c["log_alpha"] - c["log_alpha_content"], 2),
                    "kept by the content alone": c["retained_by_content"],
                    "kept": c["retained"],
                }
                for c in toks
            ],
            width="stretch",
        )
    link("sparsity", "How α^Δ moves the cut: Sparsity", ":material/filter_alt:", {"s": text, **ad_link})


def step_weights() -> None:
    kept = [c for c in tr.components if c["retained"]]
    best = max((c for c in kept if c["source"] >= 0), key=lambda c: c["pi"], default=None)
    prior = tr.components[0]
    total = sum(c["alpha"] for c in kept)
    best_text = f"The largest weight goes to {q(best['token'])} (π = {best['pi']:.3f}); " if best else ""
    st.markdown(
        f"The components that survive share the decoder's attention in proportion to their α: "
        f"**π_i = α_i / Σ α** over the kept ones, the prior included (Σ α = {total:.3g}). {best_text}"
        f"the prior gets π_0 = {prior['pi']:.3f}; a pruned component gets 0."
    )
    weights = {c["source"]: c["pi"] for c in tr.components if c["source"] >= 0}
    kept_src = {c["source"]: c["retained"] for c in tr.components if c["source"] >= 0}
    output.token_strip(
        tr.tokens,
        [weights.get(i, 0.0) for i in range(n)],
        [kept_src.get(i, False) for i in range(n)],
        "walkthrough-token-weights",
        key="strip",
    )
    output.plot(figures.components.component_bars(tr.components), "walkthrough-weights", key="weights")
    link("inspect", "Weights of any sentence on Inspect", ":material/search:", {"s": text, **ad_link})


def step_query() -> None:
    t = output_step_control()
    hk = state.wkey(PAGE, "h")
    messages.show_notices([state.clamp_choice(hk, list(range(H)), 0)])
    h = st.radio(
        "Head", list(range(H)), format_func=lambda i: f"head {i + 1}", horizontal=True, key=hk, persist_state="session"
    )
    view = walkthrough.query_plane(tr, t, h)
    w = view["result"]["denoised_weights"]
    best = int(np.argmax(w))
    reads = "the prior component" if best == 0 else f"the component of {q(view['labels'][best])}"
    st.markdown(
        f"To write token {t + 1} ({q(tr.out_tokens[t])}), the decoder's last layer turns what it has written so "
        f"far into a **query** for each of its {H} heads; seen in the space of the components, head {h + 1}'s "
        f"query is a vector **u** of {P} numbers (‖u‖ = {view['query_norm']:.1f}). **Denoising attention** treats "
        f"u as a noisy copy (noise variance √E = {tr.noise_var:g}, E = {round(tr.noise_var**2)} being the width of one "
        f"head's vectors) of a vector drawn from the mixture and returns "
        f"its best guess E[v | u], {view['shift']:.1f} away from u: mostly {reads} (weight {w[best]:.2f})."
    )
    output.plot(
        figures.attention.denoising_2d(
            view["means"],
            view["variances"],
            view["weights"],
            view["query"],
            view["result"],
            labels=view["labels"],
            title=f"Head {h + 1}'s query at output step {t + 1}, in the plane of the components",
        ),
        "walkthrough-denoising",
        key="plane",
    )
    st.caption(
        f"The plane is spanned by the two directions along which the kept components' means spread most (it "
        f"shows {view['spread_shown']:.0%} of their spread); the same plane at every step. A projection keeps "
        f"weighted averages, so the purple diamond lands among the projected means as E[v | u] does in {P} "
        "dimensions; u's own distance from them is foreshortened. Ellipses: each component's variance along the "
        "two axes."
    )
    output.plot(
        figures.attention.attention_weights_bars(
            view["result"]["ordinary_weights"], view["result"]["denoised_weights"], labels=view["labels"]
        ),
        "walkthrough-attention-weights",
        key="plane_weights",
    )
    link("denoising", "Denoising attention with a mixture you can edit, in 2-D", ":material/my_location:")


def step_next() -> None:
    t = output_step_control()
    chosen, cands = tr.chosen[t], tr.choices[t]
    others = [c for c in cands if c["id"] != chosen["id"]][:2]
    rest = ", ".join(f"{q(c['token'])} ({c['probability']:.2f})" for c in others)
    rank = "" if chosen["rank"] == 1 else f" (rank {chosen['rank']} in this teacher-forced pass)"
    st.markdown(
        f"After its last layer the decoder gives every one of the {cfg.vocab_size:,} pieces of its vocabulary a "
        f"probability; greedy decoding **writes the most probable**. At step {t + 1} it writes "
        f"{q(chosen['token'])} (probability {chosen['probability']:.2f}){rank}"
        + (f"; next best: {rest}." if rest else ".")
    )
    output.plot(
        figures.walkthrough.next_token(cands, chosen, title=f"The most probable tokens at output step {t + 1}"),
        "walkthrough-next-token",
        key="next",
    )
    link(
        "inspect",
        "Which components each output token attends to: Inspect",
        ":material/search:",
        {"s": text, **ad_link},
    )


def step_reconstruction() -> None:
    flag = f" ({messages.BLEU_FLAG})" if tr.mostly_unknown else ""
    written = T - 1 if tr.stopped else T
    until = (
        "until it writes [EOS]"
        if tr.stopped
        else f"until the length limit of {cfg.max_len} tokens (this model never wrote [EOS] here)"
    )
    st.markdown(
        f"Writing one token at a time, each new token fed back as the next input, {until}, gives the "
        f"**reconstruction**: {written} tokens decoded from {output.plural(tr.n_retained + 1, 'component')} (the prior "
        f"and {tr.n_retained} of the {n} tokens). Sentence BLEU against the input as the model reads it: "
        f"**{tr.bleu:.1f}**{flag}."
    )
    output.show_text("Input as the model reads it", tr.reference)
    output.show_text("Reconstruction (greedy decoding)", tr.reconstruction)
    messages.bleu_warning(tr)
    output.plot(
        figures.attention.attention_heatmap(tr.out_tokens, tr.components, tr.attention.mean(1).tolist()),
        "walkthrough-cross-attention",
        key="attention",
    )
    other = next((e for e in cache.example_sentences() if e != text), "A storm hit the coast in June.")
    c1, c2 = st.columns(2)
    with c1:
        link(
            "interpolate/page",
            "Mix this sentence with another: Interpolate",
            ":material/swap_horiz:",
            {"a": text, "b": other},
        )
    with c2:
        link("sparsity", "Its reconstruction at every α^Δ: Sparsity", ":material/filter_alt:", {"s": text, **ad_link})


SHOW = [
    step_tokens,
    step_states,
    step_components,
    step_prior,
    step_pruning,
    step_weights,
    step_query,
    step_next,
    step_reconstruction,
]


@link_fragment
def tour() -> None:
    """The step navigator and the step: Back, Next and the step's own controls rerun only this."""
    k = state.wkey(PAGE, "step")
    messages.show_notices([state.clamp_number(k, 1, len(STEPS), 1)])
    step = int(st.session_state[k])
    nav = st.container(horizontal=True, vertical_alignment="bottom")
    nav.button(
        "Back", icon=":material/arrow_back:", disabled=step <= 1, on_click=move, args=(-1,), key="walkthrough.back"
    )
    nav.selectbox(
        "Step",
        list(range(1, len(STEPS) + 1)),
        key=k,
        format_func=lambda i: f"{i} of {len(STEPS)}: {STEPS[i - 1]}",
        width=320,
        label_visibility="collapsed",
        persist_state="session",
    )
    nav.button(
        "Next",
        icon=":material/arrow_forward:",
        disabled=step >= len(STEPS),
        on_click=move,
        args=(1,),
        key="walkthrough.next",
        type="primary",
    )
    st.progress(step / len(STEPS))
    st.subheader(f"{step}. {STEPS[step - 1]}")
    SHOW[step - 1]()


tour()
