"""Interpolate: decode mixtures along a path through two to five sentences' latents, or study a file
of sentence pairs."""

import json

import pandas as pd
import streamlit as st

from app import analysis, cache, chooser, figures, messages, output, path_figures, state
from nvae import map_stats, paths_study
from nvae.checkpoint_format import CheckpointError
from nvae.experiments import tau_grid
from nvae.paths import examples_dir

PAGE = "interpolate"
DEFAULT_A = "The film received positive reviews from critics."
DEFAULT_B = "He was born in a small village in the north of England."
EXTRA = ("c", "d", "e")  # the optional waypoints after B
GRIDS = {"linear": "linear", "logodds": "log-odds"}
MODES = {"path": "A path through sentences", "batch": "A batch of pairs (TSV file)"}
EXAMPLES_FILE = "examples/pairs.tsv"

INTRO_NVAE = """
An NVAE latent is a *set* of weighted components, so two sentences blend by **mixing their sets**:
F_τ = (1 − τ)·F_A + τ·F_B keeps every component of both and scales their weights. Move τ to decode
one mixture; the strip decodes every step at once and marks what changes from step to step, beside a
baseline's position-by-position interpolation when a baseline checkpoint exists. Add sentences C, D, E
for a path A → B → C …, press ▶ Play to step through it, or study a whole file of pairs.
"""
INTRO_BASELINE = """
This checkpoint is a **{kind} baseline**: its latent is {latent}, so two sentences blend **position by
position**: the vector at each position is (1 − τ)·(A's vector) + τ·(B's vector). Move τ to decode one
blend; the strip decodes every step at once and marks what changes from step to step. Add sentences
C, D, E for a path A → B → C …, press ▶ Play to step through it, or study a whole file of pairs.
"""

messages.header("Interpolate between sentences")
model, key = chooser.get_model()
baseline = analysis.is_baseline(model.cfg)
messages.model_intro(model.cfg, INTRO_NVAE, INTRO_BASELINE)
baselines = {} if baseline else chooser.baseline_checkpoints(exclude=chooser.active_checkpoint())
NONE = "(none)"  # the select box's "no baseline"; `baseline=none` in the link
LO, HI = paths_study.MIN_STEPS, paths_study.MAX_STEPS
PARAMS = [
    state.Param("a", "text", DEFAULT_A, max_chars=2000, label="sentence A"),
    state.Param("b", "text", DEFAULT_B, max_chars=2000, label="sentence B"),
    *(state.Param(x, "text", "", max_chars=2000, label=f"sentence {x.upper()}") for x in EXTRA),
    state.Param("tau", "float", 0.5, lo=0.0, hi=1.0, label="τ"),
    state.Param("t", "float", 0.5, lo=0.0, hi=float(paths_study.MAX_WAYPOINTS - 1), label="position on the path"),
    state.Param("steps", "int", paths_study.DEFAULT_STEPS, lo=LO, hi=HI, label="steps per segment"),
    state.Param("grid", "choice", "linear", choices=tuple(GRIDS), label="τ grid"),
    state.Param("mode", "choice", "path", choices=tuple(MODES), label="what to interpolate"),
    state.Param("map", "bool", False, label="path on the latent map"),
    *(
        [state.Param("baseline", "choice", next(iter(baselines)), choices=("none", *baselines), label="baseline")]
        if baselines
        else []
    ),
]
ss = st.session_state
messages.show_notices(state.restore(PAGE, PARAMS, to_widget={"baseline": lambda v: NONE if v == "none" else v}))
messages.show_notices([state.clamp_number(state.wkey(PAGE, "tau"), 0.0, 1.0, 0.5)])
if baselines:
    messages.show_notices([state.clamp_choice(state.wkey(PAGE, "baseline"), [NONE, *baselines], next(iter(baselines)))])


def value(name: str):
    return ss[state.wkey(PAGE, name)]


def settings(**now) -> dict:
    """The page's view as the link holds it (`now`: the values of controls drawn later)."""
    mode = value("mode")
    values = {"mode": mode, "steps": int(value("steps")), "grid": value("grid")}
    if mode == "path":
        values.update({"a": value("a"), "b": value("b")})
        for x in EXTRA:
            values[x] = value(x) if str(value(x)).strip() else None
        if any(values[x] for x in EXTRA):
            values["t"] = now.get("t", value("t"))
        else:
            values["tau"] = now.get("tau", value("tau"))
        values["map"] = bool(value("map"))
        if baselines:
            choice = value("baseline")
            values["baseline"] = "none" if choice == NONE else choice
    return values


def publish(**now) -> None:
    state.publish(PARAMS, settings(**now), chooser.checkpoint_extra())


def meta() -> dict:
    """What every export records: the checkpoint, its alpha^Delta and the tau grid."""
    return {
        "checkpoint": chooser.active_checkpoint().name,
        "model_type": model.cfg.model_type,
        "alpha_delta": paths_study.effective_alpha_delta(model.cfg),
        "steps": int(value("steps")),
        "grid": value("grid"),
    }


def download_json(obj, stem: str, key: str, label: str = "Download JSON") -> None:
    st.download_button(
        label,
        json.dumps(obj, ensure_ascii=False, indent=1).encode(),
        file_name=f"{stem}.json",
        mime="application/json",
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def download_csv(rows: list[dict], stem: str, key: str, label: str = "Download CSV") -> None:
    st.download_button(
        label,
        pd.DataFrame(rows).to_csv(index=False).encode(),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def strip_table(rows: list[dict], names: tuple[str, str] = ("A", "B")) -> None:
    """A strip as a wrapping table; rows that differ from the step before are highlighted."""
    a, b = names
    df = pd.DataFrame(
        [
            {
                "tau": r["tau"],
                "text": r["text"],
                "change": r["change"],
                f"BLEU vs {a}": r["bleu_a"],
                f"BLEU vs {b}": r["bleu_b"],
            }
            for r in rows
        ]
    )
    fine = any(abs(r["tau"] * 10 - round(r["tau"] * 10)) > 1e-9 for r in rows)  # a log-odds grid
    output.text_table(
        df,
        highlight=[r["changed"] for r in rows],
        columns=["text", "change"],
        formats={"tau": "{:.3g}" if fine else "{:.1f}", f"BLEU vs {a}": "{:.1f}", f"BLEU vs {b}": "{:.1f}"},
    )


mode = st.radio(
    "Interpolate", list(MODES), key=state.wkey(PAGE, "mode"), horizontal=True, format_func=MODES.get,
    persist_state="session", label_visibility="collapsed",
)  # fmt: skip


def steps_and_grid() -> tuple[int, str, list[float]]:
    """The strip's settings: steps per segment and the tau grid (both in the link)."""
    c1, c2, _ = st.columns([1, 2, 2])
    steps = c1.number_input(
        "Steps per segment", LO, HI, step=1, key=state.wkey(PAGE, "steps"), persist_state="session",
        help="How many values of τ each segment is decoded at, both ends included.",
    )  # fmt: skip
    grid = c2.radio(
        "τ grid", list(GRIDS), key=state.wkey(PAGE, "grid"), horizontal=True, format_func=GRIDS.get,
        persist_state="session",
        help="linear: τ evenly spaced. log-odds: evenly spaced in log(τ / (1 − τ)), so more steps lie near "
        "τ = 0 and τ = 1, where the decoded text changes most.",
    )  # fmt: skip
    return int(steps), grid, tau_grid(int(steps), grid)


# -- a batch of pairs ----------------------------------------------------------------------------


def batch_study() -> None:
    st.markdown(
        "Upload a **TSV file of sentence pairs** (one pair a line: sentence A, a tab, sentence B; an optional "
        f"header line `a⇥b`; up to {paths_study.MAX_PAIRS} pairs, {paths_study.MAX_BYTES // 1000} kB). Each pair "
        "is decoded along τ; you get each strip and its summary, the curves over all pairs, and downloads. "
        f"Without a file the study runs on `{EXAMPLES_FILE}`."
    )
    steps, grid, taus = steps_and_grid()
    publish()
    uploaded = st.file_uploader("Pairs (TSV)", type=["tsv", "txt"], key=state.wkey(PAGE, "upload"))
    if uploaded is None:
        try:
            data, source = (examples_dir() / "pairs.tsv").read_bytes(), EXAMPLES_FILE
        except OSError:
            st.info(f"Upload a file: `{EXAMPLES_FILE}` is not there.")
            return
        st.caption(f"No file uploaded: studying the pairs of `{EXAMPLES_FILE}`.")
    else:
        data, source = uploaded.getvalue(), uploaded.name
    parsed = paths_study.parse_pairs(data)
    for e in parsed.errors:
        st.error(e, icon=":material/error:")
    for n in parsed.notices:
        st.warning(n, icon=":material/rule:")
    if parsed.errors:
        return
    records = []
    bar = st.progress(0.0, text=f"Interpolating {len(parsed.pairs)} pairs…")
    for k, (a, b) in enumerate(parsed.pairs):
        records.append(cache.study_pair(model, key, a, b, steps, grid))
        bar.progress((k + 1) / len(parsed.pairs), text=f"Interpolating pair {k + 1} of {len(parsed.pairs)}…")
    bar.empty()
    result = paths_study.finish(records, model.cfg, steps, grid)
    info = {**meta(), "input": source}
    inputs = [{"line": n, "a": a, "b": b} for n, (a, b) in zip(parsed.lines, parsed.pairs)]

    m = st.columns(4)
    m[0].metric("Pairs", result["pairs"])
    m[1].metric("Median distinct sentences", f"{result['median_distinct']:g}", help=f"of {len(taus)} steps")
    m[2].metric(
        "Median largest BLEU step",
        f"{result['median_largest_step']:.1f}",
        help="the largest change, between neighbouring steps, of sentence BLEU against the decoded A",
    )
    m[3].metric("Endpoints exact", f"{result['endpoints_exact']:.0%}", help="τ = 0 and 1 decode like A and B alone")
    ad = info["alpha_delta"]
    st.caption(
        f"Checkpoint **{output.md_escape(info['checkpoint'])}**"
        + (f", α^Δ = {ad:g}" if ad is not None else "")
        + f"; {steps} steps on a {GRIDS[grid]} τ grid; input **{output.md_escape(source)}**. "
        "The link reopens this view on the examples; an uploaded file is not part of it."
    )
    output.plot(path_figures.study_curves(result), "interpolation-study-curves", key="study_curves")
    st.subheader("Each pair")
    output.table(
        [
            {
                "pair": i + 1,
                "A": r["a"],
                "B": r["b"],
                "distinct": r["distinct"],
                "largest BLEU step": round(r["largest_step"], 1),
                "endpoints exact": r["endpoints_exact"],
                "new sentences": int(sum(r["new"])),
            }
            for i, r in enumerate(result["records"])
        ],
        width="stretch",
    )
    row = st.container(horizontal=True)
    with row:
        download_csv(paths_study.pair_rows(result, info), "interpolation-study-pairs", "study_pairs_csv", "Pairs CSV")
        download_csv(paths_study.step_rows(result, info), "interpolation-study-steps", "study_steps_csv", "Steps CSV")
        download_csv(
            paths_study.curve_rows(result, info), "interpolation-study-curves", "study_curves_csv", "Curves CSV"
        )
        download_json(paths_study.study_json(result, info, inputs), "interpolation-study", "study_json", "All as JSON")

    @st.fragment
    def one_pair() -> None:
        n = len(result["records"])
        i = st.selectbox(
            "Show the strip of pair",
            list(range(n)),
            format_func=lambda i: f"{i + 1}. {result['records'][i]['a'][:60]} → {result['records'][i]['b'][:60]}",
            key=state.wkey(PAGE, "pair"),
        )
        strip_table(result["records"][i]["strip"])

    one_pair()
    st.subheader("The strips as an animation")
    caption = f"{info['checkpoint']}, {steps} steps, {GRIDS[grid]} grid, {source}"
    fig = cache.study_animation(key, tuple(parsed.pairs), steps, grid, caption, result)
    st.plotly_chart(fig, key="study_animation")
    st.download_button(
        "Strips as an HTML animation (for slides)",
        data=lambda: figures.to_html(fig).encode(),
        file_name="interpolation-strips.html",
        mime="text/html",
        key="study_animation_html",
        on_click="ignore",
        icon=":material/slideshow:",
    )


if mode == "batch":
    batch_study()
    st.stop()


# -- a path through two to five sentences --------------------------------------------------------


def use_example() -> None:
    """The example pair chosen: it becomes sentences A and B (a path's C, D, E are cleared)."""
    i = ss.get(state.wkey(PAGE, "example"))
    pairs = cache.example_pairs()
    if i is not None and 0 <= i < len(pairs):
        ss[state.wkey(PAGE, "a")], ss[state.wkey(PAGE, "b")] = pairs[i]
        for x in EXTRA:
            ss[state.wkey(PAGE, x)] = ""
    ss[state.wkey(PAGE, "example")] = None


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
steps, grid, taus = steps_and_grid()

raws = [value("a"), value("b"), *(value(x) for x in EXTRA if str(value(x)).strip())]
checks = [analysis.check_text(r, one_per_line=False) for r in raws]
ok = [messages.text_messages(c) for c in checks]
if not all(ok):
    publish()
    st.stop()
texts = tuple(c.texts[0] for c in checks)
labels = paths_study.path_labels(len(texts))
infos = cache.token_info(model, key, texts)
for name, info in zip(labels, infos):
    messages.token_messages(info, model, f"Sentence {name}")
default_grid = steps == paths_study.DEFAULT_STEPS and grid == "linear"
strip_taus = None if default_grid else tuple(taus)

baseline_name, baseline_choice = None, None
if baselines:
    choice = st.selectbox(
        "Compare with the baseline",
        [NONE, *baselines],
        key=state.wkey(PAGE, "baseline"),
        persist_state="session",
    )
    if choice in baselines:
        baseline_choice = choice


def baseline_result(compute):
    """The baseline's strip or path (None when there is none, or with a warning when it fails)."""
    global baseline_name
    if baseline_choice is None:
        return None
    try:
        out = compute(baselines[baseline_choice])
        baseline_name = baseline_choice
        return out
    except CheckpointError as err:
        st.warning(f"The baseline could not be loaded. {output.md_escape(err)}")
        return None


mixing = (
    f"{model.cfg.model_type.upper()}: position-wise interpolation"
    if baseline
    else f"{model.cfg.model_type.upper()}: mixture of the two sets"
)

if len(texts) == 2:
    text_a, text_b = texts
    strip = cache.interpolation_strip(model, key, text_a, text_b, strip_taus)
    baseline_strip = baseline_result(lambda p: cache.interpolation_strip_of(p, text_a, text_b, strip_taus))
    path_rows = paths_study.strip_as_path(strip)

    @st.fragment
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
        publish(tau=tau)
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

    st.subheader(f"The strip: {len(strip)} steps decoded at once")
    st.caption(
        "Highlighted rows differ from the step before; the `change` column lists the words removed (-) and added (+)."
    )
    cols = st.columns(2) if baseline_strip else [st.container()]
    with cols[0]:
        st.caption(mixing)
        strip_table(strip)
        output.download_table(
            [{**meta(), "a": text_a, "b": text_b, **r} for r in strip], "interpolation-strip", key="strip"
        )
    if baseline_strip:
        with cols[1]:
            st.caption(f"{output.md_escape(baseline_name)}: position-wise interpolation")
            strip_table(baseline_strip)
            output.download_table(
                [{**meta(), "checkpoint": baseline_name, "a": text_a, "b": text_b, **r} for r in baseline_strip],
                f"interpolation-strip-{baseline_name}",
                key="strip_baseline",
            )
else:
    path = cache.path_strip(model, key, texts, steps, grid)
    baseline_path = baseline_result(lambda p: cache.path_strip_of(p, texts, steps, grid))
    path_rows = path["path"]
    n = len(texts)
    messages.show_notices([state.clamp_number(state.wkey(PAGE, "t"), 0.0, float(n - 1), 0.5)])

    @st.fragment
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
        publish(t=t)
        segment, tau = paths_study.segment_at(t, n)
        mixed = cache.mix_at(model, key, texts[segment], texts[segment + 1], tau)
        bleus = paths_study.bleu_against(mixed["text"], path["waypoints"])
        output.show_text(f"Decoded at {t:.2f}: {labels[segment]} → {labels[segment + 1]}, τ = {tau:.2f}", mixed["text"])
        ms = st.columns(max(n, 4))
        for col, name, bleu, info in zip(ms, labels, bleus, infos):
            messages.bleu_metric(col, f"BLEU vs {name}", bleu, info)
        for name, info in zip(labels, infos):
            messages.bleu_warning(info, f"sentence {name}")
        left, right = st.columns([2, 3])
        with left:
            output.plot(
                path_figures.path_bleu(
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
                path_figures.path_mixture_weights(
                    paths_study.relabel_origins(mixed["components"], segment),
                    f"Mixed latent at {t:.2f} ({labels[segment]} → {labels[segment + 1]}, τ = {tau:.2f})",
                ),
                "mixed-latent",
                key="mix_bars",
            )

    at_position()

    st.subheader(f"The strips: {n - 1} segments, {len(taus)} steps each")
    st.caption(
        "Highlighted rows differ from the step before; the `change` column lists the words removed (-) and added (+)."
    )
    tabs = st.tabs([f"{labels[i]} → {labels[i + 1]}" for i in range(n - 1)])
    for i, tab in enumerate(tabs):
        with tab:
            cols = st.columns(2) if baseline_path else [st.container()]
            with cols[0]:
                st.caption(mixing)
                strip_table(path["segments"][i], (labels[i], labels[i + 1]))
            if baseline_path:
                with cols[1]:
                    st.caption(f"{output.md_escape(baseline_name)}: position-wise interpolation")
                    strip_table(baseline_path["segments"][i], (labels[i], labels[i + 1]))
    export = [
        {**meta(), **{f"sentence_{x}": s for x, s in zip(labels, texts)}, **paths_study.path_row_export(r, labels)}
        for r in path_rows
    ]
    output.download_table(export, "interpolation-path", key="path")


st.subheader("Play the path")
st.caption(
    "▶ Play steps τ through the whole path in your browser (no rerun); the slider under the figure picks a step. "
    "The decoded sentence turns red where it changed from the step before. *Figure as HTML* saves it for slides."
)
output.plot(cache.path_player(key, texts, steps, grid, path_rows, tuple(labels)), "interpolation-player", key="player")


@st.fragment
def on_the_map() -> None:
    """The path's mixtures placed on the latent map (opt-in: without a shipped map its first fit takes a minute)."""
    show = st.toggle(
        "Draw the path on the latent map",
        key=state.wkey(PAGE, "map"),
        persist_state="session",
        help="The components each step's mixture holds, placed on the Latent map's layout by their nearest "
        "corpus means, and the weighted centre of each step joined into a line.",
    )
    publish()
    if not show:
        return
    n_map = cache.map_sentences()
    with st.spinner(f"Building the latent map of {n_map} sentences (once per checkpoint; this can take a minute)…"):
        measures = cache.map_measures(model, key, n_map)
        projection = measures["default"]
        fig = cache.path_map_figure(model, key, n_map, projection, texts, steps, grid, path_rows, tuple(labels))
    layout = measures["layouts"][projection]
    r2 = map_stats.show_r2
    where = (
        f"The Latent map's {'position-removed ' if projection == 'residual' else ''}layout (the one it opens on), "
        f"whose axes encode {map_stats.axes_encode(layout)} (position R² = {r2(layout['position'])}, token R² = "
        f"{r2(layout['token'])}). "
    )
    st.caption(
        where
        + (
            "A position-wise blend makes new vectors at every step, each placed on the map; ▶ Play steps through them."
            if baseline
            else "A mixture of sets holds its sentences' own components, so they stay in place and only their weights "
            "change; ▶ Play resizes them step by step and moves the weighted centre."
        )
    )
    output.plot(fig, "interpolation-map", key="path_map")


on_the_map()
