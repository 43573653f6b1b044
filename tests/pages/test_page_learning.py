"""The learning-rule page (section 5): the census of the book's AlexNet runs (which ended at chance,
which recipe each trained under) and the recipe-start study's line, table and figure, from small
hand-made records and studies."""
from __future__ import annotations

import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from alexnet_core.book.engine.plan import ALEXNET_RECIPE, EXPERIMENTS  # noqa: E402
from alexnet_core.book.engine.records import Found, Record  # noqa: E402
from alexnet_core.book.pages import learning as L  # noqa: E402

BOOK_LR = ALEXNET_RECIPE["lr"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def run(name: str, val: float = 40.0, lr: float = BOOK_LR, recipe: str | None = "coded", dropout: float = 0.5,
        copied_from: str | None = None, config_hash: str | None = None) -> Record:
    config = dict(dataset="imagenette", lr=lr, dropout=dropout) | ({"recipe": recipe} if recipe else {})
    provenance = {"config_hash": config_hash or name}
    return Record.from_dict(dict(config=config, history=[dict(epoch=1, val_top1=val, lr=lr)],
                                 metrics=dict(val_top1=val), provenance=provenance),
                            found=Found(experiment="exp", run=name, copied_from=copied_from))


class FakeChapter:
    """What :func:`L.distinct_alexnet_runs` asks of a chapter: the runs of an experiment by name."""

    def __init__(self, by_experiment: dict[str, list[Record]]):
        self.by_experiment = by_experiment
        self.asked: list[str] = []

    def runs(self, name: str) -> list[Record]:
        self.asked.append(name)
        return self.by_experiment.get(name, [])


# --------------------------------------------------------------------------- the census

def test_failed_text_says_every_run_learned_or_names_the_one_that_did_not():
    assert L.failed_text({"reference": [run("a", val=40.0)]}) == "Every run learned."
    text = L.failed_text({"reference": [run("a", val=40.0)], "lr-0.01": [run("b", val=89.5)]})
    assert text.startswith("Did not learn: the lr-0.01 run") and "89.5% validation error" in text


def test_distinct_alexnet_runs_asks_every_alexnet_experiment_and_counts_each_run_once():
    alexnet = [e.name for e in EXPERIMENTS.values() if e.family == "alexnet"]
    cifar = [e.name for e in EXPERIMENTS.values() if e.family == "cifar"]
    shared = run("shared", config_hash="h1")
    ch = FakeChapter({alexnet[0]: [shared, run("own", config_hash="h2")],
                      alexnet[-1]: [run("shared-again", config_hash="h1"),
                                    run("copy", copied_from="x/y", config_hash="h3")],
                      cifar[0]: [run("cifar", config_hash="h4")]})
    runs = L.distinct_alexnet_runs(ch)
    assert ch.asked == alexnet  # every AlexNet experiment, no CIFAR-10 one
    assert sorted(r.found.run for r in runs) == ["own", "shared-again"]  # the later of a hash wins; copies left out


def test_stuck_text_names_the_runs_at_chance_with_their_lr_and_dropout():
    runs = [run("ref"), run("lr-high", val=89.0, lr=0.01, dropout=0.0)]
    assert L.stuck_text(runs) == ("1 of the 2 distinct AlexNet runs behind this book ended at chance: "
                                  "exp/lr-high (lr 0.01, dropout 0.0).")
    assert L.stuck_text(runs[:1]) == "None of the 1 distinct AlexNet runs behind this book ended at chance."


def test_under_book_recipe_needs_the_book_recipe():
    assert L.under_book_recipe(run("a"))
    assert not L.under_book_recipe(run("b", recipe="printed"))


def test_recipes_text_counts_the_book_recipe_and_names_the_other_rates_and_recipes():
    recipe = f"({ALEXNET_RECIPE['recipe']} with the paper's dropout, lr {ALEXNET_RECIPE['lr']}"
    assert L.recipes_text([run("a"), run("b")]) == (
        f"2 of the 2 distinct AlexNet runs shown in this book trained under the book's recipe {recipe})")
    one_off = L.recipes_text([run("a"), run("b", lr=0.01)])
    assert one_off.endswith(f"{recipe}, except 1 at lr 0.01, which tests that rate)")
    two_off = L.recipes_text([run("a", lr=0.001), run("b", lr=0.01)])
    assert two_off.endswith(", except 2 at lr 0.001, 0.01, which test that rate)")
    assert L.recipes_text([run("a"), run("b", recipe="printed"), run("c", recipe=None)]).startswith("1 of the 3 distinct")


# --------------------------------------------------------------------------- the recipe-start study

def study() -> dict:
    rows = [dict(recipe="coded", dropout_scaling="test", lr=0.003, variant=variant, seed=seed, steps=4,
                 step_losses=[2.4, 2.3, 2.0, 1.9], left_chance_step=3, dead_units={"fc7": 0.1 * (seed + 1)})
            for variant in ("reference", "bias-zero") for seed in (0, 1)]
    return dict(rows=rows, chance_loss=2.3026,
                provenance=dict(device="Test CPU (2 cores)", cpu_isa="AVX2", precision="fp32",
                                commit="0123456789abcdef", date="2026-12-01T10:00:00+00:00"))


def test_study_line_says_where_and_when_and_how_many_runs():
    assert L.study_line(study()) == "measured on Test CPU (2 cores), AVX2, fp32, commit 01234567, 2026-12-01; 4 runs"


def test_study_table_has_one_row_per_variant_with_lr_unrounded():
    table = L.study_table(study())
    assert list(table.data["variant"]) == ["reference", "bias-zero"]
    assert list(table.data["dead fc7 units (%)"]) == [15.0, 15.0]
    html = table.to_html()
    assert ">0.003<" in html and ">15.00<" in html


def test_show_study_prints_its_line_and_shows_its_table_only_when_measured(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    L.show_study(None)
    assert capsys.readouterr().out == "" and shown == []
    L.show_study(study())
    assert capsys.readouterr().out == L.study_line(study()) + "\n"
    assert len(shown) == 1 and list(shown[0].data["variant"]) == ["reference", "bias-zero"]


def test_study_figure_draws_the_study_or_says_how_to_measure_it():
    drawn = L.study_figure(study())
    assert {ax.get_title() for ax in drawn.axes if ax.get_title()} == {"reference, lr 0.003", "bias-zero, lr 0.003"}
    note = L.study_figure(None)
    texts = [t.get_text() for t in note.findobj(Text)]
    assert "not measured yet: python -m alexnet_core recipe-start --profile cpu" in texts


