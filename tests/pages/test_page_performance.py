"""The performance page: what it reads from ``benchmarks/results/`` and how it shows each table or
says that nothing is measured, from small hand-made benchmark files and run records."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pandas")

from alexnet_core.book.engine.benchmarks import CpuBenchmarks  # noqa: E402
from alexnet_core.book.pages import performance as P  # noqa: E402

PROV = dict(device="EPYC (2 logical cores)", precision="bf16", commit="0123456789abcdef", date="2026-12-01T10:00:00")


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def row(precision: str, ips: float, channels_last: bool = False) -> dict:
    return dict(model="alexnet", precision=precision, channels_last=channels_last, compile=False, lrn=True,
                batch=128, allocator="default", images_per_s=ips, fraction_of_matmul_ceiling=0.5)


def pipeline(images_per_s: float = 1234.5) -> dict:
    return dict(pipeline_images_per_s=images_per_s, trainer_epoch_images_per_s=60.0, naive_epoch_images_per_s=20.0,
                pipeline_over_training=20.6, trainer_over_naive=3.0, images=1024, provenance=PROV)


def throughput(*rows: dict) -> dict:
    return dict(rows=list(rows), provenance=PROV, matmul_ceiling_tflops=0.4, fp32_matmul_ceiling_tflops=0.2)


def bench(native: bool, throughput: dict | None = None, pipe: dict | None = None,
          scaling: dict | None = None) -> CpuBenchmarks:
    isa = "AVX512-BF16" if native else "AVX2"
    return CpuBenchmarks(Path(f"cpu-{isa.lower()}"), throughput, pipe, scaling)


@pytest.fixture
def shown(monkeypatch) -> list:
    """What a page function displays, in order (IPython's display replaced by a list)."""
    out: list = []
    monkeypatch.setattr("IPython.display.display", out.append)
    return out


# --------------------------------------------------------------------------- what the page reads

def test_load_benchmarks_reads_every_cpu_native_first_and_the_gpu(tmp_path):
    write(tmp_path / "cpu-avx2" / "train-throughput.json", dict(rows=[], cpu_fast_bf16=False, provenance=PROV))
    write(tmp_path / "cpu-avx512-bf16" / "train-throughput.json", dict(rows=[], cpu_fast_bf16=True, provenance=PROV))
    write(tmp_path / "cpu-avx512-bf16" / "data-pipeline.json", pipeline())
    write(tmp_path / "cpu-avx2" / "scaling.json", dict(rows=[], provenance=PROV, peak_rss_mb=100))
    write(tmp_path / "gpu" / "gpu-throughput.json", dict(rows=[], provenance=dict(device="H100")))
    bench_ = P.load_benchmarks(tmp_path)
    assert [b.folder.name for b in bench_.cpus] == ["cpu-avx512-bf16", "cpu-avx2"]
    assert bench_.native.folder.name == "cpu-avx512-bf16" and bench_.emulated.folder.name == "cpu-avx2"
    assert [b.folder.name for b in bench_.with_pipeline] == ["cpu-avx512-bf16"]
    assert [b.folder.name for b in bench_.scaled] == ["cpu-avx2"]
    assert bench_.gpu["provenance"]["device"] == "H100"


def test_nothing_measured_reads_as_no_cpu_and_no_gpu(tmp_path):
    bench_ = P.load_benchmarks(tmp_path)
    assert bench_.cpus == [] and bench_.gpu is None and bench_.native is None and bench_.emulated is None


def test_page_notes_hold_every_glued_sentence():
    notes = P.page_notes(P.Benchmarks([], None))
    assert set(notes) == {"cpu_native_label", "cpu_best_ratio", "cpu_best_config", "cpu_lrn_note",
                          "cpu_allocator_note", "cpu_compile_note", "cpu_bound_note", "cpu_isolation_note",
                          "cpu_emulated_note", *P.PIPELINE_KEYS, "gpu_best_128", "gpu_best_large", "gpu_name",
                          "scaling_note"}
    assert notes["scaling_note"] == "not measured yet" and notes["pipe_ratio"] == "-" and notes["gpu_name"] == "-"


# --------------------------------------------------------------------------- the CPU summary

def test_cpu_summary_table_has_a_column_per_cpu_with_two_decimals_and_dashes():
    table = P.cpu_summary_table([bench(True, throughput(row("fp32", 30.0), row("bf16", 66.0, True))),
                                 bench(False, pipe=pipeline()), bench(False)])
    assert list(table.columns) == ["EPYC, AVX512-BF16", "EPYC, AVX2"]  # a CPU with nothing recorded gets no column
    column = table["EPYC, AVX512-BF16"]
    assert column["fp32 eager img/s"] == "30.00" and column["fastest / fp32 eager"] == "2.20"
    plain = table["EPYC, AVX2"]  # its data pipeline alone is recorded
    assert plain["fp32 eager img/s"] == "-" and plain["project epoch / naive epoch"] == "3.00"
    assert column["native bf16"] == "yes" and column["matmul ceiling bf16 / fp32 (TFLOP/s)"] == "0.4 / 0.2"
    assert P.cpu_summary_table([bench(False)]) is None


def test_show_cpu_summary_displays_the_table_or_says_how_to_measure(capsys, shown):
    P.show_cpu_summary([])
    assert capsys.readouterr().out == "No CPU benchmark is recorded yet: make bench-cpu\n" and shown == []
    P.show_cpu_summary([bench(True, throughput(row("fp32", 30.0)))])
    assert capsys.readouterr().out == "" and list(shown[0].columns) == ["EPYC, AVX512-BF16"]


# --------------------------------------------------------------------------- the data pipeline

def test_pipeline_table_shows_large_numbers_to_one_place_and_ratios_to_two():
    table = P.pipeline_table([bench(True, pipe=pipeline())])
    assert list(table.index) == P.PIPELINE_INDEX
    assert list(table.iloc[:, 0]) == ["1,234.5", "60.0", "20.0", "20.6", "3.00"]
    assert P.pipeline_table([]) is None


def test_show_pipeline_prints_where_each_column_was_measured(capsys, shown):
    P.show_pipeline([])
    assert capsys.readouterr().out == "" and shown == []
    P.show_pipeline([bench(True, pipe=pipeline()), bench(False, pipe=pipeline(8.0))])
    assert len(shown) == 1 and list(shown[0].iloc[0]) == ["1,234.5", "8.00"]
    assert capsys.readouterr().out.splitlines() == [
        "EPYC, AVX512-BF16: 1,024 images, trainer in bf16, commit 01234567, 2026-12-01",
        "EPYC, AVX2: 1,024 images, trainer in bf16, commit 01234567, 2026-12-01"]


# --------------------------------------------------------------------------- memory

def test_memory_table_lists_runs_and_the_largest_cache_files(tmp_path):
    write(tmp_path / "cpu" / "lrn_alexnet" / "lrn-s0.json",
          dict(config=dict(model="alexnet"), history=[], metrics=dict(val_top1=None),
               provenance=dict(peak_rss_mb=2048.4, date="2026-11-01", device="EPYC", commit="abcdef012345")))
    scaling = dict(decode_cache_mb={"small": 10.0, "big": 1800.0, "mid": 300.0}, provenance=PROV)
    table = P.memory_table(scaling, tmp_path)
    assert list(table.data["what"]) == ["peak resident memory of a cpu-profile AlexNet-224 run (lrn_alexnet/lrn-s0)",
                                        "a decode-once cache file (big)", "a decode-once cache file (mid)"]
    assert ">2048<" in table.to_html()  # MiB without decimals
    assert P.memory_table(None, tmp_path / "empty") is None


def test_show_memory_reads_the_first_scaled_cpus_caches_or_says_nothing_is_measured(tmp_path, capsys, shown):
    P.show_memory([], tmp_path)
    assert capsys.readouterr().out == "No memory measurement is recorded yet.\n" and shown == []
    scaled = [bench(True, scaling=dict(decode_cache_mb={"first": 5.0}, provenance=PROV)),
              bench(False, scaling=dict(decode_cache_mb={"second": 6.0}, provenance=PROV))]
    P.show_memory(scaled, tmp_path)
    assert list(shown[0].data["what"]) == ["a decode-once cache file (first)"]


# --------------------------------------------------------------------------- the normalisations

def test_show_normalisations_shows_two_tables_and_a_line_per_cpu(tmp_path, capsys, shown):
    result = dict(normalisations=[dict(normalisation="LRN", eager_ms=10.0, compiled_ms=4.0, speedup=2.5,
                                       eager_of_copy_rate=0.1, compiled_of_copy_rate=0.25)],
                  steps=[dict(recipe="coded", no_lrn_images_per_s=80.0, lrn_eager_images_per_s=60.0,
                              lrn_compiled_images_per_s=70.0, eager_of_no_lrn=0.75, compiled_of_no_lrn=0.875)],
                  provenance=PROV, trainer=dict(epoch_images=1024, recipe="coded", epoch_images_per_s=65.0,
                                                epoch_of_step=0.93, step_images_per_s=70.0),
                  cpu_isa="AVX512-BF16", batch=128, copy_gb_per_s=39.2)
    write(tmp_path / "cpu-avx512-bf16" / "normalisation.json", result)
    P.show_normalisations(tmp_path)
    assert [list(t.data.columns)[0] for t in shown] == ["normalisation", "recipe"]
    assert list(shown[0].data["compiled, of copy rate"]) == ["25%"]
    assert capsys.readouterr().out.startswith("Measured on EPYC (2 logical cores), AVX512-BF16, bf16, batch 128")
    P.show_normalisations(tmp_path / "none")
    assert len(shown) == 2 and capsys.readouterr().out == ""


def test_the_trainer_sentence_gives_the_median_and_range_of_the_rounds():
    rounds = [dict(epoch_of_step=r) for r in (0.91, 0.95, 0.97)]
    trainer = dict(epoch_images=1536, recipe="coded", epoch_images_per_s=110.0, step_images_per_s=116.0,
                   epoch_of_step=0.95, epoch_of_step_range=[0.91, 0.97], rounds=rounds)
    said = P._trainer_sentence(trainer)
    assert "second epoch of 1,536 images" in said and "95% of the step's 116.0" in said
    assert "median of 3 rounds" in said and "from 91% to 97%" in said


def test_a_step_ratio_shows_the_range_of_its_rounds_where_kept():
    assert P._share(dict(compiled_of_no_lrn=0.9), "compiled_of_no_lrn") == "90%"
    assert P._share(dict(compiled_of_no_lrn=0.9, compiled_of_no_lrn_range=[0.86, 0.95]),
                    "compiled_of_no_lrn") == "90% (86% to 95%)"
