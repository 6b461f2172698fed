"""Corpus study: which components an NVAE keeps over many sentences (`nvae study FILE` in the app)."""

import json
import shlex

import streamlit as st

from app import cache, chooser, controls, figures, inputs, latents, messages, output, state
from app.page import page_scaffold
from nvae.readout import corpus_study, sentence

PAGE = "corpus-study"
SOURCES = {"test": "A sample of the test split", "paste": "Paste sentences", "file": "Upload a file"}
LINK_SENTENCES, LINK_CHARS = 20, 4000  # pasted text the link holds (beyond it, the link says so)

INTRO_NVAE = """
The other pages look at one sentence; this one looks at **many at once**, as `nvae study FILE`
does. For a corpus (a sample of the WikiText-2 test split, sentences you paste, or a text file) it
shows how many components survive against sentence length, **which tokens get pruned** (by kind of
token, by how common the word is, word by word) and how retained proportion and BLEU move over α^Δ;
for a checkpoint whose kept components stand for segments, how long the segments are.
"""
INTRO_BASELINE = """
This page studies how an NVAE prunes its latent over a whole corpus. This checkpoint is a **{kind}
baseline**, whose latent is {latent}: how many vectors a sentence gets is fixed by its length, so
no token is ever pruned and there is nothing to study.
"""
CLASS_NOTE = (
    "Token classes: function words are a fixed list of about 120 (the, of, was, …); a subword piece "
    "continues a word (##…); [UNK] is a piece outside the vocabulary; the first position is counted "
    "again on its own, whatever its class."
)

page = page_scaffold(PAGE, "Corpus study", intros=(INTRO_NVAE, INTRO_BASELINE), kept_set=True)
model, key, cfg = page.model, page.key, page.cfg
baseline = latents.is_baseline(cfg)
examples = cache.example_sentences()
PARAMS = [
    state.Param("src", "choice", "test", choices=tuple(SOURCES), label="sentences from"),
    state.Param("n", "int", 100, lo=10, hi=inputs.MAX_STUDY_SENTENCES, label="Sentences"),
    state.Param("seed", "int", 0, lo=0, hi=2**31 - 1, label="Seed"),
    state.Param(
        "s",
        "texts",
        examples or ["The cat sat on the mat."],
        max_chars=2000,
        max_items=LINK_SENTENCES,
        label="sentences",
    ),
    *([] if baseline else [controls.alpha_param(cfg)]),
]
page.restore(PARAMS)  # the link: the settings as their controls hold them (a baseline's), or `values` below


def setting(name: str):
    return st.session_state[state.wkey(PAGE, name)]


if baseline:  # the link still keeps the settings and the checkpoint
    st.info(
        f"This checkpoint is a {messages.latent_caption(cfg)}. Choose an NVAE checkpoint on the Model page "
        "to study its pruning."
    )
    page.stop()

left, right = st.columns([3, 2])
with left:
    source = st.radio(
        "Sentences from",
        list(SOURCES),
        format_func=SOURCES.get,
        horizontal=True,
        key=state.wkey(PAGE, "src"),
        persist_state="session",
    )
with right:
    ad = controls.alpha_delta_control(PAGE, cfg)

values = {"src": source, "n": setting("n"), "seed": setting("seed"), "ad": ad}
page.link(values)  # filled in below: pasted sentences only when the link can hold them, never a file
link_note = None
if source == "test":
    pool = cache.test_split()
    c1, c2 = st.columns(2)
    n = c1.number_input(
        "Sentences",
        10,
        inputs.MAX_STUDY_SENTENCES,
        step=10,
        key=state.wkey(PAGE, "n"),
        persist_state="session",
        help=f"How many sentences to draw from the WikiText-2 test split ({len(pool):,} sentences).",
    )
    seed = c2.number_input(
        "Seed", 0, 2**31 - 1, key=state.wkey(PAGE, "seed"), persist_state="session", help="Which sample is drawn."
    )
    values.update(n=int(n), seed=int(seed))
    data = corpus_study.draw(list(pool), int(n), int(seed))
    check = inputs.check_corpus(data, "The sample")
    described = f"{len(check.texts)} sentences of the WikiText-2 test split drawn with seed {int(seed)}"
elif source == "paste":
    raw = st.text_area(
        "Sentences, one per line",
        key=state.wkey(PAGE, "s"),
        height=180,
        max_chars=inputs.MAX_STUDY_BYTES // 5,
        persist_state="session",
    )
    controls.examples_menu(state.wkey(PAGE, "s"), "corpus-study.example", all_of_them=len(examples))
    lines = state.lines_to_texts(raw)
    if len(lines) <= LINK_SENTENCES and len(raw) <= LINK_CHARS:
        values["s"] = lines
    else:
        link_note = f"The link does not hold these sentences (it keeps up to {LINK_SENTENCES} short ones)."
    check = inputs.check_corpus(raw, "The pasted text")
    described = f"{len(check.texts)} pasted sentences"
else:
    upload = st.file_uploader(
        "A text file, one sentence per line (UTF-8, up to 1 MB)",
        key=state.wkey(PAGE, "file"),
        max_upload_size=1,
        help=f"The page studies the first {inputs.MAX_STUDY_SENTENCES:,} non-blank lines.",
    )
    link_note = "The link does not hold an uploaded file: whoever opens it uploads the file again."
    if upload is None:
        st.info("Upload a text file (one sentence per line) to study it.", icon=":material/upload_file:")
        page.stop()
    check = inputs.check_corpus(upload.getvalue(), "The file")
    described = f"{len(check.texts)} sentences of the file {upload.name}"
if link_note:
    st.caption(link_note)
if not messages.text_messages(check):
    page.stop()

texts = tuple(check.texts)
ad_arg = sentence.alpha_delta_arg(cfg, ad)


def run_with_progress(label: str, unit: str, work):
    """Run `work(progress)` with a progress bar that appears only while it computes (not on a hit)."""
    slot = st.empty()

    def progress(done: int, total: int) -> None:
        slot.progress(min(done / total, 1.0) if total else 1.0, text=f"{label}: {done:,} of {total:,} {unit}")

    try:
        return work(progress)
    finally:
        slot.empty()


try:
    tables = run_with_progress(
        "Encoding the corpus", "sentences", lambda p: cache.study_tables(model, key, texts, ad_arg, progress=p)
    )
except ValueError:  # every line lost all its tokens to the tokenizer's normalisation
    st.error(
        "Nothing to study: no line has a token left after the tokenizer's normalisation (it drops accents "
        "and control characters).",
        icon=":material/edit_off:",
    )
    page.stop()

digest = cache.corpus_digest(texts)
path = chooser.active_checkpoint()
meta = {
    "checkpoint": path.name,
    "checkpoint_fingerprint": getattr(model, "loaded_fingerprint", "")[:16],
    "alpha_delta": tables["alpha_delta"],
    "corpus": described,
    "sentences": tables["sentences"],
    "corpus_sha256": digest,
}
note = (
    f"NVAE explorer, corpus study. Checkpoint {path.name}, alpha^Delta {tables['alpha_delta']:g}.\n"
    f"Corpus: {described} (sha256 {digest[:16]}…)."
)
points = tables["retained_vs_length"]
total_tokens = sum(p["tokens"] for p in points)
total_kept = sum(p["retained"] for p in points)
by_class = {r["class"]: r for r in tables["by_class"]}

m = st.columns(4)
m[0].metric("Sentences", f"{tables['sentences']:,}", help="non-blank lines with at least one token")
m[1].metric("Input tokens", f"{total_tokens:,}", help="[EOS] included, one per sentence")
m[2].metric("Retained components", f"{total_kept:,}", help="token components kept (the prior not counted)")
m[3].metric(
    "Mean retained proportion ν",
    f"{tables['mean_retained_proportion']:.3f}",
    help="the mean over sentences of retained components / input tokens",
)
agreement = tables.get("content_agreement")
if agreement and agreement["kept"]:
    by_prior = agreement["kept"] - agreement["also_by_content"]
    st.info(
        f"Who chose them: of the {agreement['kept']:,} kept components, {agreement['also_by_content']:,} "
        f"({agreement['share']:.0%}) would also be kept by the content score alone (positional prior 0); the "
        f"other {by_prior:,} are the positional prior's choice (strength {agreement['spread_bias']:g}).",
        icon=":material/rule:",
    )
skipped = len(texts) - tables["sentences"]
if skipped:
    st.warning(
        f"{skipped} line(s) had no token left after the tokenizer's normalisation (it drops accents and "
        "control characters) and were left out."
    )
if tables["truncated"]:
    st.warning(
        f"{tables['truncated']} sentence(s) are longer than the model's limit of {cfg.max_len - 1} tokens: "
        f"only their first {cfg.max_len - 1} tokens were encoded.",
        icon=":material/content_cut:",
    )
empty = sum(1 for p in points if p["retained"] == 0)
if empty and latents.is_nvae(cfg):
    trained = sentence.trained_lengths(model)
    st.warning(
        f"{empty:,} of the {tables['sentences']:,} sentences keep nothing at this α^Δ: the decoder reads only "
        f"the prior component for them and writes a made-up sentence, not a reconstruction.{trained}",
        icon=":material/block:",
    )
unknown = by_class.get("[UNK]", {}).get("count", 0)
pieces = total_tokens - tables["sentences"]
if unknown:
    st.info(
        f"{unknown:,} of the {pieces:,} pieces are outside the model's vocabulary ([UNK]) (the {total_tokens:,} "
        f"input tokens less one [EOS] per sentence).",
        icon=":material/help:",
    )
if tables["sentences"] < 20:
    st.caption(
        f"Only {tables['sentences']} sentence(s): the shares below rest on few tokens. "
        "A sample of the test split gives steadier numbers."
    )


def lengths_tab() -> None:
    """Retained components against input length, and every sentence."""
    output.plot(figures.sparsity.study_lengths(points), "corpus-retained-vs-length", key="lengths", note=note)
    with st.expander("Every sentence (sortable)"):
        output.table(points, width="stretch", height=min(400, 38 + 35 * len(points)))
    output.download_table(points, "corpus-retained-vs-length", key="lengths_table", meta=meta)


def tokens_tab() -> None:
    """Which tokens get pruned: by token class and by frequency band."""
    _, n_reference = cache.study_ranks(model, key)
    c1, c2 = st.columns(2)
    share_height = 90 + 34 * max(len(tables["by_class"]), len(tables["by_frequency_band"]))

    def shares(rows: list[dict], title: str, stem: str, name: str) -> None:
        """A retained-share figure, its numbers in an expander, and their downloads."""
        output.plot(figures.sparsity.retained_shares(rows, title, height=share_height), stem, key=name, note=note)
        with st.expander("The numbers"):
            output.table(rows, width="stretch")
        output.download_table(rows, stem, key=f"{name}_table", meta=meta)

    with c1:
        shares(tables["by_class"], "Retained share by token class", "corpus-by-class", "by_class")
        st.caption(CLASS_NOTE)
    with c2:
        shares(tables["by_frequency_band"], "Retained share by frequency band", "corpus-by-frequency-band", "by_band")
        if n_reference:
            st.caption(
                f"Frequency bands rank each piece by its count in the model's training text (the first "
                f"{n_reference:,} sentences of its training split): the 100 most frequent, then ranks "
                "100–1,000, 1,000–5,000, and rarer."
            )
        else:
            st.caption(
                "This model was trained on a text file whose sentences the app does not read: every piece "
                "counts as “rarer” (as on the command line)."
            )


def words_tab() -> None:
    """The words most and least often pruned."""
    st.markdown(f"**Words** (function and content words seen at least {corpus_study.MIN_WORD_COUNT} times)")
    most = {r["word"] for r in tables["most_pruned_words"]}
    if most & {r["word"] for r in tables["least_pruned_words"]}:
        st.caption(
            f"Fewer than {2 * corpus_study.WORD_LIST} words occur often enough, so the two lists share words: "
            "read them as one list, sorted both ways."
        )
    w1, w2 = st.columns(2)
    for col, name, title in (
        (w1, "most_pruned_words", "Most often pruned"),
        (w2, "least_pruned_words", "Least often pruned"),
    ):
        with col:
            st.caption(title)
            rows = tables[name]
            if rows:
                output.table(
                    rows,
                    width="stretch",
                    column_config={"pruned_share": st.column_config.NumberColumn("pruned share", format="percent")},
                )
                output.download_table(rows, f"corpus-{name.replace('_', '-')}", key=f"{name}_table", meta=meta)
            else:
                st.caption(
                    f"No word occurs {corpus_study.MIN_WORD_COUNT} times or more in this corpus: study more sentences "
                    "for these lists."
                )


def segments_tab() -> None:
    """For a checkpoint whose kept components stand for segments: their lengths and how many are whole words."""
    seg = tables["segments"]
    if not seg["segments"]:
        st.info("No sentence keeps a component at this α^Δ, so there is no segment to measure.")
        return
    m = st.columns(4)
    m[0].metric("Segments", f"{seg['segments']:,}", help="one per kept token component")
    m[1].metric("Mean length", f"{seg['mean_length']:.2f}", help="tokens per segment, [EOS] included")
    m[2].metric("Median length", f"{seg['median_length']:g}", help="tokens per segment, [EOS] included")
    m[3].metric(
        "Whole words",
        f"{seg['whole_word_share']:.0%}",
        help=f"{seg['whole_words']:,} of the {seg['segments']:,} segments begin and end at word boundaries",
    )
    st.caption(
        "Each kept component stands for a segment: its token and the pruned tokens after it up to the next kept "
        "one (the first also for those before it). A segment is whole words when it begins at a word's first "
        "piece and the piece after it, if any, begins a word too (a piece that starts with ## continues a word); "
        "a sentence's last segment holds its [EOS]."
    )
    output.plot(figures.sparsity.segment_lengths(seg["by_length"]), "corpus-segment-lengths", key="segments", note=note)
    with st.expander("Segments of each length"):
        output.table(
            seg["by_length"],
            width="stretch",
            column_config={"share": st.column_config.NumberColumn("share", format="percent")},
        )
    output.download_table(seg["by_length"], "corpus-segment-lengths", key="segments_table", meta=meta)


def corpus_sweep() -> list[dict]:
    """The sweep's rows, computed (with a progress bar) when a tab first needs them, then cached."""
    return run_with_progress(
        "Reconstructing the corpus at each α^Δ of the sweep",
        "reconstructions",
        lambda p: cache.study_sweep(model, key, texts, ad_arg, progress=p),
    )


def sweep_tab() -> None:
    """The alpha^Delta sweep on this corpus (computed when the tab is first opened)."""
    sweep = corpus_sweep()
    if len(sweep) > 1:
        output.plot(figures.sparsity.study_sweep(sweep, tables["alpha_delta"]), "corpus-sweep", key="sweep", note=note)
        st.caption(
            f"Each point decodes all {tables['sentences']:,} sentences greedily at that α^Δ "
            f"({len(sweep)} values, log-spaced over the trained range); BLEU is corpus BLEU against the "
            "sentences as the model reads them."
            + (" Most pieces of this corpus are [UNK], so its BLEU is not meaningful." if unknown > pieces / 2 else "")
        )
    else:
        st.info(
            f"This model was trained at a fixed α^Δ = {cfg.nvib.alpha_delta:g}: its latent does not depend on α^Δ, "
            "so the sweep has that one value."
        )
    output.table(sweep, width="stretch")
    output.download_table(sweep, "corpus-sweep", key="sweep_table", meta=meta)


def whole_tab() -> None:
    """The whole study as JSON, the sentences, and the command that gives the same numbers."""
    whole = {"checkpoint": str(path), "file": described, **tables, "sweep": corpus_sweep()}
    whole["mean_retained_proportion"] = whole.pop("mean_retained_proportion")  # last, as the command line prints it
    whole["inputs"] = meta
    row = st.container(horizontal=True)
    row.download_button(
        "Study as JSON",
        lambda: json.dumps(whole, ensure_ascii=False, indent=1).encode(),
        file_name="corpus-study.json",
        mime="application/json",
        key="whole_json",
        on_click="ignore",
        icon=":material/download:",
    )
    row.download_button(
        "Sentences (.txt)",
        lambda: ("\n".join(texts) + "\n").encode(),
        file_name="corpus.txt",
        mime="text/plain",
        key="corpus_txt",
        on_click="ignore",
        icon=":material/download:",
    )
    command = f"python -m nvae study corpus.txt --checkpoint {shlex.quote(str(path))}"
    if sentence.alpha_delta_active(cfg):
        command += f" --alpha-delta {tables['alpha_delta']:g}"
    st.caption("The same numbers from the command line (with the sentences above saved as corpus.txt):")
    st.code(command, language="bash")


# Only the open tab is drawn (switching tabs reruns the page from the caches): with every section
# on one page, an alpha^Delta move redrew four figures and eight tables, most of them off screen.
TABS = {
    "Retained against length": lengths_tab,
    "Pruned tokens": tokens_tab,
    "Words": words_tab,
    **({"Segments": segments_tab} if "segments" in tables else {}),  # a checkpoint that pools segments
    "α^Δ sweep": sweep_tab,
    "The whole study": whole_tab,
}
for tab, draw in zip(st.tabs(list(TABS), key=f"{PAGE}.tab", on_change="rerun"), TABS.values()):
    if tab.open is False:
        continue
    with tab:
        draw()
