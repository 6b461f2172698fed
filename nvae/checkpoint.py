"""Checkpoint folders: save atomically, load with validation, describe, and resumable training state.

A checkpoint is a folder:

    model.safetensors            weights (float32, or float16 with `half=True`; read back as float32)
    config.json                  {"model": ModelConfig, "train": TrainConfig} (config.save_configs)
    tokenizer.json               the `tokenizers.Tokenizer`
    training_state.json          optional: step, scheduler, optimizer hyperparameters, RNG, extra
    training_state.safetensors   optional: optimizer state tensors and the torch RNG states
    metrics.jsonl, MODEL_CARD.md optional: written by others; kept when the folder is overwritten

Nothing here uses pickle (no `torch.load`, no `pickle`): a file disguised as weights is rejected as
corrupt and never executed. Every failure raises `CheckpointError` with one sentence naming the
file and the problem.

`save_checkpoint` writes everything into a temporary sibling folder, fsyncs it, then swaps it into
place, so a crash leaves either the old checkpoint or the new one at `path`, never a mixture. The
one gap (killed between moving the old folder aside and moving the new one in) is healed by
`recover_interrupted_save`, which every function here runs first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn

from .config import ConfigError, ModelConfig, TrainConfig, load_configs, save_configs
from .model import NVAE

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
STATE_JSON = "training_state.json"
STATE_TENSORS = "training_state.safetensors"
METRICS = "metrics.jsonl"
MODEL_CARD = "MODEL_CARD.md"
# Files this module writes; everything else found in a destination folder is carried over.
AGGREGATE = "aggregate.safetensors"  # a fit to the weights (nvae.sampling): stale once they change
OWN_FILES = (WEIGHTS, CONFIG, TOKENIZER, STATE_JSON, STATE_TENSORS, AGGREGATE)
SPECIAL_TOKENS = {"[PAD]": "pad_id", "[UNK]": "unk_id", "[BOS]": "bos_id", "[EOS]": "eos_id"}
FORMAT_VERSION = 1
FP16_MAX = 65504.0


class CheckpointError(ValueError):
    """A checkpoint folder (or one of its files) is missing, damaged or inconsistent."""


# -- small helpers -----------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    """Flush a file's contents, or a directory's entry table (renames), to disk. Best effort: a
    no-op where the OS refuses to open or fsync it read-only."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    """True when process `pid` may still be running (always True off POSIX: never guess there)."""
    if os.name != "posix":
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _siblings(path: Path, kind: str) -> list[tuple[Path, int]]:
    """Leftover `.NAME.tmp-PID` / `.NAME.old-PID` folders next to `path`, with their PIDs."""
    out = []
    prefix = f".{path.name}.{kind}-"
    if not path.parent.is_dir():
        return out
    for p in path.parent.iterdir():
        if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit():
            out.append((p, int(p.name[len(prefix) :])))
    return out


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
    size = tok.get_vocab_size()
    if size != cfg.vocab_size:
        raise CheckpointError(f"{where}: vocabulary size {size} differs from the config's vocab_size {cfg.vocab_size}")
    for token, field in SPECIAL_TOKENS.items():
        got, want = tok.token_to_id(token), getattr(cfg, field)
        if got is None:
            raise CheckpointError(f"{where}: special token {token} is missing from the vocabulary")
        if got != want:
            raise CheckpointError(f"{where}: special token {token} has id {got}, the config's {field} is {want}")


# -- recovery of interrupted saves ---------------------------------------------------------------


def recover_interrupted_save(path: str | Path) -> bool:
    """Heal what a killed `save_checkpoint` may have left next to `path`; True if `path` was restored.

    - `path` missing but a complete `.NAME.old-PID` sibling (of a dead process) exists: the save was
      killed between its two renames; the old checkpoint is moved back to `path`.
    - `.NAME.tmp-PID` / `.NAME.old-PID` folders of dead processes are deleted.
    Folders of live processes (a save in progress) are left alone.
    """
    path = Path(path)
    restored = False
    olds = [(p, pid) for p, pid in _siblings(path, "old") if not _pid_alive(pid)]
    if not path.exists():
        complete = [p for p, _ in olds if all((p / f).is_file() for f in (WEIGHTS, CONFIG, TOKENIZER))]
        if complete:
            newest = max(complete, key=lambda p: p.stat().st_mtime)
            os.rename(newest, path)
            _fsync(path.parent)
            restored = True
    for p, _ in olds:
        if p.exists():
            shutil.rmtree(p, ignore_errors=True)
    for p, pid in _siblings(path, "tmp"):
        if not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)
    return restored


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


def _read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """All tensors and the metadata of a safetensors file; never unpickles anything."""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        tensors = safetensors.torch.load_file(str(path))
    except Exception as e:  # SafetensorError, OSError, ...: all mean an unreadable file
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: truncated or corrupt, not a readable safetensors file ({reason})") from None
    return tensors, metadata


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


# -- a pickle-free codec for training state ------------------------------------------------------
#
# JSON carries the structure; tensors go to a safetensors file and appear in the JSON as
# {"__tensor__": key}. Other tags: "__tuple__", "__bytes__" (base64), "__ndarray__" and "__items__"
# (a dict whose keys are not all plain strings, e.g. the optimizer's integer parameter ids).

_TAGS = ("__tensor__", "__tuple__", "__bytes__", "__ndarray__", "__items__")


def _encode(obj: Any, tensors: dict[str, Tensor], key: str) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Tensor):
        name, n = key, 1
        while name in tensors:
            n += 1
            name = f"{key}#{n}"
        t = obj.detach().to("cpu").contiguous().clone()
        tensors[name] = t
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.reshape(-1).tolist(), "dtype": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{key}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{key}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors, f"{key}.{k}") for k, v in obj.items()}
        return {
            "__items__": [
                [_encode(k, tensors, f"{key}.key{i}"), _encode(v, tensors, f"{key}.{k}")]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    raise TypeError(f"cannot store a value of type {type(obj).__name__} at {key!r}")


def _decode(obj: Any, tensors: dict[str, Tensor], where: Path) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        name = obj["__tensor__"]
        if name not in tensors:
            raise CheckpointError(f"{where}: tensor {name!r} is referenced by {STATE_JSON} but missing")
        return tensors[name]
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors, where) for v in obj["__tuple__"])
    if "__bytes__" in obj:
        return base64.b64decode(obj["__bytes__"])
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])
    if "__items__" in obj:
        return {_decode(k, tensors, where): _decode(v, tensors, where) for k, v in obj["__items__"]}
    return {k: _decode(v, tensors, where) for k, v in obj.items()}


# -- RNG -----------------------------------------------------------------------------------------


def capture_rng() -> dict[str, Any]:
    """The state of every random generator training uses: python, numpy, torch CPU and CUDA."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng` (also accepts the form `load_training_state` returns)."""
    if state.get("python") is not None:
        version, internal, gauss = state["python"]
        random.setstate((int(version), tuple(int(x) for x in internal), gauss))
    if state.get("numpy") is not None:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((str(name), np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    if state.get("torch") is not None:
        torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8).cpu())
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        torch.cuda.set_rng_state_all([torch.as_tensor(s, dtype=torch.uint8).cpu() for s in cuda[:n]])


# -- training state ------------------------------------------------------------------------------


def save_training_state(
    path: str | Path,
    optimizer,
    scheduler=None,
    step: int = 0,
    rng: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `training_state.json` + `training_state.safetensors` into the folder `path`.

    `optimizer` / `scheduler` are objects with `state_dict()` or their state dicts already;
    `rng` defaults to `capture_rng()` now; `extra` is any JSON-able dict (data position, ...).
    Each file is replaced atomically; for a state consistent with the weights, pass the same dict
    to `save_checkpoint(..., training_state=...)`, which writes everything in one atomic swap.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    opt_state = optimizer.state_dict() if hasattr(optimizer, "state_dict") else optimizer
    sched_state = scheduler.state_dict() if hasattr(scheduler, "state_dict") else scheduler
    payload = {
        "optimizer": opt_state,
        "scheduler": sched_state,
        "step": int(step),
        "rng": capture_rng() if rng is None else rng,
        "extra": dict(extra or {}),
    }
    tensors: dict[str, Tensor] = {}
    try:
        body = {k: _encode(v, tensors, k) for k, v in payload.items()}
    except TypeError as e:
        raise CheckpointError(f"{path / STATE_JSON}: {e}") from None
    doc = {"format": "nvae-training-state", "version": FORMAT_VERSION, **body}
    for name, write in (
        (STATE_TENSORS, lambda p: safetensors.torch.save_file(tensors, str(p), metadata={"format": "pt"})),
        (STATE_JSON, lambda p: p.write_text(json.dumps(doc) + "\n")),
    ):
        final = path / name
        part = path / f".{name}.part-{os.getpid()}"
        try:
            write(part)
            _fsync(part)
            os.replace(part, final)
        finally:
            part.unlink(missing_ok=True)
    _fsync(path)
    return path


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Read what `save_training_state` wrote: {"optimizer", "scheduler", "step", "rng", "extra"}.

    `optimizer` and `scheduler` are state dicts for `load_state_dict` (tensors on the CPU); `rng`
    is in the form `restore_rng` takes.
    """
    path = Path(path)
    recover_interrupted_save(path)
    jpath, tpath = path / STATE_JSON, path / STATE_TENSORS
    if not path.is_dir():
        raise CheckpointError(f"{path}: checkpoint folder missing")
    if not jpath.is_file():
        raise CheckpointError(f"{jpath}: missing")
    try:
        doc = json.loads(jpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{jpath}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != "nvae-training-state":
        raise CheckpointError(f"{jpath}: not an nvae training state (no 'format': 'nvae-training-state')")
    if doc.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{jpath}: unsupported training state version {doc.get('version')!r}")
    tensors, _ = _read_safetensors(tpath)
    try:
        state = {k: _decode(doc.get(k), tensors, tpath) for k in ("optimizer", "scheduler", "step", "rng", "extra")}
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{jpath}: malformed training state ({e})") from None
    if not isinstance(state["optimizer"], dict) or not isinstance(state["step"], int):
        raise CheckpointError(f"{jpath}: malformed training state (no optimizer state or step)")
    state["extra"] = state["extra"] or {}
    return state


# -- save ----------------------------------------------------------------------------------------


FILE_MODE = 0o644  # checkpoint files: readable by everyone, like the rest of the project


def save_checkpoint(
    path: str | Path,
    model: NVAE,
    train_cfg: TrainConfig | None = None,
    half: bool = False,
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Write the checkpoint folder `path` atomically and return it.

    model           an NVAE (or a DDP / compiled wrapper of one) with `model.tokenizer` set
    train_cfg       stored in config.json; default: `model.train_cfg` if present, else TrainConfig()
    half            store floating parameters as float16 (about half the size)
    training_state  optional {"optimizer", "scheduler", "step", "rng", "extra"} (see
                    save_training_state), written in the same atomic swap

    Files of an existing destination that this module does not write (MODEL_CARD.md,
    metrics.jsonl, ...) are carried over; stale training state is not. An existing non-empty folder
    that holds neither config.json nor model.safetensors is never replaced.
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

    recover_interrupted_save(path)
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"{path}: exists and is not a folder; refusing to replace it")
        entries = list(path.iterdir())
        if entries and not ((path / CONFIG).exists() or (path / WEIGHTS).exists()):
            raise CheckpointError(
                f"{path}: exists and is not a checkpoint folder (no {CONFIG} or {WEIGHTS}); refusing to replace it"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    old = path.parent / f".{path.name}.old-{os.getpid()}"
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
        if path.is_dir():  # carry over the files we do not own
            for entry in path.iterdir():
                if entry.name in OWN_FILES or (tmp / entry.name).exists():
                    continue
                if entry.is_dir():
                    shutil.copytree(entry, tmp / entry.name, symlinks=True)
                else:
                    shutil.copy2(entry, tmp / entry.name, follow_symlinks=False)
        for f in tmp.rglob("*"):
            if f.is_file():
                os.chmod(f, FILE_MODE)  # safetensors writes 0600; a checkpoint is meant to be shared
                _fsync(f)
        _fsync(tmp)
        _swap_into_place(tmp, path, old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _swap_into_place(tmp: Path, path: Path, old: Path) -> None:
    """Replace `path` by `tmp`: move `path` aside to `old`, move `tmp` in, delete `old`.

    If moving `tmp` in fails, the old folder is moved back before the error propagates.
    """
    had_old = path.exists()
    if had_old:
        os.rename(path, old)
    try:
        os.rename(tmp, path)
    except BaseException:
        if had_old and not path.exists():
            os.rename(old, path)
        raise
    _fsync(path.parent)
    if had_old:
        shutil.rmtree(old, ignore_errors=True)


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
    from tokenizers import Tokenizer

    tpath = path / TOKENIZER
    if not tpath.is_file():
        raise CheckpointError(f"{tpath}: missing")
    try:
        tok = Tokenizer.from_file(str(tpath))
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
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
    recover_interrupted_save(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint folder missing")
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a checkpoint folder (it is a file)")
    cfg, train_cfg = _load_config(path)
    tok = _load_tokenizer(path, cfg)
    wpath = path / WEIGHTS
    tensors, metadata = _read_safetensors(wpath)
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
    recover_interrupted_save(path)
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
    alpha^Delta, which it keys separately).
    """
    model = _unwrap(model)
    h = hashlib.sha256()
    cfg = {k: v for k, v in model.cfg.to_dict().items() if k not in ignore}
    h.update(json.dumps(cfg, sort_keys=True).encode())
    h.update(b"train" if any(m.training for m in model.modules()) else b"eval")
    for name, tensor in sorted(model.state_dict().items()):
        h.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    if model.tokenizer is not None:
        h.update(model.tokenizer.to_str().encode())
    return h.hexdigest()


__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "fingerprint",
    "save_training_state",
    "load_training_state",
    "capture_rng",
    "restore_rng",
    "describe",
    "read_metrics",
    "recover_interrupted_save",
]
