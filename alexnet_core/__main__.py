"""Command line: ``python -m alexnet_core train|evaluate ...``. Logic lives in the modules it calls."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import add_config_arguments, config_from_args
from .data import DataError


class _Parser(argparse.ArgumentParser):
    """argparse whose errors point at --help."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for every flag.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m alexnet_core",
                     description="AlexNet (Krizhevsky, Sutskever & Hinton 2012), replicated.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train one model (section 5's learning rule)",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--out", required=True, help="folder for checkpoint.pt, history.jsonl and result.json")
    train.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    add_config_arguments(train)

    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint: centre crop and ten patches")
    evaluate.add_argument("checkpoint", help="a checkpoint.pt written by train")
    evaluate.add_argument("--data-root", default=None, help="folder holding the datasets (default: $ALEXNET_DATA)")
    evaluate.add_argument("--device", default="auto")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            from .train import train

            outcome = train(config_from_args(args), args.out, resume=args.resume)
            if outcome.metrics:
                print(json.dumps(outcome.metrics, indent=2, sort_keys=True))
            return 0
        if args.command == "evaluate":
            from .train import evaluate_checkpoint

            print(json.dumps(evaluate_checkpoint(Path(args.checkpoint), args.data_root, args.device), indent=2))
            return 0
    except KeyboardInterrupt:
        return 130
    except (DataError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        from .train import ResumeError, TrainingDiverged

        if isinstance(err, (TrainingDiverged, ResumeError)):
            print(f"error: {err}", file=sys.stderr)
            return 3
        raise
    return 1


if __name__ == "__main__":
    sys.exit(main())
