"""Sparsity: how alpha^Delta sets the number of retained components."""

import math

import streamlit as st

from app import cache, chooser, controls, figures, inputs, latents, messages, output, state
from app.page import link_fragment, page_scaffold
from nvae.config import alpha_delta_range, default_alpha_delta
from nvae.model.grids import rounded_alpha_deltas, slider_stops
from nvae.readout import rate_distortion_file, sentence
from nvae.store.model_card import project_relative

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

page = page_scaffold(PAGE, "Sparsity", intros=(INTRO_NVAE, INTRO_BASELINE), kept_set=True)
model, key, cfg = page.model, page.key, page.cfg
GRID = rounded_alpha_deltas(cfg)  # the curve: 26 log-spaced values, encoded in one batch
# the right-hand default: half-way (in log scale) from the default down to the sparsest trained value
baseline = latents.is_baseline(cfg)
lo_ad, _ = alpha_delta_range(cfg)
COMPARE = controls.nearest(math.sqrt(lo_ad * default_alpha_delta(cfg)), slider_stops(cfg))
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
page.restore(PARAMS)  # the link: the sentence and both alpha^Delta values, as their controls hold them


def compression_section() -> None:
    """Learned against fixed compression: the checkpoint's stored rate-distortion result
    (CHECKPOINT/rate_distortion.json, `python -m nvae rate-distortion`), with the other listed
    checkpoints' own files beside it. Read from disk only: decoding four choices at four rates on
    hundreds of sentences is too slow to do here."""
    st.subheader("Learned against fixed compression")
    path = chooser.active_checkpoint()
    command = rate_distortion_file.command_for(project_relative(str(path)))
    weights = getattr(model, "loaded_fingerprint", None)
    own, notice = cache.rate_distortion_of(path, weights)
    if notice:
        st.warning(notice, icon=":material/warning:")
    if own is None:
        st.info(
            f"No stored rate-distortion curve for this checkpoint. `{command}` measures it (BLEU against the "
            f"retained proportion for the learned choice and for fixed choices, on "
            f"{rate_distortion_file.DEFAULT_LIMIT} {rate_distortion_file.DEFAULT_SPLIT} sentences) and writes "
            f"`{rate_distortion_file.FILE_NAME}` into the checkpoint folder; this section then draws it.",
            icon=":material/info:",
        )
        return
    others, skipped, elsewhere = [], [], []
    for name, folder in chooser.available_checkpoints().items():
        if folder.resolve() == path.resolve():
            continue
        record, problem = cache.rate_distortion_of(folder)
        if problem:
            skipped.append(problem)
        if record is None:
            continue
        label = name if record["model_type"] == "nvae" else f"{record['model_type'].upper()} ({name})"
        if record.get("sentences_sha256") != own.get("sentences_sha256"):
            elsewhere.append(name)
            label += " (other sentences)"
        others.append((label, record))
    fig = figures.sparsity.rate_distortion(own, path.name, others)
    corpus = {"wikitext-2": "WikiText-2"}.get(own.get("corpus"), f"`{own.get('corpus')}`")
    where = f"the first {own['sentences']} sentences of the {own['split']} split of {corpus}"
    if own["kind"] == "curve":
        shares = ", ".join(f"{r['target']:.2f}" for r in own["rows"])
        what = (
            f"The blue line is this model's own (learned) choice of components at the α^Δ that keeps each "
            f"share ({shares}); the other lines decode the same model at the same α^Δ with a fixed choice "
            "instead: the nearest stride rule (every fourth, third or second position, or all but every "
            "fourth), evenly spaced positions and a random subset, the last two with as many components as "
            "the learned choice in every sentence. The ring is the model at its default α^Δ."
        )
    elif own["kind"] == "point":
        what = "This model was trained at one fixed α^Δ, so it has one point: its own choice of components" + (
            ", beside fixed choices of the same size on the same model (the nearest stride rule, "
            "evenly spaced positions, a random subset)."
            if own["rows"]
            else " (it keeps every component, so no fixed choice differs from it)."
        )
    else:
        what = f"A {own['model_type'].upper()} baseline keeps a fixed set of vectors: one point, its own rule."
    beside = (
        " Beside it, from their own files: "
        + ", ".join(label for label, _ in others)
        + " (a baseline's point is its own fixed rule; another NVAE's line is its learned choice)."
        if others
        else ""
    )
    caption = (
        f"BLEU of greedy reconstructions against the share of components kept, on {where}. {what}{beside} "
        f"Higher at the same share is better. Reproduce: `{own['command']}` (written {own.get('created', '?')})."
    )
    output.plot(fig, "rate-distortion", key="rate_distortion", note=caption)
    words = rate_distortion_file.verdict(own)
    if words:
        st.markdown("**Which choice wins where** (this checkpoint): " + " ".join(words))
    st.caption(caption)
    if elsewhere:
        st.caption(
            f"Measured on other sentences than this checkpoint's: {', '.join(elsewhere)} (another split, "
            "count or tokenizer); compare those with care."
        )
    for problem in skipped:
        st.caption(problem)


if baseline:
    st.info("A baseline has no sparsity to control. Choose an NVAE checkpoint on the Model page.")
    compression_section()
    page.stop()

typed, examples = st.columns([3, 2], vertical_alignment="bottom")
raw = typed.text_input("Sentence", key=state.wkey(PAGE, "s"), persist_state="session")
with examples:
    controls.examples_menu(state.wkey(PAGE, "s"), "sparsity.example")
check = inputs.check_text(raw, one_per_line=False)
if not messages.text_messages(check):
    page.stop()
text = check.texts[0]
active = sentence.alpha_delta_active(cfg)
curve = cache.sparsity_curve(model, key, text, tuple(GRID)) if active else None


@link_fragment
def compare() -> None:
    """The two alpha^Delta values, the curve's markers and the two encodings: reruns alone."""
    c1, c2 = st.columns(2)
    with c1:
        ad = controls.alpha_delta_control(PAGE, cfg, "ad", "α^Δ (left)")
    with c2:
        ad2 = controls.alpha_delta_control(PAGE, cfg, "ad2", "α^Δ (right), to compare")
    views = cache.inspect_sentences(model, key, (text,), ad) + cache.inspect_sentences(model, key, (text,), ad2)
    messages.token_messages(views[0], model, nothing_kept=False)
    for view, side, value in zip(views, ("left", "right"), (ad, ad2)):  # each decoded view's own notice
        messages.nothing_kept_notice(view, model, f"At the {side}-hand α^Δ = {value:g}, the sentence")
    if curve is not None:
        output.plot(figures.sparsity.sparsity_curve(curve, (ad, ad2)), "sparsity-curve", key="curve")
        if views[0].mostly_unknown:
            st.caption("The curve's BLEU is not meaningful for this sentence: most of its pieces are [UNK].")
    else:
        st.info(
            f"This model was trained at a fixed α^Δ = {cfg.nvib.alpha_delta:g}: its latent does not depend on "
            f"α^Δ, so there is no curve to draw."
        )
    messages.bleu_warning(views[0], "the sentence")
    vmax = max(max(sentence.token_weights(v)[1] or [0]) for v in views) or 1.0
    for col, view, name in zip(st.columns(2), views, ("left", "right")):
        with col:
            st.metric(
                f"Retained at α^Δ = {view.alpha_delta if view.alpha_delta is not None else cfg.nvib.alpha_delta:g}",
                f"{view.n_retained} / {view.n_inputs}",
                help="retained components / input tokens",
            )
            tokens, weights, kept = sentence.token_weights(view)
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
compression_section()
