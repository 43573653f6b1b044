"""The verdict rule (engine.judge): every branch of the verdicts, underpowered, censored and
provisional ones included, and the effect rows with their power overrides, on records the tests build."""
import math

import pytest

from alexnet_core.book.engine import measures as A
from alexnet_core.book.engine import judge as V
from alexnet_core.book.engine.plan import EXPERIMENTS, Effect
from conftest import learned_run as run

# --------------------------------------------------------------------------- the verdict rule

def estimate(effect, se, runs=2, source="seeds", sd=None):
    return V.Estimate(effect, se, runs, source, sd if sd is not None else se / math.sqrt(2 / runs))


@pytest.mark.parametrize("paper, effect, se, word", [
    (-1.4, -1.5, 0.3, "reproduced"),
    (-1.4, -4.0, 0.3, "direction only"),
    (-1.4, -0.3, 0.3, "within noise"),  # 2s = 0.6 < 1.4: an effect of the paper's size would have shown
    (-1.4, +1.5, 0.3, "not reproduced"),
    (-1.4, math.nan, 0.3, "not measured"),
    (-1.4, -1.5, 0.7, "underpowered"),  # 2s = 1.4 >= |P|: cannot resolve the paper's effect
    (-1.4, +9.0, 0.7, "underpowered"),  # even beyond 2s the other way: the caveat says so
    (-1.4, -1.5, math.nan, "underpowered"),  # no error to judge by
    (None, -1.0, 0.3, "reproduced"),  # qualitative: the expected sign beyond 2s
    (None, +1.0, 0.3, "not reproduced"),
    (None, -0.5, 0.3, "within noise"),
])
def test_every_verdict_of_the_rule(paper, effect, se, word):
    assert V.verdict(paper, estimate(effect, se)) == word


def test_the_standard_error_comes_from_the_seed_spread_where_measured():
    spread = V.Noise(sd=2.0, dof=6, configs=6)
    est = V.estimate([30.0, 32.0], [33.0], spread, binomial=(0.7, 0.7))
    assert est.effect == pytest.approx(-2.0) and est.se == pytest.approx(2.0 * math.sqrt(1 / 2 + 1))
    assert est.source == "seeds" and est.runs == 1
    assert V.estimate([30.0], [33.0], V.Noise(float("nan"), 0), binomial=(0.6, 0.8)).se == pytest.approx(1.0)
    assert V.estimate([30.0], [33.0]).source == "none"


def test_seeds_to_resolve_solve_two_standard_errors_below_the_paper():
    n = V.seeds_to_resolve(2.2, -1.4)
    assert 2 * 2.2 * math.sqrt(2 / n) < 1.4 <= 2 * 2.2 * math.sqrt(2 / (n - 1))
    assert V.seeds_to_resolve(float("nan"), -1.4) is None and V.seeds_to_resolve(2.0, None) is None


def test_the_caveat_names_sign_seeds_provisional_and_binomial():
    one = estimate(-1.5, 1.0, runs=1, source="binomial", sd=1.0)
    note = V.caveat("underpowered", -1.4, one)
    assert "the paper's sign, within 2 standard errors" in note and "seeds per side would resolve it" in note
    assert "provisional: one run per side" in note and "binomial error only" in note
    assert "the opposite sign, beyond 2" in V.caveat("underpowered", -1.4, estimate(+9.0, 0.7))
    assert V.caveat("reproduced", -1.4, estimate(-1.5, 0.3)) == ""
    assert V.label("reproduced", "provisional: one run per side") == "reproduced (provisional: one run per side)"


def test_a_spread_of_zero_is_not_a_measured_spread_and_paired_tests_need_fewer_seeds():
    assert not V.Noise(0.0, 6, 6).measured and V.Noise(0.5, 6, 6).measured
    assert V.seeds_to_resolve(2.0, 1.0, paired=True) == 17 and V.seeds_to_resolve(2.0, 1.0) == 33
    assert "no standard error" in V.caveat("underpowered", -1.4, estimate(-1.0, math.nan, runs=1, source="none"))


def test_every_override_keeps_the_provisional_caveat():
    eff = EXPERIMENTS["learning_details"].effects[1]  # weight decay, one run per side

    def decayed(variant, wd):
        r = run(variant, 30.0, epochs=8, weight_decay=wd, momentum=0.9, batch_size=128)
        for h in r.history:
            h.update(images_per_s=128.0, train_seconds=100.0)
        return r
    row = V.effect_row(eff, {"reference": [decayed("reference", 5e-4)], "no-weight-decay": [decayed("no-weight-decay", 0.0)]})
    assert row["verdict"] == "underpowered" and "provisional: one run per side" in row["note"]
    unknown = decayed("reference", 5e-4)
    del unknown.history[0]["train_seconds"]  # steps unknown: no claim about the decay's reach
    assert math.isnan(A.decay_shrinkage(unknown))


def test_a_side_with_a_missing_value_neither_crashes_nor_counts():
    eff = Effect("LRN", "lrn", "no-lrn", "val_top1", -1.4)
    missing = run("lrn", 30.0, seed=1)
    missing.metrics["val_top1"] = None  # a diverged run, say
    row = V.effect_row(eff, {"lrn": [missing, run("lrn", 30.0)], "no-lrn": [run("no-lrn", 35.0)]})
    assert row["runs"] == 1 and row["ours"] == pytest.approx(-5.0)


def test_a_one_run_effect_never_shows_a_bare_verdict():
    eff = Effect("LRN", "lrn", "no-lrn", "val_top1", -1.4)
    row = V.effect_row(eff, {"lrn": [run("lrn", 30.0)], "no-lrn": [run("no-lrn", 31.4)]},
                       noise={"val_top1": V.Noise(0.2, 6, 6)})
    assert row["verdict"] == "reproduced" and row["label"] == "reproduced (provisional: one run per side)"


def test_effect_rows_say_smoke_inconclusive_not_measured_and_qualitative():
    eff = Effect("LRN", "lrn", "no-lrn", "val_top1", -1.4)
    groups = {"lrn": [run("lrn", 30.0)], "no-lrn": [run("no-lrn", 35.0)]}
    assert V.effect_row(eff, groups, smoke=True)["verdict"] == "no verdict (smoke)"
    assert V.effect_row(eff, {"lrn": [run("lrn", 30.0)], "no-lrn": [run("no-lrn", 89.5)]},
                        )["verdict"] == "inconclusive (a run did not learn)"
    assert V.effect_row(eff, {"lrn": groups["lrn"]})["verdict"] == "not measured"
    qualitative = Effect("gap", "lrn", "no-lrn", "val_top1", None, sign=-1)
    assert V.effect_row(qualitative, groups)["verdict"] == "reproduced"  # the expected sign, beyond 2 SE


def test_an_underpowered_row_says_how_many_seeds_would_resolve_it():
    eff = Effect("pool", "overlap", "no-overlap", "val_top1", -0.4)
    groups = {"overlap": [run("overlap", 30.0, seed=s) for s in (0, 1)],
              "no-overlap": [run("no-overlap", 31.0 + s, seed=s) for s in (0, 1)]}
    row = V.effect_row(eff, groups, noise={"val_top1": V.Noise(2.2, 6, 6)})
    assert row["verdict"] == "underpowered" and row["se"] == pytest.approx(2.2)
    assert f"about {V.seeds_to_resolve(2.2, -0.4)} seeds per side" in row["label"]
    own = V.effect_row(eff, groups)  # no pooled spread given: the two sides' own seeds
    # pooled over the two sides: squares 0 + 0.5 on 2 degrees of freedom, sd 0.5; se = sd * sqrt(1/2 + 1/2)
    assert own["source"] == "seeds" and own["se"] == pytest.approx(0.5)


def test_an_overfitting_gap_needs_the_training_error_measured_like_validation():
    eff = Effect("gap", "dropout", "no-dropout", "overfit_gap")

    def gapped(variant, val, train_mode, train_eval=None):
        r = run(variant, val)
        r.metrics.update(final_train_top1=train_mode, final_train_eval_top1=train_eval)
        return r
    biased = V.effect_row(eff, {"dropout": [gapped("dropout", 30.0, 28.0)], "no-dropout": [gapped("no-dropout", 32.0, 5.0)]})
    assert biased["verdict"] == "not measured" and "train mode" in biased["note"]
    fair = V.effect_row(eff, {"dropout": [gapped("dropout", 30.0, 28.0, 20.0)],
                              "no-dropout": [gapped("no-dropout", 32.0, 5.0, 2.0)]})
    assert fair["ours"] == pytest.approx((30.0 - 20.0) - (32.0 - 2.0))  # eval-mode training error, not train-mode
    assert fair["verdict"] == "reproduced" and fair["label"].startswith("reproduced (provisional")
    # one run a side: each gap's error counts both its validation images and the 1,024 probe images
    expected = math.hypot(A.binomial_standard_error(30.0, 3925), A.binomial_standard_error(20.0, 1024),
                          A.binomial_standard_error(32.0, 3925), A.binomial_standard_error(2.0, 1024))
    assert fair["se"] == pytest.approx(expected)


def test_weight_decay_too_weak_over_the_run_is_underpowered_and_a_long_run_is_judged():
    eff = EXPERIMENTS["learning_details"].effects[1]
    assert eff.power_check == "decay_shrinkage"

    def decayed(variant, wd, epochs, lr):
        r = run(variant, 30.0, epochs=epochs, lr=lr, weight_decay=wd, momentum=0.9, batch_size=128)
        for h in r.history:
            h.update(images_per_s=128.0, train_seconds=100.0)  # 100 steps an epoch
        return r
    short = {"reference": [decayed("reference", 5e-4, 8, 0.003)], "no-weight-decay": [decayed("no-weight-decay", 0.0, 8, 0.003)]}
    row = V.effect_row(eff, short)
    assert row["verdict"] == "underpowered" and "shrinks an unused weight by 1.2% at most" in row["note"]
    assert A.decay_shrinkage(short["reference"][0]) == pytest.approx(1 - math.exp(-5e-3 * 0.003 * 800))
    long = {"reference": [decayed("reference", 5e-4, 90, 0.1)], "no-weight-decay": [decayed("no-weight-decay", 0.0, 90, 0.1)]}
    assert V.effect_row(eff, long)["verdict"] != "underpowered"


def test_epochs_to_converge_of_a_run_still_improving_are_censored():
    eff = EXPERIMENTS["dropout"].effects[2]
    improving = {"dropout": [run("dropout", 30.0)], "no-dropout": [run("no-dropout", 32.0)]}  # best at the last epoch
    assert V.effect_row(eff, improving)["verdict"] == "underpowered"
    def converged(variant):
        r = run(variant, 32.0)
        r.history[-1]["val_top1"] = 50.0  # best at epoch 2 of 3
        return r
    row = V.effect_row(eff, {"dropout": [converged("dropout")], "no-dropout": [converged("no-dropout")]})
    assert row["verdict"] == "underpowered" and "no measured spread" in row["note"]  # one run each, no spread
