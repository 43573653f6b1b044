"""Run records: ``results/<profile>/<experiment>/<run>.json``, each the config, history,
metrics and provenance of one training run; their schema, config hashes and lookup."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from alexnet_core.config import LEGACY_SETTINGS, RUNTIME_ONLY, TrainConfig
from alexnet_core.paths import DIAGNOSTICS


#: Keys of a run record, in this order of importance.
RECORD_KEYS = ("config", "history", "metrics", "provenance")
#: What each key holds.
RECORD_SHAPE = dict(config=dict, history=list, metrics=dict, provenance=dict)
#: Keys a record made since December 2026 also holds: which validation images the final model got
#: right (alexnet_core.train.final_predictions); earlier records lack them.
NEWER_RECORD_KEYS = ("predictions",)


def config_hash(config: dict) -> str:
    """A short hash of everything in a config that changes what is computed (where dropout is
    off, or the net has none, where it rescales changes nothing; without normalisation or with one
    column, whether it stays within a column changes nothing)."""
    inert = set(RUNTIME_ONLY)
    alexnet = config.get("model", "alexnet") == "alexnet"
    if not alexnet or not config.get("dropout", 0.5):
        inert.add("dropout_scaling")
    if not alexnet or not config.get("lrn", True) or config.get("groups", 2) == 1:
        inert.add("lrn_per_column")
    stable = {k: v for k, v in sorted(config.items()) if k not in inert}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()[:16]


def recorded_hash(record: dict) -> str:
    """The config hash of a record, with settings added to TrainConfig after it was made filled
    in with their defaults (a new setting must default to the old behaviour), or, for a setting
    whose default changed the computation (``config.LEGACY_SETTINGS``), with the value the record
    was in fact trained with."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)} | LEGACY_SETTINGS
    return config_hash(defaults | record.get("config", {}))


def record_path(results_dir: Path, profile: str, experiment: str, run: str) -> Path:
    return Path(results_dir) / profile / experiment / f"{run}.json"


def superseded_path(results_dir: Path, profile: str, experiment: str, run: str) -> Path:
    """Where a run's record made under a superseded recipe is kept once the run is recorded under
    the book's recipe (one folder down, so record listings do not count it twice)."""
    return Path(results_dir) / profile / experiment / "superseded" / f"{run}.json"


def keep_superseded(path: Path, superseded: Path) -> None:
    """Move an earlier record at ``path`` aside to ``superseded`` before a new one replaces it."""
    if path.exists():
        superseded.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, superseded)


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
    wrong = [f"{key} is a {type(record[key]).__name__}, not a {kind.__name__}" for key, kind in RECORD_SHAPE.items()
             if not isinstance(record[key], kind)]
    if not wrong and "val_top1" not in record["metrics"]:
        wrong = ["its metrics lack val_top1"]
    if wrong:
        raise RecordError(f"the run record {path} has the wrong shape ({'; '.join(wrong)}); {fix}")
    return record


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


def find_set_aside(results_dir: Path, profile: str, digest: str) -> list[Path]:
    """Records set aside under ``<experiment>/superseded/`` whose config hash is ``digest``."""
    return [p for p in sorted(Path(results_dir).glob(f"{profile}/*/superseded/*.json"))
            if recorded_hash(load_record(p)) == digest]


def find_all_recorded(results_dir: Path, profile: str, digest: str) -> list[Path]:
    """Every record of this profile whose config hash is ``digest`` (experiments share runs)."""
    return recorded_index(results_dir, profile).get(digest, [])
