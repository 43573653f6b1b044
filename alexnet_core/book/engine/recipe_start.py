"""Which recipe lets every AlexNet variant start to learn: the first steps under each candidate.

Issue: under the paper's printed recipe (section 5's init, lr 0.01) AlexNet sat at chance on
Imagenette, and at the book's lr 0.003 it spiked and stalled while most of fc7's units died;
variants that happened to start sooner then won their comparisons. This module trains each
AlexNet variant the book ablates for its first ``steps`` steps under each candidate recipe
(:data:`alexnet_core.config.RECIPES`), learning rate and seed, and records per-step losses, the
step at which the loss left chance for good, and the share of dead ReLU units. Every finished
run is written at once, so a killed study resumes where it stopped.

    python -m alexnet_core recipe-start --profile cpu --recipes printed,coded --lrs 0.01,0.003 \\
        --variants reference,no-dropout --seeds 0,1 --steps 146
"""
from __future__ import annotations

import itertools
import json
import math
import time
from pathlib import Path
from statistics import mean

import torch

from alexnet_core.config import RECIPES, TrainConfig
from alexnet_core.model import DROPOUT_SCALINGS
from alexnet_core.files import atomic_write_json
from alexnet_core.hardware import resolve_device, resolve_precision
from alexnet_core.inputs import load_data
from alexnet_core.paths import DIAGNOSTICS_DIR
from alexnet_core.provenance import git_state, provenance
from alexnet_core.train import TrainingDiverged, train
from alexnet_core.book.engine.diagnostics import ALEXNET_RELUS, dead_units_on_validation
from alexnet_core.book.engine.plan import data_available, get_profile

#: The AlexNet variants the book ablates, as settings over the reference (see experiments.py).
ABLATIONS: dict[str, dict] = {
    "reference": {},
    "no-lrn": dict(lrn=False),
    "no-dropout": dict(dropout=0.0),
    "no-overlap": dict(overlap_pool=False),
    "one-column-half": dict(groups=1, width=0.5),
    "no-conv3": dict(remove_conv=3),
    "no-conv4": dict(remove_conv=4),
    "bias-zero": dict(bias_one=False),
}

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


def _order(recipe: str, dropout: str, lr: float) -> tuple:
    """Candidates closest to the paper first: printed before coded, the paper's dropout before
    the inverted form, higher learning rates (the paper's 0.01) before lower ones."""
    return recipe != "printed", dropout != "test", -lr


def _of(study: dict, recipe: str, lr: float, dropout: str) -> list[dict]:
    return [r for r in study["rows"] if (r["recipe"], r["lr"], row_dropout(r)) == (recipe, lr, dropout)]


def summary_rows(study: dict) -> list[dict]:
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
            *_order(kv[0][0], kv[0][1], kv[0][2]), order.index(kv[0][3]) if kv[0][3] in order else len(order))):
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


def starts_everywhere(study: dict, recipe: str, lr: float, variants: tuple[str, ...] | None = None,
                      dropout: str = "test") -> bool:
    """Whether every run of ``recipe`` with ``dropout`` at ``lr`` (of ``variants``, default all
    measured) left chance within its measured steps."""
    rows = [r for r in _of(study, recipe, lr, dropout) if variants is None or r["variant"] in variants]
    return bool(rows) and all(r.get("left_chance_step") is not None for r in rows)


def describe(study: dict) -> str:
    """The measurement in words, per recipe, dropout form and learning rate: when each variant left chance."""
    parts = []
    for row in summary_rows(study):
        parts.append(f"{row['recipe']} with the {row['dropout']} at lr {row['lr']:g}, {row['variant']}: "
                     f"{row['left chance at step (per seed)']}")
    return "; ".join(parts)


def _candidate(study: dict, recipe: str, lr: float, dropout: str) -> str:
    """'every run left chance, the last at step 93 (no-dropout, seed 1)' or which runs did not."""
    rows = _of(study, recipe, lr, dropout)
    stuck = [r for r in rows if r.get("left_chance_step") is None]
    if stuck:
        names = ", ".join(f"{r['variant']} seed {r['seed']}" + (" diverged" if r.get("diverged_at_step") else "")
                          for r in stuck)
        return f"{len(stuck)} of {len(rows)} runs never left chance ({names})"
    last = max(rows, key=lambda r: r["left_chance_step"])
    return f"every run left chance, the last at step {last['left_chance_step']} ({last['variant']}, seed {last['seed']})"


def _measured_rows(study: dict | None, recipe: str, lr: float, dropout: str) -> dict[str, dict]:
    """:func:`summary_rows` of ``recipe`` with ``dropout`` at ``lr`` by variant, those with
    dead-unit counts only (a variant whose every seed diverged has none)."""
    return {r["variant"]: r for r in (summary_rows(study) if study else [])
            if (r["recipe"], r["lr"], r["dropout"]) == (recipe, lr, DROPOUT_NAMES[dropout])
            and r["dead fc7 units (%)"] is not None}


def _named(recipe: str, lr: float, dropout: str) -> str:
    return f"the {recipe} recipe with the {DROPOUT_NAMES[dropout]} at lr {lr:g}"


def dead_units_text(study: dict | None, recipe: str, lr: float, dropout: str = "test") -> str:
    """How many of fc7's units the first steps left dead under ``recipe`` with ``dropout`` at
    ``lr``: the fewest and the most over the variants (mean over seeds, diverged runs left out), as words."""
    rows = list(_measured_rows(study, recipe, lr, dropout).values())
    if not rows:
        return f"the first steps have not been measured under {_named(recipe, lr, dropout)}"
    fewest = min(rows, key=lambda r: r["dead fc7 units (%)"])
    most = max(rows, key=lambda r: r["dead fc7 units (%)"])
    return (f"after the first {study['rows'][0]['steps']} steps under {_named(recipe, lr, dropout)}, between "
            f"{fewest['dead fc7 units (%)']:.0f}% ({fewest['variant']}) and {most['dead fc7 units (%)']:.0f}% "
            f"({most['variant']}) of fc7's units were dead")


def start_contrast_text(study: dict | None, recipe: str, lr: float, variant: str,
                        against: str = "reference", dropout: str = "test") -> str:
    """``variant``'s first steps beside ``against``'s under ``recipe`` with ``dropout`` at ``lr``,
    as words: the step at which each seed left chance and the share of fc7's units left dead
    (empty when either was not measured)."""
    rows = _measured_rows(study, recipe, lr, dropout)
    if variant not in rows or against not in rows:
        return ""
    mine, theirs = rows[variant], rows[against]
    return (f"In the first-steps measurement under {_named(recipe, lr, dropout)}, {variant} left chance at step "
            f"{mine['left chance at step (per seed)']} (per seed) against {theirs['left chance at step (per seed)']} "
            f"for {against}, with {mine['dead fc7 units (%)']:.0f}% of fc7's units dead against "
            f"{theirs['dead fc7 units (%)']:.0f}%.")


def dropout_contrast_text(study: dict | None, recipe: str, lr: float) -> str:
    """The two dropout forms side by side under ``recipe`` at ``lr``: how many runs of each left
    chance within the steps, and fc7's dead units (empty unless both were measured)."""
    if not study or not _of(study, recipe, lr, "test") or not _of(study, recipe, lr, "train"):
        return ""
    parts = []
    for dropout in ("test", "train"):
        rows = _of(study, recipe, lr, dropout)
        left = sum(r.get("left_chance_step") is not None for r in rows)
        dead = [r["dead_units"]["fc7"] for r in rows if r.get("dead_units", {}).get("fc7") is not None]
        parts.append(f"with the {DROPOUT_NAMES[dropout]} {left} of {len(rows)} runs left chance"
                     + (f" ({100 * mean(dead):.0f}% of fc7's units dead on average)" if dead else ""))
    return f"Under the {recipe} recipe at lr {lr:g}, " + "; ".join(parts) + "."


def choice_text(study: dict | None, recipe: str, lr: float, dropout: str = "test") -> str:
    """Why the book trains ``recipe`` with ``dropout`` at ``lr``, from the measurement: for each
    candidate, closest to the paper first, whether every run left chance within the steps measured."""
    if not study:
        return "The first steps have not been measured yet, so the recipe is not chosen from evidence."
    candidates = sorted({(r["recipe"], row_dropout(r), r["lr"]) for r in study["rows"]}, key=lambda c: _order(*c))
    steps = study["rows"][0]["steps"]
    verdicts = [f"{name} with the {DROPOUT_NAMES[form]} at lr {rate:g}: {_candidate(study, name, rate, form)}"
                for name, form, rate in candidates]
    variants = sorted({r["variant"] for r in _of(study, recipe, lr, dropout)})
    if not variants:
        return (f"Over the first {steps} steps, candidates closest to the paper first: " + "; ".join(verdicts)
                + f". The book's recipe, {_named(recipe, lr, dropout)}, has not been measured yet.")
    return (f"Over the first {steps} steps, candidates closest to the paper first: " + "; ".join(verdicts)
            + f". The book's AlexNet runs train {_named(recipe, lr, dropout)}, the closest to the paper under "
            f"which {'every run' if starts_everywhere(study, recipe, lr, dropout=dropout) else 'not every run'} of "
            f"the {len(variants)} variants measured left chance.")
