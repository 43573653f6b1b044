"""Run records: atomic JSON writing and the provenance every recorded number carries."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import torch

from .hardware import cpu_isa, device_name

REPO_ROOT = Path(__file__).resolve().parents[1]


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """JSON with sorted keys and two-space indent, written atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot record {type(value).__name__} in JSON")


def git_state(root: Path = REPO_ROOT) -> dict:
    """The commit of the code that produced a result and whether the tree had changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    if os.environ.get("ALEXNET_COMMIT"):
        # said by whoever copied the tree (a lent GPU machine may carry a stale .git): trust it
        dirty = os.environ.get("ALEXNET_DIRTY", "unknown")
        return dict(commit=os.environ["ALEXNET_COMMIT"], dirty=False if dirty in ("0", "false") else dirty)
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        # a copy of the tree without .git, and nobody said which commit it is (ALEXNET_COMMIT)
        commit, dirty = "unknown", "unknown"
    return dict(commit=commit, dirty=dirty)


def provenance(device: torch.device, precision: str, wall_seconds: float | None = None,
               code: dict | None = None) -> dict:
    """Where, when and with what a result was measured. ``code`` is :func:`git_state` taken
    when the work started (the tree may change while a long run trains); now when omitted."""
    import torchvision

    versions = dict(python=platform.python_version(), torch=torch.__version__,
                    torchvision=torchvision.__version__)
    try:
        from . import __version__
        versions["alexnet_core"] = __version__
    except ImportError:  # pragma: no cover
        pass
    record = dict(code or git_state(), versions=versions, device=device_name(device), device_type=device.type,
                  precision=precision, threads=torch.get_num_threads(), platform=platform.platform(),
                  date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if device.type == "cuda":
        record["cuda"] = torch.version.cuda
    else:
        record["cpu_isa"] = cpu_isa()
    if wall_seconds is not None:
        record["wall_seconds"] = round(wall_seconds, 2)
    record["peak_rss_mb"] = peak_rss_mb()
    return record


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far, in MiB (None where the OS does not say)."""
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
    except (ImportError, OSError):
        return None


# --------------------------------------------------------------------------- run records

#: Keys of a run record, in this order of importance.
RECORD_KEYS = ("config", "history", "metrics", "provenance")


def config_hash(config: dict) -> str:
    """A short hash of everything in a config that changes what is computed."""
    import hashlib

    from .config import RUNTIME_ONLY

    stable = {k: v for k, v in sorted(config.items()) if k not in RUNTIME_ONLY}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()[:16]


def recorded_hash(record: dict) -> str:
    """The config hash of a record, with settings added to TrainConfig after it was made filled
    in with their defaults (a new setting must default to the old behaviour)."""
    import dataclasses

    from .config import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    return config_hash(defaults | record.get("config", {}))


def record_path(results_dir: Path, profile: str, experiment: str, run: str) -> Path:
    return Path(results_dir) / profile / experiment / f"{run}.json"


def artifacts_path(results_dir: Path, profile: str, experiment: str, run: str) -> Path:
    """Small arrays for figures live one folder down, apart from the run records."""
    return Path(results_dir) / profile / experiment / "artifacts" / f"{run}.json"


def load_artifacts(results_dir: Path, profile: str, experiment: str, run: str) -> dict | None:
    path = artifacts_path(results_dir, profile, experiment, run)
    return json.loads(path.read_text()) if path.exists() else None


class RecordError(ValueError):
    """A run record under results/ cannot be read; the message names the file and the fix."""


def load_record(path: Path) -> dict:
    """A recorded run, checked for its four keys; a :class:`RecordError` naming the file if not."""
    fix = (f"restore it from git (`git checkout -- {path}`) if it is committed, or delete it and the run is "
           "trained again by the next `make reproduce`")
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(f"the run record {path} is corrupt or unreadable ({err}); {fix}") from None
    if not isinstance(record, dict):
        raise RecordError(f"the run record {path} holds a {type(record).__name__}, not a record; {fix}")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise RecordError(f"the run record {path} lacks {missing}; {fix}")
    return record


#: The folder under results/ that holds diagnostics (alexnet_core.stability), not run records.
DIAGNOSTICS = "diagnostics"


def run_record_paths(results_dir: Path, profile: str = "*") -> list[Path]:
    """Every run record, ``results/<profile>/<experiment>/<run>.json``; not the diagnostics."""
    return sorted(p for p in Path(results_dir).glob(f"{profile}/*/*.json") if p.parts[-3] != DIAGNOSTICS)


def recorded_index(results_dir: Path, profile: str) -> dict[str, list[Path]]:
    """Config hash -> every record of this profile with that config (experiments share runs).
    Reads each record once; callers that look up many runs build it once and reuse it."""
    index: dict[str, list[Path]] = {}
    for path in run_record_paths(results_dir, profile):
        index.setdefault(recorded_hash(load_record(path)), []).append(path)
    return index


def find_all_recorded(results_dir: Path, profile: str, digest: str) -> list[Path]:
    """Every record of this profile whose config hash is ``digest`` (experiments share runs)."""
    return recorded_index(results_dir, profile).get(digest, [])


def find_recorded(results_dir: Path, profile: str, digest: str) -> Path | None:
    """Any record of this profile whose config hash is ``digest``."""
    found = find_all_recorded(results_dir, profile, digest)
    return found[0] if found else None


def load_or_train(spec, profile: str, *, retrain: bool, results_dir: Path, runs_dir: Path,
                  artifacts: bool = False, keep_checkpoint: bool = True) -> dict:
    """The record of ``spec`` (an experiments.RunSpec): from disk when its config is recorded,
    else trained (resuming a crashed attempt from its checkpoint) and recorded atomically.

    Without ``keep_checkpoint`` the run's checkpoint is deleted once its record is written
    (its history and result stay beside it)."""
    from .checkpoint import CheckpointError
    from .train import CHECKPOINT, ResumeError, train

    config = spec.config.to_dict()
    digest = config_hash(config)
    path = record_path(results_dir, profile, spec.experiment, spec.name)
    if not retrain:
        if path.exists():
            record = load_record(path)
            has_artifacts = artifacts_path(results_dir, profile, spec.experiment, spec.name).exists()
            if recorded_hash(record) == digest and (has_artifacts or not artifacts):
                return record
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
                write_artifacts(spec, model, record, results_dir, profile)
            record["provenance"] = record["provenance"] | dict(
                experiment=spec.experiment, run=spec.name, variant=spec.variant, seed=spec.seed,
                copied_from=str(shared.relative_to(results_dir)))
            atomic_write_json(path, record)
            return record
    work = Path(runs_dir) / profile / spec.experiment / spec.name
    resume = (work / CHECKPOINT).exists() and not retrain
    print(f"[{profile}] {spec.experiment}/{spec.name}: {'resuming' if resume else 'training'}", flush=True)
    try:  # runs/ is the experiments' own working area: a fresh start replaces what an old attempt left
        outcome = train(spec.config, work, resume=resume, overwrite=not resume)
    except (ResumeError, CheckpointError) as err:
        print(f"[{profile}] {spec.experiment}/{spec.name}: cannot resume ({err}); training afresh", flush=True)
        outcome = train(spec.config, work, overwrite=True)
    record = outcome.record()
    record["provenance"] = record["provenance"] | dict(experiment=spec.experiment, run=spec.name, profile=profile,
                                                       variant=spec.variant, seed=spec.seed, config_hash=digest)
    if artifacts:
        write_artifacts(spec, outcome.model, record, results_dir, profile)
    atomic_write_json(path, record)
    if not keep_checkpoint:
        (work / CHECKPOINT).unlink(missing_ok=True)
    return record


def _model_from_checkpoint(spec, runs_dir: Path, profile: str, shared: Path, results_dir: Path):
    """The trained model of a run recorded under another experiment, from its checkpoint."""
    import torch

    from .train import CHECKPOINT, build_model

    rel = shared.relative_to(Path(results_dir) / profile)
    ckpt = Path(runs_dir) / profile / rel.parent / rel.stem / CHECKPOINT
    if not ckpt.exists():
        return None
    from .checkpoint import load_checkpoint

    state = load_checkpoint(ckpt, map_location="cpu")
    num_classes = state["model"]["fc8.weight"].shape[0] if "fc8.weight" in state["model"] else state["model"]["fc.weight"].shape[0]
    model = build_model(spec.config, num_classes)
    model.load_state_dict(state["model"])
    return model


def write_artifacts(spec, model, record: dict, results_dir: Path, profile: str) -> None:
    """Record Figure 3's and Figure 4's small arrays for this run (see alexnet_core.artifacts)."""
    from .artifacts import figure_artifacts
    from .augment import Augmenter
    from .hardware import resolve_device
    from .train import augment_config, load_data

    train_set, val_set, stats = load_data(spec.config)
    device = resolve_device(spec.config.device)
    arrays = figure_artifacts(model.to(device), train_set, val_set, Augmenter(augment_config(spec.config), stats),
                              device, record["provenance"]["precision"], spec.seed)
    atomic_write_json(artifacts_path(results_dir, profile, spec.experiment, spec.name),
                      arrays | dict(provenance=record["provenance"]))
