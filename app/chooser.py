"""Which checkpoint the session uses: the checkpoints there are, the Model page's choice, the
`ckpt` parameter that every page's link carries, and the model (or a clear error).

The default checkpoint is $NVAE_CHECKPOINT, else `checkpoints/nvae-default`. The Model page can
switch to any folder holding a config.json in `checkpoints/` (or in $NVAE_CHECKPOINTS_DIR instead;
several folders may be given, separated by os.pathsep).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app import cache, state
from app.output import md_escape
from nvae.locations import CHECKPOINTS_DIR, default_checkpoint
from nvae.store.format import CheckpointError

CKPT = state.Param("ckpt", "text", "", max_chars=200, label="checkpoint")


# -- the checkpoints there are -------------------------------------------------------------------


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


# -- the session's choice, and the link's `ckpt` -------------------------------------------------


def active_checkpoint() -> Path:
    """The checkpoint chosen on the Model page in this session, else the default."""
    chosen = st.session_state.get("checkpoint")
    return Path(chosen) if chosen else default_checkpoint()


def restore_checkpoint_param() -> None:
    """Apply `?ckpt=NAME` (a name from the list of checkpoints, never a path) once per link."""
    raw = st.query_params.get_all("ckpt")
    if not raw or st.session_state.get("_ckpt_written") == raw:
        return
    st.session_state["_ckpt_written"] = raw
    name, _ = state.parse_param(CKPT, raw)
    choices = available_checkpoints()
    if name in choices:
        st.session_state["checkpoint"] = str(choices[name])
    else:
        st.session_state["_notices"] = [
            f"{CKPT.title}: the link names a checkpoint that is not available here; using the default one."
        ]


def checkpoint_extra() -> dict[str, str]:
    """The `ckpt` query parameter when the session uses another checkpoint than the default."""
    active = active_checkpoint()
    if active.resolve() == default_checkpoint().resolve():
        return {}
    for name, path in available_checkpoints().items():
        if path.resolve() == active.resolve():
            st.session_state["_ckpt_written"] = [name]
            return {"ckpt": name}
    return {}


def use_checkpoint(path: Path | str | None) -> None:
    if path is None:
        st.session_state.pop("checkpoint", None)
    else:
        st.session_state["checkpoint"] = str(path)


def checkpoint_selector(key: str, label: str = "Checkpoint") -> None:
    """A select box over the available checkpoints; choosing one switches the whole app to it."""
    choices = available_checkpoints()
    if not choices:
        st.info(
            "No checkpoint folder (with a config.json) was found in `checkpoints/` or in "
            "`$NVAE_CHECKPOINTS_DIR`. Train one (`python -m nvae train`) or set `NVAE_CHECKPOINT`."
        )
        return
    names = list(choices)
    active = active_checkpoint().resolve()
    index = next((i for i, n in enumerate(names) if choices[n].resolve() == active), None)
    choice = st.selectbox(label, names, index=index, key=key, placeholder="Choose a checkpoint")
    if choice is not None and choices[choice].resolve() != active:
        use_checkpoint(choices[choice])
        st.rerun()


def get_model():
    """(model, cache key) of the active checkpoint; on failure, an error, the checkpoints that do
    exist, and the page stops."""
    path = active_checkpoint()
    try:
        model = cache.load_model(path)
    except CheckpointError as err:
        st.error(f"The model could not be loaded. {md_escape(err)}", icon=":material/error:")
        if path.resolve() == default_checkpoint().resolve():
            st.caption("The default checkpoint is `checkpoints/nvae-default` (or `$NVAE_CHECKPOINT`).")
        checkpoint_selector(key="fallback_ckpt", label="Use another checkpoint")
        st.stop()
    return model, cache.checkpoint_key(path)
