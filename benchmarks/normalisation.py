"""The normalisations at memory speed (section 3.3's LRN, the 2012 code's within-map normalisation).

Measured in one process, so every ratio compares rows of the same machine at the same moment:

1. the machine's memory-copy rate (a large float32 copy, bytes read plus bytes written per second);
2. each normalisation alone, forward + backward on AlexNet's activations in bf16 channels-last
   (conv1's 128 x 96 x 55 x 55 across both columns and within each, conv2's 128 x 256 x 27 x 27,
   and the within-map normalisation on conv2's output), eager (``_PaperLRN``, the within-map
   module's autograd) against the compiled kernels of ``alexnet_core.norm_kernels``, as time and
   as GB/s of the least traffic the operation needs (read a, write b; read a and g, write da:
   five activations) against the copy rate;
3. AlexNet's whole training step (the trainer's ``train_step``) without normalisation, with it
   eager, and with the kernels, under the printed and the coded recipe, the three taking turns
   over several rounds: each rate is the median of its rounds, each ratio the median of the
   rounds' ratios (two rates of one round were measured a minute apart at most), with its range;
4. the trainer's own epoch (``train``, two epochs of synthetic images, the kernels on; the second,
   past the first steps' warm-up, is the one compared) beside the step rate of the same settings,
   the two taking turns over several rounds, so a gap between them is seen apart from the drift of
   a shared machine: each round gives one ratio, and the median and range of the ratios are kept.

    python benchmarks/normalisation.py --out benchmarks/results/cpu-avx512-bf16/normalisation.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alexnet_core import norm_kernels  # noqa: E402
from alexnet_core.allocator import keep_freed_memory  # noqa: E402
from alexnet_core.augment import Augmenter, ColourStats  # noqa: E402
from alexnet_core.config import TrainConfig  # noqa: E402
from alexnet_core.data import synthetic_image_set  # noqa: E402
from alexnet_core.files import atomic_write_json  # noqa: E402
from alexnet_core.hardware import cpu_isa, resolve_precision  # noqa: E402
from alexnet_core.inputs import augment_config, build_model  # noqa: E402
from alexnet_core.model import WithinMapNorm, paper_lrn  # noqa: E402
from alexnet_core.optim import make_optimizer  # noqa: E402
from alexnet_core.provenance import provenance  # noqa: E402
from alexnet_core.step import train_step  # noqa: E402
from alexnet_core.train import train  # noqa: E402

#: (row, module, activation shape): the normalisations of AlexNet's step at batch 128.
NORMALISATIONS = (
    ("LRN after conv1 (across both columns)", lambda: paper_lrn("per-window"), (128, 96, 55, 55)),
    ("LRN after conv1 (within each column)", lambda: paper_lrn("per-window", groups=2), (128, 96, 55, 55)),
    ("LRN after conv2 (within each column)", lambda: paper_lrn("per-window", groups=2), (128, 256, 27, 27)),
    ("within-map normalisation after conv2", WithinMapNorm, (128, 256, 27, 27)),
)


def timed(fn, reps: int, warmup: int = 1) -> float:
    """Seconds per call of ``fn``: the median of ``reps`` calls after ``warmup`` (the kernels compile
    on the first), so one slow call (the allocator still growing its pool of freed blocks, measured
    to slow a first row by half) does not stand for the row."""
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def copy_rate(megabytes: int = 512, reps: int = 5) -> float:
    """Bytes read plus written per second by a large float32 copy."""
    src = torch.rand(megabytes * 2**20 // 4)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / timed(lambda: dst.copy_(src), reps)


def normalisation_row(name: str, make, shape: tuple, reps: int, copy: float) -> dict:
    """One normalisation alone, forward + backward, eager against compiled."""
    module = make()
    a = (torch.randn(shape) * 3).relu().to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    g = torch.randn(shape).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    least_bytes = 5 * a.numel() * a.element_size()
    row = dict(normalisation=name, shape=list(shape), dtype="bfloat16")
    for label, on in (("eager", False), ("compiled", True)):
        norm_kernels.use_kernels(on)

        def once():
            x = a.detach().requires_grad_()
            module(x).backward(g)
        seconds = timed(once, reps, warmup=2)
        row[f"{label}_ms"] = round(1e3 * seconds, 1)
        row[f"{label}_gb_per_s"] = round(least_bytes / seconds / 1e9, 2)
        row[f"{label}_of_copy_rate"] = round(least_bytes / seconds / copy, 3)
    row["speedup"] = round(row["eager_ms"] / row["compiled_ms"], 2)
    return row


def step_runners(configs: dict[str, tuple[TrainConfig, bool]], warmup: int) -> dict:
    """Per named (config, kernels on), a function ``run(n)`` that trains ``n`` steps of the
    trainer's step on two alternating synthetic batches and returns images/s; each warmed up."""
    device = torch.device("cpu")
    makers = {}
    for name, (cfg, kernels) in configs.items():
        torch.manual_seed(0)
        data = synthetic_image_set(n=2 * cfg.batch_size, num_classes=10, side=256)
        augmenter = Augmenter(augment_config(cfg), ColourStats.from_images(data.images[:64]))
        model = build_model(cfg, 10).to(memory_format=torch.channels_last)
        optimizer = make_optimizer(model, cfg.update_rule, cfg.lr, cfg.momentum, cfg.weight_decay,
                                   cfg.decay_biases, cfg.recipe_settings()["bias_lr_mult"])
        gen, precision = torch.Generator().manual_seed(0), resolve_precision(cfg.precision, device)

        def run(n: int, cfg=cfg, data=data, augmenter=augmenter, model=model, optimizer=optimizer, gen=gen,
                precision=precision, kernels=kernels) -> float:
            norm_kernels.use_kernels(kernels)
            start = time.perf_counter()
            for i in range(n):
                batch = slice((i % 2) * cfg.batch_size, (i % 2 + 1) * cfg.batch_size)
                train_step(model, optimizer, augmenter, data.images[batch], data.labels[batch], gen, device, precision)
            return cfg.batch_size * n / (time.perf_counter() - start)
        run(warmup)
        makers[name] = run
    return makers


def step_rates(configs: dict[str, tuple[TrainConfig, bool]], steps: int, warmup: int,
               rounds: int) -> dict[str, list[float]]:
    """Images/s of the trainer's step per named (config, kernels on), one rate a round: the
    configurations take turns, ``rounds`` times ``steps`` steps each, so a slow minute of a shared
    machine falls on every row of its round alike."""
    makers = step_runners(configs, warmup)
    measured: dict[str, list[float]] = {name: [] for name in makers}
    for _ in range(rounds):
        for name, run in makers.items():
            measured[name].append(run(steps))
    return measured


def ratio_of_rounds(numerator: list[float], denominator: list[float]) -> tuple[float, list[float]]:
    """The median of the rounds' ratios (each of two rates measured side by side), and their range."""
    ratios = [a / b for a, b in zip(numerator, denominator)]
    return round(statistics.median(ratios), 3), [round(min(ratios), 3), round(max(ratios), 3)]


def trainer_rates(cfg: TrainConfig, images: int) -> list[float]:
    """Images/s the trainer reports for each of two epochs of ``images`` synthetic images (the
    kernels on): the first pays the run's warm-up (the allocator's first blocks, the first steps),
    the second is the trainer's steady pace."""
    norm_kernels.use_kernels(True)
    run = TrainConfig(**(cfg.to_dict() | dict(dataset="synthetic", limit_train=images, limit_val=64, epochs=2,
                                              ten_crop=False, train_eval_images=0, progress=False)))
    with tempfile.TemporaryDirectory() as out:
        outcome = train(run, Path(out) / "run")
    return [epoch["images_per_s"] for epoch in outcome.history]


def trainer_against_step(cfg: TrainConfig, images: int, steps: int, warmup: int, rounds: int) -> dict:
    """The trainer's steady epoch rate against the step rate of the same settings, the two taking
    turns ``rounds`` times: one ratio a round, and their median and range."""
    step_run = step_runners(dict(step=(cfg, True)), warmup)["step"]
    per_round = []
    for _ in range(rounds):
        step = step_run(steps)
        first, steady = trainer_rates(cfg, images)
        per_round.append(dict(step_images_per_s=round(step, 1), first_epoch_images_per_s=first,
                              epoch_images_per_s=steady, epoch_of_step=round(steady / step, 3)))
        print(f"  round {len(per_round)}: step {step:.1f} img/s, trainer's epochs {first:.1f} then {steady:.1f} "
              f"({steady / step:.0%} of the step)", flush=True)
    epoch_rates, step_rates_ = ([r[key] for r in per_round] for key in ("epoch_images_per_s", "step_images_per_s"))
    ratio, ratio_range = ratio_of_rounds(epoch_rates, step_rates_)
    return dict(recipe=cfg.recipe, epoch_images=images, rounds=per_round, epoch_images_per_s=statistics.median(epoch_rates),
                step_images_per_s=statistics.median(step_rates_), epoch_of_step=ratio, epoch_of_step_range=ratio_range)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed calls of each normalisation alone")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps per row and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds in which the rows of a recipe take turns")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--epoch-images", type=int, default=1536, help="images in the trainer's timed epoch")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    keep_freed_memory()
    started = time.time()
    copy = copy_rate()
    print(f"memory copy: {copy / 1e9:.1f} GB/s (read + write), {cpu_isa()}", flush=True)
    alone = []
    for name, make, shape in NORMALISATIONS:
        alone.append(normalisation_row(name, make, shape, args.reps, copy))
        r = alone[-1]
        print(f"{name:<42} eager {r['eager_ms']:7.1f} ms ({r['eager_of_copy_rate']:.0%} of copy)  compiled "
              f"{r['compiled_ms']:7.1f} ms ({r['compiled_of_copy_rate']:.0%})  x{r['speedup']:.2f}", flush=True)
    steps = []
    for recipe in ("printed", "coded"):
        base = TrainConfig(recipe=recipe, precision="auto")
        rounds = step_rates(dict(no_lrn=(TrainConfig(**(base.to_dict() | dict(lrn=False))), True),
                                 lrn_eager=(base, False), lrn_compiled=(base, True)), args.steps, args.warmup, args.rounds)
        rates = {name: statistics.median(values) for name, values in rounds.items()}
        eager, eager_range = ratio_of_rounds(rounds["lrn_eager"], rounds["no_lrn"])
        compiled, compiled_range = ratio_of_rounds(rounds["lrn_compiled"], rounds["no_lrn"])
        row = dict(recipe=recipe, **{f"{k}_images_per_s": round(v, 1) for k, v in rates.items()},
                   eager_of_no_lrn=eager, eager_of_no_lrn_range=eager_range,
                   compiled_of_no_lrn=compiled, compiled_of_no_lrn_range=compiled_range)
        steps.append(row)
        print(f"AlexNet step, {recipe:<8} no LRN {rates['no_lrn']:6.1f} img/s; LRN eager {rates['lrn_eager']:6.1f} "
              f"({eager:.0%}); LRN compiled {rates['lrn_compiled']:6.1f} ({compiled:.0%}, rounds "
              f"{compiled_range[0]:.0%} to {compiled_range[1]:.0%}); rates: medians of the rounds, ratios: "
              f"medians of each round's ratio", flush=True)
    coded = TrainConfig(recipe="coded", precision="auto")
    print(f"trainer against step, coded recipe, epochs of {args.epoch_images} images, {args.rounds} rounds:", flush=True)
    trainer = trainer_against_step(coded, args.epoch_images, 2 * args.steps, args.warmup, args.rounds)
    low, high = trainer["epoch_of_step_range"]
    print(f"trainer, coded recipe: steady epoch {trainer['epoch_images_per_s']:.1f} img/s against the step's "
          f"{trainer['step_images_per_s']:.1f}: {trainer['epoch_of_step']:.0%} (rounds {low:.0%} to {high:.0%})", flush=True)
    result = dict(copy_gb_per_s=round(copy / 1e9, 2), normalisations=alone, steps=steps, trainer=trainer,
                  batch=128, step_rounds=args.rounds, steps_per_round=args.steps, cpu_isa=cpu_isa(),
                  provenance=provenance(torch.device("cpu"), resolve_precision("auto", torch.device("cpu")),
                                        time.time() - started))
    if args.out:
        atomic_write_json(args.out, result)
        print(f"written {args.out}")


if __name__ == "__main__":
    main()
