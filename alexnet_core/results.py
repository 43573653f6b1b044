"""Run records: atomic JSON writing and the provenance every recorded number carries."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import torch

from .hardware import device_name

REPO_ROOT = Path(__file__).resolve().parents[1]


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """JSON with sorted keys and two-space indent, written atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot record {type(value).__name__} in JSON")


def git_state(root: Path = REPO_ROOT) -> dict:
    """The commit of the code that produced a result and whether the tree had changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        # a copy of the tree without .git (e.g. a lent GPU machine): the caller may say which commit
        commit = os.environ.get("ALEXNET_COMMIT", "unknown")
        dirty = os.environ.get("ALEXNET_DIRTY", "unknown") if commit != "unknown" else "unknown"
        if dirty in ("0", "false"):
            dirty = False
    return dict(commit=commit, dirty=dirty)


def provenance(device: torch.device, precision: str, wall_seconds: float | None = None) -> dict:
    """Where, when and with what a result was measured."""
    import torchvision

    versions = dict(python=platform.python_version(), torch=torch.__version__,
                    torchvision=torchvision.__version__)
    try:
        from . import __version__
        versions["alexnet_core"] = __version__
    except ImportError:  # pragma: no cover
        pass
    record = dict(git_state(), versions=versions, device=device_name(device), device_type=device.type,
                  precision=precision, threads=torch.get_num_threads(), platform=platform.platform(),
                  date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if device.type == "cuda":
        record["cuda"] = torch.version.cuda
    if wall_seconds is not None:
        record["wall_seconds"] = round(wall_seconds, 2)
    return record
