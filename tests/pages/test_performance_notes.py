"""The performance page's notes, on benchmark files the tests write: every branch."""


from alexnet_core.book.pages import performance as P
from alexnet_core.book.engine.benchmarks import CpuBenchmarks

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
    assert notes["cpu_lrn_note"].endswith("1.36x as fast, so LRN costs 27% of each step")
    dated = bench(True, rows)
    dated.throughput["provenance"] |= dict(date="2026-12-07T12:53:47+00:00", commit="d455c713f3ba4734")
    assert P.cpu_notes(dated, None)["cpu_lrn_note"].endswith("(that run: 2026-12-07, commit d455c713)")
    assert "from 60.0 to 66.0 images/s (1.10x)" in notes["cpu_allocator_note"]
    assert "50.0 images/s against 60.0 eager (0.83x)" in notes["cpu_compile_note"]
    assert "does not help" in notes["cpu_compile_note"] and " helps " in P.compile_note(60.0, 70.0)
    assert "was not measured in this run" in P.compile_note(60.0, None)
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
