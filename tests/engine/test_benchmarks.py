"""Reading benchmarks/results/ for the Performance page: per-CPU folders, row picking, summaries."""
import json

from alexnet_core.book.engine.benchmarks import cpu_summary, describe, load_cpu_benchmarks, pick


def row(precision, cl, ips, *, compile_=False, lrn=True, allocator="default", batch=128, fraction=0.5):
    return dict(model="alexnet", precision=precision, channels_last=cl, compile=compile_, lrn=lrn, batch=batch,
                allocator=allocator, images_per_s=ips, fraction_of_matmul_ceiling=fraction)


def write(folder, name, payload):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(payload))


def test_folders_load_native_bf16_first_and_name_their_instruction_set(tmp_path):
    prov = dict(device="AMD EPYC (2 logical cores, 2 threads)", cpu_isa="AVX2")
    write(tmp_path / "cpu-avx2", "train-throughput.json",
          dict(rows=[row("fp32", False, 10.0), row("fp32", True, 12.0), row("bf16", True, 1.0)],
               cpu_fast_bf16=False, matmul_ceiling_tflops=0.001, fp32_matmul_ceiling_tflops=0.1, provenance=prov))
    # an older record without cpu_isa in its provenance: the folder's name says it
    write(tmp_path / "cpu-avx512-bf16", "data-pipeline.json",
          dict(trainer_over_naive=2.3, pipeline_over_training=31.0,
               provenance=dict(device="AMD EPYC (2 logical cores, 2 threads)")))
    (tmp_path / "gpu").mkdir()
    cpus = load_cpu_benchmarks(tmp_path)
    assert [b.folder.name for b in cpus] == ["cpu-avx512-bf16", "cpu-avx2"]
    assert [b.label for b in cpus] == ["AMD EPYC, AVX512-BF16", "AMD EPYC, AVX2"]
    assert [b.native_bf16 for b in cpus] == [True, False]
    assert cpus[0].throughput is None and cpus[0].scaling is None


def test_summary_divides_rows_of_one_run(tmp_path):
    write(tmp_path / "cpu-avx2", "train-throughput.json",
          dict(rows=[row("fp32", False, 10.0), row("fp32", True, 12.0, fraction=0.6), row("bf16", True, 1.0),
                     row("fp32", True, 30.0, lrn=False),  # not the paper's step: never the fastest
                     dict(model="alexnet", precision="bf16", channels_last=False, compile=True, lrn=True,
                          batch=128, error="RuntimeError: boom")],
               cpu_fast_bf16=False, matmul_ceiling_tflops=0.00125, fp32_matmul_ceiling_tflops=0.106,
               provenance=dict(device="AMD EPYC (2 logical cores, 2 threads)", cpu_isa="AVX2")))
    (bench,) = load_cpu_benchmarks(tmp_path)
    summary = cpu_summary(bench)
    assert summary["trainer's precision (auto)"] == "fp32"
    assert summary["fp32 eager img/s"] == 10.0
    assert summary["fastest img/s"] == 12.0 and summary["fastest configuration"] == "fp32 + channels_last, eager"
    assert summary["fastest / fp32 eager"] == 1.2
    assert summary["bf16 + CL eager / fp32 eager"] == 0.1
    assert abs(summary["% of matmul ceiling (fastest)"] - 60.0) < 1e-9
    assert summary["matmul ceiling bf16 / fp32 (TFLOP/s)"] == "0.00125 / 0.106"
    assert "project epoch / naive epoch" not in summary


def test_pick_reads_missing_fields_as_old_defaults_and_skips_failures():
    old = dict(model="alexnet", precision="fp32", channels_last=False, compile=False, batch=128, images_per_s=5.0)
    failed = dict(old, error="boom")
    del failed["images_per_s"]
    assert pick([old, failed], lrn=True, allocator="default") == [old]
    assert pick([old], lrn=False) == []
    assert describe(row("bf16", True, 1.0, compile_=True, allocator="keep-freed")) == \
        "bf16 + channels_last, torch.compile (default), freed memory kept"


def test_the_normalisation_rows_say_where_and_divide_rows_of_one_run(tmp_path):
    from alexnet_core.book.pages.performance import normalisation_results, normalisation_tables
    result = dict(copy_gb_per_s=40.0, batch=128, cpu_isa="AVX512-BF16",
                  normalisations=[dict(normalisation="LRN", eager_ms=200.0, compiled_ms=100.0, speedup=2.0,
                                       eager_of_copy_rate=0.04, compiled_of_copy_rate=0.08)],
                  steps=[dict(recipe="printed", no_lrn_images_per_s=100.0, lrn_eager_images_per_s=70.0,
                              lrn_compiled_images_per_s=95.0, eager_of_no_lrn=0.7, compiled_of_no_lrn=0.95)],
                  trainer=dict(recipe="coded", epoch_images=1536, epoch_images_per_s=90.0, step_images_per_s=100.0,
                               epoch_of_step=0.9),
                  provenance=dict(device="a CPU", precision="bf16", date="2026-12-07T00:00:00", commit="abcdef123"))
    write(tmp_path / "cpu-avx512-bf16", "normalisation.json", result)
    [loaded] = normalisation_results(tmp_path)
    alone, steps, where = normalisation_tables(loaded)
    assert alone[0]["compiled, of copy rate"] == "8%" and steps[0]["compiled, of no LRN"] == "95%"
    assert alone[0]["eager (ms)"] == "200.0" and alone[0]["speed-up (x)"] == "2.00"  # not pandas' 200.000000
    assert steps[0]["LRN compiled (img/s)"] == "95.0"
    assert "AVX512-BF16" in where and "2026-12-07" in where and "90% of the step's 100.0" in where
