"""What a checkpoint folder holds: its file names, the format version, `CheckpointError`, and a
pickle-free reader of its safetensors files.

    model.safetensors            weights (float32, or float16 with `half=True`; read back as float32)
    config.json                  {"model": ModelConfig, "train": TrainConfig} (config.save_configs)
    tokenizer.json               the `tokenizers.Tokenizer`
    training_state.json          optional: step, scheduler, optimizer hyperparameters, RNG, extra
    training_state.safetensors   optional: optimizer state tensors and the torch RNG states
    aggregate.safetensors        optional: the aggregate-posterior fit (nvae.evaluation.sampling)
    latent_map.npz               optional: the app's Latent map (nvae.readout.latent_map; ignored once the
                                 weights change)
    rate_distortion.json         optional: BLEU against the retained proportion, learned against fixed
                                 choices (nvae.readout.rate_distortion_file; ignored once the weights change)
    metrics.jsonl, MODEL_CARD.md optional: written by others; kept when the folder is overwritten

The checkpoint itself is written and read by nvae.store.checkpoint, the training state by
nvae.store.train_state. Nothing here uses pickle: a file disguised as weights is rejected as corrupt and
never executed.
"""

from __future__ import annotations

from pathlib import Path

import safetensors
import safetensors.torch
from torch import Tensor

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
STATE_JSON = "training_state.json"
STATE_TENSORS = "training_state.safetensors"
METRICS = "metrics.jsonl"
MODEL_CARD = "MODEL_CARD.md"
AGGREGATE = "aggregate.safetensors"  # a fit to the weights (nvae.evaluation.sampling): stale once they change
LATENT_MAP = "latent_map.npz"  # the app's Latent map (nvae.readout.latent_map): stale once the weights change
RATE_DISTORTION = "rate_distortion.json"  # nvae.readout.rate_distortion_file: stale once the weights change
# Files nvae.store.checkpoint writes; everything else found in a destination folder is carried over.
OWN_FILES = (WEIGHTS, CONFIG, TOKENIZER, STATE_JSON, STATE_TENSORS, AGGREGATE)
# The files of a complete checkpoint (what an interrupted save may restore).
REQUIRED_FILES = (WEIGHTS, CONFIG, TOKENIZER)
FORMAT_VERSION = 1
FILE_MODE = 0o644  # checkpoint files: readable by everyone, like the rest of the project


class CheckpointError(ValueError):
    """A checkpoint folder (or one of its files) is missing, damaged or inconsistent."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type's name: the reason in a one-line error."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """All tensors and the metadata of a safetensors file; never unpickles anything."""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        tensors = safetensors.torch.load_file(str(path))
    except Exception as e:  # SafetensorError, OSError, ...: all mean an unreadable file
        reason = first_line(e)
        raise CheckpointError(f"{path}: truncated or corrupt, not a readable safetensors file ({reason})") from None
    return tensors, metadata
