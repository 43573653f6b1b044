"""The verdict rule (engine.judge, book/BOOK "Verdicts"): Student's t without scipy, every branch
of the CI rule, paired and unpaired estimates, the validation images' error from predictions or
binomial, the kind of a pair by its networks' shapes, and the effect rows with their power
overrides, on records the tests build."""
import math

import pytest
import torch

from alexnet_core.book.engine import measures as A
from alexnet_core.book.engine import judge as V
from alexnet_core.book.engine.plan import EXPERIMENTS, Effect
from alexnet_core.book.engine.student import incomplete_beta, t_cdf, t_quantile, two_sided
from alexnet_core.evaluate import pack_hits
from conftest import learned_run as run

LRN = Effect("LRN", "lrn", "no-lrn", "val_top1", -1.4)

# --------------------------------------------------------------------------- Student's t


@pytest.mark.parametrize("nu, t", [(1, 12.706), (2, 4.303), (5, 2.571), (30, 2.042), (10 ** 6, 1.960),
                                   (math.inf, 1.960)])
def test_the_two_sided_95_percent_quantiles_of_students_t(nu, t):
    assert two_sided(nu) == pytest.approx(t, abs=1e-3)
    assert t_cdf(two_sided(nu), nu) == pytest.approx(0.975, abs=1e-9)


def test_the_one_sided_80_percent_quantile_the_cdf_and_the_incomplete_beta():
    assert t_quantile(0.8, 10) == pytest.approx(0.879, abs=1e-3)
    assert t_quantile(0.2, 10) == pytest.approx(-0.879, abs=1e-3)
    assert t_cdf(2.0, 3) == pytest.approx(0.930337, abs=1e-6) and t_cdf(-1.0, 1) == pytest.approx(0.25)
    assert incomplete_beta(2.0, 3.0, 0.4) == pytest.approx(0.5248)  # 1 - 0.6^4 - 4(0.4)(0.6)^3
    assert two_sided(0) == math.inf  # no degrees of freedom, no interval


# --------------------------------------------------------------------------- the verdict words

def estimate(effect, se, runs=3, dof=math.inf, sd=float("nan")):
    return V.Estimate(effect, se, runs, "paired", sd, True, dof)


@pytest.mark.parametrize("paper, effect, se, word", [
    (-1.4, +6.0, 1.0, "not reproduced"),  # CI 6 +/- 1.96 excludes 0, the other way: first, whatever the power
    (-1.4, -4.0, 1.4, "reproduced"),  # 2.9x the paper's, but the CI [-6.7, -1.3] holds P
    (-1.4, -2.5, 0.3, "reproduced"),  # P outside the CI [-3.1, -1.9], but within a factor of two
    (-1.4, -4.0, 0.3, "direction only"),  # CI [-4.6, -3.4]: beyond 0, 2.9x off, P outside
    (-1.4, -0.1, 0.3, "within noise"),  # CI [-0.7, 0.5]: holds 0, excludes P
    (-1.4, -0.5, 1.0, "underpowered"),  # CI [-2.5, 1.5]: holds both
    (-1.4, math.nan, 0.3, "not measured"),
    (-1.4, -1.5, math.nan, "underpowered"),  # no error to judge by
    (None, -1.0, 0.3, "reproduced"),  # qualitative: the CI excludes 0 in the claimed direction
    (None, +1.0, 0.3, "not reproduced"),
    (None, -0.3, 0.3, "within noise"),
])
def test_every_verdict_of_the_rule(paper, effect, se, word):
    assert V.verdict(paper, estimate(effect, se)) == word


def test_the_interval_uses_students_t_on_the_spreads_degrees_of_freedom():
    low, high = estimate(-1.0, 0.5, dof=5).interval
    assert (low, high) == pytest.approx((-1.0 - 2.5706 * 0.5, -1.0 + 2.5706 * 0.5), abs=1e-3)
    # the same numbers on 1 degree of freedom hold both 0 and P; on many they are beyond 0
    assert V.verdict(-1.4, estimate(-1.2, 0.4, dof=1)) == "underpowered"
    assert V.verdict(-1.4, estimate(-1.2, 0.4, dof=60)) == "reproduced"


def test_an_underpowered_caveat_gives_the_sign_and_the_seeds_for_80_percent_power():
    est = estimate(+0.5, 1.0, dof=10, sd=2.0)
    need = math.ceil(((2.2281 + 0.8791) * 2.0 / 1.4) ** 2)
    assert V.pairs_needed(2.0, -1.4, 10) == need == 20
    grown = V.pairs_needed(2.0, -1.4, 10, runs=est.runs)  # each pair added measures the spread better
    assert grown < need
    assert V.caveat("underpowered", -1.4, est) == f"the opposite sign; about {grown} seeds per side would give 80% power"
    no_error = V.caveat("underpowered", -1.4, estimate(-0.5, math.nan, runs=1))
    assert no_error.startswith("the paper's sign, no standard error")
    assert V.pairs_needed(math.nan, -1.4, 10) is None and V.pairs_needed(2.0, None, 10) is None
    assert V.pairs_needed(2.0, -1.4, 0) is None
    # the images' part of the error stays whatever the seeds: with it, 3 pairs that BOOK.md's formula
    # (the seeds' part alone) calls enough for 80% power are not, and the count says so
    assert V.pairs_needed(0.46, -1.4, 3) == 2
    k = two_sided(3) + 0.9785
    assert V.pairs_needed(0.46, -1.4, 3, images=0.28) == math.ceil(0.46 ** 2 / ((1.4 / k) ** 2 - 0.28 ** 2)) == 7
    assert V.pairs_needed(0.46, -1.4, 3, images=0.6) is None  # beyond any number of seeds
    # a pooled spread on few degrees of freedom is measured better by each pair added: 3 pairs on
    # 2 degrees of freedom, which no fixed-dof count can power, need 7 (the CIFAR-10 pair's case)
    need = V.pairs_needed(0.33, -2.0, 2, images=0.58, runs=3)
    nu = 2 + need - 3
    assert (two_sided(nu) + t_quantile(0.8, nu)) * math.sqrt(0.33 ** 2 / need + 0.58 ** 2) <= 2.0
    nu = 2 + need - 4
    assert (two_sided(nu) + t_quantile(0.8, nu)) * math.sqrt(0.33 ** 2 / (need - 1) + 0.58 ** 2) > 2.0
    assert need > 3
    powered = V.Estimate(-0.6, 0.37, 3, "paired", 0.41, True, 4, images=0.28)
    assert V.pairs_needed(0.41, -1.4, 4, 0.28, 3) <= 3
    assert V.caveat("underpowered", -1.4, powered) == ("the paper's sign; 3 seeds per side already give 80% power "
                                                       "against the paper's effect; ours came out smaller, and more "
                                                       "seeds would narrow it")
    images = V.Estimate(-0.5, 1.0, 3, "paired", 0.1, True, 10, images=0.9)  # the images' error alone is too large
    assert "more seeds alone cannot settle it" in V.caveat("underpowered", -1.4, images)
    assert V.caveat("reproduced", -1.4, estimate(-1.5, 0.3)) == ""
    assert V.label("reproduced", "provisional: one run per side") == "reproduced (provisional: one run per side)"


# --------------------------------------------------------------------------- rows: paired, unpaired, provisional

def test_an_opposite_effect_in_a_small_experiment_is_not_reproduced_whatever_its_power():
    groups = {"lrn": [run("lrn", 36.0 + d, seed=s) for s, d in enumerate((0.0, 0.2, -0.2))],
              "no-lrn": [run("no-lrn", 30.0, seed=s) for s in range(3)]}
    row = V.effect_row(LRN, groups)
    assert row["ours"] == pytest.approx(6.0) and row["runs"] == 3 and row["source"] == "paired"
    assert 2 * row["se"] >= 1.4  # by the old rule's power check this was underpowered
    assert row["verdict"] == "not reproduced" and row["low"] > 0
    assert row["low"] == pytest.approx(6.0 - two_sided(2) * row["se"])


def test_a_paired_row_pools_the_spread_of_its_kind_and_adds_the_images_error():
    groups = {"lrn": [run("lrn", 30.0 + d, seed=s) for s, d in enumerate((0.0, 1.0, 2.0))],
              "no-lrn": [run("no-lrn", 31.0, seed=s) for s in range(3)]}
    pooled = V.Spreads({}, {("val_top1", V.SAME, 3): V.Noise(2.0, 12, 4), ("val_top1", V.DIFFERENT, 3): V.Noise(9.0, 3, 1),
                             ("val_top1", V.SAME, 24): V.Noise(9.0, 3, 1)})
    row = V.effect_row(LRN, groups, noise=pooled)
    images = math.hypot(A.binomial_standard_error(31.0, 3925), A.binomial_standard_error(31.0, 3925))
    assert row["ours"] == pytest.approx(0.0) and row["se"] == pytest.approx(math.sqrt(4.0 / 3 + images ** 2))
    assert row["high"] - row["ours"] == pytest.approx(two_sided(12) * row["se"])  # nu of the pooled spread
    assert row["verdict"] == "underpowered" and "as if independent" in row["note"]
    own = V.effect_row(LRN, groups)  # no pooled spread given: the claim's own three pairs, sd_d = 1 on 2 dof
    assert own["se"] == pytest.approx(math.sqrt(1.0 / 3 + images ** 2))


def test_pooled_paired_spreads_keep_the_two_kinds_and_the_run_lengths_apart():
    def exp(ref, abl, diffs, epochs=3):
        return {ref: [run(ref, 30.0, seed=s, epochs=epochs) for s in range(len(diffs))],
                abl: [run(abl, 30.0 - d, seed=s, epochs=epochs) for s, d in enumerate(diffs)]}
    lrn = exp("lrn", "no-lrn", (1.0, 3.0))  # same shapes (configs alike here)
    for r in lrn["no-lrn"]:
        r.config["lrn"] = False
    depth = exp("all-layers", "no-conv3", (0.0, 4.0, 8.0))
    for r in depth["no-conv3"]:
        r.config["remove_conv"] = 3
    longer = exp("reference", "no-lrn", (0.0, 10.0), epochs=24)  # long_training's LRN pair: another run length
    for r in longer["no-lrn"]:
        r.config["lrn"] = False
    spreads = V.paired_spreads({"lrn_alexnet": lrn, "depth": depth, "long_training": longer})
    same, different = spreads[("val_top1", V.SAME, 3)], spreads[("val_top1", V.DIFFERENT, 3)]
    assert same.dof == 1 and same.sd == pytest.approx(math.sqrt(2.0))  # lrn top-1; top-5 equal in every run
    assert different.dof == 2 and different.sd == pytest.approx(4.0) and different.configs == 1
    assert ("val_top5", V.SAME, 3) in spreads and not spreads[("val_top5", V.SAME, 3)].measured
    long = spreads[("val_top1", V.SAME, 24)]
    assert long.dof == 1 and long.sd == pytest.approx(math.sqrt(50.0))  # not pooled into the 3-epoch spread


def test_the_kind_of_a_pair_is_decided_by_its_networks_shapes():
    def configs(name, variants):
        specs = {s.variant: s.config.to_dict() for s in EXPERIMENTS[name].runs("cpu")}
        return [specs[v] for v in variants]
    assert V.kind_of(*configs("lrn_alexnet", ("lrn", "no-lrn"))) == V.SAME
    assert V.kind_of(*configs("depth", ("all-layers", "no-conv3"))) == V.DIFFERENT
    assert V.kind_of(*configs("two_columns", ("two-columns", "one-column-half"))) == V.DIFFERENT
    state = torch.random.get_rng_state()
    V.kind_of(dict(dataset="synthetic", seed=5), dict(dataset="synthetic", remove_conv=4, seed=5))
    assert torch.equal(state, torch.random.get_rng_state())  # building on meta leaves the generator alone


def test_sides_that_share_no_seed_are_judged_unpaired_by_the_family_spread():
    groups = {"lrn": [run("lrn", 30.0, seed=0), run("lrn", 30.4, seed=1)], "no-lrn": [run("no-lrn", 34.0, seed=2)]}
    row = V.effect_row(LRN, groups, noise={"val_top1": V.Noise(0.5, 6, 3)})
    images = math.hypot(A.binomial_standard_error(30.2, 3925), A.binomial_standard_error(34.0, 3925))
    assert row["source"] == "unpaired" and row["ours"] == pytest.approx(-3.8) and row["runs"] == 1
    assert row["se"] == pytest.approx(math.sqrt(0.25 * (1 / 2 + 1) + images ** 2))
    assert row["high"] == pytest.approx(-3.8 + two_sided(6) * row["se"])
    assert "unpaired" in row["label"] and row["verdict"] == "reproduced"


def test_one_pair_is_always_provisional():
    big = dict(val_images=10 ** 6)  # an images' error small enough for one pair to be beyond noise
    groups = {"lrn": [run("lrn", 30.0)], "no-lrn": [run("no-lrn", 31.4)]}
    for r in groups["lrn"] + groups["no-lrn"]:
        r.metrics.update(big)
    row = V.effect_row(LRN, groups, noise={"val_top1": V.Noise(0.2, 6, 6)})
    assert row["verdict"] == "reproduced" and row["label"].startswith("reproduced (provisional: one run per side")
    assert "the unpaired seed spread stands in" in row["note"]
    alone = V.effect_row(LRN, groups)  # no spread at all: the images' error alone, on the normal's quantile
    assert alone["source"] == "binomial" and "provisional: one run per side and no seed spread" in alone["label"]


def predicted(variant, seed, wrong, n=400, images_digest="abc"):
    """A run whose final model got the images in ``wrong`` wrong, centre crop top-1, with predictions."""
    hit = torch.ones(n, dtype=torch.bool)
    hit[list(wrong)] = False
    r = run(variant, 100.0 * len(wrong) / n, seed=seed)
    r.metrics["val_images"] = n
    r.predictions = dict(images=n, images_digest=images_digest, centre=dict(top1=pack_hits(hit), top5=pack_hits(hit)))
    return r


def test_the_images_error_comes_from_predictions_where_both_sides_have_them():
    shared = range(100)  # both sides wrong on these: a paired comparison does not count them
    ref = [predicted("lrn", s, list(shared) + [100 + s]) for s in range(2)]
    abl = [predicted("no-lrn", s, list(shared) + [200 + s, 300 + s, 350 + s]) for s in range(2)]
    pairs = V.pairs_of(ref, abl, "val_top1")
    diff = V.prediction_differences(pairs, "val_top1")
    assert float(diff.mean()) * 100 == pytest.approx(-0.5) and float(diff.sum()) == pytest.approx(-2.0)
    error, how = V.image_error(pairs, "val_top1")
    assert how == "predictions" and error == pytest.approx(100 * float(diff.std()) / math.sqrt(400))
    binomial = math.hypot(A.binomial_standard_error(25.25, 400), A.binomial_standard_error(25.75, 400))
    assert error < binomial / 5  # the shared mistakes cancel
    row = V.effect_row(LRN, {"lrn": ref, "no-lrn": abl})
    assert "as if independent" not in row["note"]
    abl[1].predictions = None  # one side of one pair without predictions: binomial for every pair
    assert V.image_error(pairs, "val_top1") == (pytest.approx(binomial), "binomial")
    assert "as if independent" in V.effect_row(LRN, {"lrn": ref, "no-lrn": abl})["note"]
    other = [predicted("no-lrn", s, [200 + s], images_digest="other") for s in range(2)]  # other images
    assert V.prediction_differences(V.pairs_of(ref, other, "val_top1"), "val_top1") is None


# --------------------------------------------------------------------------- rows: overrides and censoring

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
    missing = run("lrn", 30.0, seed=1)
    missing.metrics["val_top1"] = None  # a diverged run, say
    row = V.effect_row(LRN, {"lrn": [missing, run("lrn", 30.0)], "no-lrn": [run("no-lrn", 35.0)]})
    assert row["runs"] == 1 and row["ours"] == pytest.approx(-5.0)


def test_effect_rows_say_smoke_inconclusive_not_measured_and_qualitative():
    groups = {"lrn": [run("lrn", 30.0)], "no-lrn": [run("no-lrn", 35.0)]}
    smoke = V.effect_row(LRN, groups, smoke=True)
    assert smoke["verdict"] == "no verdict (smoke)" and {"low", "high"} <= set(smoke)
    assert V.effect_row(LRN, {"lrn": [run("lrn", 30.0)], "no-lrn": [run("no-lrn", 89.5)]},
                        )["verdict"] == "inconclusive (a run did not learn)"
    assert V.effect_row(LRN, {"lrn": groups["lrn"]})["verdict"] == "not measured"
    qualitative = Effect("gap", "lrn", "no-lrn", "val_top1", None, sign=-1)
    assert V.effect_row(qualitative, groups)["verdict"] == "reproduced"  # the CI excludes 0, the claimed way
    wrong_way = Effect("gap", "lrn", "no-lrn", "val_top1", None, sign=+1)
    assert V.effect_row(wrong_way, groups)["verdict"] == "not reproduced"
    pending = V.effect_row(LRN, groups, expected=4)
    assert pending["verdict"] == "not measured yet" and pending["label"] == "not measured yet (2 of 4 runs recorded)"


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
    # one pair, no seed spread: each gap's error counts both its validation images and the 1,024 probe images
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
    assert V.effect_row(eff, long)["verdict"] == "within noise"  # judged: equal training errors, a qualitative claim


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


def test_a_censored_speedup_is_judged_by_its_interval():
    est = V.Estimate(1.0, 0.1, 3, "seeds", 0.17, True, 2)  # bound - 1 = 1.0, CI [0.57, 1.43]
    assert V.bounded_verdict(est, 5.0, 0) == "direction only (lower bound)"
    assert V.bounded_verdict(est, 0.8, 0) == "reproduced (lower bound)"
    wide = V.Estimate(1.0, 1.0, 3, "seeds", 1.7, True, 2)  # CI [-3.3, 5.3]
    assert V.bounded_verdict(wide, 5.0, 0) == "underpowered (lower bound)"
    assert V.bounded_verdict(wide, 9.0, 0) == "within noise (lower bound)"
    assert V.bounded_verdict(est, 5.0, 1) == "underpowered (lower bound)"  # a seed without a ratio
