"""Training throughput of AlexNet-224 (and the CIFAR-10 net) under each precision and memory format.

Every configuration runs the trainer's real step (uint8 batch already on the device ->
batched augmentation -> forward under autocast -> backward -> PaperSGD step) on the same
synthetic data, and the script prints images/s and the ratio to the fp32 eager baseline
measured in the same run, plus achieved FLOP/s against a large bf16 matmul measured by the
same process (the practical ceiling) and, on a known GPU, its datasheet peak.

On a CPU every configuration, and each matmul ceiling, runs in a fresh Python process
(``--in-process`` turns this off): the heap a run leaves behind (several GB after the AlexNet
rows) and the allocator setting (which cannot be undone in-process) would otherwise carry
into the next row. The fp32 matmul ceiling is measured too, because the bf16 one divided by
fp32 eager's achieved FLOP/s bounds how much faster than fp32 eager any bf16 step can train.

On a CPU without native bf16 instructions (no AVX512-BF16 or AMX-BF16; the trainer then picks
fp32) bf16 is emulated and runs an order of magnitude slower, so there the bf16 rows are
measured eager only, with a fifth of the steps, to show the cost the fallback avoids; the
rows that ask what the trainer can do (without LRN, other batch sizes) use fp32, and every
fraction divides by the faster of the two matmul ceilings.

    python benchmarks/train_throughput.py --device cpu --compile --no-lrn --out benchmarks/results/cpu-avx2/train-throughput.json
    python benchmarks/train_throughput.py --device cuda --compile --no-lrn --sweep-batches 256,512 \
        --compile-modes default,reduce-overhead --out benchmarks/results/gpu/gpu-throughput.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alexnet_core import AlexNet, CifarNet, multiply_adds  # noqa: E402
from alexnet_core.allocator import keep_freed_memory  # noqa: E402
from alexnet_core.augment import AugmentConfig, Augmenter, ColourStats  # noqa: E402
from alexnet_core.data import synthetic_image_set  # noqa: E402
from alexnet_core.hardware import cpu_has_fast_bf16  # noqa: E402
from alexnet_core.optim import make_optimizer  # noqa: E402
from alexnet_core.step import train_step  # noqa: E402
from alexnet_core.files import atomic_write_json  # noqa: E402
from alexnet_core.provenance import provenance  # noqa: E402

#: Dense bf16 tensor-core peaks from NVIDIA's datasheets (TFLOP/s, without sparsity).
GPU_BF16_PEAK_TFLOPS = {"H100 80GB HBM3": 989.0, "H100 PCIe": 756.0, "H200": 989.0, "A100": 312.0}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_ceiling(device: torch.device, n: int, seconds: float = 2.0, dtype: torch.dtype = torch.bfloat16) -> float:
    """FLOP/s of a large ``dtype`` matmul on this device: what the hardware can practically do."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        reps += 1
        if device.type == "cuda" and reps % 10:
            continue
        sync(device)
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - start)


def measure(model_name: str, device: torch.device, precision: str, channels_last: bool, compile_: bool,
            batch: int, steps: int, warmup: int, *, lrn: bool = True, compile_mode: str = "default") -> dict:
    torch.manual_seed(0)
    if model_name == "alexnet":
        model, side, crop, classes = AlexNet(1000, lrn=lrn), 256, 224, 1000
    else:
        model, side, crop, classes = CifarNet(10, lrn=lrn), 32, 24, 10
    data = synthetic_image_set(n=batch * 2, num_classes=classes, side=side)
    stats = ColourStats.from_images(data.images[:64])
    aug = Augmenter(AugmentConfig(crop=crop), stats)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, "paper", 0.001, 0.9, 5e-4)
    step_model = torch.compile(model, mode=None if compile_mode == "default" else compile_mode) if compile_ else model
    images, labels = data.images.to(device), data.labels.to(device)
    gen = torch.Generator(device=device).manual_seed(0)

    def step(i: int) -> None:  # the trainer's own step (alexnet_core.step), on two alternating batches
        sl = slice((i % 2) * batch, (i % 2 + 1) * batch)
        train_step(step_model, opt, aug, images[sl], labels[sl], gen, device, precision,
                   channels_last_input=channels_last)

    t0 = time.perf_counter()
    for i in range(warmup):
        step(i)
    sync(device)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    sync(device)
    elapsed = time.perf_counter() - t0
    ips = batch * steps / elapsed
    flops_per_image = 3 * 2 * multiply_adds(model.float().to(memory_format=torch.contiguous_format), crop)
    return dict(model=model_name, precision=precision, channels_last=channels_last, compile=compile_,
                compile_mode=compile_mode if compile_ else None, lrn=lrn, batch=batch, steps=steps, images_per_s=round(ips, 1), warmup_seconds=round(warm_s, 1),
                achieved_tflops=round(ips * flops_per_image / 1e12, 4))


def pipeline_only(device: torch.device, batch: int, steps: int) -> float:
    """Images/s of the data path alone: gather a uint8 batch and augment it (AlexNet sizes)."""
    data = synthetic_image_set(n=batch * 4, num_classes=10, side=256)
    aug = Augmenter(AugmentConfig(crop=224), ColourStats.from_images(data.images[:64]))
    images = data.images.to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    order = torch.Generator().manual_seed(0)
    aug.train(images[:batch], gen)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randperm(len(images), generator=order)[:batch].to(device)
        aug.train(images[idx], gen)
    sync(device)
    return batch * steps / (time.perf_counter() - t0)


def run_isolated(args: list[str]) -> dict:
    """Run this script with ``args`` in a fresh Python process; its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"isolated run {args} failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return json.loads(lines[-1])


def measure_row(job: tuple, allocator: str, device: torch.device, steps: int, warmup: int, isolate: bool) -> dict:
    """One configuration, in a fresh process when ``isolate``; a failure becomes an ``error`` row."""
    model_name, precision, cl, compile_, batch, lrn, mode = job
    try:
        if isolate:
            return run_isolated(["--one-row", json.dumps([list(job), allocator, str(device), steps, warmup])])
        row = measure(model_name, device, precision, cl, compile_, batch, steps, warmup, lrn=lrn, compile_mode=mode)
    except Exception as err:  # a variant failing must not hide the others
        row = dict(model=model_name, precision=precision, channels_last=cl, compile=compile_,
                   compile_mode=mode if compile_ else None, lrn=lrn, batch=batch,
                   error=f"{type(err).__name__}: {err}"[:300])
    row["allocator"] = allocator
    return row


def child(argv: list[str]) -> bool:
    """The entry points an isolated run uses: one row (``--one-row``) or one ceiling (``--one-ceiling``)."""
    if argv[:1] == ["--one-row"]:
        job, allocator, device, steps, warmup = json.loads(argv[1])
        if allocator == "keep-freed" and not keep_freed_memory():
            raise SystemExit("freed memory cannot be kept here (not glibc, or ALEXNET_MALLOC=default)")
        print(json.dumps(measure_row(tuple(job), allocator, torch.device(device), steps, warmup, False)))
        return True
    if argv[:1] == ["--one-ceiling"]:
        device, n, dtype = json.loads(argv[1])
        print(json.dumps(matmul_ceiling(torch.device(device), n, dtype=getattr(torch, dtype))))
        return True
    return False


def ceiling(device: torch.device, dtype: str, isolate: bool) -> float:
    """The larger of two matmul sizes' FLOP/s (one size can fall on a slow blocking). Emulated bf16
    on a CPU manages well under 1 GFLOP/s, so there one small size is enough to show it."""
    sizes = (8192,) if device.type == "cuda" else (2048, 4096)
    if device.type == "cpu" and dtype == "bfloat16" and not cpu_has_fast_bf16():
        sizes = (512,)
    if isolate:
        return max(run_isolated(["--one-ceiling", json.dumps([str(device), n, dtype])]) for n in sizes)
    return max(matmul_ceiling(device, n, dtype=getattr(torch, dtype)) for n in sizes)


def fp32_eager_baseline(rows: list[dict], model_name: str, batch: int) -> dict | None:
    """The row every ratio divides by: fp32, contiguous, eager, with LRN, glibc's default allocator."""
    return next((r for r in rows if r["model"] == model_name and r.get("precision") == "fp32"
                 and not r["channels_last"] and not r["compile"] and r["lrn"] and r["batch"] == batch
                 and r["allocator"] == "default" and "images_per_s" in r), None)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if child(argv):
        return {}
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", default="alexnet,cifarnet")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: 5 on CPU, 50 on GPU)")
    p.add_argument("--compile", action="store_true", help="also measure torch.compile variants")
    p.add_argument("--compile-modes", default="default",
                   help="torch.compile modes for the bf16 + channels_last AlexNet rows, comma-separated "
                        "(e.g. default,max-autotune,reduce-overhead; reduce-overhead = CUDA graphs)")
    p.add_argument("--no-lrn", action="store_true",
                   help="also measure AlexNet bf16 + channels_last without LRN (the share of a step LRN costs)")
    p.add_argument("--no-allocator-rows", action="store_true",
                   help="on a CPU, skip re-measuring the eager rows with freed memory kept for reuse")
    p.add_argument("--sweep-batches", default="",
                   help="extra batch sizes for AlexNet bf16 + channels_last (eager, and compiled with --compile)")
    p.add_argument("--in-process", action="store_true",
                   help="measure every row in this process (the default on GPUs; on a CPU each row gets a fresh one)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    steps = args.steps or (50 if device.type == "cuda" else 5)
    warmup = 10 if device.type == "cuda" else 2
    native_bf16 = device.type == "cuda" or cpu_has_fast_bf16()
    variants = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]
    compiles = [False, True] if args.compile else [False]
    jobs = []  # (model, precision, channels_last, compile, batch, lrn, compile mode)
    for model_name in args.models.split(","):
        for compile_ in compiles:
            jobs += [(model_name, precision, cl, compile_, args.batch, True, "default") for precision, cl in variants
                     if native_bf16 or precision == "fp32" or not compile_]
    if "alexnet" in args.models.split(","):
        best = ("alexnet", "bf16" if native_bf16 else "fp32", True)  # what the trainer runs here
        if args.compile:
            jobs += [(*best, True, args.batch, True, mode) for mode in args.compile_modes.split(",") if mode != "default"]
        if args.no_lrn:
            jobs += [(*best, c, args.batch, False, "default") for c in compiles]
        for extra in (int(b) for b in args.sweep_batches.split(",") if b):
            jobs += [(*best, c, extra, True, "default") for c in compiles]
    isolate = device.type == "cpu" and not args.in_process
    allocators = [(job, "default") for job in jobs]
    if device.type == "cpu" and not args.no_allocator_rows:
        # the eager rows again as the trainer runs them on a CPU, with freed memory kept for reuse
        # (alexnet_core.allocator); in-process this cannot be undone, so there it comes last
        allocators += [(job, "keep-freed") for job in jobs if not job[3] and (native_bf16 or job[1] == "fp32")]
    ceilings = {dtype: ceiling(device, dtype, isolate) for dtype in ("bfloat16", "float32")}
    rows = []
    for job, allocator in allocators:
        if allocator == "keep-freed" and not isolate and not keep_freed_memory():
            break  # not glibc, or ALEXNET_MALLOC=default
        model_steps = steps * (10 if job[0] == "cifarnet" else 1)
        emulated = job[1] == "bf16" and not native_bf16
        row = measure_row(job, allocator, device, max(1, model_steps // 5) if emulated else model_steps,
                          1 if emulated else warmup, isolate)
        row["native_bf16"] = native_bf16 if job[1] == "bf16" else None
        row["isolated"] = isolate
        rows.append(row)
        print(json.dumps(row), flush=True)
    for model_name in args.models.split(","):
        base = fp32_eager_baseline(rows, model_name, args.batch)
        for r in rows:
            if r["model"] == model_name and base and "images_per_s" in r:
                r["ratio_to_fp32_eager"] = round(r["images_per_s"] / base["images_per_s"], 2)
    bf16_ceiling = ceilings["bfloat16"]
    practical_dtype = max(ceilings, key=ceilings.get)  # bf16 where native, fp32 where bf16 is emulated
    practical = ceilings[practical_dtype]
    peak = next((v for k, v in GPU_BF16_PEAK_TFLOPS.items()
                 if device.type == "cuda" and k in torch.cuda.get_device_name(device)), None)
    for r in rows:
        if "achieved_tflops" in r:
            r["fraction_of_matmul_ceiling"] = round(r["achieved_tflops"] * 1e12 / practical, 4)
            if peak:
                r["fraction_of_datasheet_peak"] = round(r["achieved_tflops"] / peak, 4)
    base = fp32_eager_baseline(rows, "alexnet", args.batch)
    result = dict(rows=rows, matmul_ceiling_tflops=round(bf16_ceiling / 1e12, 6),
                  fp32_matmul_ceiling_tflops=round(ceilings["float32"] / 1e12, 3),
                  practical_ceiling_dtype=practical_dtype, practical_ceiling_tflops=round(practical / 1e12, 3),
                  # no bf16 step can beat fp32 eager by more than the bf16 ceiling over what fp32 eager achieves
                  alexnet_bf16_bound_over_fp32_eager=round(bf16_ceiling / (base["achieved_tflops"] * 1e12), 2) if base else None,
                  isolated_rows=isolate, datasheet_bf16_peak_tflops=peak,
                  pipeline_images_per_s=round(pipeline_only(device, args.batch, 20), 1),
                  cpu_fast_bf16=cpu_has_fast_bf16(), provenance=provenance(device, "mixed"))
    print("\n{:<9} {:<4} {:<5} {:<3} {:<15} {:>5} {:<10} {:>10} {:>7} {:>9}".format(
        "model", "LRN", "prec", "CL", "compile", "batch", "allocator", "img/s", "ratio", "ceiling%"))
    for r in rows:
        if "images_per_s" in r:
            print("{:<9} {:<4} {:<5} {:<3} {:<15} {:>5} {:<10} {:>10.1f} {:>7.2f} {:>9.1f}".format(
                r["model"], "yes" if r["lrn"] else "no", r["precision"], "yes" if r["channels_last"] else "no",
                r["compile_mode"] or "eager", r["batch"], r["allocator"], r["images_per_s"],
                r.get("ratio_to_fp32_eager", float("nan")),
                100 * r.get("fraction_of_matmul_ceiling", float("nan"))))
        else:
            print(f"{r['model']:<9} {r['precision']:<5} failed: {r['error']}")
    print(f"matmul ceiling (fractions divide by {practical_dtype}) bf16 {result['matmul_ceiling_tflops']}, fp32 {result['fp32_matmul_ceiling_tflops']} TFLOP/s; "
          f"bound on AlexNet bf16 over fp32 eager {result['alexnet_bf16_bound_over_fp32_eager'] or '-'}x; data pipeline alone "
          f"{result['pipeline_images_per_s']} img/s")
    if args.out:
        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
