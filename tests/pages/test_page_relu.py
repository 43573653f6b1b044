"""The ReLU page's sentences and tables (section 3.1, Figure 1), computed from small records."""
from __future__ import annotations

import math

import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from alexnet_core.book.engine.plan import get_experiment  # noqa: E402
from alexnet_core.book.engine.records import Record  # noqa: E402
from alexnet_core.book.pages import relu as R  # noqa: E402


def run(variant: str, seed: int, errors: list[float], lr: float = 0.01, activation: str | None = None,
        diverged: bool = False) -> Record:
    """A CIFAR-10 run whose training error per epoch is ``errors``."""
    history = [dict(epoch=i + 1, train_top1=e, val_top1=e + 5) for i, e in enumerate(errors)]
    return Record.from_dict(dict(config=dict(dataset="cifar10", lr=lr, activation=activation or variant, seed=seed),
                                 history=history, metrics=dict(val_top1=errors[-1] + 5, diverged=diverged),
                                 provenance=dict(variant=variant, seed=seed)))


#: ReLU reaches 25% at epoch 2 in every seed; tanh at epoch 4 (seed 0) or never within 5 epochs.
RELU = [run("relu", s, [40, 24, 20, 18, 16]) for s in range(3)]
TANH = [run("tanh", 0, [60, 50, 40, 24, 20]), run("tanh", 1, [60, 55, 45, 34, 30]),
        run("tanh", 2, [60, 55, 50, 34, 31])]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_epochs_to_the_target_per_seed_mark_the_runs_that_never_got_there():
    assert R.epochs_text(RELU + TANH, "relu") == "2, 2, 2"
    assert R.epochs_text(RELU + TANH, "tanh") == "4, >5, >5"
    assert R.seeds_text(RELU + TANH) == "3"


def test_the_speedup_is_a_lower_bound_when_tanh_never_reached_the_target():
    row = R.speedup_row(RELU + TANH)
    assert row["bound"] == pytest.approx((2 + 2.5 + 2.5) / 3)
    assert R.speedup_text(row, RELU + TANH) == (
        "at least 2.3 (mean over 3 seeds; in 2 of them tanh never reached 25% within the 5 epochs run and "
        "enters with the epochs it ran)")
    assert row["label"].endswith("(lower bound)")
    assert R.speedup_row(RELU + TANH, smoke=True)["label"] == "no verdict (smoke)"


def test_the_speedup_is_a_mean_when_every_seed_reached_the_target():
    tanh = [run("tanh", s, [60, 50, 40, 24 - s, 20]) for s in range(3)]
    row = R.speedup_row(RELU + tanh)
    assert row["bound"] is None
    assert R.speedup_text(row, RELU + tanh) == "2.0 ± 0.0 (mean ± standard error over 3 seeds)"
    one = R.speedup_row(RELU[:1] + tanh[:1])
    assert R.speedup_text(one, RELU[:1] + tanh[:1]) == "2.0 (one seed)"


def test_the_speedup_is_not_measurable_when_relu_never_reached_the_target():
    relu = [run("relu", s, [40, 35, 30]) for s in range(2)]
    records = relu + TANH[:2]
    text = R.speedup_text(R.speedup_row(records), records)
    assert text.startswith("not measurable: ReLU reached 25% in none of the seeds within the 5 epochs run")


def test_seeds_whose_relu_run_never_got_there_are_named():
    relu = [run("relu", 0, [40, 24, 20, 18, 16]), run("relu", 1, [40, 35, 30, 28, 27])]
    tanh = [run("tanh", s, [60, 50, 40, 24, 20]) for s in range(2)]
    row = R.speedup_row(relu + tanh)
    assert R.speedup_text(row, relu + tanh) == (
        "2.0 (one seed); in 1 of the 2 seeds ReLU itself never reached 25%, so those seeds bound nothing "
        "at this target")


def test_the_common_target_is_the_lowest_every_run_reached():
    assert R.common_target_text(RELU + TANH) == (
        "At 35% training error, the lowest target every run reached, the speed-up is 2.0 ± 0.0 (mean ± "
        "standard error over 3 seeds), with no bound needed.")
    never = [run("tanh", s, [60, 58, 56]) for s in range(3)]
    assert R.common_target_text(RELU + never) == "No target in the table was reached by every run."


def test_the_speedup_table_follows_each_target_down_to_25_percent():
    table = R.speedup_table(RELU + TANH).data
    assert list(table["training error target (%)"]) == list(R.LEVELS)
    last = table.iloc[-1]
    assert last["ReLU epochs (per seed)"] == "2, 2, 2"
    assert last["tanh epochs (per seed)"] == "4, -, -"
    assert last["speed-up (mean ± s.e.)"] == "≥ 2.3 ± 0.2 (3 seeds)"
    at_45 = table.set_index("training error target (%)").loc[45.0]
    assert at_45["speed-up (mean ± s.e.)"] == "3.3 ± 0.3 (3 seeds)"  # ReLU at epoch 1, tanh at 3, 3 and 4
    assert R._speedup_cell([]) == "-" and R._speedup_cell([(6.0, False)]) == "6.0 (one seed)"


def test_the_learning_rates_are_the_plans():
    variants = get_experiment("relu_vs_tanh").variants
    for activation in ("relu", "tanh"):
        assert float(R.chosen_lr(activation)) == variants[activation]["lr"]
        assert not R.chosen_lr(activation).endswith("0")  # 0.003, not 0.0030


def sweep_run(activation: str, lr: float, final: float, diverged: bool = False) -> Record:
    return run(activation, 0, [60, final], lr=lr, diverged=diverged)


def test_a_fastest_rate_at_the_edge_of_the_grid_is_said(monkeypatch):
    monkeypatch.setattr(R, "ACTIVATION_LRS", (0.001, 0.01, 0.1))
    assert R.sweep_size() == "3"
    inside = [sweep_run("relu", 0.001, 30), sweep_run("relu", 0.01, 20), sweep_run("relu", 0.1, 25)]
    assert R.sweep_edge_text(inside) == "Each chosen rate lies inside the grid."
    edge = inside + [sweep_run("tanh", 0.01, 40), sweep_run("tanh", 0.1, 35)]
    assert R.sweep_edge_text(edge) == ("The fastest rate for tanh lies at the edge of the grid, so a rate beyond it "
                                       "might be faster still.")
    diverged = [sweep_run("relu", 0.01, 30), sweep_run("relu", 0.1, 5, diverged=True)]
    assert R.sweep_edge_text(diverged) == "Each chosen rate lies inside the grid."


def test_the_sweep_table_marks_the_chosen_rate_and_the_runs_that_diverged():
    chosen = get_experiment("relu_vs_tanh").variants["relu"]["lr"]
    table = R.sweep_table([sweep_run("relu", chosen, 21.04), sweep_run("relu", 0.04, 90, diverged=True)]).data
    assert list(table["final training error (%)"]) == ["21.0", "diverged"]
    assert list(table["chosen"]) == ["yes", ""]
    assert list(table["epochs"]) == [2, 2]


def test_figure_1_draws_every_seed_the_means_and_the_target():
    fig = R.figure_1(RELU + TANH, ", cpu")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "relu (ours, cpu, 3 runs)" in labels and "tanh (ours, cpu, 3 runs)" in labels
    target = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert target and all(y == 25.0 for y in target[0].get_ydata())
    assert not math.isnan(ax.get_ylim()[0])
