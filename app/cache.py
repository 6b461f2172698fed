"""The app's caches: the model of a checkpoint (`st.cache_resource`, shared by every session) and
the results the pages show (`st.cache_data`, or `st.cache_resource` for latents).

Every cached function takes the loaded model as `_model` (a leading underscore: Streamlit does
not hash it) and the checkpoint's `key` (its path and file times, from `checkpoint_key`), which
names that model in the cache; the work itself is `nvae.readout.sentence`'s
(`nvae.readout.corpus_study`'s for the corpus study, `nvae.readout.walkthrough`'s for the walkthrough).
`use_app_threads` sets torch's thread count: app/main.py calls it; importing this module changes nothing.

The corpus study's parts take a `progress(done, total)` callback that draws a progress bar while
they run. A Streamlit cache would replay (and fail on) element updates made inside it, so they are
kept in a `ResultStore` instead (one per process, shared by the sessions, least recently used
first out): a hit returns at once and never calls `progress`. The Latent map is kept the same way
(`latent_map`): the checkpoint's shipped `latent_map.npz` when it is valid, else computed with
progress and kept on disk. A checkpoint's stored rate-distortion result (`rate_distortion.json`,
`python -m nvae rate-distortion`) is only read, never computed here (`rate_distortion_of`). The
stores themselves (`ResultStore`, `Prefetcher`, `KeyedLocks`) are app/stores.py's, which needs no
streamlit; this module holds one of each per process and the policies that fill them.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from app import figures
from app.stores import KeyedLocks, Prefetcher, ResultStore
from nvae.data.examples import pairs, sentences
from nvae.evaluation import lm
from nvae.locations import fluency_lm_dir
from nvae.model.grids import alpha_delta_values
from nvae.model.mixture import DEFAULT_MIXING
from nvae.readout import (
    corpus_study,
    pair_study,
    rate_distortion_file,
    sentence,
    sentence_paths,
    strip_steps,
    walkthrough,
)
from nvae.readout.latent_map import LatentMap, compute_map, load_map, map_file, save_map
from nvae.store.checkpoint import fingerprint, load_checkpoint
from nvae.store.format import CheckpointError

MAP_CACHE_VERSION = 2  # 2: nvae.readout.latent_map's file format
SEED_MAX = 2**31 - 1  # the Samples page's largest seed


@st.cache_resource(show_spinner=False)
def freeze_heap() -> int:
    """Move every object alive now (the libraries, the model, the first page's) out of the garbage
    collector's reach (`gc.freeze`), once per server: a full collection walked about 260,000 such
    objects and took 150 ms, and it landed at random inside a rerun. Later objects are collected
    as usual. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def use_app_threads() -> None:
    """One torch thread (or $NVAE_APP_THREADS): a small model decodes one token at a time, and
    extra threads only contend (badly so on a busy machine)."""
    torch.set_num_threads(max(1, int(os.environ.get("NVAE_APP_THREADS", "1") or 1)))


def checkpoint_key(path: Path) -> str:
    """Cache key of a checkpoint: its path and the modification times of its files."""
    path = Path(path)
    stamps = []
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        try:
            stamps.append(f"{(path / name).stat().st_mtime_ns}")
        except OSError:
            stamps.append("-")
    return f"{path.resolve()}|{'|'.join(stamps)}"


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def loaded_model(key: str):
    """The model of the checkpoint `key` names (loaded once; every session shares this object)."""
    model = load_checkpoint(key.split("|", 1)[0], device="cpu")
    # Its fingerprint at load time lets the Model page check that no session has changed it since
    # (weights, config, tokenizer settings, eval mode).
    model.loaded_fingerprint = fingerprint(model)
    return model


def load_model(path: Path):
    """The model at `path` (cached; reloaded when its files change). Raises CheckpointError."""
    try:
        return loaded_model(checkpoint_key(path))
    except CheckpointError:
        raise
    except Exception as err:  # anything else unreadable is also a bad checkpoint for the app
        raise CheckpointError(f"{path}: cannot be loaded ({type(err).__name__}: {err})") from None


def model_fingerprints(path: Path) -> tuple[str, str]:
    """(fingerprint when the shared model was loaded, fingerprint now). Raises CheckpointError."""
    model = load_model(path)
    return model.loaded_fingerprint, fingerprint(model)


# -- cached results: `_model` is not hashed, `key` names it ---------------------------------------


@st.cache_data(max_entries=64, show_spinner=False)
def inspect_sentences(
    _model, key: str, texts: tuple[str, ...], alpha_delta: float | None, spread_bias: float | None = None
):
    return sentence.inspect_sentences(_model, list(texts), alpha_delta, spread_bias)


@st.cache_data(max_entries=64, show_spinner=False)
def token_info(_model, key: str, texts: tuple[str, ...]):
    """How each sentence was tokenized (length, [UNK] pieces, truncation): for the notices."""
    return sentence.token_info(_model, list(texts))


@st.cache_data(max_entries=32, show_spinner=False)
def sparsity_curve(_model, key: str, text: str, grid: tuple[float, ...]):
    return sentence.sparsity_curve(_model, text, list(grid))


@st.cache_resource(max_entries=32, show_spinner=False)
def encode_pair(_model, key: str, text_a: str, text_b: str):
    return sentence.encode_pair(_model, text_a, text_b)


@st.cache_data(max_entries=32, show_spinner=False)
def interpolation_strip(
    _model, key: str, text_a: str, text_b: str, taus: tuple[float, ...] | None = None, mixing: str = DEFAULT_MIXING
):
    """The strip at `taus` (default: sentence.STRIP_TAUS, the 11 steps 0, 0.1, ..., 1)."""
    pair = encode_pair(_model, key, text_a, text_b)
    return sentence.interpolation_strip(_model, pair, list(taus) if taus else sentence.STRIP_TAUS, mixing)


def interpolation_strip_of(
    path: Path, text_a: str, text_b: str, taus: tuple[float, ...] | None = None, mixing: str = DEFAULT_MIXING
):
    """The strip decoded by the checkpoint at `path` (e.g. a baseline). Raises CheckpointError."""
    return interpolation_strip(load_model(path), checkpoint_key(path), text_a, text_b, taus, mixing)


# -- paths through several sentences (nvae.readout.sentence_paths), the study of many pairs (nvae.readout.pair_study) --


@st.cache_resource(max_entries=16, show_spinner=False)
def waypoints(_model, key: str, texts: tuple[str, ...]):
    """The sentences of a path, encoded once (shared, never changed)."""
    return sentence_paths.encode_waypoints(_model, list(texts))


@st.cache_data(max_entries=32, show_spinner=False)
def path_strip(_model, key: str, texts: tuple[str, ...], steps: int, grid: str, mixing: str = DEFAULT_MIXING):
    return sentence_paths.path_strip(
        _model, list(texts), steps, grid, waypoints=waypoints(_model, key, texts), mixing=mixing
    )


def path_strip_of(path: Path, texts: tuple[str, ...], steps: int, grid: str, mixing: str = DEFAULT_MIXING):
    """The path decoded by the checkpoint at `path`. Raises CheckpointError."""
    return path_strip(load_model(path), checkpoint_key(path), texts, steps, grid, mixing)


@st.cache_data(max_entries=512, show_spinner=False)
def study_pair(_model, key: str, text_a: str, text_b: str, steps: int, grid: str, mixing: str = DEFAULT_MIXING):
    return pair_study.study_pair(_model, text_a, text_b, steps, grid, mixing=mixing)


# -- the fluency LM (nvae.evaluation.lm): the perplexity of the steps of a strip, when there is one --


@st.cache_resource(max_entries=2, show_spinner="Loading the fluency language model…")
def loaded_lm(key: str):
    """The fluency LM of the folder `key` names (loaded once; every session shares it). Raises when it
    cannot be read."""
    return lm.load_lm(key.split("|", 1)[0])


def fluency_lm() -> tuple[Any, str | None, str]:
    """(the fluency LM, its cache key, "") from $NVAE_LM_DIR or checkpoints/lm-wiki-mix, reloaded when
    its files change; (None, None, why) when there is none or it cannot be read."""
    folder = fluency_lm_dir()
    stamps = []
    for name in (lm.WEIGHTS, lm.CONFIG, lm.TOKENIZER):
        try:
            stamps.append(str((folder / name).stat().st_mtime_ns))
        except OSError:
            return None, None, f"no fluency language model in `{folder.name}` (`python -m nvae lm train`)"
    key = f"{folder.resolve()}|{'|'.join(stamps)}"
    try:
        return loaded_lm(key), key, ""
    except Exception as err:  # anything unreadable: the pages go on without fluency, and say why
        return None, None, f"the fluency language model in `{folder.name}` cannot be read ({type(err).__name__})"


@st.cache_data(max_entries=256, show_spinner=False)
def perplexities(_lm, lm_key: str, texts: tuple[str, ...]) -> list[float | None]:
    """Each sentence's perplexity under the fluency LM (`strip_steps.perplexities`)."""
    return strip_steps.perplexities(_lm, list(texts))


@st.cache_data(max_entries=64, show_spinner=False)
def middle_perplexity(_lm, lm_key: str, strips: tuple[tuple[str, ...], ...]) -> float | None:
    """The perplexity of the strips' middle steps together, as the report measures it."""
    return strip_steps.middle_perplexity(_lm, strips)


@st.cache_resource(max_entries=32, show_spinner=False)
def path_player(
    key: str, texts: tuple[str, ...], steps: int, grid: str, mixing: str, _rows: list[dict], labels: tuple[str, ...]
):
    """The path player's figure (a plotly animation: building it costs more than a slider move may),
    named by the model's key and the path's settings (`_rows`, the path they give, is not hashed).
    Shared and read-only."""
    return figures.player.path_player(_rows, list(labels))


@st.cache_resource(max_entries=16, show_spinner=False)
def study_animation(key: str, pairs: tuple, steps: int, grid: str, mixing: str, caption: str, _result: dict):
    """The study's strips as an animation, named by the model's key, the pairs and the settings."""
    return figures.player.study_animation(_result, caption)


@st.cache_resource(max_entries=16, show_spinner=False)
def path_map_figure(
    _model,
    key: str,
    n_sentences: int,
    projection: str,
    texts: tuple[str, ...],
    steps: int,
    grid: str,
    mixing: str,
    _rows,
    labels,
):
    """The path drawn on the latent map of `projection` (`figures.player.path_map`)."""
    comps, xy = path_on_map(_model, key, n_sentences, projection, texts, steps, grid, mixing)
    layout = latent_map(_model, key, n_sentences).layouts[projection]
    return figures.player.path_map(layout, comps, xy, _rows, list(labels))


@st.cache_data(max_entries=16, show_spinner=False)
def path_on_map(
    _model, key: str, n_sentences: int, projection: str, texts: tuple[str, ...], steps: int, grid: str, mixing: str
):
    """The path's components (`sentence_paths.path_components`) and their places on the map of
    `projection` ("means" or "residual"), by their nearest corpus means (`LatentMap.place`)."""
    comps = sentence_paths.path_components(
        _model, list(texts), steps, grid, waypoints=waypoints(_model, key, texts), mixing=mixing
    )
    xy = latent_map(_model, key, n_sentences).place(comps["means"], comps["position"], projection)
    return comps, xy


@st.cache_data(max_entries=256, show_spinner=False)
def mix_at(_model, key: str, text_a: str, text_b: str, tau: float, mixing: str = DEFAULT_MIXING):
    return sentence.mix_at(_model, encode_pair(_model, key, text_a, text_b), tau, mixing)


@st.cache_resource(max_entries=32, show_spinner=False)
def walkthrough_trace(_model, key: str, text: str, alpha_delta: float | None):
    """One sentence through the model, every step (`nvae.readout.walkthrough.trace`); shared, read-only."""
    return walkthrough.trace(_model, text, alpha_delta)


@st.cache_data(ttl=60, show_spinner=False)
def example_sentences() -> list[str]:
    """The demo set's sentences (examples/sentences.txt), re-read at most once a minute."""
    return sentences()


@st.cache_data(ttl=60, show_spinner=False)
def example_pairs() -> list[tuple[str, str]]:
    """The demo set's sentence pairs (examples/pairs.tsv), re-read at most once a minute."""
    return pairs()


# -- drawn samples (the Samples page): kept per setting, the next seed's drawn ahead ----------------


@st.cache_resource(show_spinner=False)
def sample_results() -> ResultStore:
    """The process's drawn samples, keyed by (checkpoint key, source, K, n, seed, temperature,
    alpha^Delta): filled by the page and by its `Prefetcher`, shared by the sessions."""
    return ResultStore(max_entries=64)


@st.cache_resource(show_spinner=False)
def prefetcher() -> Prefetcher:
    return Prefetcher()


def drawn_samples(
    _model,
    key: str,
    source: str,
    n_components: int,
    n_samples: int,
    seed: int,
    temperature: float,
    alpha_delta: float | None,
) -> list[dict]:
    """`sentence.drawn_samples`, kept per setting; then the next seed's samples are drawn in the
    background (`Prefetcher`), so that stepping the seed with its + button finds them ready."""
    store = sample_results()

    def setting(s: int) -> tuple:
        return source, n_components, n_samples, s, temperature, alpha_delta

    wanted = (key, *setting(seed))
    prefetcher().wait(wanted)
    hit = store.get(wanted)
    result = hit if hit is not None else store.put(wanted, sentence.drawn_samples(_model, *setting(seed)))
    if seed < SEED_MAX:
        ahead = setting(seed + 1)
        prefetcher().submit((key, *ahead), store, lambda: sentence.drawn_samples(_model, *ahead))
    return result


# -- corpus study: nvae.readout.corpus_study, with progress on a miss ---------------------------------------------


@st.cache_resource(show_spinner=False)
def study_results() -> ResultStore:
    """The process's store of corpus-study results, keyed by (part, checkpoint key, corpus digest, alpha^Delta)."""
    return ResultStore(max_entries=48)


def corpus_digest(texts: tuple[str, ...] | list[str]) -> str:
    """sha256 of the corpus's lines (joined by newlines): names the corpus in caches and exports."""
    return hashlib.sha256("\n".join(texts).encode("utf-8", "surrogatepass")).hexdigest()


@st.cache_resource(max_entries=2, show_spinner=False)
def test_split() -> tuple[str, ...]:
    """The WikiText-2 test split (`nvae.data.corpora.load_sentences("wikitext-2", "test")`), read once."""
    from nvae.data.corpora import load_sentences

    return tuple(load_sentences("wikitext-2", "test"))


@st.cache_resource(max_entries=4, show_spinner="Counting word frequencies in the model's training text…")
def study_ranks(_model, key: str) -> tuple[dict[int, int], int]:
    """(token frequency ranks, sentences counted) over `nvae.readout.corpus_study.reference_texts`: the frequency
    bands of the study. ({}, 0) when the model trained on a text file."""
    texts = corpus_study.reference_texts(_model)
    return (corpus_study.frequency_ranks(_model, texts), len(texts)) if texts else ({}, 0)


@st.cache_resource(max_entries=16, show_spinner=False)
def study_corpus(_model, key: str, digest: str, _texts: tuple[str, ...]):
    """The corpus tokenized once (`nvae.readout.corpus_study.prepare_corpus`; raises ValueError when nothing
    is left)."""
    return corpus_study.prepare_corpus(_model, list(_texts))


ENCODED_SENTENCES = 1000  # corpora up to this size keep their encoder states (about 6 MB a 100 sentences)


@st.cache_resource(show_spinner=False)
def encoded_corpora() -> ResultStore:
    """The encoder states of the last corpora studied (`nvae.readout.corpus_study.encode_corpus`), keyed by (checkpoint
    key, corpus digest): they do not depend on alpha^Delta, so that moving the Corpus study's slider
    reruns only the NVIB layer. A few entries: each holds every state of its corpus."""
    return ResultStore(max_entries=4)


def _stored(key: Hashable, compute: Callable[[], Any]) -> Any:
    store = study_results()
    hit = store.get(key)
    return hit if hit is not None else store.put(key, compute())


def study_tables(_model, key: str, texts: tuple[str, ...], alpha_delta: float | None, progress=None) -> dict:
    """`nvae.readout.corpus_study.study_tables` of the corpus at `alpha_delta`, computed once per (model, corpus,
    alpha^Delta). `progress(done, total)` is called while it is computed."""
    digest = corpus_digest(texts)
    corpus = study_corpus(_model, key, digest, texts)
    ranks, _ = study_ranks(_model, key)

    def compute():
        encoded = None
        if len(corpus.ids) <= ENCODED_SENTENCES:
            store = encoded_corpora()
            encoded = store.get((key, digest)) or store.put(
                (key, digest), corpus_study.encode_corpus(_model, corpus, progress=progress)
            )
        return corpus_study.study_tables(_model, corpus, alpha_delta, ranks, progress=progress, encoded=encoded)

    return _stored(("tables", key, digest, alpha_delta), compute)


def study_sweep(_model, key: str, texts: tuple[str, ...], alpha_delta: float | None, progress=None) -> list[dict]:
    """`nvae.readout.corpus_study.study_sweep` of the corpus, computed once per (model, corpus) (and alpha^Delta for a
    model trained at a fixed one, whose sweep is that one value)."""
    digest = corpus_digest(texts)
    corpus = study_corpus(_model, key, digest, texts)
    values = tuple(alpha_delta_values(_model.cfg, corpus_study.SWEEP_POINTS, alpha_delta))
    return _stored(
        ("sweep", key, digest, values),
        lambda: corpus_study.study_sweep(_model, corpus, alpha_delta, progress=progress),
    )


# -- latent map: computed once per checkpoint and sample size, kept in memory and on disk ---------


def map_sentences() -> int:
    """Corpus sentences on the latent map: $NVAE_APP_MAP_SENTENCES (10..5000), default 300."""
    return max(10, min(5000, int(os.environ.get("NVAE_APP_MAP_SENTENCES", "300") or 300)))


def map_cache_dir() -> Path:
    """$NVAE_APP_CACHE_DIR, else `app-latent-map` in nvae's cache folder (not in the checkpoint)."""
    env = os.environ.get("NVAE_APP_CACHE_DIR")
    if env:
        return Path(env)
    from nvae.data.corpora import cache_dir

    return cache_dir() / "app-latent-map"


@st.cache_resource(show_spinner=False)
def map_results() -> ResultStore:
    """The process's latent maps (`nvae.readout.latent_map.LatentMap`), keyed by (checkpoint key, sentences)."""
    return ResultStore(max_entries=4)


@st.cache_resource(show_spinner=False)
def map_locks() -> KeyedLocks:
    return KeyedLocks()


def map_cache_file(key: str, n_sentences: int) -> Path:
    """The app's own copy of a map it computed: named by the checkpoint's key and the sample size."""
    digest = hashlib.sha256(f"{MAP_CACHE_VERSION}|{key}|{n_sentences}".encode()).hexdigest()[:24]
    return map_cache_dir() / f"{digest}.npz"


def latent_map(_model, key: str, n_sentences: int, progress=None) -> LatentMap:
    """The checkpoint's Latent map, found or made once per (checkpoint, sample size) and shared by
    every session (read-only). In order:

    1. the one shipped with the checkpoint (CHECKPOINT/latent_map.npz, `python -m nvae map`), when
       it was made for these weights and this many sentences: origin "shipped", no UMAP at all;
    2. the one this app computed before, kept in `map_cache_dir()`: origin "cached";
    3. computed now (`nvae.readout.latent_map.compute_map`: encoding and two UMAP fits, a minute or two;
       `progress(done, total, what)` is called as it goes), then kept there: origin "computed".

    A shipped file that cannot be used is skipped, its reason left in the map's `notice`."""
    store, at = map_results(), (key, n_sentences)
    hit = store.get(at)
    if hit is not None:
        return hit
    with map_locks().get(at):
        hit = store.get(at)
        if hit is not None:
            return hit
        weights = getattr(_model, "loaded_fingerprint", None) or fingerprint(_model)
        shipped, notice = load_map(map_file(key.split("|", 1)[0]), _model, n_sentences, weights)
        if shipped is not None:
            shipped.origin = "shipped"
            return store.put(at, shipped)
        file = map_cache_file(key, n_sentences)
        found, _ = load_map(file, _model, n_sentences, weights)  # a bad copy of our own is just recomputed
        if found is not None:
            found.origin = "cached"
        else:
            found = compute_map(_model, n_sentences, progress=progress)
            found.origin = "computed"
            try:
                save_map(file, found)
            except OSError:
                pass  # the disk cache is an optimisation only
        found.notice = notice or ""
        return store.put(at, found)


@st.cache_data(max_entries=32, show_spinner=False)
def map_overlay(_model, key: str, n_sentences: int, texts: tuple[str, ...], projection: str = "means"):
    """The user's sentences' retained components and their places on the map of `projection`
    ("means", or "residual": the means with position removed), by their nearest corpus means."""
    points = sentence.component_points(_model, list(texts))
    xy = latent_map(_model, key, n_sentences).place(points["means"], points["position"], projection)
    return points, xy


def layout_measures(_model, key: str, n_sentences: int, projection: str) -> dict[str, float]:
    """How much token position and token identity explain of the layout of `projection`
    (`map_stats.layout_r2`: cross-validated R^2 over sentences, computed with the map)."""
    return dict(latent_map(_model, key, n_sentences).measures[projection])


def map_measures(_model, key: str, n_sentences: int) -> dict:
    """Each layout's `layout_measures`, the share of the means' variance position carries, and the
    projection to open on (`map_stats.choose_projection`)."""
    return latent_map(_model, key, n_sentences).summary()


# -- a checkpoint's stored rate-distortion result (nvae.readout.rate_distortion_file): read, never computed --


@st.cache_data(max_entries=32, show_spinner=False)
def stored_rate_distortion(folder: str, stamp: str, model_fingerprint: str | None) -> tuple[dict | None, str | None]:
    """`rate_distortion_file.load_record` of `folder`'s file, named by `stamp` (the file's and the
    checkpoint's modification times) so that a new file or new weights are read again."""
    return rate_distortion_file.load_record(rate_distortion_file.record_file(folder), model_fingerprint, folder)


def rate_distortion_of(folder: Path, model_fingerprint: str | None = None) -> tuple[dict | None, str | None]:
    """(record, None), (None, None) when the checkpoint has no file, or (None, a one-line notice) when
    its file cannot be used (damaged, or made for other weights: checked by `model_fingerprint` when
    given, else by the checkpoint's files)."""
    file = rate_distortion_file.record_file(folder)
    try:
        info = file.stat()
    except OSError:
        return None, None
    stamp = f"{info.st_mtime_ns}|{info.st_size}|{checkpoint_key(folder)}"
    return stored_rate_distortion(str(folder), stamp, model_fingerprint)
