"""The recipe-start study (engine.diagnostics) and its words on the learning page."""
import json
import math

import pytest
import torch

from alexnet_core.config import RECIPES
from alexnet_core.model import AlexNet
from alexnet_core.book.engine.diagnostics import left_chance_step, recipe_start


def small_alexnet(**kw) -> AlexNet:
    torch.manual_seed(0)
    return AlexNet(10, groups=1, width=0.25, **kw)


# --------------------------------------------------------------------------- the study

def test_left_chance_step_needs_the_loss_to_stay_below():
    chance = math.log(10)
    flat = [chance] * 40
    assert left_chance_step(flat, chance) is None
    learning = [chance] * 20 + [1.5] * 30
    # the window ending at step 22 holds two steps at 1.5: its mean is 2.14, below chance - 0.1 = 2.20
    assert left_chance_step(learning, chance) == 22
    back_to_chance = [chance] * 10 + [1.5] * 20 + [chance] * 20
    assert left_chance_step(back_to_chance, chance) is None


def test_recipe_start_resumes_and_records_each_run(tmp_path, monkeypatch):
    monkeypatch.delenv("ALEXNET_DATA", raising=False)
    path = tmp_path / "study.json"
    kwargs = dict(recipes=("printed", "coded"), lrs=(0.001,), variants=("reference",), seeds=(0,), steps=10,
                  device="cpu", path=path, progress=False)
    study = recipe_start("smoke", **kwargs)
    assert {(r["recipe"], r["variant"]) for r in study["rows"]} == {("printed", "reference"), ("coded", "reference")}
    assert all(len(r["step_losses"]) == 10 and "fc7" in r["dead_units"] for r in study["rows"])
    assert study["rows"][1]["recipe_settings"] == RECIPES["coded"]
    first = json.loads(path.read_text())
    assert recipe_start("smoke", **kwargs) == first  # nothing retrained
    with pytest.raises(ValueError, match="unknown: \\['no-such'\\]"):
        recipe_start("smoke", **kwargs | dict(variants=("no-such",)))


def test_the_choice_in_words_names_what_left_chance():
    from alexnet_core.book.engine.diagnostics import recipe_start_rows as summary_rows, starts_everywhere
    from alexnet_core.book.pages.learning import choice_text

    def row(recipe, lr, variant, left, seed=0, diverged=None, dropout="test"):
        return dict(recipe=recipe, lr=lr, variant=variant, seed=seed, steps=146, left_chance_step=left,
                    step_losses=[2.3] * 146, dead_units={"fc7": 0.5}, diverged_at_step=diverged,
                    dropout_scaling=dropout)
    study = dict(rows=[row("printed", 0.01, "reference", None), row("printed", 0.003, "reference", 90),
                       row("coded", 0.003, "reference", 53), row("coded", 0.003, "no-dropout", 52),
                       row("coded", 0.01, "no-dropout", None, diverged=21),
                       row("coded", 0.01, "reference", None, dropout="train")])
    assert starts_everywhere(study, "coded", 0.003) and not starts_everywhere(study, "printed", 0.01)
    text = choice_text(study, "coded", 0.003)
    assert text.startswith("Over the first 146 steps, candidates closest to the paper first: printed with the "
                           "paper's dropout at lr 0.01: 1 of 1 runs never left chance (reference seed 0)")
    assert ("printed with the paper's dropout at lr 0.003: every run left chance, the last at step 90 "
            "(reference, seed 0)") in text
    assert "coded with the paper's dropout at lr 0.01: 1 of 1 runs never left chance (no-dropout seed 0 diverged)" in text
    assert text.index("coded with the paper's dropout at lr 0.003") < text.index("coded with the inverted dropout")
    assert text.endswith("No candidate is yet measured in all 8 variants and every seed with every run leaving "
                         "chance; until one is, the book's AlexNet runs train the coded recipe with the paper's "
                         "dropout at lr 0.003, under which every run of the 2 variants measured left chance.")
    assert "have not been measured" in choice_text(None, "coded", 0.003)
    assert "has not been measured yet" in choice_text(study, "coded", 0.003, dropout="train")
    cells = {(r["recipe"], r["dropout"], r["lr"], r["variant"]): r["left chance at step (per seed)"]
             for r in summary_rows(study)}
    assert cells[("coded", "paper's dropout", 0.01, "no-dropout")] == "diverged at 21"
    assert cells[("printed", "paper's dropout", 0.01, "reference")] == "never"
    assert cells[("coded", "inverted dropout", 0.01, "reference")] == "never"


def test_rows_recorded_before_the_dropout_switch_are_the_inverted_form():
    from alexnet_core.book.engine.diagnostics import row_dropout
    from alexnet_core.book.pages.learning import dropout_contrast_text
    assert row_dropout(dict(recipe_settings=dict(lrn_alpha="per-window"))) == "train"
    assert row_dropout(dict(recipe_settings=RECIPES["coded"])) == "test"

    def row(dropout, left, dead):
        return dict(recipe="coded", lr=0.01, variant="reference", seed=0, steps=146, left_chance_step=left,
                    step_losses=[2.0] * 146, dead_units={"fc7": dead}, dropout_scaling=dropout)
    study = dict(rows=[row("test", 34, 0.17), row("train", None, 0.99)])
    assert dropout_contrast_text(study, "coded", 0.01) == (
        "Under the coded recipe at lr 0.01, with the paper's dropout 1 of 1 runs left chance (17% of fc7's units "
        "dead on average); with the inverted dropout 0 of 1 runs left chance (99% of fc7's units dead on average).")
    assert dropout_contrast_text(study, "printed", 0.01) == ""


def test_dead_units_in_words_name_the_fewest_and_the_most():
    from alexnet_core.book.pages.learning import dead_units_text, start_contrast_text

    def row(variant, dead, seed=0, lr=0.003, diverged=None):
        return dict(recipe="coded", lr=lr, variant=variant, seed=seed, steps=146, left_chance_step=50,
                    step_losses=[2.0] * 146, dead_units={"fc7": dead}, diverged_at_step=diverged,
                    dropout_scaling="test")
    study = dict(rows=[row("reference", 0.7), row("reference", 0.8, seed=1), row("bias-zero", 0.02),
                       row("no-dropout", 0.9), row("no-dropout", None, lr=0.01, diverged=21),
                       row("no-overlap", None, diverged=5)])
    text = dead_units_text(study, "coded", 0.003)  # no-overlap diverged: no count, so not among them
    assert text == ("after the first 146 steps under the coded recipe with the paper's dropout at lr 0.003, between "
                    "2% (bias-zero) and 90% (no-dropout) of fc7's units were dead")
    assert "not been measured" in dead_units_text(study, "printed", 0.003)
    assert "not been measured" in dead_units_text(None, "coded", 0.003)
    assert start_contrast_text(study, "coded", 0.003, "no-overlap") == ""


def test_a_variants_start_in_words_beside_the_reference():
    from alexnet_core.book.pages.learning import start_contrast_text

    def row(variant, left, dead, seed=0):
        return dict(recipe="coded", lr=0.003, variant=variant, seed=seed, steps=146, left_chance_step=left,
                    step_losses=[2.0] * 146, dead_units={"fc7": dead})  # recorded before the switch: inverted
    study = dict(rows=[row("reference", 53, 0.7), row("reference", 71, 0.75, seed=1), row("bias-zero", 25, 0.02),
                       row("bias-zero", 28, 0.03, seed=1)])
    assert start_contrast_text(study, "coded", 0.003, "bias-zero", dropout="train") == (
        "In the first-steps measurement under the coded recipe with the inverted dropout at lr 0.003, bias-zero left "
        "chance at step 25, 28 (per seed) against 53, 71 for reference, with 2% of fc7's units dead against 72%.")
    assert start_contrast_text(study, "coded", 0.003, "bias-zero") == ""  # the paper's dropout: not measured
    assert start_contrast_text(study, "coded", 0.003, "no-lrn") == ""
    assert start_contrast_text(None, "coded", 0.003, "bias-zero") == ""


def test_the_chosen_recipe_is_the_closest_to_the_paper_measured_whole_where_every_run_left_chance():
    from alexnet_core.book.engine.diagnostics import STUDY_VARIANTS, chosen_candidate

    def rows(recipe, lr, left=lambda variant, seed: 40, seeds=(0, 1), variants=STUDY_VARIANTS):
        return [dict(recipe=recipe, lr=lr, variant=v, seed=s, dropout_scaling="test", left_chance_step=left(v, s))
                for v in variants for s in seeds]

    no_dropout_stalls = lambda variant, seed: None if (variant, seed) == ("no-dropout", 1) else 40  # noqa: E731
    study = dict(rows=rows("printed", 0.01, no_dropout_stalls) + rows("coded", 0.01, no_dropout_stalls)
                 + rows("coded", 0.003))
    assert chosen_candidate(study) == ("coded", 0.003)  # printed at 0.003 unmeasured: not chosen
    study["rows"] += rows("printed", 0.003, seeds=(0,))  # one seed of two: not yet whole
    assert chosen_candidate(study) == ("coded", 0.003)
    study["rows"] += rows("printed", 0.003, seeds=(1,))
    assert chosen_candidate(study) == ("printed", 0.003)  # the printed recipe before the coded one
    assert chosen_candidate(dict(rows=rows("printed", 0.01, no_dropout_stalls))) is None
    assert chosen_candidate(study, dropout="train") is None


def test_the_choice_in_words_says_whether_the_books_recipe_is_the_rules():
    from alexnet_core.book.engine.diagnostics import STUDY_VARIANTS
    from alexnet_core.book.pages.learning import choice_text

    def rows(recipe, lr, left=40):
        return [dict(recipe=recipe, lr=lr, variant=v, seed=s, steps=146, left_chance_step=left, step_losses=[2.0] * 146,
                     dead_units={"fc7": 0.1}, dropout_scaling="test") for v in STUDY_VARIANTS for s in (0, 1)]

    study = dict(rows=rows("coded", 0.003) + rows("printed", 0.01, left=None))
    assert choice_text(study, "coded", 0.003).endswith(
        "The book's AlexNet runs train the coded recipe with the paper's dropout at lr 0.003, the closest to the "
        "paper under which all 8 variants, in every seed measured, left chance.")
    study["rows"] += rows("printed", 0.003)
    assert choice_text(study, "coded", 0.003).endswith(
        "By that rule the book's recipe is now the printed recipe with the paper's dropout at lr 0.003; its AlexNet "
        "runs still train the coded recipe with the paper's dropout at lr 0.003, under which every run of the 8 "
        "variants measured left chance, until they are recorded again.")
