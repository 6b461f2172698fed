"""Atomic writes and crash recovery: a file or a folder is replaced whole, or not at all.

- `write_file` writes one file through a temporary sibling (`.NAME.part-PID`) that is fsynced and
  renamed over the destination.
- A folder is written as a temporary sibling (`temp_sibling(path, "tmp")`) that `swap_into_place`
  fsyncs and moves in, after moving the old folder aside (`temp_sibling(path, "old")`).
- `recover_interrupted_save` heals the one gap of a folder swap: a process killed between its two
  renames leaves `path` missing and the old folder aside, and it is moved back.

Temporary siblings are named `.NAME.KIND-PID`; those of processes still running are never touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path


def fsync(path: Path) -> None:
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


def pid_alive(pid: int) -> bool:
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


def temp_sibling(path: Path, kind: str) -> Path:
    """This process's `.NAME.KIND-PID` sibling of `path`."""
    return path.parent / f".{path.name}.{kind}-{os.getpid()}"


def leftover_siblings(path: Path, kind: str) -> list[tuple[Path, int]]:
    """Leftover `.NAME.KIND-PID` siblings of `path` (of any process), with their PIDs."""
    out = []
    prefix = f".{path.name}.{kind}-"
    if not path.parent.is_dir():
        return out
    for p in path.parent.iterdir():
        if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit():
            out.append((p, int(p.name[len(prefix) :])))
    return out


def write_file(path: Path, write: Callable[[Path], object]) -> Path:
    """Replace the file `path` atomically: `write(part)` fills a temporary sibling, which is fsynced
    and renamed over `path` (the folder's entry is fsynced too). The temporary file never outlives
    the call, whether `write` succeeds or raises."""
    part = temp_sibling(path, "part")
    try:
        write(part)
        fsync(part)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    fsync(path.parent)
    return path


def swap_into_place(tmp: Path, path: Path, old: Path) -> None:
    """Replace the folder `path` by the complete folder `tmp`: fsync every file of `tmp` and `tmp`
    itself, move `path` aside to `old`, move `tmp` in, delete `old`.

    If moving `tmp` in fails, the old folder is moved back before the error propagates.
    """
    for f in tmp.rglob("*"):
        if f.is_file():
            fsync(f)
    fsync(tmp)
    had_old = path.exists()
    if had_old:
        os.rename(path, old)
    try:
        os.rename(tmp, path)
    except BaseException:
        if had_old and not path.exists():
            os.rename(old, path)
        raise
    fsync(path.parent)
    if had_old:
        shutil.rmtree(old, ignore_errors=True)


def recover_interrupted_save(path: str | Path, required: Iterable[str]) -> bool:
    """Heal what a killed folder swap may have left next to `path`; True if `path` was restored.

    - `path` missing but a `.NAME.old-PID` sibling (of a dead process) holding every file named in
      `required` exists: the save was killed between its two renames; the old folder is moved back
      to `path` (the newest, if there are several).
    - `.NAME.tmp-PID` / `.NAME.old-PID` folders of dead processes are deleted.
    Folders of live processes (a save in progress) are left alone.
    """
    path = Path(path)
    required = tuple(required)
    restored = False
    olds = [(p, pid) for p, pid in leftover_siblings(path, "old") if not pid_alive(pid)]
    if not path.exists():
        complete = [p for p, _ in olds if all((p / f).is_file() for f in required)]
        if complete:
            newest = max(complete, key=lambda p: p.stat().st_mtime)
            os.rename(newest, path)
            fsync(path.parent)
            restored = True
    for p, _ in olds:
        if p.exists():
            shutil.rmtree(p, ignore_errors=True)
    for p, pid in leftover_siblings(path, "tmp"):
        if not pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)
    return restored
