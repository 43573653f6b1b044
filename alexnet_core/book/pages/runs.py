"""How long every recorded run took and on what, from the records' provenance (the runs page
and the reproduce page's table)."""
from __future__ import annotations

from pathlib import Path

from alexnet_core.files import atomic_write_text
from alexnet_core.paths import GENERATED, REPO_ROOT, RESULTS_DIR
from alexnet_core.book.engine.records import load_record, run_record_paths


def run_rows(results_dir: Path = RESULTS_DIR) -> list[dict]:
    """One row per committed run record (smoke records, made afresh by every build, are left
    out): profile, experiment, run, epochs, minutes (None for a run shared from another
    experiment), device with its instruction set, precision, commit, date, and whether it
    was shared or resumed; ``seconds`` and ``device_name`` keep the raw values."""
    rows = []
    for path in run_record_paths(results_dir):
        if path.parts[-3] == "smoke":
            continue
        record = load_record(path)
        prov = record.provenance
        shared = record.copied_from  # the same run, recorded once and shown under several experiments
        rows.append(dict(profile=path.parts[-3], experiment=path.parts[-2], run=path.stem,
                         epochs=len(record.history),
                         minutes=float("nan") if shared else round(prov.get("wall_seconds", float("nan")) / 60, 1),
                         device=prov.get("device", "?") + (f", {prov['cpu_isa']}" if prov.get("cpu_isa") else ""),
                         precision=prov.get("precision", "?"),
                         commit=prov.get("commit", "?")[:8], date=prov.get("date", "?")[:10],
                         shared=f"same run as {shared}" if shared else "",
                         resumed=f"after epoch {prov['resumed_after_epoch']}" if prov.get("resumed_after_epoch") else "",
                         seconds=float(prov.get("wall_seconds") or 0.0), device_name=prov.get("device", "?")))
    return rows


#: The columns of :func:`run_rows` the runs page shows.
SHOWN = ("profile", "experiment", "run", "epochs", "minutes", "device", "precision", "commit", "date", "shared",
         "resumed")


def runs_table(results_dir: Path = RESULTS_DIR):
    """The columns :data:`SHOWN` of :func:`run_rows`, one row per recorded run (what section 5's
    "five to six days" costs here), as the runs page's styled table (a shared run's minutes shown
    as "(shared)"); None where no run is recorded."""
    import pandas as pd

    runs = pd.DataFrame(run_rows(results_dir), columns=SHOWN)
    if runs.empty:
        return None
    return runs.style.hide(axis="index").format({"minutes": "{:.1f}"}, na_rep="(shared)")


def run_time_table(results_dir: Path = RESULTS_DIR) -> str:
    """A markdown table, from the records' provenance, of how long each recorded experiment's
    runs took and on what (smoke records, made afresh by every build, are left out). A run
    shared by several experiments is counted once, where it was trained."""

    rows: dict[tuple[str, str], dict] = {}
    for run in run_rows(results_dir):
        row = rows.setdefault((run["profile"], run["experiment"]), dict(runs=0, trained=0, seconds=0.0, device=set(),
                                                                        precision=set(), dates=set()))
        row["runs"] += 1
        row["device"].add(run["device_name"])
        row["precision"].add(run["precision"])
        row["dates"].add(run["date"])
        if not run["shared"]:
            row["trained"] += 1
            row["seconds"] += run["seconds"]
    if not rows:
        return "No run is recorded under `results/` yet.\n"
    lines = ["| profile | experiment | runs shown | trained for it | minutes | hardware | precision | date |",
             "|---|---|---|---|---|---|---|---|"]
    totals: dict[str, float] = {}
    for (profile, experiment), r in rows.items():
        totals[profile] = totals.get(profile, 0.0) + r["seconds"]
        lines.append(f"| {profile} | {experiment} | {r['runs']} | {r['trained']} | {r['seconds'] / 60:.1f} | "
                     f"{', '.join(sorted(r['device']))} | {', '.join(sorted(r['precision']))} | "
                     f"{', '.join(sorted(r['dates']))} |")
    summary = "; ".join(f"`{p}`: {t / 60:.0f} minutes of training" for p, t in totals.items())
    return "\n".join(lines) + f"\n\nIn all: {summary}.\n"


def write_run_times(root: Path = REPO_ROOT) -> Path:
    """Write :func:`run_time_table` where ``book/reproduce.md`` includes it."""
    path = root / GENERATED / "run_times.md"
    atomic_write_text(path, run_time_table(root / "results"))
    return path
