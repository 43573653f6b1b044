"""From notebooks to book: papermill executes each chapter, then Jupyter Book renders them.

For every notebook the book's ``_toc.yml`` lists (as ``book/generated/<name>``), in order:
jupytext turns ``notebooks/<name>.md`` into a notebook, papermill executes it with the
parameters ``profile``, ``data_root``, ``device`` and ``retrain``, and the executed notebook
is written atomically to ``book/generated/<name>.ipynb``. A failing cell stops everything
with the notebook, the cell and the error. Then ``jupyter-book build`` runs with warnings
as errors into ``_build/html``.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from alexnet_core.files import atomic_write_text
from alexnet_core.paths import GENERATED as GENERATED_PATH
from alexnet_core.paths import REPO_ROOT, data_root_setting
from alexnet_core.book.engine.plan import PROFILES, data_available, get_profile
from alexnet_core.book.engine.records import best_recorded_profile
from alexnet_core.book.pages.runs import write_run_times
from alexnet_core.book.pages.scorecard import HEADLINE_FILE

GENERATED = GENERATED_PATH.as_posix()
NOTEBOOKS = "notebooks"
PARAMETER_NAMES = ("profile", "data_root", "device", "retrain")


class ReproduceError(RuntimeError):
    """A notebook failed to execute, or the book failed to build."""


def toc_entries(root: Path = REPO_ROOT) -> list[str]:
    """Every ``file:`` of ``_toc.yml`` in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for key in ("chapters", "sections", "parts"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    return files


def notebooks_in_toc(root: Path = REPO_ROOT) -> list[Path]:
    """The MyST notebooks behind the toc's ``book/generated/<name>`` entries, in order."""
    paths = []
    for entry in toc_entries(root):
        if entry.startswith(GENERATED + "/"):
            name = entry[len(GENERATED) + 1:]
            source = root / NOTEBOOKS / f"{name}.md"
            if not source.exists():
                raise ReproduceError(f"_toc.yml lists {entry} but {source} does not exist")
            paths.append(source)
    return paths


@contextlib.contextmanager
def _without_progress_bars():
    """Progress bars (a first decode of a dataset, say) belong on a terminal, not in the book's
    pages: the notebook kernels inherit ``TQDM_DISABLE=1`` while they run."""
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def execute_notebook(source: Path, output: Path, parameters: dict, timeout: int | None = None) -> float:
    """Execute one MyST notebook with papermill; returns the seconds it took."""
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    unknown = set(parameters) - set(PARAMETER_NAMES)
    if unknown:
        raise ReproduceError(f"unknown notebook parameter(s) {sorted(unknown)}: the notebooks take {PARAMETER_NAMES}")
    notebook = jupytext.read(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp, _without_progress_bars():
        raw = Path(tmp) / source.with_suffix(".ipynb").name
        jupytext.write(notebook, raw)
        executed = Path(tmp) / f"executed-{raw.name}"
        try:
            papermill.execute_notebook(str(raw), str(executed), parameters=parameters, kernel_name="python3",
                                       cwd=str(source.parent), progress_bar=False, execution_timeout=timeout,
                                       log_output=False)
        except PapermillExecutionError as err:
            raise ReproduceError(f"{source}: cell {err.exec_count} failed with {err.ename}: {err.evalue}") from None
        _tidy_for_readers(executed, with_data=data_available(parameters.get("data_root")))
        _copy_atomically(executed, output)
    return time.time() - start


def _tidy_for_readers(path: Path, with_data: bool) -> None:
    """Rewrite the executed notebook at ``path`` once: :func:`_hide_parameter_cells`, and without
    the datasets :func:`_stand_aside_without_data`."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    _hide_parameter_cells(notebook)
    if not with_data:
        _stand_aside_without_data(notebook)
    nbformat.write(notebook, path)


def _hide_parameter_cells(notebook) -> None:
    """Readers see the banner naming the profile, not the parameter cells papermill wrote."""
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")


#: The tag of a notebook's markdown cell that shows the dataset's own images (a figure of them):
#: built without the data it stands aside for :data:`NO_DATA_NOTE`, so no placeholder stands as a figure.
NEEDS_DATA = "needs-data"
NO_DATA_NOTE = ("*A figure of the dataset's own images stands here when the book is built with the data; this "
                "build had none (how to get it: {ref}`rerun`). The repository stores no dataset image.*")


def _stand_aside_without_data(notebook) -> None:
    """Replace each markdown cell tagged :data:`NEEDS_DATA` by :data:`NO_DATA_NOTE` (a build without
    the datasets: the figure would be a placeholder)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and NEEDS_DATA in cell.metadata.get("tags", []):
            cell.source = NO_DATA_NOTE


def _copy_atomically(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dst)


def build_book(root: Path = REPO_ROOT) -> None:
    """``jupyter-book build`` with warnings as errors (and broken references) into ``_build/html``."""
    write_run_times(root)
    headline = root / GENERATED / HEADLINE_FILE
    if not headline.exists():  # the scorecard chapter writes it when executed; --only may have skipped it
        atomic_write_text(headline, "The headline is written when the scorecard chapter is executed.\n")
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "-W", "-n", "--keep-going"]
    print("building the book:", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=root)
    if proc.returncode != 0:
        raise ReproduceError("jupyter-book build failed (warnings count as errors); see the output above")


def reproduce(profile: str, *, retrain: bool = False, only: list[str] | None = None, data_root: str | None = None,
              device: str = "auto", build: bool = True, root: Path = REPO_ROOT) -> dict[str, float]:
    """Execute the book's notebooks under ``profile`` (all, or those named in ``only``), then build."""
    get_profile(profile)
    notebooks = notebooks_in_toc(root)
    if only:
        names = {n.removesuffix(".md") for n in only}
        unknown = names - {p.stem for p in notebooks}
        if unknown:
            raise ValueError(f"--only names no notebook in _toc.yml: {sorted(unknown)}; "
                                 f"choose from {[p.stem for p in notebooks]}")
        notebooks = [p for p in notebooks if p.stem in names]
    data_root = data_root_setting(data_root)
    params = dict(profile=profile, data_root=data_root, device=device, retrain=retrain)
    timings = {}
    for i, source in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] executing {source.relative_to(root)} (profile {profile})", flush=True)
        timings[source.stem] = execute_notebook(source, root / GENERATED / f"{source.stem}.ipynb", params)
        print(f"[{i}/{len(notebooks)}] {source.stem}: {timings[source.stem]:.1f}s", flush=True)
    if build:
        build_book(root)
    return timings


__all__ = ["reproduce", "execute_notebook", "build_book", "notebooks_in_toc", "best_recorded_profile",
           "ReproduceError", "PROFILES"]
