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
from alexnet_core.paths import REPO_ROOT, RESULTS_DIR, data_root_setting
from alexnet_core.book.engine.plan import EXPERIMENTS, PROFILES, SUPERSEDED_ALEXNET_RECIPES, get_profile, profile_for
from alexnet_core.book.engine.records import config_hash, recorded_index
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


RECORDED, STANDING_IN, MISSING = "recorded", "superseded recipe", "missing"


def run_state(spec, index: dict[str, list[Path]], newest: int | None = None) -> str:
    """Whether a run (an experiments.RunSpec) is recorded under its own config, only under a
    superseded recipe (its old record stands in until it is retrained; with ``newest``, only the
    newest that many superseded recipes count), or not at all."""
    if config_hash(spec.config.to_dict()) in index:
        return RECORDED
    if any(config_hash(c.to_dict()) in index for c in spec.superseded[:newest]):
        return STANDING_IN
    return MISSING


def _runs_with_index(profile: str, results_dir: Path):
    """(experiment, profile, run spec, record index) for every run, each experiment under the
    profile it takes its runs from; each profile's records are read once."""
    indexes: dict[str, dict] = {}  # profile -> config hash -> record paths
    for e in EXPERIMENTS.values():
        prof = profile_for(e, profile).name
        if prof not in indexes:
            indexes[prof] = recorded_index(results_dir, prof)
        for spec in e.runs(prof):
            yield e, prof, spec, indexes[prof]


def run_states(profile: str, results_dir: Path = RESULTS_DIR) -> dict[str, dict[str, str]]:
    """Experiment -> run -> :func:`run_state`, each experiment under the profile it takes its
    runs from (what ``python -m alexnet_core list --profile`` prints)."""
    states: dict[str, dict[str, str]] = {name: {} for name in EXPERIMENTS}
    for e, _, spec, index in _runs_with_index(profile, results_dir):
        states[e.name][spec.name] = run_state(spec, index)
    return states


def _book_run_states(profile: str, results_dir: Path, newest: int | None = None) -> dict[tuple[str, str], str]:
    """(profile, config hash) -> :func:`run_state` of the runs the book needs: a run shared by
    experiments counts once, and experiments still pending do not count (the book shows what they have)."""
    return {(prof, config_hash(spec.config.to_dict())): run_state(spec, index, newest)
            for e, prof, spec, index in _runs_with_index(profile, results_dir) if not e.pending}


def _fraction(states: dict, stand_ins: bool) -> float:
    counted = (RECORDED, STANDING_IN) if stand_ins else (RECORDED,)
    return sum(state in counted for state in states.values()) / len(states) if states else 0.0


def recorded_fraction(profile: str, results_dir: Path = RESULTS_DIR, stand_ins: bool = True) -> float:
    """Share of a profile's runs (over every experiment, each under the profile it takes its
    runs from) that have a record, under their own name or shared with another experiment, or
    (with ``stand_ins``) under a superseded recipe (shown marked until the run is recorded under
    the book's). Experiments whose runs are still pending do not count: the book shows what they have."""
    return _fraction(_book_run_states(profile, results_dir), stand_ins)


def best_recorded_profile(results_dir: Path = RESULTS_DIR) -> str:
    """gpu if every gpu run is recorded, else cpu if every cpu run is, else smoke; a profile
    whose every run is recorded under the book's own recipe comes before one that still shows
    some from a superseded recipe, and one whose stand-ins come from a newer superseded recipe
    before one that needs older ones (so the book shows the cpu runs of the authors' recipe
    rather than the gpu runs of the printed one while both wait to be re-recorded).

    A partly recorded profile is not chosen, so ``make book`` never starts hours of
    training by surprise; it says what is recorded and how to complete it.
    """
    for newest in range(len(SUPERSEDED_ALEXNET_RECIPES) + 1):
        for profile in ("gpu", "cpu"):
            if _fraction(_book_run_states(profile, results_dir, newest), stand_ins=True) == 1.0:
                return profile
    for profile in ("gpu", "cpu"):
        fraction = recorded_fraction(profile, results_dir)
        if fraction > 0:
            print(f"note: the {profile} profile is {100 * fraction:.0f}% recorded; "
                  f"'make reproduce PROFILE={profile}' trains the rest, then 'make book' renders it", flush=True)
    return "smoke"


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
        _hide_parameter_cells(executed)
        _copy_atomically(executed, output)
    return time.time() - start


def _hide_parameter_cells(path: Path) -> None:
    """Readers see the banner naming the profile, not the parameter cells papermill wrote."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(notebook, path)


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
