"""Early-training stability: the loss of each of a run's first steps, and the ReLU units still
alive after them.

Why this exists: under the cpu and gpu profiles (lr 0.003 and the initialisation of section 5:
weights N(0, 0.01), biases 1 in conv2, conv4, conv5 and the hidden fully-connected layers) the
AlexNet without dropout (section 4.2) ended at chance on both machines, so the dropout claims
could not be judged. Epoch means cannot say why. This module trains every variant of an
experiment for a few steps under several seeds (and, optionally, other learning rates), keeps
the per-step loss and counts the units that no validation image turns on, so the book shows
what happens in the first steps instead of guessing.

    python -m alexnet_core early-steps dropout --profile cpu --steps 30 --seeds 0,1,2 --lrs 0.003,0.001
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from statistics import mean
from pathlib import Path

import torch
import torch.nn as nn

from alexnet_core.augment import Augmenter
from alexnet_core.hardware import autocast, resolve_device, resolve_precision
from alexnet_core.inputs import augment_config, load_data
from alexnet_core.paths import DIAGNOSTICS_DIR
from alexnet_core.provenance import git_state, provenance
from alexnet_core.train import train
from alexnet_core.book.engine.plan import data_available, get_experiment, profile_for


#: AlexNet's ReLU modules and the layers whose outputs they rectify.
ALEXNET_RELUS = {f"act{i}": f"conv{i}" for i in range(1, 6)} | {"act6": "fc6", "act7": "fc7"}


def diagnostics_path(profile: str, experiment: str, results_dir: Path | None = None) -> Path:
    """Where the early-steps measurement of ``experiment`` under ``profile`` is kept (outside the
    per-profile run records, which hold one training run per file)."""
    return Path(results_dir or DIAGNOSTICS_DIR) / profile / f"early-steps-{experiment}.json"


@torch.no_grad()
def dead_units(model: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """Share of each ReLU layer's units (channels for convolutions) that no image of ``images``
    makes positive: a dead unit passes no gradient, so it never recovers (section 3.1's ReLU)."""
    outputs: dict[str, torch.Tensor] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ReLU):
            def keep(_module, _inputs, output, name=name):
                alive = output.float() > 0
                per_unit = alive.any(dim=0) if alive.dim() == 2 else alive.any(dim=(0, 2, 3))
                outputs[name] = per_unit
            hooks.append(module.register_forward_hook(keep))
    was_training = model.training
    model.eval()
    try:
        model(images)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return {name: round(1.0 - alive.float().mean().item(), 4) for name, alive in outputs.items()}


def dead_units_on_validation(model: nn.Module, cfg, data: tuple, device: torch.device, precision: str,
                             val_images: int) -> dict[str, float]:
    """:func:`dead_units` over the centre crops of the first ``val_images`` validation images, as
    the run's own augmentation, memory format and precision present them."""
    images = Augmenter(augment_config(cfg), data[2]).centre(data[1].images[:val_images].to(device))
    if cfg.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with autocast(device, precision):
        return dead_units(model, images)


def early_steps(experiment: str, profile: str, *, steps: int = 30, seeds: tuple[int, ...] = (0, 1, 2),
                lrs: tuple[float, ...] | None = None, data_root: str | None = None, device: str = "auto",
                val_images: int = 256, progress: bool = True) -> dict:
    """Train each variant of ``experiment`` (its seed-0 configuration under ``profile``) for
    ``steps`` steps per seed and learning rate; return per-step losses, the share of dead ReLU
    units and the validation top-1 error of a centre crop after those steps."""
    started, code = time.time(), git_state()
    exp = get_experiment(experiment)
    prof = profile_for(exp, profile)
    specs = [s for s in exp.runs(prof) if s.seed == min(prof.seeds)]
    if steps < 1 or not seeds:
        raise ValueError("early-steps needs at least one step and one seed")
    dev = resolve_device(device)
    precision = resolve_precision(specs[0].config.precision, dev)
    rows, data = [], None
    for spec in specs:
        for lr in lrs or (spec.config.lr,):
            for seed in seeds:
                cfg = dataclasses.replace(spec.config, seed=seed, lr=lr, epochs=1, early_stop=False,
                                          limit_train=steps * spec.config.batch_size, limit_val=val_images,
                                          ten_crop=False, data_root=data_root, device=device, progress=False)
                if prof.name == "smoke" and not data_available(data_root):
                    cfg = dataclasses.replace(cfg, dataset="synthetic")  # as the smoke notebooks do
                if data is None:  # every variant reads the same subsets
                    data = load_data(cfg)
                outcome = train(cfg, data=data)
                dead = dead_units_on_validation(outcome.model, cfg, data, dev, precision, val_images)
                first = outcome.history[0]
                row = dict(variant=spec.variant, seed=seed, lr=lr, step_losses=first["step_losses"],
                           val_top1=round(first["val_top1"], 2), dead_units=dead)
                rows.append(row)
                if progress:
                    tail = first["step_losses"][-5:]
                    print(f"{spec.variant:<14} lr {lr:g} seed {seed}: loss first {first['step_losses'][0]:.3f} "
                          f"max {max(first['step_losses']):.3f} last5 {sum(tail) / len(tail):.3f}  "
                          f"val top-1 {first['val_top1']:.1f}%  dead fc7 {dead.get('act7', math.nan):.0%}",
                          flush=True)
    return dict(experiment=experiment, profile=prof.name, model=specs[0].config.model, steps=steps, seeds=list(seeds),
                batch_size=specs[0].config.batch_size, chance_loss=round(math.log(len(data[0].classes)), 4),
                rows=rows, provenance=provenance(dev, precision, time.time() - started, code))


def load_early_steps(profile: str, experiment: str, results_dir: Path | None = None) -> dict | None:
    """The recorded early-steps measurement, or None when it has not been made."""
    path = diagnostics_path(profile, experiment, results_dir)
    return json.loads(path.read_text()) if path.exists() else None


def summary_rows(result: dict) -> list[dict]:
    """One row per variant and learning rate, means over seeds: the largest single-step loss,
    the mean loss of the last five steps, the share of fc6/fc7 (or last two) ReLU units dead
    and the validation top-1 error after the steps."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for row in result["rows"]:
        groups.setdefault((row["variant"], row["lr"]), []).append(row)
    out = []
    for (variant, lr), rows in groups.items():
        layers = list(rows[0]["dead_units"])[-2:]  # the last two ReLU layers: AlexNet's fc6 and fc7
        names = ALEXNET_RELUS if result.get("model") == "alexnet" else {}
        out.append({"variant": variant, "lr": lr, "seeds": len(rows),
                    "peak step loss": round(mean(max(r["step_losses"]) for r in rows), 2),
                    "loss, last 5 steps": round(mean(mean(r["step_losses"][-5:]) for r in rows), 2),
                    **{f"dead {names.get(name, name)} units (%)": round(100 * mean(r["dead_units"][name] for r in rows), 1)
                       for name in layers},
                    "val top-1 after (%)": round(mean(r["val_top1"] for r in rows), 1)})
    return out


def describe(result: dict) -> str:
    """The measurement in words, computed from it (the chapter glues this in)."""
    rows = summary_rows(result)
    chance = result["chance_loss"]
    parts = []
    for lr in sorted({r["lr"] for r in rows}, reverse=True):
        at_lr = [r for r in rows if r["lr"] == lr]
        dead_key = [k for k in at_lr[0] if k.startswith("dead ")][-1]
        layer = dead_key.split(" ")[1]
        each = "; ".join(f"{r['variant']}: peak {r['peak step loss']:.2f}, last steps {r['loss, last 5 steps']:.2f}, "
                         f"{r[dead_key]:.0f}% of {layer}'s units dead, validation error {r['val top-1 after (%)']:.0f}%"
                         for r in at_lr)
        parts.append(f"at lr {lr:g} ({each})")
    return (f"Over the first {result['steps']} steps (means over {len(result['seeds'])} seeds; chance is a loss of "
            f"{chance:.2f}): " + "; and ".join(parts) + ".")
