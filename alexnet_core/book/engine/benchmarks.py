"""The benchmark results under ``benchmarks/results/``, read for the Performance page.

One folder per class of hardware measured: ``cpu-<instruction set>/`` (``make bench-cpu``
names it after :func:`alexnet_core.hardware.cpu_isa`, since a 2-core CPU with native bf16
trains several times faster than one without) and ``gpu/``. Each holds what the scripts in
``benchmarks/`` wrote; nothing here measures, it only picks rows and divides numbers that
were measured side by side in one run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The trainer's step at the paper's batch: 128 images, LRN on, glibc's default allocator.
PAPER_STEP = dict(lrn=True, batch=128, allocator="default")


@dataclass
class CpuBenchmarks:
    """What ``make bench-cpu`` recorded on one class of CPU (any file may be missing)."""

    folder: Path
    throughput: dict | None
    pipeline: dict | None
    scaling: dict | None

    @property
    def isa(self) -> str:
        """The instruction set the results were measured with (provenance, else the folder's name)."""
        for result in (self.throughput, self.pipeline, self.scaling):
            if result and result.get("provenance", {}).get("cpu_isa"):
                return result["provenance"]["cpu_isa"]
        return self.folder.name.removeprefix("cpu-").upper()

    @property
    def native_bf16(self) -> bool:
        """Whether this CPU has bf16 instructions (the trainer's ``auto`` precision is then bf16)."""
        if self.throughput and "cpu_fast_bf16" in self.throughput:
            return bool(self.throughput["cpu_fast_bf16"])
        return "BF16" in self.isa

    @property
    def label(self) -> str:
        """``"AMD EPYC, AVX2"``: the CPU's name and its instruction set."""
        for result in (self.throughput, self.pipeline, self.scaling):
            if result and "provenance" in result:
                return f"{result['provenance']['device'].split(' (')[0]}, {self.isa}"
        return self.isa


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def load_cpu_benchmarks(results_dir: Path) -> list[CpuBenchmarks]:
    """Every ``cpu-*`` folder under ``results_dir``, CPUs with native bf16 first."""
    found = [CpuBenchmarks(folder, _read(folder / "train-throughput.json"), _read(folder / "data-pipeline.json"),
                           _read(folder / "scaling.json"))
             for folder in sorted(results_dir.glob("cpu-*")) if folder.is_dir()]
    return sorted(found, key=lambda b: not b.native_bf16)


def pick(rows: list[dict], **where: Any) -> list[dict]:
    """The measured rows (no ``error``) whose fields equal ``where``; absent ``lrn``/``allocator``
    fields read as the defaults older results left out (LRN on, default allocator)."""
    defaults = dict(lrn=True, allocator="default", compile_mode=None)
    return [r for r in rows if "images_per_s" in r
            and all(r.get(key, defaults.get(key)) == value for key, value in where.items())]


def describe(row: dict) -> str:
    """``"bf16 + channels_last, eager"``: a row's configuration in words."""
    how = "eager" if not row["compile"] else f"torch.compile ({row.get('compile_mode') or 'default'})"
    kept = ", freed memory kept" if row.get("allocator") == "keep-freed" else ""
    return f"{row['precision']}{' + channels_last' if row['channels_last'] else ''}, {how}{kept}"


def cpu_summary(bench: CpuBenchmarks, model: str = "alexnet") -> dict:
    """One row of the per-CPU table: the fp32 eager baseline, the fastest configuration of the
    paper's step, what bf16 does there, the matmul ceilings and the data-pipeline ratios."""
    out: dict[str, Any] = {"CPU": bench.label, "native bf16": "yes" if bench.native_bf16 else "no",
                           "trainer's precision (auto)": "bf16" if bench.native_bf16 else "fp32"}
    result = bench.throughput or {}
    rows = [r for r in result.get("rows", []) if r.get("model") == model]
    base = pick(rows, precision="fp32", channels_last=False, compile=False, **PAPER_STEP)
    paper = pick(rows, lrn=True, batch=128)
    bf16 = pick(rows, precision="bf16", channels_last=True, compile=False, **PAPER_STEP)
    if base and paper:
        fastest = max(paper, key=lambda r: r["images_per_s"])
        out.update({"fp32 eager img/s": base[0]["images_per_s"], "fastest img/s": fastest["images_per_s"],
                    "fastest configuration": describe(fastest),
                    "fastest / fp32 eager": fastest["images_per_s"] / base[0]["images_per_s"],
                    "bf16 + CL eager / fp32 eager": bf16[0]["images_per_s"] / base[0]["images_per_s"] if bf16 else None,
                    "% of matmul ceiling (fastest)": 100 * fastest.get("fraction_of_matmul_ceiling", float("nan"))})
    if result:
        out["matmul ceiling bf16 / fp32 (TFLOP/s)"] = (f"{result['matmul_ceiling_tflops']:.3g} / "
                                                       f"{result['fp32_matmul_ceiling_tflops']:.3g}")
    if bench.pipeline:
        out["project epoch / naive epoch"] = bench.pipeline["trainer_over_naive"]
        out["data pipeline / training"] = bench.pipeline["pipeline_over_training"]
    return out
