"""Checkpoints: written atomically with a free-space check, read back safely.

A checkpoint (``checkpoint.pt``) holds everything an exact resume needs (section 5's
learning rule continues where it stopped): the epoch, the config, the model and optimiser
state, the schedule, every random generator's state and the history. All of it is tensors,
numbers, strings, lists and dicts, so it loads with ``torch.load(weights_only=True)``, which
refuses any other pickled object: a crafted ``checkpoint.pt`` cannot run code here.
"""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint.pt"

#: What every checkpoint written by the trainer holds.
CHECKPOINT_KEYS = ("epoch", "config", "model", "optimizer", "schedule", "history", "rng")

#: Room left on the disk beyond a checkpoint's own bytes (its pickled structure, the history).
DISK_MARGIN = 64 * 2**20


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read: missing, truncated, not a checkpoint, or unsafe to load."""


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (usually a full disk); the previous one is intact."""


def tensor_bytes(state: Any) -> int:
    """The bytes of every tensor in a (nested) checkpoint state: about its size on disk."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(tensor_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(tensor_bytes(v) for v in state)
    return 0


def save_checkpoint(path: Path, **state: Any) -> None:
    """``torch.save`` to a temporary file, then an atomic rename.

    A disk without room for it is a :class:`CheckpointWriteError` that names the sizes and the
    fix, checked before writing; a write that fails anyway removes its partial file. Either way
    the previous checkpoint stays as it was.
    """
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    needed = tensor_bytes(state)
    free = shutil.disk_usage(path.parent).free
    if free < needed + DISK_MARGIN:
        raise CheckpointWriteError(_disk_full_message(path, state.get("epoch"), needed, free))
    try:
        torch.save(state, tmp)
    except (OSError, RuntimeError) as error:  # torch reports a short write as a RuntimeError
        tmp.unlink(missing_ok=True)
        if isinstance(error, PermissionError):
            raise CheckpointWriteError(f"cannot write the checkpoint at {path}: {error.strerror}. "
                                       "Make the run folder writable or train into another --out.") from error
        free = shutil.disk_usage(path.parent).free
        raise CheckpointWriteError(f"writing the checkpoint failed ({error}). "
                                   + _disk_full_message(path, state.get("epoch"), needed, free)) from error
    os.replace(tmp, path)


def _disk_full_message(path: Path, epoch: int | None, needed: int, free: int) -> str:
    mib = 2**20
    earlier = path.exists()
    kept = "the previous epoch's checkpoint is kept as it was" if earlier else "no earlier checkpoint exists"
    again = ("run again: experiments resume from the last checkpoint by themselves, `train` with --resume"
             if earlier else "run again (no checkpoint was written yet, so the run starts afresh; not --resume)")
    return (f"not enough disk space for the checkpoint{f' of epoch {epoch}' if epoch else ''} at {path}: "
            f"it needs about {needed / mib:.0f} MiB plus a margin of {DISK_MARGIN / mib:.0f} MiB, and "
            f"{free / mib:.0f} MiB are free there; {kept}. "
            "Free some space (finished runs' checkpoint.pt files under runs/ can go: their records are in "
            f"results/) or train onto a larger disk (--out for `train`, ALEXNET_RUNS for experiments), then {again}.")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """A checkpoint written by the trainer, loaded with ``weights_only=True``.

    Every way a file can fail to be one is a :class:`CheckpointError` that names the file and
    the fix: missing, a folder, empty, truncated or garbage, pickled objects other than plain
    data (refused unrun: that is how a crafted file would run code), or a tensor or dict that
    lacks a checkpoint's keys.
    """
    path = Path(path)
    if path.is_dir():
        inside = path / CHECKPOINT
        hint = f" (it holds {inside}: pass that file)" if inside.is_file() else ""
        raise CheckpointError(f"{path} is a folder, not a checkpoint file{hint}; give the checkpoint.pt "
                              "that `train --out DIR` wrote into DIR")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: give the checkpoint.pt that `train --out DIR` wrote "
                              "into DIR, or train without --resume")
    if path.stat().st_size == 0:
        raise CheckpointError(_unreadable(path, "the file is empty"))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" in str(err) or "Unsupported global" in str(err):  # an object weights_only refuses to build
            raise CheckpointError(
                f"refused to load {path}: it holds pickled objects other than tensors and plain data "
                f"({_unsafe_detail(err)}). The trainer never writes such objects, and loading them could run "
                "code, so it was not loaded. Use only checkpoints you made yourself; delete this one and "
                "train again.") from None
        raise CheckpointError(_unreadable(path, _weights_only_detail(err))) from None
    except Exception as err:  # noqa: BLE001 - torch.load raises many kinds on a bad file; each means the same
        raise CheckpointError(_unreadable(path, f"{type(err).__name__}: {_first_line(err)}")) from None
    if not isinstance(state, dict) or any(k not in state for k in CHECKPOINT_KEYS):
        what = type(state).__name__ if not isinstance(state, dict) else f"a dict without {[k for k in CHECKPOINT_KEYS if k not in state]}"
        raise CheckpointError(f"{path} is not a checkpoint written by `train` (it holds {what}); give the "
                              "checkpoint.pt from a run's --out folder")
    return state


def _unreadable(path: Path, why: str) -> str:
    return (f"cannot read the checkpoint {path}: {why}. It is truncated, corrupt or not a checkpoint "
            "(an interrupted copy, or another file under that name). Restore it from where you copied it, "
            "or delete it and train again without --resume.")


def _unsafe_detail(err: BaseException) -> str:
    """The line of torch's refusal that names what was refused (e.g. ``Unsupported global: GLOBAL os.system``)."""
    lines = [line.strip() for line in str(err).splitlines()]
    named = [line for line in lines if "GLOBAL" in line or "Unsupported global" in line]
    return (named[0] if named else lines[0])[:300]


def _weights_only_detail(err: BaseException) -> str:
    """torch's reason after its boilerplate (e.g. ``Unsupported operand 49`` for a garbage file)."""
    text = str(err)
    tail = text.split("WeightsUnpickler error:", 1)[1] if "WeightsUnpickler error:" in text else text
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[0][:300] if lines else type(err).__name__


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__
