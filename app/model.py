"""Checkpoints and caches: which checkpoints exist, the model (st.cache_resource) and the results
the pages show (st.cache_data / st.cache_resource), keyed by the checkpoint's path and file times.

The default checkpoint is $NVAE_CHECKPOINT, else `checkpoints/nvae-default`. The Model page can
switch to any folder holding a config.json in `checkpoints/` (or in $NVAE_CHECKPOINTS_DIR instead)
(several folders may be given, separated by os.pathsep).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from app import analysis
from nvae.checkpoint import CheckpointError, fingerprint, load_checkpoint
from nvae.paths import CHECKPOINTS_DIR, default_checkpoint  # noqa: F401 (default_checkpoint: used by app.ui)

# A small model decodes one token at a time: extra threads only contend (badly so on a busy
# machine). NVAE_APP_THREADS overrides.
torch.set_num_threads(max(1, int(os.environ.get("NVAE_APP_THREADS", "1") or 1)))

MAP_CACHE_VERSION = 1


def checkpoint_roots() -> list[Path]:
    """Folders whose checkpoints the app lists: $NVAE_CHECKPOINTS_DIR (`:`-separated) if set,
    instead of the project's `checkpoints/`."""
    extra = os.environ.get("NVAE_CHECKPOINTS_DIR")
    if extra:
        return [Path(p) for p in extra.split(os.pathsep) if p]
    return [CHECKPOINTS_DIR]


def available_checkpoints() -> dict[str, Path]:
    """{name: folder} for every folder holding a config.json under the checkpoint roots, plus the
    default checkpoint when it exists. Names are folder names (made unique if they repeat)."""
    found: list[Path] = []
    for root in checkpoint_roots():
        try:
            found += sorted(p for p in root.iterdir() if p.is_dir() and (p / "config.json").is_file())
        except OSError:
            continue
    default = default_checkpoint()
    if (default / "config.json").is_file():
        found.insert(0, default)
    out: dict[str, Path] = {}
    seen: set[Path] = set()
    for path in found:
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        name = path.name
        if name in out:
            name = f"{path.parent.name}/{path.name}"
        out[name] = path
    return out


def baseline_checkpoints(exclude: Path | None = None) -> dict[str, Path]:
    """The available checkpoints named baseline-* (other than `exclude`)."""
    ex = exclude.resolve() if exclude else None
    return {n: p for n, p in available_checkpoints().items() if p.name.startswith("baseline-") and p.resolve() != ex}


def active_checkpoint() -> Path:
    """The checkpoint chosen on the Model page in this session, else the default."""
    chosen = st.session_state.get("checkpoint")
    return Path(chosen) if chosen else default_checkpoint()


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
def _load(key: str):
    model = load_checkpoint(key.split("|", 1)[0], device="cpu")
    # Every session shares this object. Its fingerprint at load time lets the Model page check that
    # no session has changed it since (weights, config, tokenizer settings, eval mode).
    model.loaded_fingerprint = fingerprint(model)
    return model


def load_model(path: Path):
    """The model at `path` (cached; reloaded when its files change). Raises CheckpointError."""
    try:
        return _load(checkpoint_key(path))
    except CheckpointError:
        raise
    except Exception as err:  # anything else unreadable is also a bad checkpoint for the app
        raise CheckpointError(f"{path}: cannot be loaded ({type(err).__name__}: {err})") from None


def model_fingerprints(path: Path) -> tuple[str, str]:
    """(fingerprint when the shared model was loaded, fingerprint now). Raises CheckpointError."""
    model = load_model(path)
    return model.loaded_fingerprint, fingerprint(model)


# -- cached results (the key names the checkpoint; the model itself is not hashed) ---------------


@st.cache_data(max_entries=64, show_spinner=False)
def inspect_sentences(key: str, texts: tuple[str, ...], alpha_delta: float | None):
    return analysis.inspect_sentences(_load(key), list(texts), alpha_delta)


@st.cache_data(max_entries=64, show_spinner=False)
def token_info(key: str, texts: tuple[str, ...]):
    """How each sentence was tokenized (length, [UNK] pieces, truncation): for the notices."""
    return analysis.token_info(_load(key), list(texts))


@st.cache_data(max_entries=32, show_spinner=False)
def sparsity_curve(key: str, text: str, grid: tuple[float, ...]):
    return analysis.sparsity_curve(_load(key), text, list(grid))


@st.cache_resource(max_entries=32, show_spinner=False)
def encode_pair(key: str, text_a: str, text_b: str):
    return analysis.encode_pair(_load(key), text_a, text_b)


@st.cache_data(max_entries=32, show_spinner=False)
def interpolation_strip(key: str, text_a: str, text_b: str):
    return analysis.interpolation_strip(_load(key), encode_pair(key, text_a, text_b))


def interpolation_strip_of(path: Path, text_a: str, text_b: str):
    """The strip decoded by the checkpoint at `path` (e.g. a baseline). Raises CheckpointError."""
    load_model(path)
    return interpolation_strip(checkpoint_key(path), text_a, text_b)


@st.cache_data(max_entries=256, show_spinner=False)
def mix_at(key: str, text_a: str, text_b: str, tau: float):
    return analysis.mix_at(_load(key), encode_pair(key, text_a, text_b), tau)


@st.cache_data(max_entries=32, show_spinner=False)
def prior_samples(
    key: str, n_components: int, n_samples: int, seed: int, temperature: float, alpha_delta: float | None
):
    return analysis.prior_samples(_load(key), n_components, n_samples, seed, temperature, alpha_delta)


# -- latent map: computed once per checkpoint and sample size, kept in memory and on disk --------


def map_cache_dir() -> Path:
    """$NVAE_APP_CACHE_DIR, else `app-latent-map` in nvae's cache folder (not in the checkpoint)."""
    env = os.environ.get("NVAE_APP_CACHE_DIR")
    if env:
        return Path(env)
    from nvae.data import cache_dir

    return cache_dir() / "app-latent-map"


@st.cache_resource(max_entries=4, show_spinner=False)
def latent_map(key: str, n_sentences: int):
    """(sentences, corpus points, reducer): the corpus sample's retained components and a fitted
    UMAP. The layout is stored as .npz (no pickle) and reused; on a disk hit only the neighbour
    graph is rebuilt (a fraction of a second), so `transform` still places new points."""
    model = _load(key)
    digest = hashlib.sha256(f"{MAP_CACHE_VERSION}|{key}|{n_sentences}".encode()).hexdigest()[:24]
    file = map_cache_dir() / f"{digest}.npz"
    cached = _read_map(file, model.cfg.d_model)
    if cached is not None:
        sentences, points, layout = cached
        return sentences, points, analysis.fit_map(points["means"], init=layout)
    sentences = analysis.corpus_sample(model.tokenizer, n_sentences)
    points = analysis.component_points(model, sentences)
    reducer = analysis.fit_map(points["means"])
    _write_map(file, sentences, points, reducer.embedding_)
    return sentences, points, reducer


def _read_map(file: Path, d_model: int):
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


def _write_map(file: Path, sentences: list[str], points: dict, layout: np.ndarray) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, sentences=np.asarray(sentences, dtype=str), layout=np.asarray(layout, dtype=np.float32), **points)
        os.replace(tmp, file)
    except OSError:
        pass  # the disk cache is an optimisation only


@st.cache_data(max_entries=32, show_spinner=False)
def map_overlay(key: str, n_sentences: int, texts: tuple[str, ...]):
    """The user's sentences' retained components and their position on the map."""
    points = analysis.component_points(_load(key), list(texts))
    _, _, reducer = latent_map(key, n_sentences)
    xy = reducer.transform(points["means"]) if len(points["means"]) else np.zeros((0, 2), np.float32)
    return points, np.asarray(xy)


def describe(path: Path) -> dict:
    from nvae.checkpoint import describe as _describe

    return _describe(path)
