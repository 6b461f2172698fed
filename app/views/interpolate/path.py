"""Interpolate, a path: the sentences A, B (and C, D, E), then the mixture at one tau or one position
with its BLEU and components, and the strips of every segment, beside a baseline's when one is
chosen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from app import cache, figures, inputs, messages, output, state
from app.page import link_fragment
from app.views.interpolate.settings import (
    EXAMPLES_FILE,
    EXTRA,
    NONE,
    PAGE,
    InterpolatePage,
    StripSettings,
    strip_settings,
    value,
)
from app.views.interpolate.strip_table import kind_shares, strip_table, unreproduced_notices
from nvae.readout import sentence_paths
from nvae.store.format import CheckpointError

CHANGES = (
    "Highlighted rows differ from the step before; the `change` column lists the words removed (-) and added (+); "
    "the `kind` column names what each step is made of, compared with the strip's two ends."
)
# a baseline's strip, by mixing
POSITION_WISE = {
    "sweep": "position-wise interpolation, swept from the first position",
    "uniform": "position-wise interpolation, every position blended by τ",
}
# the NVAE's strip, by mixing
SET_MIXING = {
    "sweep": "mixture of the two sets, swept from the first token",
    "uniform": "mixture of the two sets, (1 − τ)·F_A + τ·F_B",
}


@dataclass(frozen=True)
class DecodedPath:
    """The path the page shows: its sentences and their letters, its rows (one a step), and the
    strip's settings."""

    texts: tuple[str, ...]
    labels: list[str]
    rows: list[dict]
    steps: int
    grid: str
    mixing: str


def use_example() -> None:
    """The example pair chosen: it becomes sentences A and B (a path's C, D, E are cleared)."""
    ss = st.session_state
    i = ss.get(state.wkey(PAGE, "example"))
    pairs = cache.example_pairs()
    if i is not None and 0 <= i < len(pairs):
        ss[state.wkey(PAGE, "a")], ss[state.wkey(PAGE, "b")] = pairs[i]
        for x in EXTRA:
            ss[state.wkey(PAGE, x)] = ""
    ss[state.wkey(PAGE, "example")] = None


def sentence_inputs() -> None:
    """The menu of example pairs and the boxes for sentences A, B and the optional C, D, E."""
    examples = cache.example_pairs()
    if examples:
        st.selectbox(
            f"Example pairs ({EXAMPLES_FILE})",
            list(range(len(examples))),
            index=None,
            placeholder="Choose an example pair to fill in A and B…",
            format_func=lambda i: f"{examples[i][0]}  →  {examples[i][1]}",
            key=state.wkey(PAGE, "example"),
            on_change=use_example,
        )
    with st.form("sentences", border=False):
        c1, c2 = st.columns(2)
        c1.text_input("Sentence A", key=state.wkey(PAGE, "a"), persist_state="session")
        c2.text_input("Sentence B", key=state.wkey(PAGE, "b"), persist_state="session")
        filled = sum(bool(str(value(x)).strip()) for x in EXTRA)
        with st.expander(
            "More sentences: a path A → B → C … (up to five)" + (f" · {filled} added" if filled else ""),
            expanded=filled > 0,
        ):
            cols = st.columns(len(EXTRA))
            for col, x in zip(cols, EXTRA):
                col.text_input(f"Sentence {x.upper()} (optional)", key=state.wkey(PAGE, x), persist_state="session")
        st.form_submit_button("Interpolate", icon=":material/swap_horiz:")


def checked_texts(page: InterpolatePage) -> tuple[str, ...]:
    """The sentences typed, checked: when one cannot be used the page says why and stops."""
    raws = [value("a"), value("b"), *(value(x) for x in EXTRA if str(value(x)).strip())]
    checks = [inputs.check_text(r, one_per_line=False) for r in raws]
    ok = [messages.text_messages(c) for c in checks]
    if not all(ok):
        page.scaffold.stop()
    return tuple(c.texts[0] for c in checks)


def chosen_baseline(page: InterpolatePage) -> str | None:
    """The baseline checkpoint to compare with, from its select box (None: none chosen or none there)."""
    if not page.baselines:
        return None
    choice = st.selectbox(
        "Compare with the baseline",
        [NONE, *page.baselines],
        key=state.wkey(PAGE, "baseline"),
        persist_state="session",
    )
    return choice if choice in page.baselines else None


def baseline_result(
    page: InterpolatePage, choice: str | None, compute: Callable[[Path], Any]
) -> tuple[Any, str | None]:
    """(the baseline's strip or path, its name); (None, None) when there is none, or with a warning
    when it fails to load."""
    if choice is None:
        return None, None
    try:
        return compute(page.baselines[choice]), choice
    except CheckpointError as err:
        st.warning(f"The baseline could not be loaded. {output.md_escape(err)}")
        return None, None


def mixing_caption(page: InterpolatePage, mixing: str) -> str:
    """The caption over the model's strip: how its latents blend."""
    kind = page.model.cfg.model_type.upper()
    return f"{kind}: {(POSITION_WISE if page.is_baseline else SET_MIXING)[mixing]}"


def path_view(page: InterpolatePage) -> DecodedPath:
    """The sentences, then two sentences' strip or a path through three to five; the path decoded."""
    sentence_inputs()
    settings = strip_settings()
    texts = checked_texts(page)
    labels = sentence_paths.path_labels(len(texts))
    infos = cache.token_info(page.model, page.key, texts)
    for name, info in zip(labels, infos):
        messages.token_messages(info, page.model, f"Sentence {name}")
    choice = chosen_baseline(page)
    if len(texts) == 2:
        rows = two_sentences(page, texts, infos, settings, choice)
    else:
        rows = through_sentences(page, texts, labels, infos, settings, choice)
    return DecodedPath(texts, labels, rows, settings.steps, settings.grid, settings.mixing)


def two_sentences(page: InterpolatePage, texts, infos, settings: StripSettings, choice: str | None) -> list[dict]:
    """The tau slider and the mixture there, then the strip (a baseline's beside it); its rows as a path."""
    model, key, mixing = page.model, page.key, settings.mixing
    text_a, text_b = texts
    default_grid = settings.steps == sentence_paths.DEFAULT_STEPS and settings.grid == "linear"
    strip_taus = None if default_grid else tuple(settings.taus)
    strip = cache.interpolation_strip(model, key, text_a, text_b, strip_taus, mixing)
    baseline_strip, baseline_name = baseline_result(
        page, choice, lambda p: cache.interpolation_strip_of(p, text_a, text_b, strip_taus, mixing)
    )

    @link_fragment
    def at_tau() -> None:
        """The tau slider and what depends on it alone: reruns without the rest of the page."""
        tau = st.slider(
            "τ (0 = sentence A, 1 = sentence B)",
            0.0,
            1.0,
            step=0.05,
            key=state.wkey(PAGE, "tau"),
            persist_state="session",
        )
        mixed = cache.mix_at(model, key, text_a, text_b, tau, mixing)
        left, right = st.columns([2, 3])
        with left:
            output.show_text(f"Decoded at τ = {tau:.2f}", mixed["text"])
            m1, m2 = st.columns(2)
            messages.bleu_metric(m1, "BLEU vs A", mixed["bleu_a"], infos[0])
            messages.bleu_metric(m2, "BLEU vs B", mixed["bleu_b"], infos[1])
            for name, info in zip("AB", infos):
                messages.bleu_warning(info, f"sentence {name}")
            output.plot(
                figures.interpolation.interpolation_bleu(strip, tau, baseline_strip, baseline_name or "baseline"),
                "interpolation-bleu",
                key="bleu_curve",
            )
        with right:
            output.plot(figures.interpolation.mixture_weights(mixed["components"], tau), "mixed-latent", key="mix_bars")

    at_tau()

    st.subheader(f"The strip: {len(strip)} steps decoded at once")
    st.caption(CHANGES)
    pair = cache.encode_pair(model, key, text_a, text_b)
    unreproduced_notices([strip[0]["text"], strip[-1]["text"]], [pair.ref_a, pair.ref_b], texts, ("A", "B"))
    cols = st.columns(2) if baseline_strip else [st.container()]
    with cols[0]:
        st.caption(mixing_caption(page, mixing))
        strip_table(strip)
        kind_shares([[r["text"] for r in strip]], "the strip's", line=False)
        output.download_table(
            [{**page.meta(), "a": text_a, "b": text_b, **r} for r in strip], "interpolation-strip", key="strip"
        )
    if baseline_strip:
        with cols[1]:
            st.caption(f"{output.md_escape(baseline_name)}: {POSITION_WISE[mixing]}")
            strip_table(baseline_strip)
            output.download_table(
                [{**page.meta(), "checkpoint": baseline_name, "a": text_a, "b": text_b, **r} for r in baseline_strip],
                f"interpolation-strip-{baseline_name}",
                key="strip_baseline",
            )
    return sentence_paths.strip_as_path(strip)


def through_sentences(
    page: InterpolatePage, texts, labels, infos, settings: StripSettings, choice: str | None
) -> list[dict]:
    """The position slider and the mixture there, then the strip of every segment (a baseline's
    beside each); the path's rows."""
    model, key = page.model, page.key
    steps, grid, mixing = settings.steps, settings.grid, settings.mixing
    path = cache.path_strip(model, key, texts, steps, grid, mixing)
    baseline_path, baseline_name = baseline_result(
        page, choice, lambda p: cache.path_strip_of(p, texts, steps, grid, mixing)
    )
    path_rows = path["path"]
    n = len(texts)
    messages.show_notices([state.clamp_number(state.wkey(PAGE, "t"), 0.0, float(n - 1), 0.5)])

    @link_fragment
    def at_position() -> None:
        """The position slider and what depends on it alone: reruns without the rest of the page."""
        t = st.slider(
            f"Position on the path (0 = A, 1 = B, … {n - 1} = {labels[-1]})",
            0.0,
            float(n - 1),
            step=0.05,
            key=state.wkey(PAGE, "t"),
            persist_state="session",
        )
        segment, tau = sentence_paths.segment_at(t, n)
        mixed = cache.mix_at(model, key, texts[segment], texts[segment + 1], tau, mixing)
        bleus = sentence_paths.bleu_against(mixed["text"], path["waypoints"])
        output.show_text(f"Decoded at {t:.2f}: {labels[segment]} → {labels[segment + 1]}, τ = {tau:.2f}", mixed["text"])
        ms = st.columns(max(n, 4))
        for col, name, bleu, info in zip(ms, labels, bleus, infos):
            messages.bleu_metric(col, f"BLEU vs {name}", bleu, info)
        for name, info in zip(labels, infos):
            messages.bleu_warning(info, f"sentence {name}")
        left, right = st.columns([2, 3])
        with left:
            output.plot(
                figures.interpolation.path_bleu(
                    path_rows,
                    labels,
                    t,
                    baseline_path["path"] if baseline_path else None,
                    baseline_name or "baseline",
                    model.cfg.model_type.upper(),
                ),
                "path-bleu",
                key="path_bleu",
            )
        with right:
            output.plot(
                figures.interpolation.path_mixture_weights(
                    sentence_paths.relabel_origins(mixed["components"], segment),
                    f"Mixed latent at {t:.2f} ({labels[segment]} → {labels[segment + 1]}, τ = {tau:.2f})",
                ),
                "mixed-latent",
                key="mix_bars",
            )

    at_position()

    st.subheader(f"The strips: {n - 1} segments, {len(settings.taus)} steps each")
    st.caption(CHANGES)
    segments = path["segments"]
    ends = [s[0]["text"] for s in segments] + [segments[-1][-1]["text"]]
    unreproduced_notices(ends, path["waypoints"], texts, labels)
    tabs = st.tabs([f"{labels[i]} → {labels[i + 1]}" for i in range(n - 1)])
    for i, tab in enumerate(tabs):
        with tab:
            cols = st.columns(2) if baseline_path else [st.container()]
            with cols[0]:
                st.caption(mixing_caption(page, mixing))
                strip_table(path["segments"][i], (labels[i], labels[i + 1]))
            if baseline_path:
                with cols[1]:
                    st.caption(f"{output.md_escape(baseline_name)}: {POSITION_WISE[mixing]}")
                    strip_table(baseline_path["segments"][i], (labels[i], labels[i + 1]))
    kind_shares([[r["text"] for r in s] for s in segments], "the path's")
    export = [
        {
            **page.meta(),
            **{f"sentence_{x}": s for x, s in zip(labels, texts)},
            **sentence_paths.path_row_export(r, labels),
        }
        for r in path_rows
    ]
    output.download_table(export, "interpolation-path", key="path")
    return path_rows
