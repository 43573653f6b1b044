"""Notebooks -> papermill -> book: the toc, the parameters cells, clear failures."""
import jupytext
import pytest

from alexnet_core.book import reproduce as P
from alexnet_core.book.engine import records as R
from alexnet_core.book.pages.runs import run_time_table

NOTEBOOKS = sorted((P.REPO_ROOT / "notebooks").glob("*.md"))


def test_every_toc_notebook_exists_and_every_notebook_is_in_the_toc():
    listed = P.notebooks_in_toc()
    assert listed and set(listed) == set(NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exactly_one_parameters_cell_with_the_four_parameters(path):
    notebook = jupytext.read(path)
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name} must have exactly one parameters cell"
    names = {line.split("=")[0].strip() for line in cells[0].source.splitlines() if "=" in line}
    assert names == set(P.PARAMETER_NAMES)


def test_bad_parameter_value_fails_naming_notebook_cell_and_error(tmp_path):
    source = P.REPO_ROOT / "notebooks" / "architecture.md"
    with pytest.raises(P.ReproduceError, match=r"architecture\.md: cell \d+ failed with ValueError: unknown profile 'fast'"):
        P.execute_notebook(source, tmp_path / "out.ipynb", dict(profile="fast", data_root=None, device="auto",
                                                                retrain=False))
    assert not (tmp_path / "out.ipynb").exists()


def test_unknown_parameter_name_is_refused(tmp_path):
    with pytest.raises(P.ReproduceError, match="unknown notebook parameter"):
        P.execute_notebook(NOTEBOOKS[0], tmp_path / "x.ipynb", dict(profile="smoke", epochs=3))


def test_executed_notebook_hides_its_parameter_cells(tmp_path):
    import nbformat
    out = tmp_path / "architecture.ipynb"
    P.execute_notebook(P.REPO_ROOT / "notebooks" / "architecture.md", out,
                       dict(profile="smoke", data_root=None, device="cpu", retrain=False))
    cells = nbformat.read(out, as_version=4).cells
    tagged = [c for c in cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert len(tagged) == 2 and all("remove-cell" in c.metadata["tags"] for c in tagged)


def test_without_the_data_a_figure_of_its_images_stands_aside_for_a_note(tmp_path):
    import nbformat
    path = tmp_path / "nb.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("```{glue:figure} fig_images\n:name: fig-images\n\nImages.\n```",
                                      metadata=dict(tags=[P.NEEDS_DATA])),
        nbformat.v4.new_markdown_cell("Numbers, recorded.")])
    nbformat.write(notebook, path)
    P._tidy_for_readers(path, with_data=True)
    assert nbformat.read(path, as_version=4).cells[0].source.startswith("```{glue:figure}")  # with data: kept
    P._tidy_for_readers(path, with_data=False)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == P.NO_DATA_NOTE and "{ref}`rerun`" in cells[0].source
    assert cells[1].source == "Numbers, recorded."
    tagged = [name for name in ("augmentation", "results") if P.NEEDS_DATA in (P.REPO_ROOT / "notebooks" / f"{name}.md").read_text()]
    assert tagged == ["augmentation", "results"]  # the chapters that draw dataset images
    assert "(rerun)=" in (P.REPO_ROOT / "book" / "intro.md").read_text()


def test_best_recorded_profile_needs_a_complete_profile(tmp_path):
    import json

    from alexnet_core.book.engine.plan import EXPERIMENTS
    from alexnet_core.book.engine.records import artifacts_path, config_hash, record_path

    def record(profile, spec):
        path = record_path(tmp_path, profile, spec.experiment, spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(config=spec.config.to_dict(), history=[], metrics=dict(val_top1=None), provenance={})))
        if EXPERIMENTS[spec.experiment].records_artifacts(spec.variant):  # the figures' arrays, from its model
            arrays = artifacts_path(tmp_path, profile, spec.experiment, spec.name)
            arrays.parent.mkdir(parents=True, exist_ok=True)
            arrays.write_text(json.dumps(dict(provenance=dict(config_hash=config_hash(spec.config.to_dict())))))

    assert R.best_recorded_profile(tmp_path) == "smoke"
    specs = {p: [s for e in EXPERIMENTS.values() for s in e.runs(p)] for p in ("cpu", "gpu")}
    record("cpu", specs["cpu"][0])
    assert R.best_recorded_profile(tmp_path) == "smoke"  # partly recorded: not chosen
    for s in specs["cpu"]:
        record("cpu", s)
    assert R.recorded_fraction("cpu", tmp_path) == 1.0
    assert R.best_recorded_profile(tmp_path) == "cpu"
    # the gpu profile runs the AlexNet experiments and takes CIFAR-10 from the cpu records
    assert 0 < R.recorded_fraction("gpu", tmp_path) < 1
    for s in specs["gpu"]:
        if EXPERIMENTS[s.experiment].family == "alexnet":
            record("gpu", s)
    assert R.best_recorded_profile(tmp_path) == "gpu"


def test_best_recorded_profile_passes_over_runs_recorded_under_an_earlier_recipe(tmp_path):
    """gpu records under an earlier recipe (lr 0.002 here) do not count, set aside or not: cpu, all
    under the book's recipe, is chosen."""
    import dataclasses
    import json

    from alexnet_core.book.engine import plan as X
    from alexnet_core.book.engine.records import (artifacts_path, config_hash, keep_superseded, record_path,
                                                  superseded_path)

    def record(path, config):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(config=config.to_dict(), history=[], metrics=dict(val_top1=None), provenance={})))

    for e in X.EXPERIMENTS.values():
        for s in e.runs("cpu"):
            record(record_path(tmp_path, "cpu", s.experiment, s.name), s.config)
            if e.records_artifacts(s.variant):  # the figures' arrays, from its model
                arrays = artifacts_path(tmp_path, "cpu", s.experiment, s.name)
                arrays.parent.mkdir(parents=True, exist_ok=True)
                arrays.write_text(json.dumps(dict(provenance=dict(config_hash=config_hash(s.config.to_dict())))))
        if e.family == "alexnet":
            for s in e.runs("gpu"):
                record(record_path(tmp_path, "gpu", s.experiment, s.name), dataclasses.replace(s.config, lr=0.002))
    assert R.recorded_fraction("cpu", tmp_path) == 1.0 and R.recorded_fraction("gpu", tmp_path) < 1.0
    assert R.best_recorded_profile(tmp_path) == "cpu"
    for path in sorted((tmp_path / "gpu").glob("*/*.json")):  # set aside, as results/gpu/ is
        keep_superseded(path, superseded_path(tmp_path, "gpu", path.parent.name, path.stem))
    assert R.best_recorded_profile(tmp_path) == "cpu"


def test_only_unknown_notebook_is_a_clear_error():
    with pytest.raises(ValueError, match="--only names no notebook"):
        P.reproduce("smoke", only=["nope"], build=False)


def test_run_time_table_counts_a_shared_run_once(tmp_path):
    import json

    def write(profile, experiment, run, **prov):
        path = tmp_path / profile / experiment / f"{run}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(config={}, history=[], metrics=dict(val_top1=None),
                                        provenance=dict(device="cpu X", precision="bf16", date="2026-11-27", **prov))))

    write("cpu", "lrn_alexnet", "lrn-s0", wall_seconds=600)
    write("cpu", "overlap_pool", "overlap-s0", wall_seconds=600, copied_from="cpu/lrn_alexnet/lrn-s0.json")
    write("smoke", "lrn_alexnet", "lrn-s0", wall_seconds=5)
    table = run_time_table(tmp_path)
    assert "| cpu | lrn_alexnet | 1 | 1 | 10.0 | cpu X | bf16 | 2026-11-27 |" in table
    assert "| cpu | overlap_pool | 1 | 0 | 0.0 |" in table and "smoke" not in table
    assert "`cpu`: 10 minutes" in table
    assert "No run is recorded" in run_time_table(tmp_path / "empty")
