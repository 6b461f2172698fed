"""The words around a page's content: its title and intro (in the checkpoint's own terms),
notices about a link's values, and the messages every page that encodes typed text shows (empty
text, truncation, unknown pieces, a BLEU that is not meaningful).
"""

from __future__ import annotations

import streamlit as st

from app import inputs, latents
from nvae.readout import sentence


def header(title: str, intro: str = "") -> None:
    """Page title, 2-3 sentences on what the page shows, and any pending notices."""
    st.title(title)
    if intro:
        show_intro(intro)


def show_intro(intro: str) -> None:
    """The page's 2-3 sentences (when they depend on the model: after `get_model`) and pending notices."""
    st.markdown(intro)
    show_notices(st.session_state.pop("_notices", []))


def model_intro(cfg, nvae: str, baseline: str) -> None:
    """The intro in the checkpoint's own terms: `nvae`, or for a baseline `baseline` with {kind}
    ("VT") and {latent} ("one Gaussian vector per token ...") filled in."""
    if latents.is_baseline(cfg):
        show_intro(
            baseline.format(kind=cfg.model_type.upper(), latent=latents.latent_description(cfg.model_type, cfg.stride))
        )
    else:
        show_intro(nvae)


def kept_set_note(cfg) -> None:
    """Who chooses the kept set for this checkpoint (`sentence.kept_set_rule`): the content score, a
    positional prior and its strength, or a baseline's fixed rule. On every page that shows kept and
    pruned components."""
    st.info(sentence.kept_set_rule(cfg), icon=":material/rule:")
    notice = sentence.reading_notice(cfg)
    if notice and cfg.nvib.decode_form == "means":
        st.info(notice, icon=":material/functions:")
    elif notice:
        st.warning(notice, icon=":material/warning:")


def show_notices(notices: list[str | None]) -> None:
    """Notices about the link's values (None entries, from clamps that changed nothing, are skipped)."""
    for notice in notices:
        if notice:
            st.warning(notice, icon=":material/link:")


def latent_caption(cfg) -> str:
    """'VT baseline, whose latent is one Gaussian vector per token (nothing pruned)': a baseline in its
    own terms."""
    return (
        f"{cfg.model_type.upper()} baseline, whose latent is {latents.latent_description(cfg.model_type, cfg.stride)}"
    )


def text_messages(check: inputs.TextCheck) -> bool:
    """Show a TextCheck's errors and notices; True when there is text to work with."""
    for e in check.errors:
        st.error(e, icon=":material/edit_off:")
    for n in check.notices:
        st.warning(n)
    return not check.errors


def token_messages(view, model, which: str = "The sentence", nothing_kept: bool = True) -> None:
    """Notices about truncation, unknown pieces and a latent that keeps nothing of one encoded
    sentence: every page that encodes typed text shows them. `view` is a sentence.SentenceView,
    sentence.TokenInfo or walkthrough.Trace (n_inputs, n_unknown, truncated, n_retained).
    `nothing_kept` False: the page shows that notice per decoded view itself (`nothing_kept_notice`)."""
    if view.n_inputs <= 1:
        st.warning(
            f"{which} has no token left after the tokenizer's normalisation (it drops accents and "
            f"control characters): only the end-of-sentence token was encoded."
        )
    if view.truncated:
        st.warning(
            f"{which} is longer than the model's limit of {model.cfg.max_len - 1} tokens: "
            f"only its first {model.cfg.max_len - 1} tokens were encoded.",
            icon=":material/content_cut:",
        )
    if view.n_unknown:
        st.info(
            f"{which} has {view.n_unknown} piece(s) outside the model's vocabulary; they appear as [UNK].",
            icon=":material/help:",
        )
    accents = getattr(view, "accents", [])
    if accents:
        shown = ", ".join(accents[:8]) + (" …" if len(accents) > 8 else "")
        st.info(
            f"{which} loses its accents before the model reads it (the tokenizer strips them): {shown}.",
            icon=":material/text_format:",
        )
    if nothing_kept:
        nothing_kept_notice(view, model, which)


def nothing_kept_notice(view, model, which: str = "The sentence") -> None:
    """The warning for one decoded view that keeps none of its token components (`which` names the
    sentence, and the checkpoint or α^Δ where a page shows several views): nothing when it keeps one."""
    nothing_kept = sentence.prior_only_notice(model, view.n_retained, view.n_inputs, which, getattr(view, "text", None))
    if nothing_kept:
        st.warning(nothing_kept, icon=":material/block:")


BLEU_FLAG = "not meaningful: mostly [UNK]"


def bleu_metric(container, label: str, bleu: float, view) -> None:
    """A BLEU score as a metric; flagged (grey note under the number) when the reference sentence
    `view` (SentenceView or TokenInfo) is mostly [UNK], with `bleu_warning` beside it."""
    if view.mostly_unknown:
        container.metric(
            label,
            f"{bleu:.1f}",
            delta=BLEU_FLAG,
            delta_color="off",
            delta_arrow="off",
            help="BLEU against an input that is mostly [UNK] pieces says nothing about the reconstruction.",
        )
    else:
        container.metric(label, f"{bleu:.1f}")


def bleu_warning(view, which: str = "the input") -> bool:
    """When more than half of the input pieces are [UNK]: a warning that BLEU against it is not
    meaningful. True when shown."""
    if not view.mostly_unknown:
        return False
    st.warning(
        f"BLEU is not meaningful here: {view.n_unknown} of the {view.n_inputs - 1} pieces of {which} are "
        f"[UNK] (outside the model's vocabulary), and a string of [UNK] reconstructed as a string of [UNK] "
        f"scores as if it were perfect.",
        icon=":material/warning:",
    )
    return True
