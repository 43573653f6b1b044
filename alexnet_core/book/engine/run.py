"""One run of an experiment: its record when the config is recorded, else trained (resuming a
crashed attempt) and recorded atomically, with the figure arrays where the chapter needs them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from alexnet_core.augment import Augmenter
from alexnet_core.checkpoint import CHECKPOINT, CheckpointError, load_checkpoint
from alexnet_core.files import atomic_write_json
from alexnet_core.hardware import resolve_device
from alexnet_core.inputs import augment_config, build_model, load_data
from alexnet_core.hardware import resolve_precision
from alexnet_core.provenance import git_state, provenance
from alexnet_core.paths import RESULTS_DIR, runs_dir as default_runs_dir
from alexnet_core.train import HISTORY, ResumeError, RunOutcome, TrainingDiverged, train
from alexnet_core.book.engine.artifacts import figure_artifacts
from alexnet_core.book.engine.plan import data_available, get_experiment, profile_for
from alexnet_core.book.engine.records import (Record, artifacts_match, artifacts_path, book_runs, config_hash,
                                             find_all_recorded, load_record, record_path, recorded_hash,
                                             set_aside_superseded)


def load_or_train(spec, profile: str, *, retrain: bool, results_dir: Path, runs_dir: Path,
                  artifacts: bool = False, keep_checkpoint: bool = True,
                  trainer: Callable[..., RunOutcome] = train, tolerate_divergence: bool = False) -> Record:
    """The record of ``spec`` (an experiments.RunSpec): from disk when its config is recorded,
    else trained (resuming a crashed attempt from its checkpoint) and recorded atomically.

    Without ``keep_checkpoint`` the run's checkpoint is deleted once its record is written
    (its history and result stay beside it). ``trainer`` is the training function (:func:`train`;
    tests pass a fake). A record already at the run's path under another config is moved aside
    (records.set_aside_superseded), never lost. With ``tolerate_divergence`` (a learning-rate
    sweep) a run whose loss turns NaN is recorded as diverged (its history so far,
    ``metrics["diverged"]``) instead of stopping the experiment."""
    digest = config_hash(spec.config.to_dict())
    path = record_path(results_dir, profile, spec.experiment, spec.name)
    if not retrain:
        found = _from_records(spec, profile, digest, results_dir, runs_dir, artifacts)
        if found is not None:
            return found
    work = Path(runs_dir) / profile / spec.experiment / spec.name
    resume = (work / CHECKPOINT).exists() and not retrain
    print(f"[{profile}] {spec.experiment}/{spec.name}: {'resuming' if resume else 'training'}", flush=True)
    try:
        record = _train_record(spec, profile, work, resume, trainer)
    except TrainingDiverged as err:
        if not tolerate_divergence:
            raise
        print(f"[{profile}] {spec.experiment}/{spec.name}: diverged ({err}); recorded as diverged", flush=True)
        record, outcome = diverged_record(spec, err, work), None
    else:
        outcome = record.pop("outcome")
    record["provenance"] = record["provenance"] | dict(experiment=spec.experiment, run=spec.name, profile=profile,
                                                       variant=spec.variant, seed=spec.seed, config_hash=digest)
    if artifacts and outcome is not None:
        write_artifacts(spec, outcome.model, record["provenance"], results_dir, profile)
    set_aside_superseded(spec, path, results_dir, profile)
    atomic_write_json(path, record)
    if not keep_checkpoint:
        (work / CHECKPOINT).unlink(missing_ok=True)
    return Record.from_dict(record).found_as(experiment=spec.experiment, run=spec.name, variant=spec.variant,
                                             seed=spec.seed)


def _from_records(spec, profile: str, digest: str, results_dir: Path, runs_dir: Path,
                  artifacts: bool) -> Record | None:
    """``spec``'s record without training: its own file, or a shared run's (copied under its name,
    with the figure arrays when asked for); else None."""
    path = record_path(results_dir, profile, spec.experiment, spec.name)
    if path.exists():
        record = load_record(path)
        if recorded_hash(record) == digest and (not artifacts or artifacts_match(results_dir, profile, spec.experiment,
                                                                                    spec.name, digest)):
            return record.found_as(experiment=spec.experiment, run=spec.name, variant=spec.variant, seed=spec.seed)
    candidates = find_all_recorded(results_dir, profile, digest)
    shared, model = (candidates[0] if candidates else None), None
    if artifacts:  # the figures need the trained weights: take the record whose checkpoint is kept
        for candidate in candidates:
            model = _model_from_checkpoint(spec, runs_dir, profile, candidate, results_dir)
            if model is not None:
                shared = candidate
                break
    if shared is not None and (model is not None or not artifacts):
        record = load_record(shared)
        if artifacts:
            write_artifacts(spec, model, record.provenance, results_dir, profile)
        copy = record.found_as(experiment=spec.experiment, run=spec.name, variant=spec.variant, seed=spec.seed,
                               copied_from=str(shared.relative_to(results_dir)))
        set_aside_superseded(spec, path, results_dir, profile)
        atomic_write_json(path, copy.to_dict())
        return copy
    return None


def _train_record(spec, profile: str, work: Path, resume: bool, trainer: Callable[..., RunOutcome]) -> dict:
    """Train (or resume) one run in its working folder; its record, with the outcome under ``outcome``."""
    try:  # runs/ is the experiments' own working area: a fresh start replaces what an old attempt left
        outcome = trainer(spec.config, work, resume=resume, overwrite=not resume)
    except (ResumeError, CheckpointError) as err:
        print(f"[{profile}] {spec.experiment}/{spec.name}: cannot resume ({err}); training afresh", flush=True)
        outcome = trainer(spec.config, work, overwrite=True)
    return outcome.record() | dict(outcome=outcome)


def diverged_record(spec, err: TrainingDiverged, work: Path) -> dict:
    """The record of a run whose loss turned NaN or infinite: its epochs so far, where it
    diverged, and no final error (a sweep's too-high learning rate, not a failure of the sweep)."""
    history_file = work / HISTORY
    history = ([json.loads(line) for line in history_file.read_text().splitlines() if line.strip()]
               if history_file.exists() else [])
    device = resolve_device(spec.config.device)
    metrics = dict(diverged=True, diverged_epoch=err.epoch, diverged_step=err.step, epochs=len(history),
                   val_top1=None, final_train_top1=history[-1]["train_top1"] if history else None)
    return dict(config=spec.config.to_dict(), history=history, metrics=metrics,
                provenance=provenance(device, resolve_precision(spec.config.precision, device), None, git_state())
                | dict(diverged=str(err)))


def _model_from_checkpoint(spec, runs_dir: Path, profile: str, shared: Path, results_dir: Path):
    """The trained model of a run recorded under another experiment, from its checkpoint."""
    rel = shared.relative_to(Path(results_dir) / profile)
    ckpt = Path(runs_dir) / profile / rel.parent / rel.stem / CHECKPOINT
    if not ckpt.exists():
        return None
    state = load_checkpoint(ckpt, map_location="cpu")
    num_classes = state["model"]["fc8.weight"].shape[0] if "fc8.weight" in state["model"] else state["model"]["fc.weight"].shape[0]
    model = build_model(spec.config, num_classes)
    model.load_state_dict(state["model"])
    return model


def write_artifacts(spec, model, provenance: dict, results_dir: Path, profile: str) -> None:
    """Record Figure 3's and Figure 4's small arrays for this run (see :mod:`.artifacts`), with the
    provenance of the run that trained ``model``."""
    train_set, val_set, stats = load_data(spec.config)
    device = resolve_device(spec.config.device)
    arrays = figure_artifacts(model.to(device), train_set, val_set, Augmenter(augment_config(spec.config), stats),
                              device, provenance["precision"], spec.seed)
    atomic_write_json(artifacts_path(results_dir, profile, spec.experiment, spec.name),
                      arrays | dict(provenance=provenance))


def run_experiment(name: str, profile: str, *, data_root: str | None = None, device: str = "auto",
                   retrain: bool = False, progress: bool = True, results_dir: Path | None = None,
                   runs_dir: Path | None = None, only: list[str] | None = None,
                   trainer: Callable[..., RunOutcome] = train) -> list[Record]:
    """Every run of experiment ``name`` under ``profile``: loaded when recorded, trained (by
    ``trainer``) when not; runs train under ``runs_dir`` (default ``ALEXNET_RUNS`` or ``runs/``).

    Under ``smoke`` without a data root the runs use the synthetic set, so the notebooks
    still execute on any machine.
    """
    experiment = get_experiment(name)
    prof = profile_for(experiment, profile)
    chosen = book_runs(name, prof.name, results_dir)
    if only:  # a variant's declared runs, or any run the plan of seeds may ask for, by name
        planned = experiment.planned_runs(prof)
        known = {s.name for s in planned} | set(experiment.variants)
        unknown = sorted(set(only) - known)
        if unknown:
            raise ValueError(f"--only {' '.join(unknown)}: no such run or variant of {name} under the {prof.name} "
                             f"profile; choose among {', '.join(sorted(known))}")
        chosen = [s for s in planned if s.name in only or (s.variant in only and s in chosen)]
    records = []
    for spec in chosen:
        cfg = spec.config  # this machine's settings; smoke without data: synthetic
        cfg.data_root, cfg.device, cfg.progress = data_root, device, progress
        if prof.name == "smoke" and not data_available(data_root):
            cfg.dataset = "synthetic"
        records.append(load_or_train(spec, prof.name, retrain=retrain, artifacts=experiment.records_artifacts(spec.variant),
                                     results_dir=results_dir or RESULTS_DIR, runs_dir=runs_dir or default_runs_dir(),
                                     keep_checkpoint=prof.keep_checkpoints and not experiment.sweep,
                                     trainer=trainer, tolerate_divergence=experiment.sweep))
    return records
