"""Widgets and messages the pages share: the model (or a clear error), text checks, the alpha^Delta
control, exports, and the checkpoint choice that every page's link carries (`ckpt`).

User text is only ever shown through st.code, st.text, st.dataframe or plotly (escaped); markdown
here is the app's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import analysis, figures, state
from app import model as models
from nvae.checkpoint import CheckpointError

CKPT = state.Param("ckpt", "text", "", max_chars=200, label="checkpoint")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text) -> str:
    """Text (a path, a folder name, an error message) made literal inside markdown."""
    return _MARKDOWN.sub(r"\\\1", str(text))


# -- checkpoint ----------------------------------------------------------------------------------


def restore_checkpoint_param() -> None:
    """Apply `?ckpt=NAME` (a name from the list of checkpoints, never a path) once per link."""
    raw = st.query_params.get_all("ckpt")
    if not raw or st.session_state.get("_ckpt_written") == raw:
        return
    st.session_state["_ckpt_written"] = raw
    name, _ = state.parse_param(CKPT, raw)
    choices = models.available_checkpoints()
    if name in choices:
        st.session_state["checkpoint"] = str(choices[name])
    else:
        st.session_state["_notices"] = [
            f"{CKPT.title}: the link names a checkpoint that is not available here; using the default one."
        ]


def checkpoint_extra() -> dict[str, str]:
    """The `ckpt` query parameter when the session uses another checkpoint than the default."""
    active = models.active_checkpoint()
    if active.resolve() == models.default_checkpoint().resolve():
        return {}
    for name, path in models.available_checkpoints().items():
        if path.resolve() == active.resolve():
            st.session_state["_ckpt_written"] = [name]
            return {"ckpt": name}
    return {}


def use_checkpoint(path: Path | str | None) -> None:
    if path is None:
        st.session_state.pop("checkpoint", None)
    else:
        st.session_state["checkpoint"] = str(path)


def checkpoint_selector(key: str, label: str = "Checkpoint") -> None:
    """A select box over the available checkpoints; choosing one switches the whole app to it."""
    choices = models.available_checkpoints()
    if not choices:
        st.info(
            "No checkpoint folder (with a config.json) was found in `checkpoints/` or in "
            "`$NVAE_CHECKPOINTS_DIR`. Train one (`python -m nvae train`) or set `NVAE_CHECKPOINT`."
        )
        return
    names = list(choices)
    active = models.active_checkpoint().resolve()
    index = next((i for i, n in enumerate(names) if choices[n].resolve() == active), None)
    choice = st.selectbox(label, names, index=index, key=key, placeholder="Choose a checkpoint")
    if choice is not None and choices[choice].resolve() != active:
        use_checkpoint(choices[choice])
        st.rerun()


def get_model():
    """(model, cache key) of the active checkpoint; on failure, an error, the checkpoints that do
    exist, and the page stops."""
    path = models.active_checkpoint()
    try:
        model = models.load_model(path)
    except CheckpointError as err:
        st.error(f"The model could not be loaded. {md_escape(err)}", icon=":material/error:")
        if path.resolve() == models.default_checkpoint().resolve():
            st.caption("The default checkpoint is `checkpoints/nvae-default` (or `$NVAE_CHECKPOINT`).")
        checkpoint_selector(key="fallback_ckpt", label="Use another checkpoint")
        st.stop()
    return model, models.checkpoint_key(path)


# -- page scaffolding ----------------------------------------------------------------------------


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
    if analysis.is_baseline(cfg):
        show_intro(
            baseline.format(kind=cfg.model_type.upper(), latent=analysis.latent_description(cfg.model_type, cfg.stride))
        )
    else:
        show_intro(nvae)


def show_notices(notices: list[str | None]) -> None:
    """Notices about the link's values (None entries, from clamps that changed nothing, are skipped)."""
    for notice in notices:
        if notice:
            st.warning(notice, icon=":material/link:")


def text_messages(check: analysis.TextCheck) -> bool:
    """Show a TextCheck's errors and notices; True when there is text to work with."""
    for e in check.errors:
        st.error(e, icon=":material/edit_off:")
    for n in check.notices:
        st.warning(n)
    return not check.errors


def token_messages(view, model, which: str = "The sentence") -> None:
    """Notices about truncation and unknown pieces of one encoded sentence: every page that encodes
    typed text shows them. `view` is an analysis.SentenceView or analysis.TokenInfo (n_inputs,
    n_unknown, truncated)."""
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


def show_text(label: str, text: str) -> None:
    """A piece of user or model text, shown verbatim (never interpreted as markdown or HTML)."""
    st.caption(label)
    st.code(text if text else " ", language=None, wrap_lines=True)


AD_LABEL = "α^Δ"


def alpha_delta_control(page: str, cfg, name: str = "ad", label: str = "α^Δ (conditional prior)") -> float:
    """The alpha^Delta select-slider: round, about log-spaced stops over the trained range
    (`analysis.alpha_stops`), plus the exact value a link or the docs gave when it lies inside the
    range, so `ad=0.3` stays 0.3. Disabled, with a one-line reason, for an NVAE trained at a fixed
    alpha^Delta; a baseline has no alpha^Delta and its pages do not call this."""
    key = state.wkey(page, name)
    current = st.session_state.get(key)
    stops = analysis.alpha_stops(cfg, [current])
    if isinstance(current, (int, float)) and not isinstance(current, bool) and current != float(f"{current:.6g}"):
        if float(f"{current:.6g}") in stops:
            st.session_state[key] = float(f"{current:.6g}")  # the stop as the slider labels it
    notice = state.clamp_choice(key, stops, analysis.nearest(cfg.alpha_delta, stops))
    if notice:
        st.warning(notice, icon=":material/link:")
    active = analysis.alpha_delta_active(cfg)
    value = st.select_slider(
        label,
        options=stops,
        key=key,
        disabled=not active,
        format_func=lambda v: f"{v:g}",
        persist_state="session",
        help="How much total weight the prior expects per input token: larger values keep more components.",
    )
    if not active:
        st.caption(
            f"Disabled: this model was trained at a fixed α^Δ = {cfg.alpha_delta:g}, "
            "so its latent does not depend on it."
        )
    return float(value)


def alpha_param(cfg, name: str = "ad", default: float | None = None, label: str = AD_LABEL) -> state.Param:
    """The shareable alpha^Delta setting, validated against the model's trained range
    (cfg.alpha_delta_min..alpha_delta_max). `label` names the control in notices."""
    return state.Param(
        name,
        "float",
        float(cfg.alpha_delta if default is None else default),
        lo=float(cfg.alpha_delta_min),
        hi=float(cfg.alpha_delta_max),
        label=label,
        range_name="this model's range",
    )


def latent_caption(cfg) -> str:
    """'VT baseline, whose latent is one Gaussian vector per token (nothing pruned)': a baseline in its
    own terms."""
    return (
        f"{cfg.model_type.upper()} baseline, whose latent is {analysis.latent_description(cfg.model_type, cfg.stride)}"
    )


# -- exports -------------------------------------------------------------------------------------


def download_table(rows: list[dict[str, Any]], stem: str, key: str, json_too: bool = True) -> None:
    """CSV (and JSON) download buttons for a table."""
    df = pd.DataFrame(rows)
    row = st.container(horizontal=True)
    row.download_button(
        "Download CSV",
        df.to_csv(index=False).encode(),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
    )
    if json_too:
        row.download_button(
            "Download JSON",
            json.dumps(rows, ensure_ascii=False, indent=1).encode(),
            file_name=f"{stem}.json",
            mime="application/json",
            key=f"{key}_json",
            on_click="ignore",
            icon=":material/download:",
        )


def plot(fig, stem: str, key: str, **kwargs):
    """st.plotly_chart plus a button that downloads the figure as standalone HTML (made on click)."""
    event = st.plotly_chart(fig, key=key, **kwargs)
    st.download_button(
        "Figure as HTML",
        data=lambda: figures.to_html(fig).encode(),
        file_name=f"{stem}.html",
        mime="text/html",
        key=f"{key}_html",
        on_click="ignore",
        icon=":material/download:",
    )
    return event


def table(rows: list[dict[str, Any]], **kwargs) -> None:
    """An interactive table (sortable, scrollable; cells show text verbatim)."""
    st.dataframe(pd.DataFrame(rows), hide_index=True, **kwargs)


def text_table(
    df: pd.DataFrame,
    highlight: list[bool] | None = None,
    columns: list[str] | None = None,
    formats: dict[str, str] | None = None,
) -> None:
    """A static table whose long text wraps. st.table renders markdown, so every text cell is
    escaped first (shown verbatim). `highlight` marks rows whose `columns` get a yellow background."""
    df = df.map(lambda v: md_escape(v) if isinstance(v, str) else v)
    styled = df.style.hide(axis="index").format(formats or {})
    if highlight is not None:
        styled = styled.apply(
            lambda col: ["background-color: #fff3bf" if h else "" for h in highlight],
            axis=0,
            subset=columns or list(df.columns),
        )
    st.table(styled)
