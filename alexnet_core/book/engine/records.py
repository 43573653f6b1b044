"""Run records: ``results/<profile>/<experiment>/<run>.json``, each the config, history,
metrics and provenance of one training run; their schema, config hashes and lookup."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import hashlib
import json
import os
from pathlib import Path

from alexnet_core.config import LEGACY_SETTINGS, RUNTIME_ONLY, TrainConfig
from alexnet_core.paths import DIAGNOSTICS, RESULTS_DIR
from alexnet_core.book.engine.plan import (EXPERIMENTS, RunSpec, get_experiment,
                                          get_profile, profile_for)


#: Keys of a run record, in this order of importance.
RECORD_KEYS = ("config", "history", "metrics", "provenance")
#: What each key holds.
RECORD_SHAPE = dict(config=dict, history=list, metrics=dict, provenance=dict)
#: Keys a record made since December 2026 also holds: which validation images the final model got
#: right (alexnet_core.train.final_predictions); earlier records lack them.
NEWER_RECORD_KEYS = ("predictions",)


@dataclass
class Found:
    """How the book found a record, kept apart from where its numbers came from (provenance):
    the run it stands for, and whether it is shared with another experiment (``copied_from``,
    the record it was copied from)."""

    experiment: str | None = None
    run: str | None = None
    variant: str | None = None
    seed: int | None = None
    copied_from: str | None = None


@dataclass
class Record:
    """One training run as recorded (``results/<profile>/<experiment>/<run>.json``): its config,
    its history (one entry per epoch), its final metrics, its provenance (commit, hardware,
    precision, time), which validation images it got right where recorded, and how the book found
    it (:class:`Found`)."""

    config: dict
    history: list[dict]
    metrics: dict
    provenance: dict
    predictions: dict | None = None
    found: Found = field(default_factory=Found)

    @classmethod
    def from_dict(cls, data: dict, found: Found | None = None) -> "Record":
        """A record from its JSON form; a copy written before December 2026 kept ``copied_from``
        in its provenance, a newer one under ``found``."""
        stored = Found(**data.get("found", {}))
        stored.copied_from = stored.copied_from or data.get("provenance", {}).get("copied_from")
        return cls(data.get("config", {}), data.get("history", []), data.get("metrics", {}), data.get("provenance", {}),
                   data.get("predictions"), found or stored)

    def to_dict(self) -> dict:
        """The JSON form written to disk (``found`` only where the record is a copy)."""
        out = dict(config=self.config, history=self.history, metrics=self.metrics, provenance=self.provenance)
        if self.predictions is not None:
            out["predictions"] = self.predictions
        if self.found.copied_from and "copied_from" not in self.provenance:
            out["found"] = {k: v for k, v in dataclasses.asdict(self.found).items() if v is not None}
        return out

    def found_as(self, **lookup) -> "Record":
        """This record as a lookup found it for one run (a variant and seed of an experiment)."""
        return dataclasses.replace(self, found=dataclasses.replace(self.found, **lookup))

    @property
    def variant(self) -> str:
        """The variant it stands for: the lookup's, else the one it was trained as."""
        return self.found.variant or self.provenance.get("variant", self.provenance.get("run", "?"))

    @property
    def seed(self) -> int | None:
        found = self.found.seed
        return found if found is not None else self.provenance.get("seed", self.config.get("seed"))

    @property
    def copied_from(self) -> str | None:
        return self.found.copied_from


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


def recorded_hash(record: Record | dict) -> str:
    """The config hash of a record (:func:`recorded_config_hash` of its config)."""
    return recorded_config_hash(record.config if isinstance(record, Record) else record.get("config", {}))


def recorded_config_hash(config: dict) -> str:
    """The hash of a recorded config, with settings added to TrainConfig after it was made filled
    in with their defaults (a new setting must default to the old behaviour), or, for a setting
    whose default changed the computation (``config.LEGACY_SETTINGS``), with the value the record
    was in fact trained with."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)} | LEGACY_SETTINGS
    return config_hash(defaults | config)


def network_key(config: dict) -> str:
    """A recorded config's hash with its seed left out: the same network and recipe, any seed."""
    return recorded_config_hash(config | {"seed": 0})


def record_path(results_dir: Path, profile: str, experiment: str, run: str) -> Path:
    return Path(results_dir) / profile / experiment / f"{run}.json"


def superseded_path(results_dir: Path, profile: str, experiment: str, run: str) -> Path:
    """Where a run's earlier record is kept once a new one replaces it (one folder down, so record
    listings do not count it twice)."""
    return Path(results_dir) / profile / experiment / "superseded" / f"{run}.json"


def keep_superseded(path: Path, superseded: Path) -> None:
    """Move an earlier record at ``path`` aside to ``superseded`` before a new one replaces it; a
    record set aside there before moves beside it, named by its config hash, so no record is lost."""
    if path.exists():
        superseded.parent.mkdir(parents=True, exist_ok=True)
        if superseded.exists():
            os.replace(superseded, superseded.with_name(f"{superseded.stem}.{recorded_hash(load_record(superseded))}.json"))
        os.replace(path, superseded)


def artifacts_path(results_dir: Path, profile: str, experiment: str, run: str) -> Path:
    """Small arrays for figures live one folder down, apart from the run records."""
    return Path(results_dir) / profile / experiment / "artifacts" / f"{run}.json"


def load_artifacts(results_dir: Path, profile: str, experiment: str, run: str) -> dict | None:
    path = artifacts_path(results_dir, profile, experiment, run)
    return json.loads(path.read_text()) if path.exists() else None


def artifacts_match(results_dir: Path, profile: str, experiment: str, run: str, digest: str) -> bool:
    """Whether a run's figure arrays are recorded and were computed from the model of config
    ``digest`` (the config hash in their provenance; arrays that name none are taken as they are)."""
    arrays = load_artifacts(results_dir, profile, experiment, run)
    return arrays is not None and arrays.get("provenance", {}).get("config_hash", digest) == digest


class RecordError(ValueError):
    """A run record under results/ cannot be read; the message names the file and the fix."""


def load_record(path: Path) -> Record:
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
    return Record.from_dict(record)


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


def set_aside_superseded(spec, path: Path, results_dir: Path, profile: str) -> None:
    """Before ``spec``'s new record takes ``path``, keep the one there if another config made it
    (an earlier recipe's, say): :func:`keep_superseded` moves it aside, so no record is lost."""
    if path.exists() and recorded_hash(load_record(path)) != config_hash(spec.config.to_dict()):
        keep_superseded(path, superseded_path(results_dir, profile, spec.experiment, spec.name))


def book_runs(name: str, profile: str, results_dir: Path | None = None,
              index: dict[str, list[Path]] | None = None) -> list[RunSpec]:
    """The runs the book shows of experiment ``name`` under ``profile``: the declared ones, and,
    once every declared run is recorded, each further run of the plan of seeds (engine.queue) that
    is recorded, at a seed where at least one claim of the experiment has both
    sides recorded. Only recorded runs are added, so the book never trains one of them."""
    experiment, prof = get_experiment(name), get_profile(profile)
    declared = experiment.runs(prof)
    extra = [s for s in experiment.planned_runs(prof) if s.seed not in experiment.declared_seeds(prof)]
    if not extra or not experiment.effects:
        return declared
    index = recorded_index(results_dir or RESULTS_DIR, prof.name) if index is None else index

    def recorded(spec: RunSpec) -> bool:
        return config_hash(spec.config.to_dict()) in index

    if not all(map(recorded, declared)):
        return declared
    have = {(s.seed, s.variant) for s in extra if recorded(s)}
    paired = {seed for seed, _ in have
              if any((seed, e.reference) in have and (seed, e.ablated) in have for e in experiment.effects)}
    return declared + [s for s in extra if s.seed in paired and (s.seed, s.variant) in have]


def recorded_runs(name: str, profile: str, results_dir: Path | None = None) -> list[Record]:
    """The runs of experiment ``name`` that ``profile`` itself has recorded (under any
    experiment's name); never trains. For showing a second profile beside the book's, and for
    the seed spread."""
    experiment = get_experiment(name)
    prof = get_profile(profile)
    if experiment.family not in prof.families:
        return []
    index = recorded_index(results_dir or RESULTS_DIR, prof.name)
    records = []
    for spec in book_runs(name, prof.name, results_dir, index):
        paths = index.get(config_hash(spec.config.to_dict()))
        if paths:
            records.append(load_record(paths[0]).found_as(experiment=spec.experiment, run=spec.name,
                                                          variant=spec.variant, seed=spec.seed))
    return records


def planned_records(name: str, profile: str, results_dir: Path | None = None,
                    index: dict[str, list[Path]] | None = None) -> list[Record]:
    """The runs of experiment ``name`` that ``profile`` has recorded under their own configuration
    (the book's recipe), for every seed the plan of seeds may give it
    (:meth:`Experiment.planned_runs`); never trains. ``index``: a :func:`recorded_index` to reuse."""
    prof = get_profile(profile)
    index = recorded_index(results_dir or RESULTS_DIR, prof.name) if index is None else index
    records = []
    for spec in get_experiment(name).planned_runs(prof):
        paths = index.get(config_hash(spec.config.to_dict()))
        if paths:
            records.append(load_record(paths[0]).found_as(experiment=spec.experiment, run=spec.name,
                                                          variant=spec.variant, seed=spec.seed))
    return records


def family_records(family: str, profile: str, results_dir: Path | None = None) -> list[Record]:
    """Every recorded run of the experiments of ``family`` ('cifar' or 'alexnet') that ``profile``
    shows (its own, or its fallback's); never trains. A run shared by several
    experiments appears once per experiment: :func:`analysis.by_config` counts it once."""
    records = []
    for exp in EXPERIMENTS.values():
        if exp.family == family:
            records += recorded_runs(exp.name, profile_for(exp, profile).name, results_dir)
    return records


RECORDED, MISSING = "recorded", "missing"


def run_state(spec, index: dict[str, list[Path]], results_dir: Path | None = None, profile: str | None = None) -> str:
    """Whether a run (an experiments.RunSpec) is recorded under its own config or not at all. A run
    whose figures need their arrays (``Experiment.artifacts``: Figures 3 and 4 read them) counts as
    recorded only with arrays of its own config under ``results_dir``'s ``profile``: without them the
    book would train it again."""
    digest = config_hash(spec.config.to_dict())
    if digest not in index:
        return MISSING
    if profile is not None and get_experiment(spec.experiment).records_artifacts(spec.variant):
        found = artifacts_match(results_dir or RESULTS_DIR, profile, spec.experiment, spec.name, digest)
        return RECORDED if found else MISSING
    return RECORDED


def _runs_with_index(profile: str, results_dir: Path):
    """(experiment, profile, run spec, record index) for every run, each experiment under the
    profile it takes its runs from; each profile's records are read once."""
    indexes: dict[str, dict] = {}  # profile -> config hash -> record paths
    for e in EXPERIMENTS.values():
        prof = profile_for(e, profile).name
        if prof not in indexes:
            indexes[prof] = recorded_index(results_dir, prof)
        for spec in e.runs(prof):
            yield e, prof, spec, indexes[prof]


def run_states(profile: str, results_dir: Path = RESULTS_DIR) -> dict[str, dict[str, str]]:
    """Experiment -> run -> :func:`run_state`, each experiment under the profile it takes its
    runs from (what ``python -m alexnet_core list --profile`` prints)."""
    states: dict[str, dict[str, str]] = {name: {} for name in EXPERIMENTS}
    for e, prof, spec, index in _runs_with_index(profile, results_dir):
        states[e.name][spec.name] = run_state(spec, index, results_dir, prof)
    return states


def _book_run_states(profile: str, results_dir: Path) -> dict[tuple[str, str], str]:
    """(profile, config hash) -> :func:`run_state` of the runs the book needs: a run shared by
    experiments counts once, and experiments still pending do not count (the book shows what they have)."""
    return {(prof, config_hash(spec.config.to_dict())): run_state(spec, index, results_dir, prof)
            for e, prof, spec, index in _runs_with_index(profile, results_dir) if not e.pending}


def recorded_fraction(profile: str, results_dir: Path = RESULTS_DIR) -> float:
    """Share of a profile's runs (over every experiment, each under the profile it takes its
    runs from) that have a record, under their own name or shared with another experiment.
    Experiments whose runs are still pending do not count: the book shows what they have."""
    states = _book_run_states(profile, results_dir)
    return sum(state == RECORDED for state in states.values()) / len(states) if states else 0.0


def best_recorded_profile(results_dir: Path = RESULTS_DIR) -> str:
    """gpu if every gpu run is recorded, else cpu if every cpu run is, else smoke.

    A partly recorded profile is not chosen, so ``make book`` never starts hours of
    training by surprise; it says what is recorded and how to complete it.
    """
    fractions = {profile: recorded_fraction(profile, results_dir) for profile in ("gpu", "cpu")}
    for profile, fraction in fractions.items():
        if fraction == 1.0:
            return profile
    for profile, fraction in fractions.items():
        if fraction > 0:
            print(f"note: the {profile} profile is {100 * fraction:.0f}% recorded; "
                  f"'make reproduce PROFILE={profile}' trains the rest, then 'make book' renders it", flush=True)
    return "smoke"
