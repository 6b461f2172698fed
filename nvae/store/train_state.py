"""Resumable training state: optimizer, scheduler, step, RNG and extra data, without pickle.

The state is two files of a checkpoint folder (nvae.store.format): `training_state.json`
carries the structure and `training_state.safetensors` the tensors (optimizer moments, torch RNG
states). `save_checkpoint(..., training_state=...)` writes them in the same atomic swap as the
weights; `save_training_state` alone replaces each file atomically.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import Tensor

from .atomic import recover_interrupted_save, write_file
from .format import (
    FORMAT_VERSION,
    REQUIRED_FILES,
    STATE_JSON,
    STATE_TENSORS,
    CheckpointError,
    read_safetensors,
)

# -- a pickle-free codec for training state ------------------------------------------------------
#
# JSON carries the structure; tensors go to a safetensors file and appear in the JSON as
# {"__tensor__": key}. Other tags: "__tuple__", "__bytes__" (base64), "__ndarray__" and "__items__"
# (a dict whose keys are not all plain strings, e.g. the optimizer's integer parameter ids).


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
    write_file(path / STATE_TENSORS, lambda p: safetensors.torch.save_file(tensors, str(p), metadata={"format": "pt"}))
    write_file(path / STATE_JSON, lambda p: p.write_text(json.dumps(doc) + "\n"))
    return path


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Read what `save_training_state` wrote: {"optimizer", "scheduler", "step", "rng", "extra"}.

    `optimizer` and `scheduler` are state dicts for `load_state_dict` (tensors on the CPU); `rng`
    is in the form `restore_rng` takes.
    """
    path = Path(path)
    recover_interrupted_save(path, REQUIRED_FILES)
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
    tensors, _ = read_safetensors(tpath)
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
