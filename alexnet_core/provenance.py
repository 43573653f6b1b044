"""Provenance: the commit, hardware, precision, versions and time every recorded number carries."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import torch
import torchvision

from .hardware import cpu_isa, device_name
from .paths import REPO_ROOT, RESULTS_DIR
from .version import __version__

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]


def git_state(root: Path = REPO_ROOT) -> dict:
    """The commit of the code that produced a result and whether the tree had changes to it
    (recorded results under ``results/`` are not code: a record landing in the tree between two
    runs does not make the second run's code differ from its commit)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    if os.environ.get("ALEXNET_COMMIT"):
        # said by whoever copied the tree (a lent GPU machine may carry a stale .git): trust it
        dirty = os.environ.get("ALEXNET_DIRTY", "unknown")
        return dict(commit=os.environ["ALEXNET_COMMIT"], dirty=False if dirty in ("0", "false") else dirty)
    try:
        commit = git("rev-parse", "HEAD")
        records = RESULTS_DIR.relative_to(REPO_ROOT).as_posix()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){records}"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        # a copy of the tree without .git, and nobody said which commit it is (ALEXNET_COMMIT)
        commit, dirty = "unknown", "unknown"
    return dict(commit=commit, dirty=dirty)


def provenance(device: torch.device, precision: str, wall_seconds: float | None = None,
               code: dict | None = None) -> dict:
    """Where, when and with what a result was measured. ``code`` is :func:`git_state` taken
    when the work started (the tree may change while a long run trains); now when omitted."""
    versions = dict(python=platform.python_version(), torch=torch.__version__,
                    torchvision=torchvision.__version__)
    versions["alexnet_core"] = __version__
    record = dict(code or git_state(), versions=versions, device=device_name(device), device_type=device.type,
                  precision=precision, threads=torch.get_num_threads(), platform=platform.platform(),
                  date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if device.type == "cuda":
        record["cuda"] = torch.version.cuda
    else:
        record["cpu_isa"] = cpu_isa()
    if wall_seconds is not None:
        record["wall_seconds"] = round(wall_seconds, 2)
    record["peak_rss_mb"] = peak_rss_mb()
    load = machine_load()
    if load is not None:
        record["machine_load_15min"] = load
    return record


def machine_load() -> float | None:
    """The machine's 15-minute load average as a result is recorded: about a run's own threads when
    it trained alone, more when a test suite, a book build or another run shared the cores (what ran
    beside a timing). None where the OS does not say."""
    try:
        return round(os.getloadavg()[2], 2)
    except (AttributeError, OSError):  # no load average (Windows)
        return None


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far, in MiB (None where the OS does not say)."""
    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
    except (AttributeError, OSError):  # no resource module (Windows)
        return None
