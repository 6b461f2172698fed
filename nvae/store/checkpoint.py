"""Checkpoint folders: save atomically, load with validation, describe, read metrics, fingerprint.

The folder's files are listed in nvae.store.format; the optional training state in it is
written and read by nvae.store.train_state.

Nothing here uses pickle (no `torch.load`, no `pickle`): a file disguised as weights is rejected as
corrupt and never executed. Every failure raises `CheckpointError` with one sentence naming the
file and the problem.

`save_checkpoint` writes everything into a temporary sibling folder, fsyncs it, then swaps it into
place (nvae.store.atomic), so a crash leaves either the old checkpoint or the new one at `path`, never a
mixture. The one gap (killed between moving the old folder aside and moving the new one in) is
healed by `recover_interrupted_save`, which every function here runs first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn

from ..config import ConfigError, ModelConfig, TrainConfig, fingerprinted_fields, load_configs, save_configs
from ..data.text import load_tokenizer, tokenizer_mismatch
from ..model.autoencoder import NVAE
from .atomic import recover_interrupted_save, swap_into_place, temp_sibling
from .format import (
    AGGREGATE,
    CONFIG,
    FILE_MODE,
    FORMAT_VERSION,
    METRICS,
    MODEL_CARD,
    OWN_FILES,
    REQUIRED_FILES,
    STATE_JSON,
    STATE_TENSORS,
    TOKENIZER,
    WEIGHTS,
    CheckpointError,
    first_line,
    read_safetensors,
)
from .train_state import save_training_state

FP16_MAX = 65504.0
# What save_checkpoint's `carry_from` leaves behind: the files it writes itself, but for the
# aggregate-posterior fit (a fit to the very weights `carry_from` holds)
NOT_CARRIED_FROM_SOURCE = tuple(name for name in OWN_FILES if name != AGGREGATE)


# -- small helpers -----------------------------------------------------------------------------


def _unwrap(model: nn.Module) -> nn.Module:
    """The NVAE inside a DistributedDataParallel / DataParallel / torch.compile wrapper."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def _short_list(names: list[str], limit: int = 6) -> str:
    """'[a, b, c]' or '[a, b, ... (12 in all)]' for error messages."""
    names = sorted(names)
    if len(names) <= limit:
        return "[" + ", ".join(repr(n) for n in names) + "]"
    return "[" + ", ".join(repr(n) for n in names[:limit]) + f", ... ({len(names)} in all)]"


def _check_tokenizer(tok, cfg: ModelConfig, where: Path) -> None:
    """The tokenizer must match the config: vocabulary size and the four special token ids."""
    problem = tokenizer_mismatch(tok, cfg)
    if problem is not None:
        raise CheckpointError(f"{where}: {problem}")


# -- weights -------------------------------------------------------------------------------------


def _weights_to_save(model: NVAE, half: bool, where: Path) -> dict[str, Tensor]:
    """Persistent state_dict entries as contiguous CPU tensors that share no memory.

    With `half`, floating parameters become float16 (buffers are tiny and config-derived: they keep
    full precision). Refuses NaN/inf values, and values that overflow float16.
    """
    params = {name for name, _ in model.named_parameters()}
    out: dict[str, Tensor] = {}
    seen: set[int] = set()
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        if t.is_floating_point():
            if not bool(torch.isfinite(t).all()):
                raise CheckpointError(f"{where}: refusing to save, tensor {name!r} has NaN/inf values")
            if half and name in params:
                if t.numel() and float(t.abs().max()) > FP16_MAX:
                    raise CheckpointError(
                        f"{where}: tensor {name!r} overflows float16 (|value| > 65504); save it without half precision"
                    )
                t = t.to(torch.float16)
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen or t.untyped_storage().nbytes() != t.numel() * t.element_size():
            t = t.clone()  # safetensors refuses tensors that share (or view part of) a storage
        seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def _validate_weights(tensors: dict[str, Tensor], expected: dict[str, Tensor], where: Path) -> None:
    """Same key set as the model, same shapes, floating where the model is floating, all finite."""
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing and unexpected:
        raise CheckpointError(
            f"{where}: missing tensors {_short_list(missing)} and unexpected tensors "
            f"{_short_list(unexpected)} (weights and config.json are from different models)"
        )
    if missing:
        raise CheckpointError(f"{where}: missing tensors {_short_list(missing)}")
    if unexpected:
        raise CheckpointError(f"{where}: unexpected tensors {_short_list(unexpected)}")
    for name, want in expected.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(
                f"{where}: tensor {name!r} has shape {list(got.shape)}, the config expects {list(want.shape)}"
            )
        if want.is_floating_point() and not got.is_floating_point():
            raise CheckpointError(f"{where}: tensor {name!r} has dtype {got.dtype}, expected a floating-point tensor")
    for name, got in tensors.items():
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise CheckpointError(f"{where}: tensor {name!r} has NaN/inf values")


# -- save ----------------------------------------------------------------------------------------


def save_checkpoint(
    path: str | Path,
    model: NVAE,
    train_cfg: TrainConfig | None = None,
    half: bool = False,
    training_state: dict[str, Any] | None = None,
    carry_from: str | Path | None = None,
) -> Path:
    """Write the checkpoint folder `path` atomically and return it.

    model           an NVAE (or a DDP / compiled wrapper of one) with `model.tokenizer` set
    train_cfg       stored in config.json; default: `model.train_cfg` if present, else TrainConfig()
    half            store floating parameters as float16 (about half the size)
    training_state  optional {"optimizer", "scheduler", "step", "rng", "extra"} (see
                    save_training_state), written in the same atomic swap
    carry_from      optional checkpoint folder that holds these very weights (nvae.store.pretrained
                    decides): its other files (MODEL_CARD.md, metrics.jsonl, latent_map.npz, ...,
                    and its aggregate-posterior fit, valid for the same weights) are copied in, in the
                    same atomic swap; its training state is not

    Files of an existing destination that this module does not write (MODEL_CARD.md,
    metrics.jsonl, ...) are carried over, unless `carry_from` has a file of the same name; stale
    training state is not. An existing non-empty folder that holds neither config.json nor
    model.safetensors is never replaced.
    """
    path = Path(path)
    model = _unwrap(model)
    weights_path = path / WEIGHTS
    if not isinstance(model, NVAE):
        raise CheckpointError(f"{weights_path}: expected an NVAE model, got {type(model).__name__}")
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        raise CheckpointError(f"{path / TOKENIZER}: the model has no tokenizer (set model.tokenizer before saving)")
    cfg: ModelConfig = model.cfg
    _check_tokenizer(tok, cfg, path / TOKENIZER)
    if training_state is not None and training_state.get("optimizer") is None:
        raise CheckpointError(f"{path / STATE_JSON}: training_state has no 'optimizer' entry")
    if train_cfg is None:
        train_cfg = getattr(model, "train_cfg", None)
    weights = _weights_to_save(model, half, weights_path)  # checks before anything touches the disk

    recover_interrupted_save(path, REQUIRED_FILES)
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"{path}: exists and is not a folder; refusing to replace it")
        entries = list(path.iterdir())
        if entries and not ((path / CONFIG).exists() or (path / WEIGHTS).exists()):
            raise CheckpointError(
                f"{path}: exists and is not a checkpoint folder (no {CONFIG} or {WEIGHTS}); refusing to replace it"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = temp_sibling(path, "tmp"), temp_sibling(path, "old")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    try:
        tmp.mkdir()
        meta = {
            "format": "pt",
            "nvae_format": str(FORMAT_VERSION),
            "model_type": cfg.model_type,
            "dtype": "float16" if half else "float32",
        }
        safetensors.torch.save_file(weights, str(tmp / WEIGHTS), metadata=meta)
        save_configs(tmp / CONFIG, cfg, train_cfg)
        tok.save(str(tmp / TOKENIZER))
        if training_state is not None:
            ts = training_state
            save_training_state(
                tmp, ts["optimizer"], ts.get("scheduler"), ts.get("step", 0), ts.get("rng"), ts.get("extra")
            )
        # carry over the files we do not own: those of `carry_from` first (their contents: a hub
        # snapshot's files are links into the hub's cache), then the destination's as they are
        carried = [(Path(carry_from), NOT_CARRIED_FROM_SOURCE, True)] if carry_from is not None else []
        for folder, skip, follow in [*carried, (path, OWN_FILES, False)]:
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.name in skip or (tmp / entry.name).exists():
                    continue
                if entry.is_dir():
                    shutil.copytree(entry, tmp / entry.name, symlinks=not follow)
                else:
                    shutil.copy2(entry, tmp / entry.name, follow_symlinks=follow)
        for f in tmp.rglob("*"):
            if f.is_file():
                os.chmod(f, FILE_MODE)  # safetensors writes 0600; a checkpoint is meant to be shared
        swap_into_place(tmp, path, old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


# -- load ----------------------------------------------------------------------------------------


def _load_config(path: Path) -> tuple[ModelConfig, TrainConfig]:
    cpath = path / CONFIG
    if not cpath.is_file():
        raise CheckpointError(f"{cpath}: missing")
    try:
        return load_configs(cpath)
    except (ConfigError, TypeError, ValueError, OSError) as e:
        msg = str(e)
        if not msg.startswith(str(cpath)):
            msg = f"{cpath}: invalid config ({msg})"
        raise CheckpointError(msg) from None


def _load_tokenizer(path: Path, cfg: ModelConfig):
    tpath = path / TOKENIZER
    if not tpath.is_file():
        raise CheckpointError(f"{tpath}: missing")
    try:
        tok = load_tokenizer(tpath)
    except ValueError as e:  # the reader's own error is the cause
        reason = first_line(e.__cause__ or e)
        raise CheckpointError(f"{tpath}: corrupt, not a readable tokenizer file ({reason})") from None
    _check_tokenizer(tok, cfg, tpath)
    return tok


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> NVAE:
    """Load and validate a checkpoint folder; returns the NVAE in eval mode on `device`.

    Checks, in order: the folder; config.json; tokenizer.json (vocabulary size and special token ids
    against the config); model.safetensors (readable, model_type, tensor names, shapes, finite
    values). The model gets `checkpoint_dir` and `train_cfg` attributes.
    """
    path = Path(path)
    recover_interrupted_save(path, REQUIRED_FILES)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint folder missing")
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a checkpoint folder (it is a file)")
    cfg, train_cfg = _load_config(path)
    tok = _load_tokenizer(path, cfg)
    wpath = path / WEIGHTS
    tensors, metadata = read_safetensors(wpath)
    stored_type = metadata.get("model_type")
    if stored_type is not None and stored_type != cfg.model_type:
        raise CheckpointError(
            f"{path / CONFIG}: model_type {cfg.model_type!r} but {WEIGHTS} holds weights of a {stored_type!r} model"
        )
    model = NVAE(cfg, tok)
    expected = model.state_dict()
    _validate_weights(tensors, expected, wpath)
    model.load_state_dict({k: v.to(dtype=expected[k].dtype) for k, v in tensors.items()}, strict=True)
    model = model.to(device).eval()
    model.checkpoint_dir = path
    # the precision the weights were stored in, which save_pretrained keeps (read back as float32)
    model.stored_dtype = torch.float16 if any(t.dtype == torch.float16 for t in tensors.values()) else torch.float32
    model.train_cfg = train_cfg
    model.aggregate = None
    if (path / AGGREGATE).is_file():
        try:
            model.aggregate = safetensors.torch.load_file(str(path / AGGREGATE))
        except Exception as e:  # a damaged fit costs only the aggregate sampler
            raise CheckpointError(f"{path / AGGREGATE}: unreadable ({e}); delete it or refit it") from None
    return model


# -- describe / metrics --------------------------------------------------------------------------


def _count_parameters(cfg: ModelConfig) -> int | None:
    """Parameter count of the architecture, without allocating weights (meta device)."""
    try:
        with torch.device("meta"):
            return NVAE(cfg).num_parameters()
    except Exception:
        return None


def describe(path: str | Path) -> dict[str, Any]:
    """A summary for the app's Model page, without loading the weights.

    {"path", "model_type", "config", "train_config", "parameters", "half", "files": {name: bytes},
     "total_bytes", "has_model_card", "has_metrics", "has_training_state"}.
    Raises CheckpointError when the folder or its config is missing or invalid.
    """
    path = Path(path)
    recover_interrupted_save(path, REQUIRED_FILES)
    if not path.is_dir():
        raise CheckpointError(f"{path}: checkpoint folder missing")
    cfg, train_cfg = _load_config(path)
    files = {f.name: f.stat().st_size for f in sorted(path.iterdir()) if f.is_file()}
    half = None
    if (path / WEIGHTS).is_file():
        try:
            with safetensors.safe_open(str(path / WEIGHTS), framework="pt") as f:
                half = (f.metadata() or {}).get("dtype") == "float16"
        except Exception:
            half = None
    return {
        "path": str(path),
        "model_type": cfg.model_type,
        "config": cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "parameters": _count_parameters(cfg),
        "half": half,
        "files": files,
        "total_bytes": sum(files.values()),
        "has_model_card": (path / MODEL_CARD).is_file(),
        "has_metrics": (path / METRICS).is_file(),
        "has_training_state": (path / STATE_JSON).is_file() and (path / STATE_TENSORS).is_file(),
    }


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Records of `metrics.jsonl` (`path` is the file or its folder); [] if there is none.

    Lines that do not parse as a JSON object are skipped: a torn last line after a crash, or a torn
    line a resumed run appended after.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def fingerprint(model: NVAE, ignore: tuple[str, ...] = ()) -> str:
    """A SHA-256 digest of everything that decides what a loaded model computes: its parameters and
    buffers (names, dtypes, shapes, values), its configuration, its tokenizer (vocabulary and
    truncation/padding settings) and whether any module is in training mode.

    Two models with the same fingerprint give the same outputs; the app recomputes it to show that
    the model shared by all sessions has not been changed by any of them. `ignore` names config
    fields left out (the evaluation store leaves out a loss-conditional model's default
    alpha^Delta, which it keys separately). Fields added later at the value that changes nothing
    (`config.NEUTRAL_ADDITIONS`) are left out too, and fields removed since are read at the value they
    always held (`config.fingerprinted_fields`), so that a field coming or going keeps stored
    fingerprints valid.
    """
    model = _unwrap(model)
    h = hashlib.sha256()
    cfg = {k: v for k, v in fingerprinted_fields(model.cfg).items() if k not in ignore}
    h.update(json.dumps(cfg, sort_keys=True).encode())
    h.update(b"train" if any(m.training for m in model.modules()) else b"eval")
    for name, tensor in sorted(model.state_dict().items()):
        h.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    if model.tokenizer is not None:
        h.update(model.tokenizer.to_str().encode())
    return h.hexdigest()


__all__ = ["save_checkpoint", "load_checkpoint", "describe", "read_metrics", "fingerprint"]
