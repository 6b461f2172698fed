"""`NVAE.from_pretrained` and `NVAE.save_pretrained`: a checkpoint folder, or a hub id, in and out.

The model wing knows no file format and never imports the store wing, so the NVAE class holds only
the hooks of `huggingface_hub.ModelHubMixin`, and this module hands them their reader and writer
(`NVAE.use_folder_format`) when it is imported. `nvae/__init__.py` imports it, and Python runs
`nvae/__init__.py` before any module of the package, so every NVAE has them, however it was
imported. Both are the checkpoint module's: `read_pretrained` ends in `load_checkpoint` and
`write_pretrained` in `save_checkpoint`.

Reading (`read_pretrained`, `resolve`): a path that exists is read as it is, offline. Anything else
that is a valid hub id ("owner/name") names a hub repository holding a checkpoint folder's files:
its snapshot is downloaded (`huggingface_hub.snapshot_download`, into the hub's cache) and that
folder is read. A missing folder that is no hub id, and a hub id that cannot be fetched, are
`CheckpointError`s naming what was asked for.

Writing (`write_pretrained`):
- the weights in the precision the folder they were loaded from stored them in (`load_checkpoint`
  records it as `model.stored_dtype`: float16 for the shipped checkpoints), float32 for a model
  built in code, or as `half` says;
- the other files of the folder the model was loaded from (its model card, metrics, latent map,
  rate-distortion file, aggregate-posterior fit, run record: everything but the weights, config,
  tokenizer and training state) are copied along when the model is still what that folder holds
  now: the same `fingerprint`, training mode aside. The latent map and the rate-distortion file are
  tied to the weights by that fingerprint, and the model card, metrics and fit describe those very
  weights, so a copy of an unchanged model is complete; a model changed since (trained further, its
  config edited) gets none of them, as they would describe other weights;
- an existing destination's own other files are carried over, as `save_checkpoint` always does.
"""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import torch
from huggingface_hub.utils import HFValidationError, validate_repo_id

from ..model.autoencoder import NVAE, eval_mode
from .atomic import recover_interrupted_save
from .checkpoint import fingerprint, load_checkpoint, save_checkpoint
from .format import REQUIRED_FILES, CheckpointError, first_line


def hub_id_problem(name: str) -> str | None:
    """Why `name` cannot be a hub id ("owner/name" or "name"), or None when it can be one."""
    try:
        validate_repo_id(name)
    except HFValidationError as e:
        return first_line(e)
    return None


def resolve(name_or_folder: str | Path, **download) -> Path:
    """The checkpoint folder `name_or_folder` names: the path itself when it exists, else the
    downloaded snapshot of the hub repository of that id (`download`: snapshot_download's options,
    revision, cache_dir, force_download, token, local_files_only)."""
    path = Path(name_or_folder).expanduser()
    recover_interrupted_save(path, REQUIRED_FILES)  # a folder caught mid-save is a folder, not an id
    if path.exists():
        return path
    name = str(name_or_folder)
    problem = hub_id_problem(name)
    if problem is not None:
        raise CheckpointError(f"{path}: checkpoint folder missing (and not a hub id either: {problem})")
    try:
        folder = huggingface_hub.snapshot_download(repo_id=name, **download)
    except Exception as e:  # not found, private, offline, no network: all mean no checkpoint
        raise CheckpointError(
            f"{name}: no checkpoint folder of that name here, and the hub repository {name!r} could not be "
            f"fetched ({type(e).__name__}: {first_line(e)})"
        ) from None
    return Path(folder)


def read_pretrained(name_or_folder: str | Path, *, device: str | torch.device = "cpu", **download) -> NVAE:
    """`NVAE.from_pretrained`: `load_checkpoint` on the folder `resolve` finds (`download` as there)."""
    return load_checkpoint(resolve(name_or_folder, **download), device)


def unchanged_source(model: NVAE) -> Path | None:
    """The folder `model` was loaded from, when it still holds this very model (the same
    `fingerprint`, training mode aside); else None (none, unreadable now, or another model)."""
    source = getattr(model, "checkpoint_dir", None)
    if source is None:
        return None
    try:
        on_disk = load_checkpoint(source)
    except CheckpointError:
        return None
    with eval_mode(model):
        return Path(source) if fingerprint(model) == fingerprint(on_disk) else None


def write_pretrained(folder: str | Path, model: NVAE, half: bool | None = None) -> Path:
    """`NVAE.save_pretrained`: `save_checkpoint` into `folder`, in the stored precision unless `half`
    says otherwise, with the loaded folder's other files when the model is unchanged (the module's
    docstring)."""
    if half is None:
        half = getattr(model, "stored_dtype", torch.float32) == torch.float16
    return save_checkpoint(folder, model, half=half, carry_from=unchanged_source(model))


NVAE.use_folder_format(read_pretrained, write_pretrained)

__all__ = ["read_pretrained", "write_pretrained", "resolve", "unchanged_source", "hub_id_problem"]
