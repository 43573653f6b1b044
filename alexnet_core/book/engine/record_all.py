"""Record a whole profile: every distinct run once, several at a time on one device.

Experiments share runs (the reference AlexNet is the same run in five experiments), so a
profile's runs are first reduced to distinct configurations. Each is trained in its own
process (``python -m alexnet_core experiment NAME --only VARIANT``), ``parallel`` at a time:
on a GPU a short eager AlexNet run leaves most of the chip idle, so four runs side by side
finish sooner than four in a row. A final pass in this process loads every experiment, which
copies shared records under each experiment's name and writes the figure artifacts.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from alexnet_core.hardware import resolve_device, resolve_precision
from alexnet_core.inputs import load_data
from alexnet_core.paths import REPO_ROOT, RESULTS_DIR, runs_dir
from alexnet_core.book.engine.records import config_hash, load_record, record_path, recorded_index
from alexnet_core.book.engine.queue import queue
from alexnet_core.book.engine.plan import EXPERIMENTS, RunSpec, data_available, get_profile, profile_for
from alexnet_core.book.engine.run import run_experiment


def distinct_runs(profile: str, results_dir: Path = RESULTS_DIR) -> list[RunSpec]:
    """The runs ``profile`` trains itself, one per configuration, not yet recorded."""
    prof = get_profile(profile)
    recorded = recorded_index(results_dir, prof.name)
    seen: set[str] = set()
    todo = []
    for experiment in EXPERIMENTS.values():
        if profile_for(experiment, prof).name != prof.name:
            continue
        for spec in experiment.runs(prof):
            digest = config_hash(spec.config.to_dict())
            if digest in seen:
                continue
            seen.add(digest)
            if digest not in recorded:
                todo.append(spec)
    return todo


def record_profile(profile: str, *, parallel: int = 1, device: str = "auto", data_root: str | None = None,
                   logs: Path | None = None, threads_per_run: int | None = None) -> list[str]:
    """Train every unrecorded run of ``profile`` (``parallel`` processes at a time), then load
    every experiment once. Returns the names of runs that failed (their logs say why)."""
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ValueError(f"--parallel {parallel!r}: must be a whole number of at least 1 (runs trained side by side)")
    todo = distinct_runs(profile)
    logs = Path(logs or runs_dir() / profile / "logs")
    logs.mkdir(parents=True, exist_ok=True)
    if todo and not (profile == "smoke" and not data_available(data_root)):
        # decode the datasets once here, so the processes below do not race to build the cache
        for family_first in {spec.config.dataset: spec for spec in todo}.values():
            cfg = family_first.config
            cfg.data_root = data_root
            load_data(cfg)
    env = os.environ.copy()
    if threads_per_run:
        env["OMP_NUM_THREADS"] = str(threads_per_run)
    failed, running = [], []
    queue = list(todo)
    print(f"[{profile}] {len(todo)} runs to train, {parallel} at a time", flush=True)
    start = time.time()
    while queue or running:
        while queue and len(running) < parallel:
            spec = queue.pop(0)
            cmd = _experiment_command(spec, profile, device, data_root)
            log = open(logs / f"{spec.experiment}-{spec.name}.log", "w")
            running.append((spec, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
            print(f"  started {spec.experiment}/{spec.name}", flush=True)
        time.sleep(1)
        for item in list(running):
            spec, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                ok = proc.returncode == 0
                if not ok:
                    failed.append(f"{spec.experiment}/{spec.name}")
                print(f"  {'finished' if ok else 'FAILED'} {spec.experiment}/{spec.name} "
                      f"({time.time() - start:.0f} s since start)", flush=True)
    for name in EXPERIMENTS:  # copy shared records under every experiment's name, write artifacts
        try:
            run_experiment(name, profile, data_root=data_root, device=device, progress=False)
        except Exception as err:  # noqa: BLE001 - report and go on: the other experiments still count
            failed.append(f"{name} ({type(err).__name__}: {err})")
    return failed


def record_plan(profile: str, hours: float, *, device: str = "auto", data_root: str | None = None,
                commit: bool = False, logs: Path | None = None, precision: str | None = None,
                runner: Callable[[RunSpec, Path], int] | None = None,
                committer: Callable[[RunSpec, str], None] | None = None) -> list[str]:
    """Train the plan of seeds' queue (:func:`alexnet_core.book.engine.queue.queue`) one run at a
    time within ``hours``: before each run the queue is made again from what is recorded, and the
    first run of it whose expected minutes fit in the time left is trained next (a run after the
    queue's first only if it completes a pair by itself). Each run trains in its own
    process (``experiment NAME --only RUN``; a crashed run resumes from its checkpoint next time).
    With ``precision`` (what this machine trains in: :func:`machine_precision`), the queue is this
    machine's: it never trains a run whose other side ran in another precision (queue.queue).
    With ``commit``, each record is committed as it lands. Returns the runs that failed (training
    stops at the first: its log says why)."""
    if not hours > 0:
        raise ValueError(f"--hours {hours!r}: give the time the recording may take, in hours (above 0)")
    logs = Path(logs or runs_dir() / profile / "logs")
    logs.mkdir(parents=True, exist_ok=True)
    runner = runner or (lambda spec, log: _run_in_process(spec, profile, device, data_root, log))
    committer = committer or (lambda spec, message: _commit_record(spec, profile, message))
    deadline, last = time.time() + hours * 3600, None
    while True:
        _, upcoming = queue(profile, precision=precision)
        if not upcoming:
            print(f"[{profile}] the queue is empty: every claim is settled or at its cap", flush=True)
            return []
        left = (deadline - time.time()) / 60
        # the first that fits, in the queue's order; a later one only if it adds a pair by itself (its
        # partner is recorded), so a run ahead of its turn never waits sessions for its other side
        fitting = [run for i, run in enumerate(upcoming) if run.minutes <= left and (i == 0 or run.completes)]
        if not fitting:
            print(f"[{profile}] next: {upcoming[0].spec.experiment}/{upcoming[0].spec.name}, about "
                  f"{upcoming[0].minutes:.0f} min; no queued run fits in the {left:.0f} min left; stopping", flush=True)
            return []
        next_run = fitting[0]
        if next_run.spec == last:  # trained, yet not recorded: stop rather than train it again
            return [f"{last.experiment}/{last.name} (finished, but no record under its configuration)"]
        spec = last = next_run.spec
        log = logs / f"{spec.experiment}-{spec.name}.log"
        print(f"[{profile}] training {spec.experiment}/{spec.name} (about {next_run.minutes:.0f} min; "
              f"{next_run.reason}); log: {log}", flush=True)
        if runner(spec, log) != 0:
            print(f"[{profile}] FAILED {spec.experiment}/{spec.name}: see {log}", flush=True)
            return [f"{spec.experiment}/{spec.name}"]
        if commit:
            committer(spec, commit_message(spec, profile, next_run.reason))


def machine_precision(device: str = "auto") -> str:
    """The precision this machine trains the profiles' runs in (their configs say ``auto``): bf16
    where the device runs it fast, else fp32 (alexnet_core.hardware)."""
    return resolve_precision("auto", resolve_device(device))


def commit_message(spec: RunSpec, profile: str, reason: str, results_dir: Path = RESULTS_DIR) -> str:
    """What a plan-of-seeds commit says: the run, its errors, and its provenance (commit, machine,
    precision, minutes), so the history alone tells what was measured where."""
    head = f"plan of seeds: {spec.experiment}/{spec.name} recorded ({reason})"
    path = record_path(results_dir, profile, spec.experiment, spec.name)
    if not path.exists():
        return head
    record = load_record(path)
    m, p = record.metrics, record.provenance
    errors = ", ".join(f"{label} {m[key]:.2f}%" for key, label in (("val_top1", "val top-1"), ("val_top5", "top-5"),
                                                                    ("val10_top1", "ten-patch top-1"))
                       if isinstance(m.get(key), (int, float)))
    return (f"{head}\n\n{errors}\ncommit {str(p.get('commit', '?'))[:7]}{' (dirty)' if p.get('dirty') else ''}; "
            f"{p.get('cpu_isa') or p.get('device', '?')}, {p.get('precision', '?')}, {p.get('threads', '?')} threads; "
            f"{p.get('wall_seconds', 0) / 60:.1f} minutes of training"
            + (f"; 15-minute load {p['machine_load_15min']:.1f} at the end (beside the run's own threads)"
               if isinstance(p.get("machine_load_15min"), (int, float)) else ""))


def _experiment_command(spec: RunSpec, profile: str, device: str, data_root: str | None) -> list[str]:
    """The command that trains (or resumes) one run in a process of its own."""
    return [sys.executable, "-m", "alexnet_core", "experiment", spec.experiment, "--profile", profile,
            "--only", spec.name, "--device", device] + (["--data-root", data_root] if data_root else [])


def _run_in_process(spec: RunSpec, profile: str, device: str, data_root: str | None, log: Path) -> int:
    with open(log, "w") as out:
        return subprocess.run(_experiment_command(spec, profile, device, data_root), stdout=out,
                              stderr=subprocess.STDOUT).returncode


def _commit_record(spec: RunSpec, profile: str, message: str) -> None:
    """Commit the experiment's records (the new one, and any record it set aside) and nothing else."""
    folder = (RESULTS_DIR / profile / spec.experiment).relative_to(REPO_ROOT)
    subprocess.run(["git", "add", "--", str(folder)], cwd=REPO_ROOT, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message, "--", str(folder)], cwd=REPO_ROOT, check=True)


__all__ = ["distinct_runs", "record_profile", "record_plan", "machine_precision", "commit_message"]
