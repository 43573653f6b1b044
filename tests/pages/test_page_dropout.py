"""The dropout page (section 4.2): the runs that did not learn, and the early-steps study in words,
as a table and as a figure, from small hand-made results."""
from __future__ import annotations

import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from alexnet_core.book.engine.measures import by_variant  # noqa: E402
from alexnet_core.book.engine.plan import get_experiment  # noqa: E402
from alexnet_core.book.engine.records import Record  # noqa: E402
from alexnet_core.book.pages import dropout as D  # noqa: E402
from alexnet_core.book.pages.chapter import Ablation  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def run(variant: str, seed: int, val: float) -> Record:
    return Record.from_dict(dict(config=dict(dataset="imagenette", seed=seed),
                                 history=[dict(epoch=1, val_top1=val + 10), dict(epoch=2, val_top1=val)],
                                 metrics=dict(val_top1=val), provenance=dict(variant=variant, seed=seed)))


def ablation(records: list[Record]) -> Ablation:
    return Ablation(get_experiment("dropout"), records, by_variant(records), None)


def early_result() -> dict:
    """Two variants at two learning rates, two seeds each, as ``early-steps`` records them."""
    rows = [dict(variant=v, lr=lr, seed=s, step_losses=[2.3, peak, 2.4, 2.3, 2.3, 2.2, last],
                 dead_units=dict(act6=0.1, act7=dead), val_top1=val)
            for v, peak, last, dead, val in (("dropout", 8.0, 2.2, 0.5, 80.0), ("no-dropout", 12.0, 2.4, 0.9, 90.0))
            for lr in (0.01, 0.001) for s in (0, 1)]
    return dict(experiment="dropout", profile="cpu", model="alexnet", steps=7, seeds=[0, 1], chance_loss=2.3026,
                rows=rows, provenance=dict(device="a test CPU", precision="fp32", commit="0123456789abcdef",
                                           date="2026-11-27T10:00:00", wall_seconds=1140.0))


def test_the_runs_that_ended_at_chance_are_named():
    assert D.failed_note(ablation([run("dropout", 0, 40.0), run("no-dropout", 0, 45.0)])) == "Every run learned."
    note = D.failed_note(ablation([run("dropout", 0, 40.0), run("no-dropout", 1, 89.0)]))
    assert note == ("Did not learn: the no-dropout run (seed 1) ended at 89.0% validation error after 2 epochs, at "
                    "chance. Effects involving such a run get no verdict.")


def test_the_first_steps_come_from_the_profile_else_the_cpu_profile(monkeypatch):
    stored = {"cpu": {"profile": "cpu"}, "gpu": {"profile": "gpu"}}
    asked = []
    monkeypatch.setattr(D, "load_early_steps", lambda profile, experiment: asked.append(experiment)
                        or stored.get(profile))
    assert D.load_early("gpu") == {"profile": "gpu"}
    assert D.load_early("smoke") == {"profile": "cpu"}
    assert set(asked) == {"dropout"}
    stored.clear()
    assert D.load_early("smoke") is None


def test_the_first_steps_in_words():
    summary = D.early_summary(early_result())
    assert summary.startswith("Over the first 7 steps (means over 2 seeds; chance is a loss of 2.30): at lr 0.01 "
                              "(dropout: peak 8.00, last steps 2.28, 50% of fc7's units dead, validation error 80%; ")
    assert summary.index("at lr 0.01") < summary.index("at lr 0.001") and summary.endswith("error 90%).")
    assert D.early_summary(None) == "The first steps have not been measured yet."


def test_the_provenance_line_says_where_and_when_or_nothing():
    assert D.early_provenance(early_result()) == ("measured under the cpu profile on a test CPU, fp32, commit "
                                                  "01234567, 2026-11-27, 19 minutes\n")
    assert D.early_provenance(None) == ""


def test_the_first_steps_table_has_a_row_per_variant_and_learning_rate():
    table = D.early_table(early_result()).data
    assert list(zip(table["variant"], table["lr"])) == [("dropout", 0.01), ("dropout", 0.001),
                                                        ("no-dropout", 0.01), ("no-dropout", 0.001)]
    assert table["dead fc7 units (%)"].tolist() == [50.0, 50.0, 90.0, 90.0]
    assert table["peak step loss"].tolist() == [8.0, 8.0, 12.0, 12.0]
    assert D.early_table(None) is None


def test_the_first_steps_figure_has_a_panel_per_learning_rate_or_says_how_to_measure():
    fig = D.early_figure(early_result())
    assert [ax.get_title() for ax in fig.axes] == ["lr 0.01", "lr 0.001"]
    note = D.early_figure(None)
    texts = " ".join(t.get_text() for t in note.findobj(Text))
    assert "not measured yet: python -m alexnet_core early-steps dropout --profile cpu" in texts
