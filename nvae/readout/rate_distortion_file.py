"""A checkpoint's rate-distortion result, computed once and kept beside its weights
(`rate_distortion.json`): BLEU against the retained proportion for the model's learned choice of
components and for fixed choices on the same model (`nvae.evaluation.compression`). Decoding four
choices at four rates is too slow for the app to do live on hundreds of sentences, so
`python -m nvae rate-distortion CHECKPOINT` writes the file and the app's Sparsity page reads it.

- `compute_record(model, ids, ...)`: the file's contents (a dict): what was measured, on which
  sentences, by which command, for which weights, and the result;
- `save_record(path, record)`: plain JSON, written atomically;
- `load_record(path, ...)`: (record, None) for a valid file made for these weights; (None, None)
  when there is none; (None, notice) when there is one that cannot be used, the notice saying why
  in one line. Never raises for a bad file.

A file is tied to the weights it was made with: the model's `nvae.store.checkpoint.fingerprint`
(checked when the model is loaded) and the sha256 of the checkpoint's weights, config and tokenizer
files (checked without loading it, for the other checkpoints the page draws beside it).
Nothing here imports streamlit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shlex
import time
from pathlib import Path

from ..config import alpha_delta_is_input
from ..evaluation.compression import CHOICES, KINDS, Progress, measure_compression
from ..evaluation.measures import RATES
from ..store.format import CONFIG, RATE_DISTORTION, TOKENIZER, WEIGHTS

FILE_NAME = RATE_DISTORTION
FORMAT_VERSION = 1
DEFAULT_SPLIT = "validation"
DEFAULT_LIMIT = 300
DEFAULT_CORPUS = "wikitext-2"  # its validation split is wiki-mix's too (data/README.md)
COMMAND = "python -m nvae rate-distortion"


class RateDistortionFileError(ValueError):
    """A rate-distortion file that cannot be used: unreadable, inconsistent, or made for other weights."""


CHOICE_NAMES = {
    "learned": "the model's own choice",
    "evenly_spaced": "evenly spaced positions",
    "random": "a random subset",
}
RATE_WORDS = {0.25: "a quarter", 0.333: "a third", 0.5: "half", 0.75: "three quarters"}


def verdict(record: dict) -> list[str]:
    """The rate-distortion result in words, one sentence per measured share: which choice decodes best
    there and by how much against the model's own choice ("At half kept, every second position wins:
    91.4 BLEU against 74.2 for the model's own choice."). [] for a record with no rows (a baseline)."""
    lines = []
    for row in record.get("rows", []):
        scores = {k: row[k]["bleu"] for k in ("learned", "stride", "evenly_spaced", "random") if k in row}
        if "learned" not in scores:
            continue
        names = {**CHOICE_NAMES, "stride": f"{row['stride'].get('rule', 'the stride rule')} position"}
        best = max(scores, key=lambda k: (scores[k], k == "learned"))  # a tie goes to the model's own choice
        share = RATE_WORDS.get(round(row["target"], 3), f"{row['learned']['retained_proportion']:.3g}")
        if best == "learned":
            runner = max((k for k in scores if k != "learned"), key=scores.get, default=None)
            against = f" ({scores[runner]:.1f} for {names[runner]})" if runner else ""
            lines.append(f"At {share} kept, the model's own choice wins: {scores['learned']:.1f} BLEU{against}.")
        else:
            verb = "win" if best == "evenly_spaced" else "wins"
            lines.append(
                f"At {share} kept, {names[best]} {verb}: {scores[best]:.1f} BLEU against {scores['learned']:.1f} "
                "for the model's own choice."
            )
    return lines


def record_file(checkpoint: str | Path) -> Path:
    """Where a checkpoint's rate-distortion result lives: CHECKPOINT/rate_distortion.json."""
    return Path(checkpoint) / FILE_NAME


def command_for(
    checkpoint: str | Path, split: str = DEFAULT_SPLIT, limit: int = DEFAULT_LIMIT, corpus: str = DEFAULT_CORPUS
) -> str:
    """The command line that writes `checkpoint`'s file with these settings (defaults left out)."""
    parts = [str(checkpoint)]
    if corpus != DEFAULT_CORPUS:
        parts += ["--corpus", corpus]
    if split != DEFAULT_SPLIT:
        parts += ["--split", split]
    if limit != DEFAULT_LIMIT:
        parts += ["--limit", str(limit)]
    return f"{COMMAND} {shlex.join(parts)}"


def files_digest(checkpoint: str | Path) -> str:
    """sha256 over the checkpoint's weights, config and tokenizer files (what decides the model's
    outputs); a missing file counts as empty."""
    h = hashlib.sha256()
    for name in (WEIGHTS, CONFIG, TOKENIZER):
        h.update(f"{name}|".encode())
        try:
            with open(Path(checkpoint) / name, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            h.update(b"-")
    return h.hexdigest()


def sentences_digest(ids: list[list[int]]) -> str:
    """sha256 of the token ids measured on (names the sentences, so that two files can be compared)."""
    return hashlib.sha256(json.dumps(ids, separators=(",", ":")).encode()).hexdigest()


def compute_record(
    model,
    ids: list[list[int]],
    checkpoint: str | Path,
    command: str,
    corpus: str,
    split: str,
    truncated: int = 0,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict:
    """The contents of `checkpoint`'s file: `measure_compression(model, ids)` and what it was measured on."""
    from ..store.checkpoint import fingerprint

    t0 = time.time()
    result = measure_compression(model, ids, RATES, seed, progress)
    return {
        "format": FORMAT_VERSION,
        "what": "BLEU against the retained proportion: the model's learned choice of components against "
        "fixed choices on the same model (the nearest stride rule, evenly spaced positions, a random subset)",
        "command": command,
        "checkpoint": str(checkpoint),
        "model_type": model.cfg.model_type,
        "alpha_delta_conditional": alpha_delta_is_input(model.cfg),
        "corpus": corpus,
        "split": split,
        "sentences": len(ids),
        "truncated": truncated,
        "sentences_sha256": sentences_digest(ids),
        "seed": seed,
        "fingerprint": fingerprint(model),
        "files_sha256": files_digest(checkpoint),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": round(time.time() - t0, 1),
        **result,
    }


def save_record(path: str | Path, record: dict) -> Path:
    """Write `record` to `path` as JSON (mode 0644), atomically; returns the path."""
    from ..store.atomic import write_file

    path = Path(path)
    text = json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False) + "\n"

    def write(part: Path) -> None:
        part.write_text(text, encoding="utf-8")
        os.chmod(part, 0o644)

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_file(path, write)


def _number(value, what: str, lo: float = 0.0, hi: float = 100.0) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RateDistortionFileError(f"it is inconsistent ({what} is not a finite number)")
    if not lo <= value <= hi:
        raise RateDistortionFileError(f"it is inconsistent ({what} = {value} lies outside [{lo:g}, {hi:g}])")


def _check_point(p, what: str) -> None:
    if not isinstance(p, dict):
        raise RateDistortionFileError(f"it is inconsistent ({what} is not an object)")
    for key in ("bleu", "retained_proportion"):
        if key not in p:
            raise RateDistortionFileError(f"it is inconsistent ({what} has no {key!r})")
    _number(p["bleu"], f"{what}'s BLEU")
    _number(p["retained_proportion"], f"{what}'s retained proportion", 0.0, 1.0)
    if "exact_match" in p:
        _number(p["exact_match"], f"{what}'s exact-match share", 0.0, 1.0)
    if p.get("alpha_delta") is not None:
        _number(p["alpha_delta"], f"{what}'s alpha^Delta", 0.0, math.inf)


def check_record(record) -> dict:
    """`record` when it is a complete, consistent file's contents; else RateDistortionFileError."""
    if not isinstance(record, dict):
        raise RateDistortionFileError("it is not a JSON object")
    version = record.get("format")
    if version != FORMAT_VERSION:
        raise RateDistortionFileError(
            f"it was written in format {version!r}; this version reads format {FORMAT_VERSION}"
        )
    for key in ("command", "split", "model_type", "fingerprint", "files_sha256", "kind"):
        if not isinstance(record.get(key), str):
            raise RateDistortionFileError(f"it is inconsistent (no {key!r})")
    if record["kind"] not in KINDS:
        raise RateDistortionFileError(f"it is inconsistent (kind {record['kind']!r})")
    n = record.get("sentences")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RateDistortionFileError("it is inconsistent (no count of sentences)")
    _check_point(record.get("point"), "the model's own point")
    rows = record.get("rows")
    if not isinstance(rows, list) or (record["kind"] == "curve" and not rows):
        raise RateDistortionFileError("it is inconsistent (no rows)")
    for k, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RateDistortionFileError(f"it is inconsistent (row {k + 1} is not an object)")
        _number(row.get("target"), f"row {k + 1}'s target", 0.0, 1.0)
        _number(row.get("alpha_delta"), f"row {k + 1}'s alpha^Delta", 0.0, math.inf)
        for choice in CHOICES:
            _check_point(row.get(choice), f"row {k + 1}'s {choice}")
    return record


def read_record(path: str | Path) -> dict:
    """The record stored at `path`, checked for consistency (not yet against a model).
    FileNotFoundError when there is none, RateDistortionFileError when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no rate-distortion file")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RateDistortionFileError("it is not valid JSON") from None
    return check_record(record)


def load_record(
    path: str | Path, model_fingerprint: str | None = None, checkpoint: str | Path | None = None
) -> tuple[dict | None, str | None]:
    """(record, None) when `path` holds a valid file for these weights; (None, None) when there is
    none; (None, notice) when there is one that cannot be used, the notice saying why in one line.

    The weights are checked by `model_fingerprint` (`nvae.store.checkpoint.fingerprint` of the loaded
    model) when given, else by the files of `checkpoint` (default: the file's folder)."""
    path = Path(path)
    try:
        record = read_record(path)
        if model_fingerprint is not None:
            stale = record["fingerprint"] != model_fingerprint
        else:
            stale = record["files_sha256"] != files_digest(checkpoint if checkpoint is not None else path.parent)
        if stale:
            raise RateDistortionFileError(
                "it was made for other weights (the checkpoint has changed since it was written); "
                f"`{record['command']} --force` writes a new one"
            )
    except FileNotFoundError:
        return None, None
    except RateDistortionFileError as err:
        return None, f"{path} was not used: {err}."
    except OSError as err:
        return None, f"{path} was not used: it cannot be read ({err.strerror or err})."
    return record, None
