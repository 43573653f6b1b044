"""The scorecard's and the performance page's logic, on records and benchmark files the tests
write: every branch of the verdicts (underpowered, censored and provisional ones included), of
the seed spread and of the notes."""
import math

import pytest

from alexnet_core.book.engine import measures as A
from alexnet_core.book.pages import performance as P
from alexnet_core.book.pages import scorecard as S
from alexnet_core.book.engine import judge as V
from alexnet_core.book.engine.benchmarks import CpuBenchmarks
from alexnet_core.book.engine.plan import EXPERIMENTS, Effect
from alexnet_core.book.engine.records import Found, Record


def run(variant: str, val_top1: float, seed: int = 0, epochs: int = 3, lr: float = 0.003, **config) -> dict:
    """A record that learned: validation error falling from 60% to ``val_top1``."""
    history = [dict(epoch=e, val_top1=60 - (60 - val_top1) * e / epochs, train_top1=50.0, train_loss=1.0,
                    val_top5=10.0, lr=lr) for e in range(1, epochs + 1)]
    return Record.from_dict(dict(config=dict(lr=lr, dataset="imagenette", **config), history=history,
                metrics=dict(val_top1=val_top1, val_top5=10.0, val_top1_se=0.8, val_images=3925,
                             final_train_top1=50.0, best_val_top1=val_top1),
                provenance=dict(variant=variant, seed=seed)))


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


def test_the_spread_in_words_names_the_runs_and_what_it_means():
    records = [run("lrn", v, seed=i) for i, v in enumerate((30.0, 33.0))]
    noise = V.family_noise(records, ["val_top1"])
    assert noise["val_top1"].dof == 1 and noise["val_top1"].sd == pytest.approx(math.sqrt(4.5))
    text = S.spread_text(noise, records)
    assert "lrn: 30.0%, 33.0%" in text and "1 degrees of freedom" in text and "3.0 points" in text
    assert "has not been measured yet" in S.spread_text(V.family_noise(records[:1], ["val_top1"]), records[:1])


def test_the_scorecard_has_a_row_per_effect_and_counts_verdicts():
    def runs_of(name):
        exp = EXPERIMENTS[name]
        return [run(v, 30.0 + i, seed=0) for i, v in enumerate(exp.variants)]
    rows = S.scorecard(runs_of, lambda name: "cpu", False, lambda family: {})
    assert len(rows) == sum(len(e.effects) for e in EXPERIMENTS.values())
    assert {row["setting"].split(" (")[-1] for row in rows} == {"cpu)"}
    assert S.verdict_counts([dict(verdict="a (x)", word="a"), dict(verdict="b", word="b"),
                             dict(verdict="b (y)", word="b")]) == "b: 2; a: 1"


def test_the_scorecard_rows_follow_the_papers_sections_and_name_each_nets_model():
    rows = S.scorecard(lambda name: [], lambda name: "cpu", False, lambda family: {})
    keys = [S.section_key(row["section"]) for row in rows]
    assert keys == sorted(keys) and S.section_key("3.10") > S.section_key("3.4")
    pair = next(row for row in rows if "conv-local pair (r540 draft)" in row["claim"])
    assert "convlocal" in pair["setting"] and pair["word"] == "not measured yet"
    assert pair["caveat"] == f"0 of {len(EXPERIMENTS['lrn_convlocal'].runs('cpu'))} runs recorded"


def test_the_scorecard_at_a_glance_shows_five_columns_a_badge_and_the_details_behind_the_claim():
    row = dict(section="3.3", claim="LRN <on> AlexNet", paper="-1.4", ours="+2.60 ± 0.96", word="underpowered",
               verdict="underpowered (one run per side)", caveat="one run per side", setting="imagenette, 8 epochs")
    page = S.scorecard_html([row, dict(row, word="reproduced", caveat="", ours="≥ 3.08 (a lower bound: why)")])
    assert "<td data-label=\"ours\">≥ 3.08</td>" in page and "<li><b>ours in full</b>: ≥ 3.08 (a lower bound: why)</li>" in page
    assert page.count("<th>") == 5 and page.count("<tr>") == 3
    assert '<span class="verdict-badge verdict-underpowered">underpowered</span>' in page
    assert '<div class="verdict-caveat">one run per side</div>' in page
    assert "LRN &lt;on&gt; AlexNet" in page and "<li><b>setting</b>: imagenette, 8 epochs</li>" in page
    assert page.count("verdict-caveat") == 1  # no empty caveat under the second badge
    assert [S.badge_class(w) for w in ("not reproduced", "direction only", "inconclusive", "not measured yet")] == \
        ["verdict-not-reproduced", "verdict-direction-only", "verdict-none", "verdict-none"]


def test_the_headline_sorts_claims_into_three_lines_and_links_the_scorecard(tmp_path):
    rows = [dict(section="3.1", claim="ReLU's speed-up (x)", word="direction only (lower bound)"),
            dict(section="3.3", claim="LRN (points)", word="not reproduced"),
            dict(section="4.1", claim="PCA (points)", word="reproduced"),
            dict(section="4.2", claim="Dropout (points)", word="underpowered")]
    text = S.headline(rows)
    lines = text.splitlines()
    assert len(lines) == 3 and "{doc}`the scorecard <generated/scorecard>`" in lines[2]
    assert lines[0] == ("- **Reproduced** (1 of 4 claims): PCA (§4.1). **In the paper's direction, not its size** "
                        "(1): ReLU's speed-up (§3.1).")
    assert "LRN (§3.3)" in lines[1] and "(1:" in lines[2]
    assert "no claim is contradicted" in S.headline(rows[:1])
    assert "smoke profile draws no verdicts" in S.headline(rows, smoke=True)
    path = S.write_headline(rows, False, tmp_path)
    assert path == tmp_path / "book" / "generated" / "headline.md" and path.read_text() == text


def test_other_profiles_rows_only_where_both_sides_are_recorded():
    rows = [dict(claim="LRN on AlexNet: top-1 error (points)", ours="-1.0 ± 0.5", verdict="within noise")]
    recorded = {"lrn_alexnet": [run("lrn", 30.0), run("no-lrn", 31.0)]}
    others = S.other_profile_rows(rows, lambda name: "gpu", lambda name, profile: recorded.get(name, []))
    assert {o["claim"] for o in others} == {"LRN on AlexNet: top-1 error (points)",
                                            "LRN on AlexNet: top-5 error (points)"}
    assert others[0]["book's profile"] == "-1.0 ± 0.5, within noise" and others[0]["other profile"] == "cpu"
    assert others[1]["book's profile"] == "-"


# --------------------------------------------------------------------------- the performance page

def bench(native: bool, rows: list[dict], **extra) -> CpuBenchmarks:
    isa = "avx512-bf16" if native else "avx2"
    throughput = dict(rows=rows, provenance=dict(device="EPYC", cpu_isa=isa.upper()), **extra)
    return CpuBenchmarks(folder=f"cpu-{isa}", throughput=throughput, pipeline=None, scaling=None)


def row(precision, cl, ips, compile=False, lrn=True, allocator="default", model="alexnet", **extra):
    return dict(model=model, precision=precision, channels_last=cl, compile=compile, lrn=lrn, batch=128,
                allocator=allocator, images_per_s=ips, **extra)


def test_cpu_notes_compare_the_fastest_with_fp32_eager_and_name_what_is_missing():
    rows = [row("fp32", False, 30.0, achieved_tflops=0.1), row("bf16", True, 60.0, fraction_of_matmul_ceiling=0.7),
            row("bf16", True, 66.0, allocator="keep-freed"), row("bf16", True, 90.0, lrn=False, allocator="keep-freed"),
            row("bf16", True, 50.0, compile=True)]
    notes = P.cpu_notes(bench(True, rows, matmul_ceiling_tflops=0.4, fp32_matmul_ceiling_tflops=0.2,
                              alexnet_bf16_bound_over_fp32_eager=4.0), None)
    assert notes["cpu_best_ratio"] == "2.20"
    assert "1.36x as fast, so LRN costs 27%" in notes["cpu_lrn_note"]
    assert "from 60.0 to 66.0 images/s (1.10x)" in notes["cpu_allocator_note"]
    assert "50.0 images/s against 60.0 eager (0.83x)" in notes["cpu_compile_note"]
    assert "at 75% of the matmul ceiling" in notes["cpu_bound_note"]
    assert "this run does not settle" in notes["cpu_isolation_note"]
    assert "has not been benchmarked yet" in notes["cpu_emulated_note"]
    empty = P.cpu_notes(None, None)
    assert empty["cpu_best_ratio"] == "-" and "not measured" in empty["cpu_lrn_note"]
    assert "has not been measured" in empty["cpu_bound_note"]


def test_a_bound_below_three_says_the_target_is_beyond_the_cpu():
    rows = [row("fp32", False, 30.0, achieved_tflops=0.1), row("bf16", True, 50.0)]
    notes = P.cpu_notes(bench(True, rows, matmul_ceiling_tflops=0.3, fp32_matmul_ceiling_tflops=0.2,
                              alexnet_bf16_bound_over_fp32_eager=2.0), None)
    assert notes["cpu_bound_note"].endswith("A threefold speed-up over fp32 eager is beyond this CPU.")


def test_gpu_and_pipeline_notes_without_measurements():
    assert P.gpu_notes(None) == dict.fromkeys(("gpu_best_128", "gpu_best_large", "gpu_name"), "-")
    assert set(P.pipeline_notes([], None).values()) == {"-"}
    gpu = dict(rows=[dict(model="alexnet", images_per_s=9000.0, batch=128, precision="bf16", channels_last=True,
                          compile=False, fraction_of_datasheet_peak=0.05)], provenance=dict(device="H100"))
    notes = P.gpu_notes(gpu)
    assert notes["gpu_best_128"].startswith("9,000 images per second (bf16, channels_last, eager, batch 128)")
    assert notes["gpu_best_large"] == "larger batches were not measured on it"


def test_memory_rows_take_the_family_from_the_config(tmp_path):
    import json
    for exp, run_name, model, rss, date in (("lrn_cifar", "lrn-s0", "cifarnet", 900.0, "2026-11-01"),
                                            ("odd_name", "x-s0", "alexnet", 7000.0, "2026-11-02")):
        path = tmp_path / "cpu" / exp / f"{run_name}.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(dict(config=dict(model=model), history=[], metrics=dict(val_top1=None),
                                        provenance=dict(peak_rss_mb=rss, date=date, device="EPYC", commit="abc"))))
    rows = P.memory_rows(None, tmp_path)
    assert [r["what"] for r in rows] == ["peak resident memory of a cpu-profile AlexNet-224 run (odd_name/x-s0)",
                                         "peak resident memory of a cpu-profile CIFAR-10 net run (lrn_cifar/lrn-s0)"]


def test_the_authors_column_gives_their_own_ablation_where_they_ran_one():
    from alexnet_core.book.pages.paper_code import AUTHORS_EFFECTS, authors_cell, authors_effect
    assert authors_effect("#145", "#148", "top1") == pytest.approx(-1.37)  # 40.66 - 42.03: the paper's -1.4
    assert authors_cell("LRN on AlexNet: top-5 error (points)") == "-1.15 (#145 vs #148)"
    assert authors_cell("Dropout: top-1 error (points)") == "-"
    labels = {e.label for exp in EXPERIMENTS.values() for e in exp.effects}
    assert set(AUTHORS_EFFECTS) <= labels  # every mapped claim is a scorecard row
