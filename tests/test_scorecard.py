"""The scorecard's and the performance page's logic, on records and benchmark files the tests
write: every branch of the verdicts, of the seed yardstick and of the notes."""
import math

import pytest

from alexnet_core.book import analysis as A
from alexnet_core.book import performance as P
from alexnet_core.book import scorecard as S
from alexnet_core.book.benchmarks import CpuBenchmarks
from alexnet_core.book.experiments import EXPERIMENTS, Effect


def run(variant: str, val_top1: float, seed: int = 0, epochs: int = 3, lr: float = 0.003, **config) -> dict:
    """A record that learned: validation error falling from 60% to ``val_top1``."""
    history = [dict(epoch=e, val_top1=60 - (60 - val_top1) * e / epochs, train_top1=50.0, train_loss=1.0,
                    val_top5=10.0, lr=lr) for e in range(1, epochs + 1)]
    return dict(config=dict(lr=lr, dataset="imagenette", **config), history=history,
                metrics=dict(val_top1=val_top1, val_top5=10.0, val_top1_se=0.8, val_images=3925,
                             final_train_top1=50.0, best_val_top1=val_top1),
                provenance=dict(variant=variant, seed=seed))


# --------------------------------------------------------------------------- the verdict rule

@pytest.mark.parametrize("paper, effect, se, word", [
    (-1.4, -1.5, 0.3, "reproduced"),
    (-1.4, -4.0, 0.3, "direction only"),
    (-1.4, -0.3, 0.3, "within noise"),
    (-1.4, +1.5, 0.3, "not reproduced"),
    (-1.4, math.nan, 0.3, "not measured"),
])
def test_every_verdict_of_the_rule(paper, effect, se, word):
    assert A.verdict(paper, effect, se) == word


def test_effect_rows_say_smoke_inconclusive_not_measured_and_qualitative():
    eff = Effect("LRN", "lrn", "no-lrn", "val_top1", -1.4)
    groups = {"lrn": [run("lrn", 30.0)], "no-lrn": [run("no-lrn", 35.0)]}
    assert A.effect_row(eff, groups, smoke=True)["verdict"] == "no verdict (smoke)"
    assert A.effect_row(eff, {"lrn": [run("lrn", 30.0)], "no-lrn": [run("no-lrn", 89.5)]},
                        )["verdict"] == "inconclusive (a run did not learn)"
    assert A.effect_row(eff, {"lrn": groups["lrn"]})["verdict"] == "not measured"
    qualitative = Effect("gap", "lrn", "no-lrn", "val_top1", None, sign=-1)
    assert A.effect_row(qualitative, groups)["verdict"] == "reproduced"  # the expected sign, beyond 2 SE


# --------------------------------------------------------------------------- the seed yardstick

def yardstick(values=(30.0, 33.0)) -> S.Yardstick:
    records = [run("lrn", v, seed=i) for i, v in enumerate(values)]
    return S.seed_yardstick(records=records)


def test_the_yardstick_pools_seeds_of_one_config():
    yard = yardstick()
    assert yard.dof == 1 and yard.sd == pytest.approx(math.sqrt(4.5))
    assert yard.one_seed_noise == pytest.approx(3.0)


@pytest.mark.parametrize("family, runs, metric, smoke, verdict, ours, expected", [
    ("alexnet", 1, "val_top1", False, "reproduced", -7.0, "yes"),  # beyond 2 x 3.0 points
    ("alexnet", 1, "val_top1", False, "reproduced", -2.0, "no"),
    ("alexnet", 1, "val_top1", False, "not reproduced", 7.0, "yes"),
    ("alexnet", 1, "val_top1", False, "within noise", -2.0, "-"),  # no sign to check
    ("alexnet", 2, "val_top1", False, "reproduced", -7.0, "-"),  # several runs: their own spread counts
    ("cifar", 1, "val_top1", False, "reproduced", -7.0, "-"),
    ("alexnet", 1, "speedup", False, "reproduced", 6.0, "-"),
    ("alexnet", 1, "best_epoch", False, "reproduced", 3.0, "-"),
    ("alexnet", 1, "val_top1", True, "reproduced", -7.0, "-"),  # smoke
])
def test_beyond_seed_noise_for_every_branch(family, runs, metric, smoke, verdict, ours, expected):
    exp = EXPERIMENTS["lrn_alexnet"] if family == "alexnet" else EXPERIMENTS["lrn_cifar"]
    row = dict(runs=runs, verdict=verdict, ours=ours)
    assert S.beyond_seed_noise(exp, row, metric, yardstick(), smoke) == expected


def test_no_yardstick_no_check_and_says_so():
    empty = S.seed_yardstick(records=[run("lrn", 30.0)])
    assert empty.dof == 0
    row = dict(runs=1, verdict="reproduced", ours=-9.0)
    assert S.beyond_seed_noise(EXPERIMENTS["lrn_alexnet"], row, "val_top1", empty, False) == "-"
    assert "has not been measured yet" in S.yardstick_text(empty, [])


def test_the_yardstick_in_words_names_the_runs_and_what_clears_it():
    text = S.yardstick_text(yardstick(), [("LRN: top-1", "yes"), ("pooling: top-1", "no")])
    assert "lrn: 30.0%, 33.0%" in text and "1 degrees of freedom" in text
    assert "1 of 2 (LRN: top-1)" in text and "(6.0 points)" in text


def test_the_scorecard_has_a_row_per_effect_and_counts_verdicts():
    def runs_of(name):
        exp = EXPERIMENTS[name]
        return [run(v, 30.0 + i, seed=0) for i, v in enumerate(exp.variants)]
    card = S.scorecard(runs_of, lambda name: "cpu", False, yardstick())
    assert len(card.rows) == sum(len(e.effects) for e in EXPERIMENTS.values())
    assert {row["setting"].split(" (")[-1] for row in card.rows} == {"cpu)"}
    assert S.verdict_counts([dict(verdict="a"), dict(verdict="b"), dict(verdict="b")]) == "b: 2; a: 1"


def test_other_profiles_rows_only_where_both_sides_are_recorded():
    rows = [dict(claim="LRN on AlexNet: top-1 error (points)", ours="-1.0 ± 0.5", verdict="within noise")]
    recorded = {"lrn_alexnet": [run("lrn", 30.0), run("no-lrn", 31.0)]}
    others = S.other_profile_rows(rows, lambda name: "gpu", lambda name, profile: recorded.get(name, []))
    assert {o["claim"] for o in others} == {"LRN on AlexNet: top-1 error (points)",
                                            "LRN on AlexNet: top-5 error (points)"}
    assert others[0]["book's profile"] == "-1.0 ± 0.5 (within noise)" and others[0]["other profile"] == "cpu"
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
    assert notes["cpu_bound_note"].endswith("The 3x target is beyond this CPU.")


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
        path.write_text(json.dumps(dict(config=dict(model=model), history=[], metrics={},
                                        provenance=dict(peak_rss_mb=rss, date=date, device="EPYC", commit="abc"))))
    rows = P.memory_rows(None, tmp_path)
    assert [r["what"] for r in rows] == ["peak resident memory of a cpu-profile AlexNet-224 run (odd_name/x-s0)",
                                         "peak resident memory of a cpu-profile CIFAR-10 net run (lrn_cifar/lrn-s0)"]


def test_the_authors_column_gives_their_own_ablation_where_they_ran_one():
    from alexnet_core.book.original_code import AUTHORS_EFFECTS, authors_cell, authors_effect
    assert authors_effect("#145", "#148", "top1") == pytest.approx(-1.37)  # 40.66 - 42.03: the paper's -1.4
    assert authors_cell("LRN on AlexNet: top-5 error (points)") == "-1.15 (#145 vs #148)"
    assert authors_cell("Dropout: top-1 error (points)") == "-"
    labels = {e.label for exp in EXPERIMENTS.values() for e in exp.effects}
    assert set(AUTHORS_EFFECTS) <= labels  # every mapped claim is a scorecard row
