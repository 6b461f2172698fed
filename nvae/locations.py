"""Where things live: the project folder, the shipped checkpoints, the data and the caches.

One place for every default path, read by the command line, the evaluation and the app alike.
Environment variables override the defaults at call time:

    NVAE_CHECKPOINT   the default checkpoint folder (unset or empty: checkpoints/nvae-default)
    NVAE_DATA_DIR     the data folder holding wikitext-2/ and wikipedia-extra/ (default: data/)
    NVAE_CACHE_DIR    the `datasets` cache (default: a folder in the system temp dir)
    NVAE_EXAMPLES_DIR the demo set, sentences.txt and pairs.tsv (default: examples/)
    NVAE_LM_DIR       the fluency language model's folder (default: checkpoints/lm-wiki-mix)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS_DIR = PROJECT_ROOT / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINTS_DIR / "nvae-default"
DEFAULT_LM = CHECKPOINTS_DIR / "lm-wiki-mix"  # the fluency LM (`nvae lm train`)
DATA_DIR = PROJECT_ROOT / "data"
DOCS_DIR = PROJECT_ROOT / "docs"
EXAMPLES_DIR = PROJECT_ROOT / "examples"


def default_checkpoint() -> Path:
    """$NVAE_CHECKPOINT if set and not empty, else the shipped `checkpoints/nvae-default`."""
    return Path(os.environ.get("NVAE_CHECKPOINT") or DEFAULT_CHECKPOINT)


def data_dir() -> Path:
    """The data folder: $NVAE_DATA_DIR if set and not empty, else the repository's `data/`."""
    return Path(os.environ.get("NVAE_DATA_DIR") or DATA_DIR)


def cache_dir() -> Path:
    """Where `datasets` keeps its cache: $NVAE_CACHE_DIR, else a folder in the system temp dir."""
    return Path(os.environ.get("NVAE_CACHE_DIR") or Path(tempfile.gettempdir()) / "nvae-datasets-cache")


def examples_dir() -> Path:
    """The demo set's folder: $NVAE_EXAMPLES_DIR if set and not empty, else the repository's `examples/`."""
    return Path(os.environ.get("NVAE_EXAMPLES_DIR") or EXAMPLES_DIR)


def fluency_lm_dir() -> Path:
    """The fluency LM's folder (`nvae.evaluation.lm`): $NVAE_LM_DIR if set and not empty, else the
    shipped `checkpoints/lm-wiki-mix`."""
    return Path(os.environ.get("NVAE_LM_DIR") or DEFAULT_LM)
