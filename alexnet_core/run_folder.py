"""A run's folder (``--out``): claimed by one run at a time, never overwritten by surprise.

Before any data is read, :func:`claim_run_folder` makes sure the folder can be written, that
no other process is training into it (an exclusive ``flock`` on the folder, held until the
run ends, released by the kernel even after ``kill -9``), and that it does not already hold a
run unless the caller resumes it or asked to overwrite it.
"""
from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: runs there are not locked
    fcntl = None  # type: ignore[assignment]

#: The files a run writes into its folder (alexnet_core.train).
RUN_FILES = ("checkpoint.pt", "history.jsonl", "result.json")
#: The temporary files an atomic write leaves if the process is killed mid-write (``.<name>.tmp<pid>``).
LEFTOVER_PATTERNS = tuple(f".{name}.tmp*" for name in RUN_FILES)


class RunFolderError(RuntimeError):
    """The run folder cannot be used: not writable, busy, or holding another run."""


@contextlib.contextmanager
def claim_run_folder(out: Path, *, resume: bool = False, overwrite: bool = False) -> Iterator[Path]:
    """Create ``out`` if needed, check it is writable, lock it, and refuse an earlier run in it.

    ``resume`` continues the run in ``out``; ``overwrite`` deletes its files first (explicitly
    asked for). Yields the folder; the lock is released when the block ends.
    """
    out = Path(out)
    created = not out.exists()
    _make_writable_folder(out)
    handle = os.open(out, os.O_RDONLY)
    try:
        _lock(handle, out)
        _remove_leftovers(out)  # we hold the lock: no other process is writing them
        existing = [name for name in RUN_FILES if (out / name).exists()]
        if existing and not resume:
            if not overwrite:
                raise RunFolderError(
                    f"{out} already holds a run ({', '.join(existing)}); training there would replace it. "
                    "Continue it with --resume, train into another --out, or pass --overwrite to replace it.")
            for name in existing:
                (out / name).unlink()
        yield out
    except BaseException:
        if created:  # a start refused or failed before writing anything leaves no empty folder behind
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    finally:
        os.close(handle)  # closing the descriptor releases the lock


def _remove_leftovers(out: Path) -> None:
    """Temporary files of an earlier process killed while writing (``kill -9``): never a whole file."""
    for pattern in LEFTOVER_PATTERNS:
        for leftover in out.glob(pattern):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _make_writable_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder; give a folder for the run's checkpoint, "
                             "history and result (it is created if absent)")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise RunFolderError(f"--out {out} lies under {blocker}, which is a file, not a folder; "
                             "give a path under a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        why = "read-only" if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else err.strerror
        raise RunFolderError(f"cannot write into the run folder {out} ({why}: {err.strerror}); nothing was "
                             "trained. Make it writable or give another --out (experiments: ALEXNET_RUNS).") from err


def _lock(handle: int, out: Path) -> None:
    if fcntl is None:  # pragma: no cover
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunFolderError(f"another run is training into {out} right now (its folder is locked); wait for it "
                             "to finish, or train into another --out") from None
