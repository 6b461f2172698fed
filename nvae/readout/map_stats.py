"""What a 2-D map of component means encodes: how much of the layout token position explains, how
much token identity explains, and the means with position removed (for a map where it does not
dominate).

A UMAP of the NVAE's component means looks like a map of roles, but the encoder's states carry
their position strongly, so neighbours on the map are often just tokens at the same position.
The measures here say how much:

- `group_r2(y, groups, folds)`: the cross-validated R^2 of predicting `y` (the 2-D layout, or
  anything [M, D]) by the mean of its group (a token position, a token) over the other folds'
  points. Out-of-fold, so a group seen once (a rare token) explains nothing: it cannot fit itself.
- `layout_r2(layout, position, token, sentence)`: that R^2 for position and for token identity,
  with folds by sentence (a sentence's tokens never inform their own prediction).
- `PositionMeans` / `remove_position`: the means regressed on position (one indicator per
  position, positions past `cap` pooled: a per-position mean) and the residuals, which a second
  UMAP can lay out; `PositionMeans.apply` removes the same fit from new points (a user's sentences).
- `choose_projection`: which layout a page should open on, from those measurements;
  `axes_encode` what a layout's axes mostly encode, in words.

Plain numpy, no model and no streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POSITION_CAP = 40  # positions from here on share one group (few sentences are that long)
FOLDS = 5


def _as_2d(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y


def group_r2(y: np.ndarray, groups, folds: np.ndarray | int = FOLDS) -> float:
    """Cross-validated R^2 of predicting the rows of `y` [M, D] by their group's mean.

    `folds`: a fold number per row (e.g. sentence index % 5), or a number of folds (rows dealt out
    in turn). Each row is predicted by the mean of its group over the rows of the other folds, or by
    their overall mean when its group does not occur there. R^2 = 1 - SSE / SST summed over the D
    columns, SST around the overall mean; 0 means no better than the mean (it can be negative).
    """
    y = _as_2d(y)
    m = len(y)
    if m < 2:
        return 0.0
    groups = np.asarray(groups)
    fold = np.arange(m) % int(folds) if np.isscalar(folds) else np.asarray(folds)
    _, g = np.unique(groups, return_inverse=True)
    n_groups = int(g.max()) + 1
    prediction = np.empty_like(y)
    for f in np.unique(fold):
        test, train = fold == f, fold != f
        if not train.any():
            prediction[test] = y.mean(0)
            continue
        sums = np.zeros((n_groups, y.shape[1]))
        np.add.at(sums, g[train], y[train])
        counts = np.bincount(g[train], minlength=n_groups)
        base = y[train].mean(0)
        means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], base)
        prediction[test] = means[g[test]]
    sst = float(((y - y.mean(0)) ** 2).sum())
    if sst <= 0:
        return 0.0
    return 1.0 - float(((y - prediction) ** 2).sum()) / sst


def position_group(position) -> np.ndarray:
    """Token positions as groups: 0, 1, ..., POSITION_CAP - 1, and POSITION_CAP for every later one."""
    return np.minimum(np.asarray(position, dtype=np.int64), POSITION_CAP)


def layout_r2(layout: np.ndarray, position, token, sentence, folds: int = FOLDS) -> dict[str, float]:
    """How much of a layout [M, 2] token position and token identity explain (`group_r2`, folds by
    sentence: sentence s is in fold s % folds)."""
    fold = np.asarray(sentence, dtype=np.int64) % folds
    return {
        "position": group_r2(layout, position_group(position), fold),
        "token": group_r2(layout, np.asarray(token, dtype=str), fold),
    }


@dataclass
class PositionMeans:
    """The per-position mean of the component means (the least-squares fit on one indicator per
    position group), to remove position from the means of the corpus and of new sentences alike."""

    table: np.ndarray  # [POSITION_CAP + 1, P]; a group never seen holds the overall mean

    @classmethod
    def fit(cls, means: np.ndarray, position) -> PositionMeans:
        means = np.asarray(means, dtype=np.float64)
        g = position_group(position)
        table = np.tile(means.mean(0) if len(means) else np.zeros(means.shape[1]), (POSITION_CAP + 1, 1))
        if len(means):
            sums = np.zeros_like(table)
            np.add.at(sums, g, means)
            counts = np.bincount(g, minlength=POSITION_CAP + 1)
            table = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], table)
        return cls(table=table)

    def apply(self, means: np.ndarray, position) -> np.ndarray:
        """The means with their position group's mean taken off (float32, like the means)."""
        means = np.asarray(means, dtype=np.float64)
        if not len(means):
            return means.astype(np.float32)
        return (means - self.table[position_group(position)]).astype(np.float32)


def remove_position(means: np.ndarray, position) -> tuple[np.ndarray, PositionMeans]:
    """(residuals, fit): the means regressed on position, and what is left of them."""
    fit = PositionMeans.fit(means, position)
    return fit.apply(means, position), fit


def share_explained(means: np.ndarray, position) -> float:
    """In-sample share of the means' total variance that their position groups' means carry (the
    part `remove_position` takes away)."""
    means = np.asarray(means, dtype=np.float64)
    if len(means) < 2:
        return 0.0
    residual = means - PositionMeans.fit(means, position).table[position_group(position)]
    sst = float(((means - means.mean(0)) ** 2).sum())
    return 0.0 if sst <= 0 else 1.0 - float((residual**2).sum()) / sst


def choose_projection(measures: dict[str, dict[str, float]]) -> str:
    """The projection a map should open on, given `layout_r2` of each ({"means": {...},
    "residual": {...}}): the plain means unless position explains their layout more than token
    identity does; then the position-removed one, if position explains less of it there."""
    raw = measures["means"]
    if raw["position"] <= raw["token"] or "residual" not in measures:
        return "means"
    return "residual" if measures["residual"]["position"] < raw["position"] else "means"


def top_tokens(token, n: int = 10) -> list[str]:
    """The n most frequent tokens (ties by first occurrence): the ones a 'colour by token' map names."""
    token = np.asarray(token, dtype=str)
    if not len(token):
        return []
    values, first, counts = np.unique(token, return_index=True, return_counts=True)
    order = sorted(range(len(values)), key=lambda i: (-counts[i], first[i]))
    return [str(values[i]) for i in order[:n]]


def axes_encode(r2: dict[str, float]) -> str:
    """What a layout's axes mostly encode, in words, from its `layout_r2`: "token position",
    "token identity", "in part token identity" ... or "neither token position nor token identity"."""
    names = {"position": "token position", "token": "token identity"}
    main = max(names, key=lambda k: r2[k])
    if r2[main] >= 0.5:
        return f"mostly {names[main]}"
    if r2[main] >= 0.15:
        return f"in part {names[main]}, mostly neither (the context a token sits in)"
    return "neither token position nor token identity"


def show_r2(value: float) -> str:
    """An R^2 as the pages print it: two decimals, never "-0.00"."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text
