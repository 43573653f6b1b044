"""The first-steps studies: what happens in a run's first steps, where epoch means cannot say.

*Early steps* (``python -m alexnet_core early-steps dropout --profile cpu --steps 30 --seeds 0,1,2
--lrs 0.003,0.001``): under the cpu and gpu profiles (lr 0.003 and the initialisation of section 5:
weights N(0, 0.01), biases 1 in conv2, conv4, conv5 and the hidden fully-connected layers) the
AlexNet without dropout (section 4.2) ended at chance on both machines, so the dropout claims
could not be judged. It trains every variant of an experiment for a few steps under several seeds
(and, optionally, other learning rates), keeps the per-step loss and counts the units that no
validation image turns on.

*Recipe start* (``python -m alexnet_core recipe-start --profile cpu --recipes printed,coded --lrs
0.01,0.003 --variants reference,no-dropout --seeds 0,1 --steps 146``): under the paper's printed
recipe AlexNet sat at chance on Imagenette, and at the book's lr 0.003 it spiked and stalled while
most of fc7's units died; variants that happened to start sooner then won their comparisons. It
trains each AlexNet variant the book ablates (the plan's own variants,
:func:`alexnet_core.book.engine.plan.alexnet_variants`) for its first steps under each candidate
recipe (:data:`alexnet_core.config.RECIPES`), learning rate, dropout form and seed, and records
per-step losses, the step at which the loss left chance for good, and the share of dead ReLU units.

Both write every finished run at once, so a killed study resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from pathlib import Path
from statistics import mean

import torch
import torch.nn as nn

from alexnet_core.augment import Augmenter
from alexnet_core.config import RECIPES, TrainConfig
from alexnet_core.files import atomic_write_json
from alexnet_core.hardware import autocast, resolve_device, resolve_precision
from alexnet_core.inputs import augment_config, load_data
from alexnet_core.model import DROPOUT_SCALINGS
from alexnet_core.paths import DIAGNOSTICS_DIR
from alexnet_core.provenance import git_state, provenance
from alexnet_core.train import TrainingDiverged, train
from alexnet_core.book.engine.plan import alexnet_variants, data_available, get_experiment, get_profile, profile_for


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


def early_steps_rows(result: dict) -> list[dict]:
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


#: The AlexNet variants the recipe-start study trains, each as its experiment defines it.
STUDY_VARIANTS = ("reference", "no-lrn", "no-dropout", "no-overlap", "one-column-half", "no-conv3", "no-conv4",
                  "bias-zero")
ABLATIONS: dict[str, dict] = {name: alexnet_variants()[name] for name in STUDY_VARIANTS}


#: The loss must stay this far below chance (ln of the class count) to have left it.
CHANCE_MARGIN = 0.1


#: ... in every running mean over this many steps from then on.
CHANCE_WINDOW = 10


def study_path(profile: str, results_dir: Path | None = None) -> Path:
    return Path(results_dir or DIAGNOSTICS_DIR) / profile / "recipe-start.json"


def left_chance_step(losses: list[float], chance: float, margin: float = CHANCE_MARGIN,
                     window: int = CHANCE_WINDOW) -> int | None:
    """The first step (1-based, the end of a window) from which every ``window``-step running
    mean of the loss stays below ``chance - margin``; None if the record ends before that."""
    if len(losses) < window:
        return None
    running = [mean(losses[i - window + 1:i + 1]) for i in range(window - 1, len(losses))]
    below = [r < chance - margin for r in running]
    if not below[-1]:
        return None
    first = len(below)
    while first > 0 and below[first - 1]:
        first -= 1
    return first + window  # running[j] ends at step j + window (1-based)


def row_dropout(row: dict) -> str:
    """The dropout form a study row trained with: ``test`` (the paper's) or ``train`` (inverted;
    every row recorded before the switch existed, when AlexNet used nn.Dropout)."""
    return row.get("dropout_scaling") or row.get("recipe_settings", {}).get("dropout_scaling", "train")


def _config(profile: str, recipe: str, variant: str, lr: float, seed: int, steps: int,
            data_root: str | None, device: str, val_images: int, dropout_scaling: str = "test") -> TrainConfig:
    prof = get_profile(profile)
    settings = prof.base("alexnet") | ABLATIONS[variant] | dict(
        recipe=recipe, lr=lr, seed=seed, dropout_scaling=dropout_scaling, early_stop=False, max_drops=0, drop_by=0, ten_crop=False,
        limit_val=val_images, record_steps=steps, data_root=data_root, device=device, progress=False)
    if prof.name == "smoke" and not data_available(data_root):
        settings["dataset"] = "synthetic"
    return TrainConfig(**settings)


def recipe_start(profile: str, *, recipes: tuple[str, ...], lrs: tuple[float, ...], variants: tuple[str, ...],
                 seeds: tuple[int, ...], steps: int, data_root: str | None = None, device: str = "auto",
                 val_images: int = 256, path: Path | None = None, progress: bool = True,
                 dropout_scalings: tuple[str, ...] = ("test",)) -> dict:
    """Train every (recipe, dropout form, variant, lr, seed) for ``steps`` steps, skipping those
    ``path`` already holds; the study is rewritten after each run. Returns the whole study."""
    unknown = ([r for r in recipes if r not in RECIPES] + [v for v in variants if v not in ABLATIONS]
               + [d for d in dropout_scalings if d not in DROPOUT_SCALINGS])
    if unknown or steps < CHANCE_WINDOW or not seeds or not lrs or not dropout_scalings:
        raise ValueError(f"recipe-start needs known recipes ({', '.join(RECIPES)}), dropout forms "
                         f"({', '.join(DROPOUT_SCALINGS)}) and variants ({', '.join(ABLATIONS)}), "
                         f"at least {CHANCE_WINDOW} steps, one seed and one lr"
                         + (f"; unknown: {unknown}" if unknown else ""))
    path = path or study_path(get_profile(profile).name)
    study = json.loads(path.read_text()) if path.exists() else dict(profile=profile, rows=[])
    done = {(r["recipe"], row_dropout(r), r["variant"], r["lr"], r["seed"], r["steps"]) for r in study["rows"]}
    dev = resolve_device(device)
    data = None
    for seed, recipe, form, lr, variant in itertools.product(seeds, recipes, dropout_scalings, lrs, variants):
        # seeds outermost: a whole first seed before the second, the cheapest complete picture first
        if (recipe, form, variant, lr, seed, steps) in done:
            continue
        cfg = _config(profile, recipe, variant, lr, seed, steps, data_root, device, val_images, form)
        if data is None:
            data = load_data(cfg)
        cfg.epochs = max(1, math.ceil(steps / max(1, len(data[0]) // cfg.batch_size)))
        row = _one_run(cfg, data, dev, val_images, steps)
        row |= dict(recipe=recipe, dropout_scaling=form, variant=variant, lr=lr, seed=seed,
                    provenance=provenance(dev, row["precision"], None, git_state()))
        study["rows"].append(row)
        study |= dict(chance_loss=row["chance_loss"], batch_size=cfg.batch_size, provenance=row["provenance"])
        atomic_write_json(path, study)
        if progress:
            print(f"{recipe:<8} dropout {form:<5} {variant:<16} lr {lr:<6g} seed {seed}: {_summary(row)}", flush=True)
    return study


def _one_run(cfg: TrainConfig, data: tuple, dev: torch.device, val_images: int, steps: int) -> dict:
    """One run's first steps; a run whose loss turns NaN or infinite is recorded as diverged at
    its global step, with no losses (the trainer stops before the epoch's record is written)."""
    started = time.time()
    chance = math.log(len(data[0].classes))
    try:
        outcome = train(cfg, data=data)
    except TrainingDiverged as err:
        steps_per_epoch = max(1, len(data[0]) // cfg.batch_size)
        return dict(steps=steps, step_losses=[], chance_loss=round(chance, 4), left_chance_step=None,
                    diverged_at_step=(err.epoch - 1) * steps_per_epoch + err.step, val_top1=None, dead_units={},
                    precision=resolve_precision(cfg.precision, dev), seconds=round(time.time() - started, 1),
                    recipe_settings=cfg.recipe_settings())
    losses = [v for h in outcome.history for v in h.get("step_losses", [])][:steps]
    precision = resolve_precision(cfg.precision, dev)
    dead = dead_units_on_validation(outcome.model, cfg, data, dev, precision, val_images)
    return dict(steps=steps, step_losses=losses, chance_loss=round(chance, 4),
                left_chance_step=left_chance_step(losses, chance), val_top1=round(outcome.history[-1]["val_top1"], 2),
                dead_units={ALEXNET_RELUS.get(k, k): v for k, v in dead.items()}, precision=precision,
                seconds=round(time.time() - started, 1), recipe_settings=cfg.recipe_settings())


def _summary(row: dict) -> str:
    if row.get("diverged_at_step"):
        return f"diverged (NaN/inf loss) at step {row['diverged_at_step']} ({row['seconds']:.0f} s)"
    return (f"left chance at step {row['left_chance_step']}, last-10 loss {mean(row['step_losses'][-10:]):.3f}, "
            f"dead fc7 {row['dead_units'].get('fc7', math.nan):.0%} ({row['seconds']:.0f} s)")


def load_study(profile: str = "cpu", path: Path | None = None) -> dict | None:
    """The recorded recipe-start study of ``profile``, or None when it has not been made."""
    path = path or study_path(profile)
    return json.loads(path.read_text()) if path.exists() else None


#: How the book names each dropout form in the study's tables and sentences.
DROPOUT_NAMES = {"test": "paper's dropout", "train": "inverted dropout"}


def study_order(recipe: str, dropout: str, lr: float) -> tuple:
    """Candidates closest to the paper first: printed before coded, the paper's dropout before
    the inverted form, higher learning rates (the paper's 0.01) before lower ones."""
    return recipe != "printed", dropout != "test", -lr


def study_rows(study: dict, recipe: str, lr: float, dropout: str) -> list[dict]:
    return [r for r in study["rows"] if (r["recipe"], r["lr"], row_dropout(r)) == (recipe, lr, dropout)]


def recipe_start_rows(study: dict) -> list[dict]:
    """One row per recipe, dropout form, learning rate and variant: per seed, the step at which
    the loss left chance ("never" within the steps, "diverged at k"), the mean loss of the last
    ten steps and the share of fc7's units dead after the steps (means over the runs that did
    not diverge)."""
    groups: dict[tuple, list[dict]] = {}
    for row in study["rows"]:
        groups.setdefault((row["recipe"], row_dropout(row), row["lr"], row["variant"]), []).append(row)
    out = []
    order = list(ABLATIONS)
    for (recipe, dropout, lr, variant), rows in sorted(groups.items(), key=lambda kv: (
            *study_order(kv[0][0], kv[0][1], kv[0][2]), order.index(kv[0][3]) if kv[0][3] in order else len(order))):
        rows = sorted(rows, key=lambda r: r["seed"])
        finished = [r for r in rows if not r.get("diverged_at_step")]
        out.append({"recipe": recipe, "dropout": DROPOUT_NAMES[dropout], "lr": lr, "variant": variant,
                    "seeds": len(rows),
                    "left chance at step (per seed)": ", ".join(_left(r) for r in rows),
                    "loss, last 10 steps": round(mean(mean(r["step_losses"][-10:]) for r in finished), 2)
                    if finished else None,
                    "dead fc7 units (%)": round(100 * mean(r["dead_units"].get("fc7", math.nan) for r in finished), 1)
                    if finished else None})
    return out


def _left(row: dict) -> str:
    if row.get("diverged_at_step"):
        return f"diverged at {row['diverged_at_step']}"
    return "never" if row["left_chance_step"] is None else str(row["left_chance_step"])


def chosen_candidate(study: dict, dropout: str = "test") -> tuple[str, float] | None:
    """(recipe, lr) of the candidate closest to the paper (:func:`study_order`) under which every
    study variant left chance in every seed the study measured with ``dropout``: issue #34's rule
    for the book's recipe. None while no candidate is measured whole and clean."""
    rows = [r for r in study["rows"] if row_dropout(r) == dropout]
    seeds = {r["seed"] for r in rows}
    for recipe, _, lr in sorted({(r["recipe"], dropout, r["lr"]) for r in rows}, key=lambda c: study_order(*c)):
        measured = {(r["variant"], r["seed"]) for r in study_rows(study, recipe, lr, dropout)}
        whole = all((variant, seed) in measured for variant in STUDY_VARIANTS for seed in seeds)
        if whole and starts_everywhere(study, recipe, lr, dropout=dropout):
            return recipe, lr
    return None


def starts_everywhere(study: dict, recipe: str, lr: float, variants: tuple[str, ...] | None = None,
                      dropout: str = "test") -> bool:
    """Whether every run of ``recipe`` with ``dropout`` at ``lr`` (of ``variants``, default all
    measured) left chance within its measured steps."""
    rows = [r for r in study_rows(study, recipe, lr, dropout) if variants is None or r["variant"] in variants]
    return bool(rows) and all(r.get("left_chance_step") is not None for r in rows)
