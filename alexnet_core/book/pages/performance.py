"""The performance page's numbers, figures and sentences, computed from the benchmark files
(``benchmarks/results/``) and the run records' provenance. Nothing here measures: the scripts
in ``benchmarks/`` do; this reads what they wrote and says it."""
from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

from alexnet_core.paths import BENCHMARK_RESULTS_DIR, RESULTS_DIR
from alexnet_core.book.engine.benchmarks import (PAPER_STEP, CpuBenchmarks, cpu_summary, describe,
                                                 load_cpu_benchmarks, pick)
from alexnet_core.book.pages.style import PALETTE, WIDTH, legend_above
from alexnet_core.book.engine.records import load_record, run_record_paths


def load_benchmark(path: str, root: Path = BENCHMARK_RESULTS_DIR) -> dict | None:
    """A benchmark file under ``benchmarks/results/`` (e.g. ``gpu/gpu-throughput.json``), or None."""
    file = root / path
    return json.loads(file.read_text()) if file.exists() else None


@dataclass
class Benchmarks:
    """Everything the page reads from ``benchmarks/results/`` (our counterpart of section 5's two
    GTX 580s): one entry per class of CPU measured, native bf16 first, and the lent GPU's
    throughput (None where no GPU was measured)."""

    cpus: list[CpuBenchmarks]
    gpu: dict | None

    @property
    def native(self) -> CpuBenchmarks | None:
        """The first CPU measured with bf16 instructions."""
        return next((b for b in self.cpus if b.native_bf16), None)

    @property
    def emulated(self) -> CpuBenchmarks | None:
        """The first CPU measured without bf16 instructions."""
        return next((b for b in self.cpus if not b.native_bf16), None)

    @property
    def with_pipeline(self) -> list[CpuBenchmarks]:
        """The CPUs whose data pipeline was measured."""
        return [b for b in self.cpus if b.pipeline]

    @property
    def scaled(self) -> list[CpuBenchmarks]:
        """The CPUs whose scaling with images and batch size was measured."""
        return [b for b in self.cpus if b.scaling]


def load_benchmarks(root: Path = BENCHMARK_RESULTS_DIR) -> Benchmarks:
    """Every CPU's benchmark files and the GPU's throughput file under ``root``."""
    return Benchmarks(load_cpu_benchmarks(root), load_benchmark("gpu/gpu-throughput.json", root))


def page_notes(bench: Benchmarks) -> dict[str, str]:
    """Every sentence the page glues, by glue name: the CPUs', the data pipeline's, the GPU's and the scaling's."""
    return (cpu_notes(bench.native, bench.emulated) | pipeline_notes(bench.with_pipeline, bench.native)
            | gpu_notes(bench.gpu) | {"scaling_note": scaling_note(bench.scaled)})


def _show_or_say(table, missing: str) -> None:
    """Display ``table``, or print ``missing`` where there is none."""
    from IPython.display import display

    if table is None:
        print(missing)
    else:
        display(table)


# --------------------------------------------------------------------------- throughput

def throughput_rows(cpus: list[CpuBenchmarks], gpu: dict | None) -> list[dict]:
    """Every measured training-throughput row, per machine, as the figure and table show them."""
    sources = [(b.label, b.throughput) for b in cpus if b.throughput]
    if gpu:
        sources.append((gpu["provenance"]["device"].split(" (")[0].replace("NVIDIA ", ""), gpu))
    frames = []
    for hardware, result in sources:
        for row in result["rows"]:
            if "images_per_s" not in row:
                continue
            frames.append({"hardware": hardware, "model": row["model"], "LRN": row.get("lrn", True),
                           "batch": row["batch"], "allocator": row.get("allocator", "default"),
                           "precision": row["precision"], "channels_last": row["channels_last"],
                           "torch.compile": (row.get("compile_mode") or "default") if row["compile"] else "no",
                           "images/s": row["images_per_s"]})
    return frames


def _bar_label(r) -> str:
    compiled = r["torch.compile"]
    return (f"{r.precision}{' +CL' if r.channels_last else ''}"
            f"{'' if compiled == 'no' else ' +compile' if compiled == 'default' else ' +' + compiled}"
            f"{'' if r.LRN else ', no LRN'}{'' if r.batch == 128 else f', batch {r.batch}'}"
            f"{', freed memory kept' if r.allocator == 'keep-freed' else ''}")


def throughput_figure(frames: list[dict]):
    """AlexNet-224 images/s per configuration, one panel per machine, stacked (bf16 bars in the
    second colour, named in the legend above)."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    table = pd.DataFrame(frames)
    alex = table[table.model == "alexnet"] if len(table) else table
    panels = list(alex.groupby("hardware", sort=False)) if len(alex) else []
    labels = {hw: [textwrap.fill(_bar_label(r), 24) for _, r in rows.iterrows()] for hw, rows in panels}
    heights = [0.6 + len(labels[hw]) * (0.36 if any("\n" in label for label in labels[hw]) else 0.24)
               for hw, _ in panels] or [1]
    fig, axes = plt.subplots(max(1, len(panels)), 1, figsize=(WIDTH, 0.8 + sum(heights)), squeeze=False,
                             height_ratios=heights)
    for ax, (hw, rows) in zip(axes[:, 0], panels):
        bars = ax.barh(labels[hw], rows["images/s"],
                       color=[PALETTE[1] if p == "bf16" else PALETTE[0] for p in rows.precision])
        ax.bar_label(bars, labels=[f"{v:,.1f}" if v < 100 else f"{v:,.0f}" for v in rows["images/s"]], padding=2)
        ax.set_xlim(0, 1.2 * rows["images/s"].max())
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_title(hw, loc="left")
    axes[-1, 0].set_xlabel("AlexNet-224 training images/s")
    fig.legend([Patch(color=PALETTE[0]), Patch(color=PALETTE[1])], ["fp32", "bf16"], loc="outside upper center",
               ncols=2)
    return fig


def _summary_cell(v):
    return "-" if v is None or v != v else f"{v:,.2f}" if isinstance(v, float) else v


def cpu_summary_table(cpus: list[CpuBenchmarks]):
    """The CPUs side by side, one column each (:func:`cpu_summary`), as the page shows them; None
    where no CPU's throughput or data pipeline is recorded."""
    import pandas as pd

    summary = pd.DataFrame([cpu_summary(b) for b in cpus if b.throughput or b.pipeline])
    if not len(summary):
        return None
    return summary.set_index("CPU").T.map(_summary_cell).rename_axis(None)


def show_cpu_summary(cpus: list[CpuBenchmarks]) -> None:
    """Display :func:`cpu_summary_table`, or say how to record it."""
    _show_or_say(cpu_summary_table(cpus), "No CPU benchmark is recorded yet: make bench-cpu")


# --------------------------------------------------------------------------- one CPU's notes

def alex_rows(bench: CpuBenchmarks | None) -> list[dict]:
    return [r for r in (bench.throughput or {}).get("rows", []) if r.get("model") == "alexnet"] if bench else []


def images_per_s(rows: list[dict], **where) -> float | None:
    found = pick(rows, **where)
    return found[0]["images_per_s"] if found else None


def bf16_cl_eager(allocator: str) -> dict:
    return dict(precision="bf16", channels_last=True, compile=False, batch=128, allocator=allocator)


def allocator_pair(model_rows: list[dict]) -> tuple[float, float] | None:
    """bf16 + channels_last eager images/s with glibc's default allocator and with freed memory kept."""
    default, kept = (images_per_s(model_rows, lrn=True, **bf16_cl_eager(a)) for a in ("default", "keep-freed"))
    return None if default is None or kept is None else (default, kept)


@dataclass
class NativeCpu:
    """The throughput results of the CPU with native bf16, and the rows the notes compare."""

    bench: CpuBenchmarks | None

    def __post_init__(self):
        self.rows = alex_rows(self.bench)
        self.result = (self.bench.throughput if self.bench else None) or {}
        self.fp32_base = next(iter(pick(self.rows, precision="fp32", channels_last=False, compile=False,
                                        **PAPER_STEP)), None)
        self.paper_rows = pick(self.rows, lrn=True, batch=128)
        self.best = max(self.paper_rows, key=lambda r: r["images_per_s"]) if self.paper_rows else None
        self.bf16_ceiling = self.result.get("matmul_ceiling_tflops")
        self.fp32_ceiling = self.result.get("fp32_matmul_ceiling_tflops")


def lrn_note(cpu: NativeCpu) -> str:
    """Share of a bf16 + channels_last eager step that LRN costs: 1 - with / without, same run,
    with the allocator the trainer uses (freed memory kept) where that was measured."""
    for allocator in ("keep-freed", "default"):
        with_lrn = images_per_s(cpu.rows, lrn=True, **bf16_cl_eager(allocator))
        without = images_per_s(cpu.rows, lrn=False, **bf16_cl_eager(allocator))
        if with_lrn and without:
            prov = cpu.result.get("provenance", {})
            when = (f" (that run: {prov['date'][:10]}, commit {prov['commit'][:8]})"
                    if prov.get("date") and prov.get("commit") else "")
            return (f"the same step without it trains {without / with_lrn:.2f}x as fast, so LRN costs "
                    f"{100 * (1 - with_lrn / without):.0f}% of each step{when}")
    return "not measured on this CPU yet (benchmarks/train_throughput.py --no-lrn)"


def bound_note(cpu: NativeCpu) -> str:
    """How much faster than fp32 eager any bf16 step could be here: the ceilings measured in the same run."""
    if not (cpu.fp32_ceiling and cpu.fp32_base and cpu.bf16_ceiling and "achieved_tflops" in cpu.fp32_base):
        return "The fp32 matmul ceiling has not been measured on this CPU yet (`make bench-cpu` measures it)."
    bound = cpu.result["alexnet_bf16_bound_over_fp32_eager"]
    text = (f"How far could bf16 go? In the same run a large bf16 matmul reached {cpu.bf16_ceiling:.2f} TFLOP/s and "
            f"an fp32 one {cpu.fp32_ceiling:.2f} ({cpu.bf16_ceiling / cpu.fp32_ceiling:.1f}x), while fp32 eager "
            f"AlexNet already achieved {cpu.fp32_base['achieved_tflops']:.3f} TFLOP/s. A bf16 step running entirely "
            f"at the bf16 matmul ceiling would train {bound:.2f} times as fast as fp32 eager, and no precision or "
            f"memory format can give more on this CPU. ")
    if bound < 3:
        return text + "A threefold speed-up over fp32 eager is beyond this CPU."
    fraction = cpu.best.get("fraction_of_matmul_ceiling") if cpu.best else None
    text += (f"A threefold speed-up would take the whole step, LRN, pooling and the optimiser included, at "
             f"{100 * 3 / bound:.0f}% of the matmul ceiling")
    return text + ("." if fraction is None else f"; the fastest configuration measured runs at {100 * fraction:.0f}%.")


def isolation_note(cpu: NativeCpu) -> str:
    """Whether each benchmark row ran in its own process, and the allocator's effect on the CIFAR net."""
    cifar_pair = allocator_pair([r for r in cpu.result.get("rows", []) if r.get("model") == "cifarnet"])
    effect = None if cifar_pair is None else cifar_pair[1] / cifar_pair[0]
    if not cpu.result.get("isolated_rows") or effect is None:
        return ("The CIFAR-10 rows with freed memory kept were measured after the AlexNet rows in the same "
                "process, so they may have inherited its heap; this run does not settle their allocator effect.")
    return (f"Every row ran in a fresh process, so none inherited another's heap or allocator setting. For the "
            f"small CIFAR-10 net, whose activations are mostly under glibc's 32 MiB threshold, keeping freed memory "
            f"changes bf16 + channels_last training by a factor of {effect:.2f}"
            f"{' (within the few percent these 5-step timings vary by)' if abs(effect - 1) < 0.05 else ''}.")


def emulated_note(emulated: CpuBenchmarks | None) -> str:
    """What bf16 costs on a CPU without bf16 instructions, and what the trainer runs there instead."""
    summary = cpu_summary(emulated) if emulated else {}
    if summary.get("bf16 + CL eager / fp32 eager") is None:
        return "A CPU without bf16 instructions has not been benchmarked yet (`make bench-cpu` on one)."
    slow, res = alex_rows(emulated), emulated.throughput
    base_row = pick(slow, precision="fp32", channels_last=False, compile=False, **PAPER_STEP)[0]
    base = base_row["images_per_s"]
    bf16 = images_per_s(slow, precision="bf16", channels_last=True, compile=False, **PAPER_STEP)
    text = (f"On the {emulated.label} CPU, which has no bf16 instructions, bf16 autocast is emulated: "
            f"bf16 + channels_last trains {bf16:.1f} images/s against fp32 eager's {base:.1f} "
            f"({summary['bf16 + CL eager / fp32 eager']:.2f}x)")
    if res.get("matmul_ceiling_tflops") and res.get("fp32_matmul_ceiling_tflops"):
        text += (f", and a bf16 matmul manages {1000 * res['matmul_ceiling_tflops']:.1f} GFLOP/s against "
                 f"{1000 * res['fp32_matmul_ceiling_tflops']:.0f} in fp32")
    return text + (f". So the trainer's `auto` precision picks bf16 only where the CPU lists AVX512-BF16 or "
                   f"AMX-BF16, and fp32 elsewhere (below). There the fastest configuration measured is "
                   f"{summary['fastest configuration']}, {summary['fastest img/s']:.1f} images/s, "
                   f"{summary['fastest / fp32 eager']:.2f}x fp32 eager, "
                   f"{summary['% of matmul ceiling (fastest)']:.0f}% of the fp32 "
                   f"matmul ceiling measured in the same run. fp32 eager itself already runs at "
                   f"{100 * base_row['fraction_of_matmul_ceiling']:.0f}% of it, so a step running entirely at "
                   f"the ceiling would train only {1 / base_row['fraction_of_matmul_ceiling']:.2f}x as fast: "
                   f"on such a CPU no setting can give a threefold speed-up.")


def compile_note(eager: float | None, compiled: float | None) -> str:
    """Whether ``torch.compile`` of the whole model helped on this CPU (images/s of the fastest
    compiled and eager rows of one run), in a sentence."""
    if not (eager and compiled):
        return "torch.compile of the whole model was not measured in this run (make bench-cpu measures it)."
    verdict = "does not help" if compiled <= eager else "helps"
    return (f"torch.compile of the whole model (the inductor backend) {verdict} on this CPU: the fastest "
            f"compiled variant trains {compiled:.1f} images/s against {eager:.1f} eager ({compiled / eager:.2f}x).")


def cpu_notes(native: CpuBenchmarks | None, emulated: CpuBenchmarks | None) -> dict[str, str]:
    """The sentences the page glues about the CPUs, by glue name."""
    cpu = NativeCpu(native)
    alex_pair = allocator_pair(cpu.rows)
    eager = max((r["images_per_s"] for r in cpu.paper_rows
                 if not r["compile"] and r.get("allocator", "default") == "default"), default=None)
    compiled = max((r["images_per_s"] for r in cpu.paper_rows if r["compile"]), default=None)
    return {
        "cpu_native_label": native.label if native else "-",
        "cpu_best_ratio": (f"{cpu.best['images_per_s'] / cpu.fp32_base['images_per_s']:.2f}"
                           if cpu.best and cpu.fp32_base else "-"),
        "cpu_best_config": describe(cpu.best) if cpu.best else "-",
        "cpu_lrn_note": lrn_note(cpu),
        "cpu_allocator_note": ("has not been measured here yet" if alex_pair is None else
                               f"raises bf16 + channels_last training from {alex_pair[0]:.1f} to {alex_pair[1]:.1f} "
                               f"images/s ({alex_pair[1] / alex_pair[0]:.2f}x) in the same run"),
        "cpu_compile_note": compile_note(eager, compiled),
        "cpu_bound_note": bound_note(cpu),
        "cpu_isolation_note": isolation_note(cpu),
        "cpu_emulated_note": emulated_note(emulated),
    }


# --------------------------------------------------------------------------- data pipeline, GPU, scaling

PIPELINE_INDEX = ["data pipeline alone, images/s", "project trainer, one epoch, images/s",
                  "naive ImageFolder + transforms + DataLoader, fp32, images/s",
                  "data pipeline / training", "project epoch / naive epoch"]
PIPELINE_KEYS = ("pipe_ratio", "epoch_ratio", "pipe_images", "pipe_label", "epoch_bound_note", "epoch_emulated_note")


def pipeline_column(pipe: dict) -> list[float]:
    return [pipe["pipeline_images_per_s"], pipe["trainer_epoch_images_per_s"], pipe["naive_epoch_images_per_s"],
            pipe["pipeline_over_training"], pipe["trainer_over_naive"]]


def pipeline_source_line(bench: CpuBenchmarks) -> str:
    prov = bench.pipeline["provenance"]
    return (f"{bench.label}: {bench.pipeline['images']:,} images, trainer in {prov['precision']}, "
            f"commit {prov['commit'][:8]}, {prov['date'][:10]}")


def pipeline_notes(with_pipeline: list[CpuBenchmarks], native: CpuBenchmarks | None) -> dict[str, str]:
    """The sentences about the data pipeline against training and the naive loop, by glue name."""
    if not with_pipeline:
        return dict.fromkeys(PIPELINE_KEYS, "-")
    cpu = NativeCpu(native)
    first = with_pipeline[0].pipeline
    plain = next((b for b in with_pipeline if not b.native_bf16), None)
    return {
        "pipe_ratio": f"{first['pipeline_over_training']:.0f}",
        "epoch_ratio": f"{first['trainer_over_naive']:.2f}",
        "pipe_images": f"{first['images']:,}",
        "pipe_label": with_pipeline[0].label,
        "epoch_bound_note": ("The naive loop trains at fp32 eager's pace, so the bound of the previous section limits "
                             "this ratio as well." if with_pipeline[0].native_bf16 and cpu.fp32_base
                             and cpu.bf16_ceiling else ""),
        "epoch_emulated_note": "" if plain is None else
        (f"Without bf16 instructions ({plain.label}) both loops train in fp32, and the project's epoch is "
         f"{plain.pipeline['trainer_over_naive']:.2f} times the naive one's: what remains is decoding once, "
         f"batched augmentation and the allocator."),
    }


def _pipeline_cell(v: float) -> str:
    return f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


def pipeline_table(with_pipeline: list[CpuBenchmarks]):
    """The data pipeline against training and the naive loop, one column per CPU; None where none was measured."""
    import pandas as pd

    if not with_pipeline:
        return None
    return pd.DataFrame({b.label: pipeline_column(b.pipeline) for b in with_pipeline}, index=PIPELINE_INDEX
                        ).map(_pipeline_cell)


def show_pipeline(with_pipeline: list[CpuBenchmarks]) -> None:
    """Display :func:`pipeline_table` and print where each column was measured (nothing where none was)."""
    from IPython.display import display

    if with_pipeline:
        display(pipeline_table(with_pipeline))
        for b in with_pipeline:
            print(pipeline_source_line(b))


def describe_gpu(r: dict) -> str:
    how = "eager" if not r["compile"] else f"compiled ({r.get('compile_mode') or 'default'} mode)"
    return (f"{r['images_per_s']:,.0f} images per second ({r['precision']}, "
            f"{'channels_last, ' if r['channels_last'] else ''}{how}, batch {r['batch']}"
            f"{'' if r.get('lrn', True) else ', without LRN'}), "
            f"{100 * r.get('fraction_of_datasheet_peak', float('nan')):.1f}% of the card's datasheet bf16 peak")


def gpu_notes(gpu: dict | None) -> dict[str, str]:
    """The lent GPU's fastest configurations, by glue name."""
    if not gpu:
        return dict.fromkeys(("gpu_best_128", "gpu_best_large", "gpu_name"), "-")
    paper_net = [r for r in gpu["rows"] if r.get("model") == "alexnet" and "images_per_s" in r and r.get("lrn", True)]
    at_128 = [r for r in paper_net if r["batch"] == 128]
    larger = [r for r in paper_net if r["batch"] > 128]
    return {
        "gpu_best_128": describe_gpu(max(at_128, key=lambda r: r["images_per_s"])) if at_128 else "not measured",
        "gpu_best_large": "larger batches were not measured on it" if not larger else
        "with larger batches (the same network; the paper's learning rule was tuned at 128) the fastest run trains "
        + describe_gpu(max(larger, key=lambda r: r["images_per_s"])),
        "gpu_name": gpu["provenance"]["device"],
    }


def scaling_figure(measured: list[CpuBenchmarks]):
    """Epoch seconds against images (top), and images/s against batch size (bottom), per CPU and
    model (or a placeholder); one legend above both."""
    import matplotlib.pyplot as plt
    import pandas as pd

    if not measured:
        fig, ax = plt.subplots(figsize=(WIDTH, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "not measured yet: python benchmarks/scaling.py", ha="center")
        return fig
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 7))
    for style, bench in zip(("o-", "s--", "^:"), measured):
        rows = pd.DataFrame(bench.scaling["rows"])
        for colour, (model, part) in zip(PALETTE, rows.groupby("model")):
            label = f"{model}, {bench.isa}"
            s = part[part.sweep == "images"]
            axes[0].plot(s.images, s.train_seconds, style, color=colour, label=label)
            b = part[part.sweep == "batch"]
            axes[1].plot(b.batch, b.images_per_s, style, color=colour, label=label)
    axes[0].set(xlabel="training images in the epoch", ylabel="epoch seconds", xscale="log", yscale="log")
    axes[1].set(xlabel="batch size", ylabel="images/s", xscale="log", yscale="log")
    batches = sorted({r["batch"] for bench in measured for r in bench.scaling["rows"] if r["sweep"] == "batch"})
    axes[1].set_xticks(batches, [str(b) for b in batches], minor=False)
    axes[1].set_xticks([], minor=True)
    legend_above(fig, axes[0])
    return fig


def scaling_note(measured: list[CpuBenchmarks]) -> str:
    if not measured:
        return "not measured yet"
    return "; ".join(f"{b.label}: measured on {b.scaling['provenance']['device']} in "
                     f"{'bf16' if b.native_bf16 else 'fp32'} (what `auto` picks there), peak resident memory of that "
                     f"process {b.scaling['peak_rss_mb']} MiB" for b in measured)


# --------------------------------------------------------------------------- memory

def model_family(config: dict) -> str:
    """What a run trained, from its config (never from its folder's name)."""
    return "CIFAR-10 net" if config.get("model") == "cifarnet" else "AlexNet-224"


def memory_rows(scaling: dict | None, results_dir: Path = RESULTS_DIR) -> list[dict]:
    """The newest run of each profile and model family with its peak resident memory, and the
    largest decode-cache files the scaling benchmark saw."""
    rows = []
    for profile in ("cpu", "gpu"):
        seen = set()
        records = [(path, load_record(path)) for path in run_record_paths(results_dir, profile)]
        for path, record in sorted(records, key=lambda pr: pr[1].provenance.get("date", ""), reverse=True):
            prov = record.provenance
            if record.copied_from or prov.get("peak_rss_mb") is None:
                continue
            family = model_family(record.config)
            if (profile, family) in seen:
                continue
            seen.add((profile, family))
            rows.append({"what": f"peak resident memory of a {profile}-profile {family} run "
                                 f"({path.parent.name}/{path.stem})",
                         "MiB": prov["peak_rss_mb"], "on": prov.get("device", "?"),
                         "commit": prov.get("commit", "?")[:8], "date": prov.get("date", "?")[:16]})
    if scaling:
        for name, mb in sorted(scaling.get("decode_cache_mb", {}).items(), key=lambda kv: -kv[1])[:2]:
            rows.append({"what": f"a decode-once cache file ({name})", "MiB": mb, "on": "disk, memory-mapped",
                         "commit": scaling["provenance"].get("commit", "?")[:8],
                         "date": scaling["provenance"].get("date", "?")[:16]})
    return rows


def memory_table(scaling: dict | None, results_dir: Path = RESULTS_DIR):
    """:func:`memory_rows` as the page's styled table; None where nothing is measured."""
    import pandas as pd

    rows = memory_rows(scaling, results_dir)
    return pd.DataFrame(rows).style.hide(axis="index").format({"MiB": "{:.0f}"}) if rows else None


def show_memory(scaled: list[CpuBenchmarks], results_dir: Path = RESULTS_DIR) -> None:
    """Display :func:`memory_table` with the decode-cache sizes of the first CPU whose scaling was
    measured, or say that nothing is."""
    _show_or_say(memory_table(scaled[0].scaling if scaled else None, results_dir),
                 "No memory measurement is recorded yet.")


# --------------------------------------------------------------------------- the normalisations

def normalisation_results(root: Path = BENCHMARK_RESULTS_DIR) -> list[dict]:
    """Every ``cpu-*/normalisation.json`` (``benchmarks/normalisation.py``), one per CPU class."""
    return [json.loads(p.read_text()) for p in sorted(root.glob("cpu-*/normalisation.json"))]


def normalisation_tables(result: dict) -> tuple[list[dict], list[dict], str]:
    """The rows of one normalisation benchmark: each normalisation alone (eager against the
    compiled kernels, as time and as a share of the machine's copy rate), AlexNet's step with
    and without them per recipe, and a sentence on where and when, with the trainer's epoch rate."""
    alone = [{"normalisation": r["normalisation"], "eager (ms)": f"{r['eager_ms']:.1f}",
              "compiled (ms)": f"{r['compiled_ms']:.1f}", "speed-up (x)": f"{r['speedup']:.2f}", "eager, of copy rate": f"{r['eager_of_copy_rate']:.0%}",
              "compiled, of copy rate": f"{r['compiled_of_copy_rate']:.0%}"} for r in result["normalisations"]]
    steps = [{"recipe": r["recipe"], "no LRN (img/s)": f"{r['no_lrn_images_per_s']:.1f}",
              "LRN eager (img/s)": f"{r['lrn_eager_images_per_s']:.1f}",
              "LRN compiled (img/s)": f"{r['lrn_compiled_images_per_s']:.1f}",
              "eager, of no LRN": _share(r, "eager_of_no_lrn"), "compiled, of no LRN": _share(r, "compiled_of_no_lrn")}
             for r in result["steps"]]
    prov, trainer = result["provenance"], result["trainer"]
    where = (f"Measured on {prov['device']}, {result['cpu_isa']}, {prov['precision']}, batch {result['batch']}, "
             f"{prov['date'][:10]} (commit {prov['commit'][:8]}); memory copy {result['copy_gb_per_s']:.1f} GB/s "
             f"(read + write). {_trainer_sentence(trainer)}")
    return alone, steps, where


def _share(row: dict, key: str) -> str:
    """A ratio of the step rows, with the range of its rounds where the benchmark kept one."""
    if f"{key}_range" not in row:
        return f"{row[key]:.0%}"
    low, high = row[f"{key}_range"]
    return f"{row[key]:.0%} ({low:.0%} to {high:.0%})"


def _trainer_sentence(trainer: dict) -> str:
    """The trainer's epoch rate against the step's: the median over the rounds in which the two took
    turns, with the rounds' range (older results timed one first epoch, warm-up and all)."""
    if "epoch_of_step_range" not in trainer:
        return (f"The trainer's own epoch of {trainer['epoch_images']:,} images under the {trainer['recipe']} "
                f"recipe ran at {trainer['epoch_images_per_s']:.1f} img/s, {trainer['epoch_of_step']:.0%} of the "
                f"step's {trainer['step_images_per_s']:.1f}.")
    low, high = trainer["epoch_of_step_range"]
    return (f"The trainer's own second epoch of {trainer['epoch_images']:,} images (past the warm-up) under the "
            f"{trainer['recipe']} recipe ran at {trainer['epoch_images_per_s']:.1f} img/s, "
            f"{trainer['epoch_of_step']:.0%} of the step's {trainer['step_images_per_s']:.1f} (the median of "
            f"{len(trainer['rounds'])} rounds in which the two took turns; the rounds ranged from {low:.0%} to {high:.0%}).")


def show_normalisations(root: Path = BENCHMARK_RESULTS_DIR) -> None:
    """For each CPU class's normalisation benchmark: both tables of :func:`normalisation_tables`,
    then where and when it was measured."""
    import pandas as pd
    from IPython.display import display

    for result in normalisation_results(root):
        alone, steps, where = normalisation_tables(result)
        display(pd.DataFrame(alone).style.hide(axis="index"))
        display(pd.DataFrame(steps).style.hide(axis="index"))
        print(where)
