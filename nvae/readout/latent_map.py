"""The Latent map of a checkpoint, computed once and shipped beside its weights (`latent_map.npz`).

The app's Latent map shows the retained components of a sample of WikiText-2 test sentences laid
out in 2-D by UMAP, twice: the means themselves, and the means with position removed
(`map_stats.remove_position`), with how much token position and token identity explain of each
layout (`map_stats.layout_r2`). Fitting those layouts takes a minute or two, so it is done here:

- `compute_map(model, n_sentences, progress)`: a `LatentMap` (points, both layouts, their
  measures, and a reference set of means to place new points with);
- `save_map(path, m)` / `load_map(path, model)`: a plain `.npz` (no pickle) and its validated
  reader, which ignores a damaged or stale file (another width, other weights: the model's
  `nvae.store.checkpoint.fingerprint` is stored) with a one-sentence notice instead of raising;
- `knn_place(query, reference, layout)`: new points (a user's sentences, a path's steps) placed
  without UMAP: the inverse-distance weighted mean of the layout places of their k nearest
  reference means, in the space the layout was fitted on. `LatentMap.place` does it for a view.

The file holds every point's layout places, sentence, position, token and weight, but the means
(P numbers each) only of a seeded random subset of the points, as float16, within
`REFERENCE_BYTES`: that keeps a full-size checkpoint's file under 1 MB. `python -m nvae map
CHECKPOINT` writes it. Only `fit_layout` needs umap; nothing here imports streamlit.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..store.format import LATENT_MAP
from . import map_stats

FILE_NAME = LATENT_MAP
FORMAT_VERSION = 1
PROJECTIONS = ("means", "residual")  # the means; the means with position removed
DEFAULT_SENTENCES = 300
REFERENCE_BYTES = 640 * 1024  # float16 means kept for placing new points (the rest of a file is ~200 KB)
K_NEIGHBOURS = 10
ENCODE_CHUNK = 64  # sentences encoded per progress step

Progress = Callable[[int, int, str], None]  # (steps done, steps in all, what is being done)


@dataclass
class LatentMap:
    """The map of one checkpoint: M corpus points, their two layouts and what those encode."""

    sentences: list[str]
    points: dict[str, np.ndarray]  # sentence, position, token, weight: [M] each
    layouts: dict[str, np.ndarray]  # projection -> [M, 2] float32
    measures: dict[str, dict[str, float]]  # projection -> layout_r2 ({"position", "token"})
    position_share: float  # share of the means' variance their position groups carry
    position_table: np.ndarray  # [POSITION_CAP + 1, P]: map_stats.PositionMeans of all M means
    reference: np.ndarray  # [R] indices of the points whose means are kept
    reference_means: np.ndarray  # [R, P] float32 (stored as float16)
    fingerprint: str  # nvae.store.checkpoint.fingerprint of the model the map was made with
    d_model: int
    n_sentences: int  # sentences asked for (the sample is smaller when the split is)
    created: str = ""  # UTC, ISO 8601
    origin: str = ""  # not stored: where a reader got it (the app says so in a caption)
    notice: str = ""  # not stored: why a reader did not use a file it found (a stale shipped map)
    _spaces: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_points(self) -> int:
        return len(self.points["token"])

    @property
    def position_fit(self) -> map_stats.PositionMeans:
        return map_stats.PositionMeans(table=np.asarray(self.position_table, dtype=np.float64))

    @property
    def default_projection(self) -> str:
        return map_stats.choose_projection(self.measures)

    def summary(self) -> dict:
        """The measures as the pages use them: {"layouts", "position_share", "default"}."""
        return {
            "layouts": {p: dict(self.measures[p]) for p in PROJECTIONS},
            "position_share": float(self.position_share),
            "default": self.default_projection,
        }

    def space(self, projection: str) -> np.ndarray:
        """The reference means in the space the layout of `projection` was fitted on [R, P]."""
        if projection not in self._spaces:
            if projection == "residual":
                pos = self.points["position"][self.reference]
                self._spaces[projection] = self.position_fit.apply(self.reference_means, pos)
            else:
                self._spaces[projection] = np.asarray(self.reference_means, dtype=np.float32)
        return self._spaces[projection]

    def place(self, means: np.ndarray, position, projection: str = "means", k: int = K_NEIGHBOURS) -> np.ndarray:
        """New points' places [N, 2] on the layout of `projection` (`knn_place`; for "residual" the
        same position fit is removed from them first)."""
        if projection not in PROJECTIONS:
            raise ValueError(f"unknown projection {projection!r} (use one of {', '.join(PROJECTIONS)})")
        means = np.asarray(means, dtype=np.float32)
        if projection == "residual" and len(means):
            means = self.position_fit.apply(means, position)
        layout = self.layouts[projection][self.reference]
        return knn_place(means, self.space(projection), layout, k)


# -- placing new points -------------------------------------------------------------------------


def knn_place(query: np.ndarray, reference: np.ndarray, layout: np.ndarray, k: int = K_NEIGHBOURS) -> np.ndarray:
    """Places [N, 2] of the `query` vectors [N, P] on a layout of the `reference` vectors [R, P]
    (their places `layout` [R, 2]): the mean of the places of the k nearest references (Euclidean),
    weighted by 1 / distance. A query equal to a reference lands exactly on its place. numpy only."""
    query = np.asarray(query, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    layout = np.asarray(layout, dtype=np.float64)
    if query.ndim != 2 or reference.ndim != 2 or query.shape[1] != reference.shape[1]:
        raise ValueError(f"query {query.shape} and reference {reference.shape} must be [N, P] and [R, P]")
    if len(layout) != len(reference):
        raise ValueError(f"{len(reference)} references but {len(layout)} places")
    if not len(query):
        return np.zeros((0, 2), np.float32)
    if not len(reference):
        raise ValueError("no reference points to place new points by")
    k = max(1, min(int(k), len(reference)))
    ref_sq = (reference**2).sum(1)
    tol = 1e-9 * max(1.0, float(np.sqrt(ref_sq.mean())))
    out = np.empty((len(query), 2))
    for start in range(0, len(query), 1024):
        q = query[start : start + 1024]
        d2 = (q**2).sum(1)[:, None] - 2.0 * q @ reference.T + ref_sq[None, :]
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < len(reference) else np.tile(np.arange(k), (len(q), 1))
        d = np.linalg.norm(q[:, None, :] - reference[idx], axis=2)  # exact, for the k candidates
        hit = d <= tol
        w = np.where(hit.any(1, keepdims=True), hit.astype(np.float64), 1.0 / np.maximum(d, tol))
        out[start : start + len(q)] = (w[:, :, None] * layout[idx]).sum(1) / w.sum(1, keepdims=True)
    return out.astype(np.float32)


# -- computing ------------------------------------------------------------------------------------


def fit_layout(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D UMAP layout [M, 2] of `vectors` [M, P] (15 neighbours or fewer, min_dist 0.1).

    Torch's thread count is left as it was: UMAP runs on numba, whose OpenMP threading layer can
    change the OpenMP thread count that torch reads (one torch thread became two, one per core), and
    a caller kept on one thread (the app, the tests) would then go on with more, much slower."""
    import warnings

    import torch
    import umap

    vectors = np.asarray(vectors, dtype=np.float32)
    n_neighbors = int(max(2, min(15, len(vectors) - 1)))
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=0.1, random_state=seed)
    threads = torch.get_num_threads()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap: "n_jobs overridden by random_state", numba notes
            xy = reducer.fit_transform(vectors)
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return np.asarray(xy, dtype=np.float32)


def reference_count(n_points: int, d_model: int, budget: int = REFERENCE_BYTES) -> int:
    """How many float16 means of `d_model` numbers fit in `budget` bytes (at most `n_points`)."""
    return int(min(n_points, max(1, budget // (2 * max(1, d_model)))))


def compute_map(
    model,
    n_sentences: int = DEFAULT_SENTENCES,
    progress: Progress | None = None,
    reference_bytes: int = REFERENCE_BYTES,
    seed: int = 0,
) -> LatentMap:
    """The Latent map of `model`: the retained components of `n_sentences` test sentences
    (`readout.corpus_sample`, `readout.component_points`), both UMAP layouts and their measures.
    `progress(done, total, what)` is called as it goes. Raises ValueError when fewer than 3
    components are left to lay out."""
    from ..store.checkpoint import fingerprint
    from .sentence import component_points, corpus_sample

    sentences = corpus_sample(model.tokenizer, n_sentences)
    chunks = list(range(0, len(sentences), ENCODE_CHUNK))
    total = len(chunks) + 3
    report = progress or (lambda done, total, what: None)
    parts = []
    for i, start in enumerate(chunks):
        report(i, total, f"encoding {len(sentences)} sentences")
        part = component_points(model, sentences[start : start + ENCODE_CHUNK])
        part["sentence"] = part["sentence"] + start
        parts.append(part)
    if not parts:
        raise ValueError("no test sentences to lay out")
    points = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    means = points.pop("means")
    if len(means) < 3:
        raise ValueError(f"only {len(means)} retained component(s) in {len(sentences)} sentences: too few for a map")
    residual, fit = map_stats.remove_position(means, points["position"])
    layouts = {}
    report(len(chunks), total, f"fitting the UMAP layout of {len(means):,} means")
    layouts["means"] = fit_layout(means, seed)
    report(len(chunks) + 1, total, "fitting the UMAP layout with position removed")
    layouts["residual"] = fit_layout(residual, seed)
    report(len(chunks) + 2, total, "measuring what the layouts encode")
    measures = {
        p: map_stats.layout_r2(layouts[p], points["position"], points["token"], points["sentence"]) for p in PROJECTIONS
    }
    n_ref = reference_count(len(means), model.cfg.d_model, reference_bytes)
    rng = np.random.default_rng(seed)
    reference = np.sort(rng.choice(len(means), n_ref, replace=False)) if n_ref < len(means) else np.arange(len(means))
    m = LatentMap(
        sentences=list(sentences),
        points={
            "sentence": points["sentence"].astype(np.int64),
            "position": points["position"].astype(np.int64),
            "token": np.asarray(points["token"], dtype=str),
            "weight": points["weight"].astype(np.float32),
        },
        layouts=layouts,
        measures=measures,
        position_share=map_stats.share_explained(means, points["position"]),
        position_table=fit.table.astype(np.float32),
        reference=reference.astype(np.int64),
        reference_means=means[reference].astype(np.float16).astype(np.float32),
        fingerprint=fingerprint(model),
        d_model=int(model.cfg.d_model),
        n_sentences=int(n_sentences),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    report(total, total, "done")
    return m


# -- the file -------------------------------------------------------------------------------------


def _pack(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as UTF-8 bytes [B] uint8 and the end offset of each [N] int64 (no pickle, compact)."""
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    ends = np.cumsum([len(b) for b in encoded], dtype=np.int64) if encoded else np.zeros(0, np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), ends


def _unpack(data: np.ndarray, ends: np.ndarray) -> list[str]:
    if data.dtype != np.uint8 or data.ndim != 1 or ends.ndim != 1:
        raise ValueError("packed strings are not bytes and offsets")
    if len(ends) and (np.any(np.diff(ends) < 0) or ends[0] < 0 or ends[-1] != len(data)):
        raise ValueError("string offsets out of order")
    raw = data.tobytes()
    starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
    return [raw[int(a) : int(b)].decode("utf-8", "surrogatepass") for a, b in zip(starts, ends)]


def save_map(path: str | Path, m: LatentMap) -> Path:
    """Write `m` to `path` (a compressed .npz, no object arrays), atomically; returns the path."""
    from ..store.atomic import write_file

    path = Path(path)
    sentences, sentence_ends = _pack(m.sentences)
    vocab, token_index = np.unique(np.asarray(m.points["token"], dtype=str), return_inverse=True)
    tokens, token_ends = _pack([str(t) for t in vocab])
    arrays = {
        "version": np.int64(FORMAT_VERSION),
        "fingerprint": np.str_(m.fingerprint),
        "d_model": np.int64(m.d_model),
        "n_sentences": np.int64(m.n_sentences),
        "created": np.str_(m.created),
        "sentences_utf8": sentences,
        "sentences_end": sentence_ends,
        "tokens_utf8": tokens,
        "tokens_end": token_ends,
        "token_index": token_index.astype(np.int32).reshape(-1),
        "sentence": m.points["sentence"].astype(np.int32),
        "position": m.points["position"].astype(np.int32),
        "weight": m.points["weight"].astype(np.float32),
        "layout_means": m.layouts["means"].astype(np.float32),
        "layout_residual": m.layouts["residual"].astype(np.float32),
        "r2": np.array([[m.measures[p]["position"], m.measures[p]["token"]] for p in PROJECTIONS], np.float64),
        "position_share": np.float64(m.position_share),
        "position_table": m.position_table.astype(np.float32),
        "reference": m.reference.astype(np.int32),
        "reference_means": m.reference_means.astype(np.float16),
    }

    def write(part: Path) -> None:
        with open(part, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(part, 0o644)

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_file(path, write)


class MapFileError(ValueError):
    """A map file that cannot be used: unreadable, inconsistent, or made for another model."""


def read_map(path: str | Path) -> LatentMap:
    """The map stored at `path`, checked for consistency (not yet against a model: `check_map`).
    Raises FileNotFoundError when there is none, MapFileError when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no map file")
    try:
        with np.load(path, allow_pickle=False) as data:
            a = {name: data[name] for name in data.files}
    except Exception as err:  # not a zip, truncated, object arrays (pickle refused), ...
        raise MapFileError(f"it cannot be read ({type(err).__name__})") from None
    try:
        return _from_arrays(a)
    except MapFileError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError, OverflowError) as err:
        missing = f"no {err.args[0]!r} array" if isinstance(err, KeyError) else f"{type(err).__name__}: {err}"
        raise MapFileError(f"it is inconsistent ({missing})") from None


def _scalar(a: dict, name: str, kind: type):
    value = a[name]
    if value.shape != ():
        raise MapFileError(f"it is inconsistent ({name} is not a single value)")
    return kind(value.item())


def _from_arrays(a: dict) -> LatentMap:
    version = _scalar(a, "version", int)
    if version != FORMAT_VERSION:
        raise MapFileError(f"it was written in format {version}; this version reads format {FORMAT_VERSION}")
    d_model = _scalar(a, "d_model", int)
    sentences = _unpack(a["sentences_utf8"], a["sentences_end"])
    vocab = _unpack(a["tokens_utf8"], a["tokens_end"])
    token_index = a["token_index"]
    m = len(token_index)
    problems = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    ints = ("sentence", "position", "token_index", "reference")
    for name in ints:
        need(a[name].ndim == 1 and np.issubdtype(a[name].dtype, np.integer), f"{name} is not a list of integers")
    for name in ("weight", "layout_means", "layout_residual", "position_table", "reference_means", "r2"):
        need(np.issubdtype(a[name].dtype, np.floating), f"{name} is not floating point")
    if problems:
        raise MapFileError(f"it is inconsistent ({'; '.join(problems)})")
    need(m >= 3, f"{m} points")
    for name in ("sentence", "position", "weight"):
        need(a[name].shape == (m,), f"{name} has shape {a[name].shape}, not ({m},)")
    for name in ("layout_means", "layout_residual"):
        need(a[name].shape == (m, 2), f"{name} has shape {a[name].shape}, not ({m}, 2)")
        need(bool(np.isfinite(a[name]).all()), f"{name} is not finite")
    need(a["r2"].shape == (len(PROJECTIONS), 2) and bool(np.isfinite(a["r2"]).all()), "r2 is not 2 x 2 finite numbers")
    need(a["position_table"].shape == (map_stats.POSITION_CAP + 1, d_model), "position_table has the wrong shape")
    need(bool(np.isfinite(a["position_table"]).all()), "position_table is not finite")
    ref = a["reference"]
    need(a["reference_means"].shape == (len(ref), d_model), f"reference_means is not [{len(ref)}, {d_model}]")
    need(bool(np.isfinite(a["reference_means"]).all()), "reference_means is not finite")
    need(len(ref) >= 1 and bool(np.all((ref >= 0) & (ref < m))), "reference indices out of range")
    need(len(ref) >= 1 and bool(np.all(np.diff(ref) > 0)), "reference indices not increasing")
    need(m == 0 or (0 <= a["sentence"].min() and a["sentence"].max() < len(sentences)), "sentence index out of range")
    need(m == 0 or a["position"].min() >= 0, "negative position")
    need(m == 0 or (0 <= token_index.min() and token_index.max() < len(vocab)), "token index out of range")
    need(bool(np.isfinite(a["weight"]).all()), "weight is not finite")
    share = _scalar(a, "position_share", float)
    need(np.isfinite(share), "position_share is not finite")
    if problems:
        raise MapFileError(f"it is inconsistent ({'; '.join(problems)})")
    r2 = a["r2"].astype(np.float64)
    return LatentMap(
        sentences=sentences,
        points={
            "sentence": a["sentence"].astype(np.int64),
            "position": a["position"].astype(np.int64),
            "token": np.asarray(vocab, dtype=str)[token_index] if vocab else np.zeros(0, dtype=str),
            "weight": a["weight"].astype(np.float32),
        },
        layouts={"means": a["layout_means"].astype(np.float32), "residual": a["layout_residual"].astype(np.float32)},
        measures={p: {"position": float(r2[i, 0]), "token": float(r2[i, 1])} for i, p in enumerate(PROJECTIONS)},
        position_share=share,
        position_table=a["position_table"].astype(np.float32),
        reference=ref.astype(np.int64),
        reference_means=a["reference_means"].astype(np.float32),
        fingerprint=_scalar(a, "fingerprint", str),
        d_model=d_model,
        n_sentences=_scalar(a, "n_sentences", int),
        created=_scalar(a, "created", str),
    )


def check_map(m: LatentMap, model, n_sentences: int | None = None, model_fingerprint: str | None = None) -> None:
    """Raise MapFileError when `m` was not made for `model` (its width, its weights: the fingerprint)
    or, if `n_sentences` is given, with another number of sentences."""
    if m.d_model != model.cfg.d_model:
        raise MapFileError(f"it was made for a model of width {m.d_model}; this one's is {model.cfg.d_model}")
    if model_fingerprint is None:
        from ..store.checkpoint import fingerprint

        model_fingerprint = fingerprint(model)
    if m.fingerprint != model_fingerprint:
        raise MapFileError("it was made for other weights (the checkpoint has changed since it was written)")
    if n_sentences is not None and m.n_sentences != n_sentences:
        raise MapFileError(f"it was made with {m.n_sentences} sentences; {n_sentences} are asked for")


def load_map(
    path: str | Path, model, n_sentences: int | None = None, model_fingerprint: str | None = None
) -> tuple[LatentMap | None, str | None]:
    """(map, None) when `path` holds a valid map for `model`; (None, None) when there is no file;
    (None, notice) when there is one that cannot be used, the notice saying why in one sentence.
    Never raises for a bad file."""
    try:
        m = read_map(path)
        check_map(m, model, n_sentences, model_fingerprint)
    except FileNotFoundError:
        return None, None
    except MapFileError as err:
        return None, f"{path} was not used: {err}."
    except OSError as err:
        return None, f"{path} was not used: it cannot be read ({err.strerror or err})."
    return m, None


def map_file(checkpoint: str | Path) -> Path:
    """Where a checkpoint's shipped map lives: CHECKPOINT/latent_map.npz."""
    return Path(checkpoint) / FILE_NAME
