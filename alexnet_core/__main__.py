"""Command line: ``python -m alexnet_core train|evaluate ...``. Logic lives in the modules it calls."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .book.engine.diagnostics import diagnostics_path, early_steps, recipe_start, study_path
from .book.engine.plan import EXPERIMENTS, PROFILES, get_profile
from .book.engine.run import run_experiment
from .book.engine.queue import plan_text, queue
from .book.engine.record_all import machine_precision, record_plan, record_profile
from .book.reproduce import ReproduceError, reproduce
from .book.engine.records import MISSING, RECORDED, best_recorded_profile, run_states
from .checkpoint import CheckpointError, CheckpointWriteError
from .config import add_config_arguments, config_from_args
from .data import DataError
from .files import atomic_write_json
from .run_folder import RunFolderError
from .train import ResumeError, TrainingDiverged, evaluate_checkpoint, train


class _Parser(argparse.ArgumentParser):
    """argparse whose errors point at --help."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for every flag.\n")


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Appends each flag's default unless its help already says it or there is none (None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or action.default is None:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m alexnet_core",
                     description="AlexNet (Krizhevsky, Sutskever & Hinton 2012), replicated.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_run_commands(commands)
    _add_book_commands(commands)
    _add_diagnostic_commands(commands)
    listing = commands.add_parser("list", help="list the experiments and the runs each needs per profile")
    listing.add_argument("--profile", default=None,
                         help="also say, per experiment, which of this profile's runs are recorded and which are "
                              "missing")
    return parser


def _data_and_device(parser: argparse.ArgumentParser, devices: tuple | None = ("auto", "cpu", "cuda")) -> None:
    parser.add_argument("--data-root", default=None, help="folder holding the datasets (default: $ALEXNET_DATA)")
    parser.add_argument("--device", default="auto", choices=devices)


def _add_run_commands(commands) -> None:
    train = commands.add_parser("train", help="train one model (section 5's learning rule)",
                                formatter_class=_DefaultsHelp)
    train.add_argument("--out", required=True, help="folder for checkpoint.pt, history.jsonl and result.json")
    train.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out (without it such a folder is refused)")
    add_config_arguments(train)
    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint: centre crop and ten patches")
    evaluate.add_argument("checkpoint", help="a checkpoint.pt written by train")
    evaluate.add_argument("--dataset", default=None, help="where the dataset it was trained on is now, if it moved "
                          "(a name or a path, as for train; default: the checkpoint's)")
    _data_and_device(evaluate, devices=None)


def _add_book_commands(commands) -> None:
    rep = commands.add_parser("reproduce", help="execute the book's notebooks under a profile, then build the book")
    rep.add_argument("--profile", default="best", help="smoke, cpu, gpu, imagenet, or best (the best recorded)")
    rep.add_argument("--retrain", action="store_true", help="retrain runs even when they are recorded")
    rep.add_argument("--only", nargs="+", default=None, help="execute only these notebooks (names without .md)")
    _data_and_device(rep)
    rep.add_argument("--no-build", action="store_true", help="execute the notebooks but do not build the book")
    exp = commands.add_parser("experiment", help="train (or load) the runs of one experiment under a profile")
    exp.add_argument("name", help="an experiment of alexnet_core.book.engine.plan (see 'list')")
    exp.add_argument("--profile", required=True)
    exp.add_argument("--retrain", action="store_true")
    exp.add_argument("--only", nargs="+", default=None, help="only these runs or variants")
    _data_and_device(exp)
    rec = commands.add_parser("record", help="train every unrecorded run of a profile, several at a time")
    rec.add_argument("--profile", required=True)
    rec.add_argument("--parallel", type=int, default=1, help="runs trained side by side (processes)")
    rec.add_argument("--threads-per-run", type=int, default=None, help="OMP_NUM_THREADS for each run")
    rec.add_argument("--plan", action="store_true", help="train the plan of seeds' queue instead (see 'plan'), one "
                     "run at a time, re-planned after each, within --hours")
    rec.add_argument("--hours", type=float, default=None, help="with --plan: the time the recording may take")
    rec.add_argument("--commit", action="store_true", help="with --plan: git-commit each record as it lands")
    _data_and_device(rec)
    plan = commands.add_parser("plan", help="each claim's pairs, interval and verdict, and the queue of runs that "
                               "would settle the open claims soonest, with their expected minutes")
    plan.add_argument("--profile", required=True)
    plan.add_argument("--show", type=int, default=40, help="queue entries to print")
    plan.add_argument("--precision", choices=("machine", "any"), default="machine",
                      help="machine (default): the queue this machine would train, passing over seeds whose "
                      "recorded side ran in another precision (a pair is trained in one precision); any: every seed")


def _add_diagnostic_commands(commands) -> None:
    early = commands.add_parser("early-steps", help="the first steps of each variant of an experiment: per-step "
                                "loss and dead ReLU units, over seeds and learning rates (results/diagnostics/)")
    early.add_argument("name", help="an experiment of alexnet_core.book.engine.plan (see 'list')")
    early.add_argument("--profile", required=True)
    early.add_argument("--steps", type=int, default=30, help="training steps per run")
    early.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    early.add_argument("--lrs", default=None, help="comma-separated learning rates (default: the profile's)")
    _data_and_device(early)
    study = commands.add_parser("recipe-start", help="the first steps of AlexNet's variants under each recipe "
                                "(printed, coded), lr and seed: where the loss leaves chance, dead units "
                                "(results/diagnostics/<profile>/recipe-start.json; resumes)")
    study.add_argument("--profile", required=True)
    study.add_argument("--recipes", default="printed,coded", help="comma-separated recipe presets")
    study.add_argument("--variants", default="reference,no-dropout", help="comma-separated AlexNet variants")
    study.add_argument("--lrs", default="0.01,0.003", help="comma-separated learning rates")
    study.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    study.add_argument("--steps", type=int, default=146, help="training steps per run (146: two Imagenette epochs)")
    study.add_argument("--dropout-scalings", default="test", help="comma-separated dropout forms: test (the "
                       "paper's: no rescaling in training, x0.5 at test) and/or train (nn.Dropout's inverted form)")
    _data_and_device(study)


def _seeds_and_lrs(args: argparse.Namespace) -> tuple[tuple[int, ...], tuple[float, ...] | None]:
    try:
        return (tuple(int(v) for v in args.seeds.split(",")),
                tuple(float(v) for v in args.lrs.split(",")) if args.lrs else None)
    except ValueError as err:
        raise ValueError(f"--seeds takes integers and --lrs numbers, comma-separated ({err})") from err


def _train(args: argparse.Namespace) -> int:
    if args.resume and args.overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: give one of them")
    outcome = train(config_from_args(args), args.out, resume=args.resume, overwrite=args.overwrite)
    if outcome.metrics:
        print(json.dumps(outcome.metrics, indent=2, sort_keys=True))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    print(json.dumps(evaluate_checkpoint(Path(args.checkpoint), args.data_root, args.device, args.dataset), indent=2))
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    profile = best_recorded_profile() if args.profile == "best" else args.profile
    reproduce(profile, retrain=args.retrain, only=args.only, data_root=args.data_root, device=args.device,
              build=not args.no_build)
    return 0


def _experiment(args: argparse.Namespace) -> int:
    for record in run_experiment(args.name, args.profile, data_root=args.data_root, device=args.device,
                                 retrain=args.retrain, only=args.only):
        m = record.metrics
        print(f"{record.found.run:<28} val top-1 {m['val_top1']:6.2f}%  top-5 {m['val_top5']:6.2f}%")
    return 0


def _record(args: argparse.Namespace) -> int:
    if args.plan != (args.hours is not None):
        raise ValueError("--plan and --hours go together: 'record --profile cpu --plan --hours 2' trains the "
                         "plan of seeds' queue for two hours")
    if args.commit and not args.plan:
        raise ValueError("--commit commits each record of the plan of seeds: give it with --plan --hours H")
    if args.plan:
        precision = machine_precision(args.device)
        print(f"[{get_profile(args.profile).name}] this machine trains in {precision}: the queue passes over seeds "
              "whose recorded side ran in another precision", flush=True)
        failed = record_plan(get_profile(args.profile).name, args.hours, device=args.device,
                             data_root=args.data_root, commit=args.commit, precision=precision)
        for name in failed:
            print(f"failed: {name}", file=sys.stderr)
        return 1 if failed else 0
    failed = record_profile(args.profile, parallel=args.parallel, device=args.device, data_root=args.data_root,
                            threads_per_run=args.threads_per_run)
    for name in failed:
        print(f"failed: {name}", file=sys.stderr)
    return 1 if failed else 0


def _plan(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile).name
    precision = None if args.precision == "any" else machine_precision("auto")
    print(plan_text(profile, *queue(profile, precision=precision), shown=args.show, precision=precision))
    return 0


def _early_steps(args: argparse.Namespace) -> int:
    seeds, lrs = _seeds_and_lrs(args)
    result = early_steps(args.name, args.profile, steps=args.steps, seeds=seeds, lrs=lrs,
                         data_root=args.data_root, device=args.device)
    path = diagnostics_path(result["profile"], args.name)
    atomic_write_json(path, result)
    print(f"written {path}")
    return 0


def _recipe_start(args: argparse.Namespace) -> int:
    seeds, lrs = _seeds_and_lrs(args)
    recipe_start(args.profile, recipes=tuple(args.recipes.split(",")), lrs=lrs,
                 variants=tuple(args.variants.split(",")), seeds=seeds, steps=args.steps,
                 data_root=args.data_root, device=args.device,
                 dropout_scalings=tuple(args.dropout_scalings.split(",")))
    print(f"written {study_path(args.profile)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    states = run_states(get_profile(args.profile).name) if args.profile else {}
    for exp in EXPERIMENTS.values():
        counts = ", ".join(f"{p}: {len(exp.runs(p))}" for p in PROFILES)
        print(f"{exp.name:<18} section {exp.section:<4} runs per profile ({counts})  {exp.title}")
        if exp.name in states:
            print(f"{'':<18} {run_state_summary(states[exp.name], exp.pending)}")
    return 0


def run_state_summary(states: dict[str, str], pending: bool = False) -> str:
    """'3 of 4 recorded; missing: no-lrn-s1' for one experiment's runs."""
    line = f"{sum(s == RECORDED for s in states.values())} of {len(states)} recorded"
    missing = [run for run, s in states.items() if s == MISSING]
    if missing:
        line += f"; {MISSING}: {', '.join(missing)}"
    return line + (" (pending: shown as recorded so far)" if pending else "")


COMMANDS = {"train": _train, "evaluate": _evaluate, "reproduce": _reproduce, "experiment": _experiment,
            "record": _record, "plan": _plan, "early-steps": _early_steps, "recipe-start": _recipe_start, "list": _list}

#: Errors about the state on disk (exit 3); input and setting errors exit 2.
STATE_ERRORS = (TrainingDiverged, ResumeError, ReproduceError, CheckpointWriteError, CheckpointError, RunFolderError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except (DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        print(f"error: {err}; the book's packages install with `make install` "
              "(pip install -e '.[book,test]')", file=sys.stderr)
        return 2
    except STATE_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
