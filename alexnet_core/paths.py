"""Where things live: the one place that knows the repository's folders and the environment
variables that move them.

- ``ALEXNET_DATA``: the data root (``--data-root`` overrides it), holding the datasets.
- ``ALEXNET_RUNS``: where experiments train and keep checkpoints (default ``runs/``).
- ``ALEXNET_CACHE``: the decoded-image cache (default ``~/.cache/alexnet_core``).

Each is read when asked for, not at import, so a variable set later (a test, a notebook) counts.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Recorded runs, per profile and experiment (``results/<profile>/<experiment>/<run>.json``).
RESULTS_DIR = REPO_ROOT / "results"
#: The folder under results/ that holds diagnostics, not run records.
DIAGNOSTICS = "diagnostics"
DIAGNOSTICS_DIR = RESULTS_DIR / DIAGNOSTICS
#: Speed measurements (``benchmarks/results/<cpu class or gpu>/``).
BENCHMARK_RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
#: Executed notebooks and generated pages of the book.
GENERATED = Path("book") / "generated"


def data_root_setting(root: str | os.PathLike | None = None) -> str | None:
    """The data root as given (``--data-root``), else ``ALEXNET_DATA``, else None."""
    return str(root) if root else (os.environ.get("ALEXNET_DATA") or None)


def runs_dir() -> Path:
    """Where experiments train: ``ALEXNET_RUNS`` if set, else ``runs/`` in the repository."""
    value = os.environ.get("ALEXNET_RUNS")
    path = Path(value).expanduser() if value else REPO_ROOT / "runs"
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        where = f"ALEXNET_RUNS={value}" if value else f"the default {path}"
        raise ValueError(f"{where} cannot hold run folders: {blocker} is a file, not a folder. Point ALEXNET_RUNS "
                         "at a folder (experiments train and keep checkpoints there), or move the file away")
    return path


def cache_dir() -> Path:
    """The decoded-image cache: ``ALEXNET_CACHE`` if set, else ``~/.cache/alexnet_core``."""
    return Path(os.environ.get("ALEXNET_CACHE", Path.home() / ".cache" / "alexnet_core")).expanduser()
