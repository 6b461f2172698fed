"""Interpolate, a batch of pairs: every pair of a TSV file decoded along tau, each strip and its
summary, the curves over all pairs, an animation of the strips, and downloads."""

from __future__ import annotations

import streamlit as st

from app import cache, figures, output, state
from app.views.interpolate.settings import EXAMPLES_FILE, GRIDS, MIXING_NAMES, PAGE, InterpolatePage, strip_settings
from app.views.interpolate.strip_table import FLUENCY, kind_shares, strip_table, unreproduced_notices
from nvae.evaluation.endpoints import HELP, INPUTS, LABELS, MATCH
from nvae.evaluation.step_kinds import step_kinds
from nvae.locations import examples_dir
from nvae.readout import pair_study, strip_steps


def download_json(obj, stem: str, key: str, label: str = "Download JSON") -> None:
    """A button that saves `obj` as STEM.json."""
    st.download_button(
        label,
        lambda: output.table_json(obj),
        file_name=f"{stem}.json",
        mime="application/json",
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def download_csv(rows: list[dict], stem: str, key: str, label: str = "Download CSV") -> None:
    """A button that saves `rows` as STEM.csv."""
    st.download_button(
        label,
        lambda: output.table_csv(rows),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def rounded(x: float | None) -> float | None:
    """`x` to one decimal, for a table (None stays None)."""
    return None if x is None else round(x, 1)


def batch_study(page: InterpolatePage) -> None:
    """The study of a file of pairs (the examples' pairs without one)."""
    model, key = page.model, page.key
    st.markdown(
        "Upload a **TSV file of sentence pairs** (one pair a line: sentence A, a tab, sentence B; an optional "
        f"header line `a⇥b`; up to {pair_study.MAX_PAIRS} pairs, {pair_study.MAX_BYTES // 1000} kB). Each pair "
        "is decoded along τ; you get each strip and its summary, the curves over all pairs, and downloads. "
        f"Without a file the study runs on `{EXAMPLES_FILE}`."
    )
    settings = strip_settings()
    steps, grid, taus, mixing = settings.steps, settings.grid, settings.taus, settings.mixing
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
    parsed = pair_study.parse_pairs(data)
    for e in parsed.errors:
        st.error(e, icon=":material/error:")
    for n in parsed.notices:
        st.warning(n, icon=":material/rule:")
    if parsed.errors:
        return
    records = []
    bar = st.progress(0.0, text=f"Interpolating {len(parsed.pairs)} pairs…")
    for k, (a, b) in enumerate(parsed.pairs):
        records.append(cache.study_pair(model, key, a, b, steps, grid, mixing))
        bar.progress((k + 1) / len(parsed.pairs), text=f"Interpolating pair {k + 1} of {len(parsed.pairs)}…")
    bar.empty()
    result = pair_study.finish(records, model.cfg, steps, grid, mixing=mixing)
    info = {**page.meta(), "input": source}
    inputs = [{"line": n, "a": a, "b": b} for n, (a, b) in zip(parsed.lines, parsed.pairs)]

    m = st.columns(5)
    m[0].metric("Pairs", result["pairs"])
    m[1].metric("Median distinct sentences", f"{result['median_distinct']:g}", help=f"of {len(taus)} steps")
    m[2].metric(
        "Median largest BLEU step",
        f"{result['median_largest_step']:.1f}",
        help="the largest change, between neighbouring steps, of sentence BLEU against the decoded A",
    )
    m[3].metric(LABELS[MATCH], f"{result[MATCH]:.0%}", help=HELP[MATCH])
    m[4].metric(LABELS[INPUTS], f"{result[INPUTS]:.0%}", help=HELP[INPUTS])
    ad = info["alpha_delta"]
    st.caption(
        f"Checkpoint **{output.md_escape(info['checkpoint'])}**"
        + (f", α^Δ = {ad:g}" if ad is not None else "")
        + f"; {steps} steps on a {GRIDS[grid]} τ grid, {MIXING_NAMES[mixing]} mixing; "
        f"input **{output.md_escape(source)}**. "
        "The link reopens this view on the examples; an uploaded file is not part of it."
    )
    strips = [[s["text"] for s in r["strip"]] for r in result["records"]]
    kind_shares(strips, "the pairs'")
    output.plot(figures.interpolation.study_curves(result), "interpolation-study-curves", key="study_curves")
    st.subheader("Each pair")
    missed = [i + 1 for i, r in enumerate(result["records"]) if r[INPUTS] < 1]
    if missed:
        st.warning(
            f"In {len(missed)} of the {result['pairs']} pairs an end is not reproduced (the model does "
            f"not decode that sentence as itself): pair{'s' if len(missed) > 1 else ''} "
            f"{', '.join(map(str, missed[:20]))}{' …' if len(missed) > 20 else ''}. Show a pair's strip below "
            "for what it decodes to.",
            icon=":material/sync_problem:",
        )
    lm, lm_key, _ = cache.fluency_lm()
    output.table(
        [
            {
                "pair": i + 1,
                "A": r["a"],
                "B": r["b"],
                "distinct": r["distinct"],
                "largest BLEU step": round(r["largest_step"], 1),
                LABELS[MATCH].lower(): r[MATCH],
                LABELS[INPUTS].lower(): f"{round(2 * r[INPUTS])} of 2",
                "new sentences": int(sum(r["new"])),
                **{strip_steps.NAMES[k][1]: c for k, c in step_kinds([texts])["counts"].items()},
                **({f"{FLUENCY}, middle": rounded(cache.middle_perplexity(lm, lm_key, (tuple(texts),)))} if lm else {}),
            }
            for i, (r, texts) in enumerate(zip(result["records"], strips))
        ],
        width="stretch",
    )
    row = st.container(horizontal=True)
    with row:
        download_csv(pair_study.pair_rows(result, info), "interpolation-study-pairs", "study_pairs_csv", "Pairs CSV")
        download_csv(pair_study.step_rows(result, info), "interpolation-study-steps", "study_steps_csv", "Steps CSV")
        download_csv(
            pair_study.curve_rows(result, info), "interpolation-study-curves", "study_curves_csv", "Curves CSV"
        )
        download_json(pair_study.study_json(result, info, inputs), "interpolation-study", "study_json", "All as JSON")

    @st.fragment
    def one_pair() -> None:
        n = len(result["records"])
        i = st.selectbox(
            "Show the strip of pair",
            list(range(n)),
            format_func=lambda i: f"{i + 1}. {result['records'][i]['a'][:60]} → {result['records'][i]['b'][:60]}",
            # keyed by the pairs studied: a keyed widget keeps its shown option across reruns, so after an
            # upload the same key would go on naming the examples' pair while the strip is the upload's
            key=f"{state.wkey(PAGE, 'pair')}.{cache.corpus_digest([a + chr(9) + b for a, b in parsed.pairs])[:12]}",
        )
        r = result["records"][i]
        ends = [r["strip"][0]["text"], r["strip"][-1]["text"]]
        unreproduced_notices(ends, [r["ref_a"], r["ref_b"]], [r["a"], r["b"]], ("A", "B"))
        strip_table(r["strip"])

    one_pair()
    st.subheader("The strips as an animation")
    caption = f"{info['checkpoint']}, {steps} steps, {GRIDS[grid]} grid, {MIXING_NAMES[mixing]} mixing, {source}"
    fig = cache.study_animation(key, tuple(parsed.pairs), steps, grid, mixing, caption, result)
    st.plotly_chart(fig, key="study_animation")
    st.download_button(
        "Strips as an HTML animation (for slides)",
        data=lambda: figures.style.to_html(fig).encode(),
        file_name="interpolation-strips.html",
        mime="text/html",
        key="study_animation_html",
        on_click="ignore",
        icon=":material/slideshow:",
    )
