"""The app's caches: the model of a checkpoint (`st.cache_resource`, shared by every session) and
the results the pages show (`st.cache_data`, or `st.cache_resource` for latents and the map).

Every cached function takes the loaded model as `_model` (a leading underscore: Streamlit does
not hash it) and the checkpoint's `key` (its path and file times, from `checkpoint_key`), which
names that model in the cache; the work itself is `nvae.readout`'s. `use_app_threads` sets
torch's thread count: app/main.py calls it; importing this module changes nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from app import analysis
from nvae import readout
from nvae.checkpoint import CheckpointError, fingerprint, load_checkpoint

MAP_CACHE_VERSION = 1


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
def inspect_sentences(_model, key: str, texts: tuple[str, ...], alpha_delta: float | None):
    return readout.inspect_sentences(_model, list(texts), alpha_delta)


@st.cache_data(max_entries=64, show_spinner=False)
def token_info(_model, key: str, texts: tuple[str, ...]):
    """How each sentence was tokenized (length, [UNK] pieces, truncation): for the notices."""
    return readout.token_info(_model, list(texts))


@st.cache_data(max_entries=32, show_spinner=False)
def sparsity_curve(_model, key: str, text: str, grid: tuple[float, ...]):
    return readout.sparsity_curve(_model, text, list(grid))


@st.cache_resource(max_entries=32, show_spinner=False)
def encode_pair(_model, key: str, text_a: str, text_b: str):
    return readout.encode_pair(_model, text_a, text_b)


@st.cache_data(max_entries=32, show_spinner=False)
def interpolation_strip(_model, key: str, text_a: str, text_b: str):
    return readout.interpolation_strip(_model, encode_pair(_model, key, text_a, text_b))


def interpolation_strip_of(path: Path, text_a: str, text_b: str):
    """The strip decoded by the checkpoint at `path` (e.g. a baseline). Raises CheckpointError."""
    return interpolation_strip(load_model(path), checkpoint_key(path), text_a, text_b)


@st.cache_data(max_entries=256, show_spinner=False)
def mix_at(_model, key: str, text_a: str, text_b: str, tau: float):
    return readout.mix_at(_model, encode_pair(_model, key, text_a, text_b), tau)


@st.cache_data(max_entries=32, show_spinner=False)
def prior_samples(
    _model, key: str, n_components: int, n_samples: int, seed: int, temperature: float, alpha_delta: float | None
):
    return readout.prior_samples(_model, n_components, n_samples, seed, temperature, alpha_delta)


# -- latent map: computed once per checkpoint and sample size, kept in memory and on disk ---------


def map_cache_dir() -> Path:
    """$NVAE_APP_CACHE_DIR, else `app-latent-map` in nvae's cache folder (not in the checkpoint)."""
    env = os.environ.get("NVAE_APP_CACHE_DIR")
    if env:
        return Path(env)
    from nvae.data import cache_dir

    return cache_dir() / "app-latent-map"


@st.cache_resource(max_entries=4, show_spinner=False)
def latent_map(_model, key: str, n_sentences: int):
    """(sentences, corpus points, reducer): the corpus sample's retained components and a fitted
    UMAP. The layout is stored as .npz (no pickle) and reused; on a disk hit only the neighbour
    graph is rebuilt (a fraction of a second), so `transform` still places new points."""
    digest = hashlib.sha256(f"{MAP_CACHE_VERSION}|{key}|{n_sentences}".encode()).hexdigest()[:24]
    file = map_cache_dir() / f"{digest}.npz"
    cached = read_map(file, _model.cfg.d_model)
    if cached is not None:
        sentences, points, layout = cached
        return sentences, points, analysis.fit_map(points["means"], init=layout)
    sentences = readout.corpus_sample(_model.tokenizer, n_sentences)
    points = readout.component_points(_model, sentences)
    reducer = analysis.fit_map(points["means"])
    write_map(file, sentences, points, reducer.embedding_)
    return sentences, points, reducer


def read_map(file: Path, d_model: int):
    """The stored map, or None when the file is missing, unreadable or inconsistent."""
    try:
        with np.load(file, allow_pickle=False) as data:
            points = {k: data[k] for k in ("means", "sentence", "position", "token", "weight")}
            sentences, layout = [str(s) for s in data["sentences"]], data["layout"]
    except (OSError, KeyError, ValueError, EOFError):
        return None
    m = len(points["token"])
    consistent = (
        points["means"].shape == (m, d_model)
        and layout.shape == (m, 2)
        and m > 2
        and all(len(points[k]) == m for k in ("sentence", "position", "weight"))
        and np.isfinite(points["means"]).all()
        and np.isfinite(layout).all()
        and 0 <= points["sentence"].min()
        and points["sentence"].max() < len(sentences)
    )
    return (sentences, points, layout) if consistent else None


def write_map(file: Path, sentences: list[str], points: dict, layout: np.ndarray) -> None:
    """Store a map for `read_map` (atomically; a failure to write is ignored)."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, sentences=np.asarray(sentences, dtype=str), layout=np.asarray(layout, dtype=np.float32), **points)
        os.replace(tmp, file)
    except OSError:
        pass  # the disk cache is an optimisation only


@st.cache_data(max_entries=32, show_spinner=False)
def map_overlay(_model, key: str, n_sentences: int, texts: tuple[str, ...]):
    """The user's sentences' retained components and their position on the map."""
    points = readout.component_points(_model, list(texts))
    _, _, reducer = latent_map(_model, key, n_sentences)
    xy = reducer.transform(points["means"]) if len(points["means"]) else np.zeros((0, 2), np.float32)
    return points, np.asarray(xy)
