"""The results page (sections 6 and 6.1): Tables 1 and 2 beside ours, the ten patches' gain, and
Figures 3 and 4 from small hand-made records and arrays (no dataset: its images are stubbed)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from alexnet_core.book.engine.records import Found, Record, artifacts_path  # noqa: E402
from alexnet_core.book.pages import results as R  # noqa: E402

PAPER = dict(table1_top1=37.5, table1_top5=17.0, table2_top1=40.7, table2_top5=18.2)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def run(groups: int = 2, **metrics) -> Record:
    return Record.from_dict(dict(config=dict(dataset="imagenette", groups=groups), history=[], metrics=metrics,
                                 provenance={}), found=Found(experiment="final_model", run="final-s0"))


# --------------------------------------------------------------------------- Tables 1 and 2

def test_ours_cell_gives_the_mean_with_its_error_only_over_several_runs():
    assert R.ours_cell([run(val_top1=30.0), run(val_top1=32.0)], "val_top1") == "31.0 ± 1.0"
    assert R.ours_cell([run(val_top1=30.04), run()], "val_top1") == "30.0"
    assert R.ours_cell([run()], "val_top1") == "nan"


def test_tables_1_2_put_the_papers_rows_above_ours():
    table = R.tables_1_2([run(val_top1=30.0, val_top5=8.0, val10_top1=29.0, val10_top5=7.5)], PAPER, "cpu").data
    assert list(table.columns) == ["model", "top-1 (%)", "top-5 (%)"]
    assert list(table["top-1 (%)"]) == ["37.5", "40.7", "30.0", "29.0"]
    assert list(table["top-5 (%)"]) == ["17.0", "18.2", "8.0", "7.5"]
    assert table["model"][2] == "ours (cpu), Imagenette val, centre crop"


def test_tenpatch_gain_text_says_lowered_raised_or_not_measured():
    lowered = [run(val_top1=30.0, val10_top1=29.0), run(val_top1=31.0, val10_top1=29.5)]
    assert R.tenpatch_gain_text(lowered) == "lowered our top-1 error by 1.25 points"
    assert R.tenpatch_gain_text([run(val_top1=30.0, val10_top1=30.5)]) == "raised our top-1 error by 0.50 points"
    assert R.tenpatch_gain_text([run(val_top1=30.0)]) == "not measured"


def test_runs_count_text():
    assert R.runs_count_text([run()]) == "1 run"
    assert R.runs_count_text([run(), run()]) == "2 runs"


# --------------------------------------------------------------------------- Figures 3 and 4

def arrays(files: list[str] | None = None) -> dict:
    kernels = np.random.default_rng(0).normal(size=(96, 3, 3, 3))
    spec = [0.1] * 48 + [0.5] * 48
    return dict(conv1=kernels.ravel().tolist(), conv1_shape=list(kernels.shape), colour_specificity=spec,
                classes=["n01440764", "dog"],
                queries=dict(rule="one-per-class", seed=0, val_index=[0, 3], label=[0, 1],
                             top5_class=[[0, 1], [0, 1]], top5_prob=[[0.75, 0.25], [0.4, 0.6]],
                             files=files or [], neighbour_files=[["n01440764/a.jpg"], ["n01440764/b.jpg"]]))


def test_final_arrays_reads_the_first_runs_artifacts(tmp_path):
    path = artifacts_path(tmp_path, "cpu", "final_model", "final-s0")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"conv1_shape": [1, 3, 1, 1]}))
    assert R.final_arrays([run()], "cpu", tmp_path) == {"conv1_shape": [1, 3, 1, 1]}
    assert R.final_arrays([run()], "gpu", tmp_path) is None


def test_figure_3_draws_one_block_per_column_with_its_specificity():
    fig = R.figure_3(arrays(), run(groups=2))
    assert [ax.get_title() for ax in fig.axes] == ["column 1 (GPU 1): kernels 1-48, colour specificity 0.10",
                                                   "column 2 (GPU 2): kernels 49-96, colour specificity 0.50"]


def test_column_specificity_splits_after_the_48th_kernel():
    assert R.column_specificity(arrays(), 1) == "0.100"
    assert R.column_specificity(arrays(), 2) == "0.500"


def test_figure_4_without_the_dataset_is_a_note_and_a_table():
    fig4 = R.figure_4(arrays(), run(), None)
    assert fig4.predictions is fig4.neighbours
    assert any("no dataset was given" in t.get_text() for t in fig4.predictions.findobj(Text))
    assert fig4.query_rule.startswith("one validation image from each of 2 classes")
    assert list(fig4.table.data["true class"]) == ["tench", "dog"]
    assert list(fig4.table.data["top-5 predictions (probability)"]) == ["tench 0.75, dog 0.25", "tench 0.40, dog 0.60"]


def test_figure_4_with_the_dataset_draws_both_halves(monkeypatch):
    monkeypatch.setattr(R, "data_available", lambda root: True)
    asked = []
    monkeypatch.setattr(R, "split_labels", lambda *args: asked.append(args) or [0, 1, 1, 1])
    monkeypatch.setattr(R, "load_images", lambda files, root: [np.zeros((8, 8, 3), np.uint8) for _ in files])
    fig4 = R.figure_4(arrays(files=["val/n01440764/q0.jpg", "val/dog/q1.jpg"]), run(), "/data")
    assert fig4.table is None and fig4.predictions is not fig4.neighbours
    assert [ax.get_title() for ax in fig4.predictions.axes if ax.get_title()] == ["tench", "dog"]
    assert len(fig4.neighbours.axes) == 2 * 3  # per query: itself, a gap, its one neighbour
    assert asked == [("imagenette", "val", "/data")]  # the rule is checked against the validation labels


def _record(results_dir, experiment: str, variant: str, epochs: int, with_arrays: bool) -> None:
    """A cpu record of ``experiment``'s seed-0 run of ``variant`` under its planned configuration."""
    from alexnet_core.book.engine.plan import get_experiment
    from alexnet_core.book.engine.records import config_hash, record_path

    spec = next(s for s in get_experiment(experiment).runs("cpu") if s.variant == variant and s.seed == 0)
    history = [dict(epoch=e, val_top1=50.0, train_top1=40.0) for e in range(1, epochs + 1)]
    record = dict(config=spec.config.to_dict(), history=history, metrics=dict(val_top1=30.0),
                  provenance=dict(config_hash=config_hash(spec.config.to_dict()), variant=variant, seed=0,
                                  run=spec.name, experiment=experiment))
    path = record_path(results_dir, "cpu", experiment, spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    if with_arrays:
        artifacts_path(results_dir, "cpu", experiment, spec.name).parent.mkdir(parents=True, exist_ok=True)
        artifacts_path(results_dir, "cpu", experiment, spec.name).write_text(json.dumps(arrays()))


def test_figure_3_takes_the_longest_trained_run_that_recorded_its_kernels(tmp_path):
    _record(tmp_path, "final_model", "paper", 8, with_arrays=True)
    assert R.longest_trained_kernels("cpu", tmp_path).run.startswith("final_model/")
    _record(tmp_path, "long_training", "no-lrn", 24, with_arrays=True)  # not the reference: not a source
    _record(tmp_path, "long_training", "reference", 24, with_arrays=False)  # no kernels recorded
    assert R.longest_trained_kernels("cpu", tmp_path).run.startswith("final_model/")
    _record(tmp_path, "long_training", "reference", 24, with_arrays=True)
    kernels = R.longest_trained_kernels("cpu", tmp_path)
    assert kernels.run == "long_training/reference-s0" and len(kernels.record.history) == 24
    text = R.kernels_text(kernels)
    assert text.startswith("the kernels of `long_training/reference-s0`, trained for 24 epochs")
    assert re.search(r"correlate -?\d\.\d\d on average", text)
    assert R.longest_trained_kernels("gpu", tmp_path) is None


def test_kernel_smoothness_is_near_0_for_random_weights_and_high_for_smooth_ones():
    import torch
    from alexnet_core.book.engine.artifacts import kernel_smoothness

    random = torch.randn(96, 3, 11, 11, generator=torch.Generator().manual_seed(0))
    assert abs(kernel_smoothness(random)) < 0.05
    ramp = torch.linspace(-1, 1, 11)
    edges = (ramp[None, :] + 0.1 * ramp[:, None]).expand(96, 3, 11, 11) * torch.randn(96, 3, 1, 1)
    assert kernel_smoothness(edges) > 0.8


def test_the_column_split_is_said_against_what_random_weights_give():
    import torch
    from alexnet_core.book.engine.artifacts import colour_specificity
    assert "column 1's are the more colour-agnostic" in R.column_split_text(arrays())  # 0.1 against 0.5
    random = colour_specificity(torch.randn(96, 3, 11, 11, generator=torch.Generator().manual_seed(0))).tolist()
    text = R.column_split_text({"colour_specificity": random})
    assert text.startswith("Figure 3's split between the columns does not show here") and "random weights" in text
    flat = {"colour_specificity": [0.2] * 96}
    assert "does not show" in R.column_split_text(flat) and "random" not in R.column_split_text(flat)


def test_the_error_table_shows_the_books_reference_runs():
    def lrn_run(variant, seed):
        return Record.from_dict(dict(config=dict(dataset="imagenette"), history=[], metrics=dict(val_top1=30.0),
                                     provenance=dict(variant=variant, seed=seed)),
                                found=Found(experiment="lrn_alexnet", run=f"{variant}-s{seed}"))
    runs = [lrn_run("lrn", 0), lrn_run("lrn", 1), lrn_run("no-lrn", 0)]
    assert [r.found.run for r in R.reference_runs(runs)] == ["lrn-s0", "lrn-s1"]


def test_the_error_table_falls_back_to_the_final_model_without_reference_runs(tmp_path):
    final = [run(val_top1=38.0)]
    assert R.table_runs(final, "cpu", tmp_path) == final  # nothing recorded under tmp_path
