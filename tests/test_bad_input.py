"""Bad input and faults, as a new user meets them: one table, one row per case.

Every row runs the command line in this process and checks the exit code, that the message
names the problem and the fix, that no traceback is printed, and that nothing is lost: the
files of an earlier run (checkpoint, history, result) and records are byte for byte as they
were. A few rows exercise the package's functions where no command reaches the case.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet_core.__main__ import main
from alexnet_core.checkpoint import CHECKPOINT, CheckpointError, load_checkpoint
from alexnet_core.config import TrainConfig
from alexnet_core.book.engine.records import RecordError, recorded_index
from alexnet_core.run_folder import claim_run_folder

from conftest import write_image_folder

#: A run of a few seconds: the CIFAR net on synthetic 32x32 images.
TINY = ["--dataset", "synthetic", "--model", "cifarnet", "--limit-train", "32", "--limit-val", "16",
        "--batch-size", "16", "--epochs", "1", "--device", "cpu", "--precision", "fp32", "--no-progress",
        "--no-ten-crop", "--threads", "2"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """One finished tiny run (checkpoint.pt, history.jsonl, result.json); rows copy it."""
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


# --------------------------------------------------------------------------- helpers

def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and a hash of its bytes: what "nothing lost" compares."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def read_only(folder: Path):
    """Make ``folder`` unwritable, even for root (chattr +i), or skip where that cannot be done."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    else:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        undo = lambda: subprocess.run(["chattr", "-i", str(folder)], capture_output=True)  # noqa: E731
        if done.returncode:
            pytest.skip(f"cannot make a folder read-only for root here: {done.stderr.decode().strip()}")
    try:
        try:
            (folder / ".probe").write_bytes(b"")
        except OSError:
            pass
        else:
            (folder / ".probe").unlink()
            pytest.skip("this file system lets the folder be written anyway")
        yield folder
    finally:
        undo()


class Payload:
    """Pickles to a call of ``os.system``: a crafted checkpoint. Running it creates the marker."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def crafted_checkpoint(path: Path) -> Path:
    marker = path.parent / "PWNED"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        torch.save({"epoch": 1, "config": {}, "model": Payload(marker)}, f, pickle_module=pickle)
    return marker


def copy_run(trained: Path, tmp: Path) -> Path:
    out = tmp / "run"
    shutil.copytree(trained, out)
    return out


def cifar_like_folder(root: Path, classes=("cat", "dog")) -> Path:
    write_image_folder(root, "train", classes=classes, per_class=8, size=(32, 32))
    write_image_folder(root, "val", classes=classes, per_class=4, size=(32, 32), seed=1)
    return root


def cifarnet_on(folder: Path) -> list[str]:
    return ["--dataset", str(folder), "--model", "cifarnet", "--batch-size", "8", "--epochs", "1", "--device", "cpu",
            "--precision", "fp32", "--no-progress", "--no-ten-crop", "--no-pca-colour", "--threads", "2"]


# --------------------------------------------------------------------------- the table

@dataclass
class Case:
    """``setup(tmp, trained)`` prepares the situation and returns the command line (or a callable
    that raises); ``watch`` names the folder whose files must survive unchanged."""

    setup: Callable[[Path, Path], list[str] | Callable[[], object]]
    code: int | type[BaseException]
    says: tuple[str, ...]
    watch: str | None = None
    after: Callable[[Path, str], None] | None = None
    not_says: tuple[str, ...] = ()
    marks: list = field(default_factory=list)


def _no_payload_ran(tmp: Path, out: str) -> None:
    assert not list(tmp.rglob("PWNED")), "the crafted checkpoint's code ran"


def _nothing_decoded(tmp: Path, out: str) -> None:
    cache = Path(os.environ["ALEXNET_CACHE"])
    assert not any(tmp.name in p.read_text() for p in cache.glob("*.json")), "images were decoded before the check"


def _no_epoch_trained(tmp: Path, out: str) -> None:
    assert "epoch   1" not in out, "an epoch was trained before the problem was found"


def _crafted_resume(tmp: Path, trained: Path) -> list[str]:
    out = copy_run(trained, tmp)
    crafted_checkpoint(out / CHECKPOINT)
    return ["train", *TINY, "--out", str(out), "--resume"]


def _crafted_evaluate(tmp: Path, trained: Path) -> list[str]:
    crafted_checkpoint(tmp / "evil" / CHECKPOINT)
    return ["evaluate", str(tmp / "evil" / CHECKPOINT)]


def _val_lacks_a_class(tmp: Path, trained: Path) -> list[str]:
    root = tmp / "shifted"
    write_image_folder(root, "train", classes=("airplane", "cat", "dog"), per_class=4, size=(32, 32))
    write_image_folder(root, "val", classes=("cat", "dog"), per_class=2, size=(32, 32), seed=1)
    return ["train", *cifarnet_on(root), "--out", str(tmp / "out")]


def _cache_made_with_skip_corrupt(tmp: Path, trained: Path) -> list[str]:
    root = cifar_like_folder(tmp / "withbad")
    (root / "train" / "cat" / "broken.jpg").write_bytes(b"not a jpeg")
    assert main(["train", *cifarnet_on(root), "--skip-corrupt", "--out", str(tmp / "first")]) == 0
    result = json.loads((tmp / "first" / "result.json").read_text())
    skipped = result["provenance"]["skipped_images"]
    assert [v["count"] for v in skipped.values()] == [1] and "broken.jpg" in json.dumps(skipped)
    return ["train", *cifarnet_on(root), "--out", str(tmp / "second")]


def _only_train_split(tmp: Path, trained: Path) -> list[str]:
    root = tmp / "trainonly"
    write_image_folder(root, "train", per_class=4, size=(32, 32))
    return ["train", *cifarnet_on(root), "--out", str(tmp / "out")]


def _concurrent(tmp: Path, trained: Path) -> Callable[[], object]:
    out = tmp / "busy"

    def second_run_while_the_first_writes():
        with claim_run_folder(out):
            return main(["train", *TINY, "--out", str(out)])
    return second_run_while_the_first_writes


def _fresh_run_on_existing(tmp: Path, trained: Path) -> list[str]:
    return ["train", *TINY, "--out", str(copy_run(trained, tmp))]


def _truncated(tmp: Path, trained: Path) -> list[str]:
    out = copy_run(trained, tmp)
    data = (out / CHECKPOINT).read_bytes()
    (out / CHECKPOINT).write_bytes(data[: len(data) // 2])
    return ["train", *TINY, "--out", str(out), "--resume"]


def _bad_resume(content: bytes) -> Callable[[Path, Path], list[str]]:
    def setup(tmp: Path, trained: Path) -> list[str]:
        out = copy_run(trained, tmp)
        (out / CHECKPOINT).write_bytes(content)
        return ["train", *TINY, "--out", str(out), "--resume"]
    return setup


def _truncated_evaluate(tmp: Path, trained: Path) -> list[str]:
    data = (trained / CHECKPOINT).read_bytes()
    (tmp / "cut.pt").write_bytes(data[: len(data) // 3])
    return ["evaluate", str(tmp / "cut.pt")]


def _bad_file(content: bytes) -> Callable[[Path, Path], list[str]]:
    def setup(tmp: Path, trained: Path) -> list[str]:
        (tmp / "bad.pt").write_bytes(content)
        return ["evaluate", str(tmp / "bad.pt")]
    return setup


def _plain_tensor(tmp: Path, trained: Path) -> list[str]:
    torch.save(torch.zeros(3), tmp / "tensor.pt")
    return ["evaluate", str(tmp / "tensor.pt")]


def _read_only_parent(tmp: Path, trained: Path) -> Callable[[], object]:
    parent = tmp / "locked"
    parent.mkdir()

    def run():
        with read_only(parent):
            return main(["train", *TINY, "--out", str(parent / "run")])
    return run


def _read_only_resume(tmp: Path, trained: Path) -> Callable[[], object]:
    out = copy_run(trained, tmp)

    def run():
        with read_only(out):
            return main(["train", *TINY, "--epochs", "2", "--out", str(out), "--resume"])
    return run


def _out_is_a_file(tmp: Path, trained: Path) -> list[str]:
    (tmp / "afile").write_text("x")
    return ["train", *TINY, "--out", str(tmp / "afile")]


def _out_under_a_file(tmp: Path, trained: Path) -> list[str]:
    (tmp / "afile").write_text("x")
    return ["train", *TINY, "--out", str(tmp / "afile" / "run")]


def _corrupt_record(listing: str) -> Callable[[Path, Path], Callable[[], object]]:
    def setup(tmp: Path, trained: Path) -> Callable[[], object]:
        good = tmp / "results" / "cpu" / "exp"
        good.mkdir(parents=True)
        (good / "a.json").write_text(json.dumps(dict(config={}, history=[], metrics={"val_top1": 30.0}, provenance={})))
        (good / "b.json").write_text('{"config": {"dataset": "imagen')  # cut short by a crash or a bad merge
        if listing == "index":
            return lambda: recorded_index(tmp / "results", "cpu")
        from alexnet_core.book.pages.runs import run_time_table
        return lambda: run_time_table(tmp / "results")
    return setup


def _diverging_checkpoint(tmp: Path, trained: Path) -> Callable[[], object]:
    from alexnet_core.train import TrainingDiverged, _diverged_message
    (tmp / CHECKPOINT).write_bytes(b"x")
    cfg = TrainConfig(init="kaiming", precision="fp32")
    message = _diverged_message(2, 0, tmp / CHECKPOINT, cfg, [dict(epoch=1, train_loss=4e26)], "fp32", 10)

    def raise_it():
        raise TrainingDiverged(message)
    return raise_it


# --------------------------------------------------------------------------- second round (#32)

def _one_class(tmp: Path, trained: Path) -> list[str]:
    root = cifar_like_folder(tmp / "oneclass", classes=("cat",))
    return ["train", *cifarnet_on(root), "--out", str(tmp / "out")]


def _trained_on_folder(tmp: Path, classes=("cat", "dog")) -> tuple[Path, Path]:
    root = cifar_like_folder(tmp / "pets", classes=classes)
    out = tmp / "petrun"
    assert main(["train", *cifarnet_on(root), "--out", str(out)]) == 0
    return root, out


def _evaluate_other_classes(tmp: Path, trained: Path) -> list[str]:
    _, out = _trained_on_folder(tmp)
    other = cifar_like_folder(tmp / "others", classes=("bird", "frog"))
    return ["evaluate", str(out / CHECKPOINT), "--dataset", str(other)]


def _evaluate_other_count_old_checkpoint(tmp: Path, trained: Path) -> list[str]:
    _, out = _trained_on_folder(tmp)
    state = torch.load(out / CHECKPOINT, weights_only=True)
    del state["classes"]  # a checkpoint written before the class names were stored
    torch.save(state, out / CHECKPOINT)
    other = cifar_like_folder(tmp / "three", classes=("bird", "cat", "frog"))
    return ["evaluate", str(out / CHECKPOINT), "--dataset", str(other)]


def _tiny(epochs: int) -> list[str]:
    at = TINY.index("--epochs") + 1
    return [*TINY[:at], str(epochs), *TINY[at + 1:]]


def _resume_finished(tmp: Path, trained: Path) -> list[str]:
    return ["train", *TINY, "--out", str(copy_run(trained, tmp)), "--resume"]


def _resume_fewer_epochs(tmp: Path, trained: Path) -> list[str]:
    out = tmp / "run"
    assert main(["train", *_tiny(2), "--out", str(out)]) == 0
    return ["train", *_tiny(1), "--out", str(out), "--resume"]


def _experiment_only_unknown(tmp: Path, trained: Path) -> list[str]:
    return ["experiment", "lrn_cifar", "--profile", "smoke", "--only", "no-such-run"]


def _record_shape(record: object) -> Callable[[Path, Path], Callable[[], object]]:
    def setup(tmp: Path, trained: Path) -> Callable[[], object]:
        folder = tmp / "results" / "cpu" / "exp"
        folder.mkdir(parents=True)
        (folder / "a.json").write_text(json.dumps(record))
        return lambda: recorded_index(tmp / "results", "cpu")
    return setup


def _runs_is_a_file(command: list[str]) -> Callable[[Path, Path], Callable[[], object]]:
    def setup(tmp: Path, trained: Path) -> Callable[[], object]:
        (tmp / "runsfile").write_text("x")

        def run():
            old = os.environ.get("ALEXNET_RUNS")
            os.environ["ALEXNET_RUNS"] = str(tmp / "runsfile")
            try:
                return main(command)
            finally:
                if old is None:
                    os.environ.pop("ALEXNET_RUNS")
                else:
                    os.environ["ALEXNET_RUNS"] = old
        return run
    return setup


def _crop_too_large(tmp: Path, trained: Path) -> list[str]:
    root = cifar_like_folder(tmp / "small")
    return ["train", *cifarnet_on(root), "--crop", "40", "--out", str(tmp / "out")]


def _empty_out(tmp: Path, trained: Path) -> Callable[[], object]:
    def run():
        here = os.getcwd()
        os.chdir(tmp)
        try:
            return main(["train", *TINY, "--out", ""])
        finally:
            os.chdir(here)
    return run


def _nothing_written_here(tmp: Path, out: str) -> None:
    assert not any(p.name in ("checkpoint.pt", "history.jsonl", "result.json") for p in tmp.iterdir())


def _argv(*args: str) -> Callable[[Path, Path], list[str]]:
    return lambda tmp, trained: ["train", *args, "--out", str(tmp / "out")]


no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")

CASES = {
    # --- security: a crafted checkpoint never runs
    "crafted checkpoint, train --resume": Case(_crafted_resume, 3, ("refused to load", "GLOBAL .*system", "delete this one"),
                                               after=_no_payload_ran),
    "crafted checkpoint, evaluate": Case(_crafted_evaluate, 3, ("refused to load", "could run code"),
                                         after=_no_payload_ran),
    # --- silently wrong results
    "val/ lacks a class of train/": Case(_val_lacks_a_class, 2, ("different classes", r"missing from the validation "
                                         r"split: \['airplane'\]", "add the missing folders"), after=_nothing_decoded),
    "cache made with --skip-corrupt, used without": Case(_cache_made_with_skip_corrupt, 2,
                                                         ("broken.jpg", "cannot be read", "pass --skip-corrupt")),
    "--limit-train -5": Case(_argv(*TINY, "--limit-train", "-5"), 2, ("--limit-train -5: must be at least 1",)),
    "--lr nan": Case(_argv(*TINY, "--lr", "nan"), 2, ("--lr nan: must be a finite number",)),
    "--lr inf": Case(_argv(*TINY, "--lr", "inf"), 2, ("--lr inf: must be a finite number",)),
    "--epochs 0 --batch-size 0 --lr -1": Case(_argv(*TINY, "--epochs", "0", "--batch-size", "0", "--lr", "-1"), 2,
                                              ("--epochs 0: must be at least 1", "--batch-size 0: must be at least 1",
                                               "--lr -1.0: must be above 0", "--help")),
    "--momentum 1.5, --dropout 1": Case(_argv(*TINY, "--momentum", "1.5", "--dropout", "1"), 2,
                                        ("--momentum 1.5: must be at least 0 and below 1", "--dropout 1.0: must be")),
    "two runs on one --out": Case(_concurrent, 3, ("another run is training into", "another --out")),
    "fresh run on an existing --out": Case(_fresh_run_on_existing, 3, ("already holds a run", "--resume",
                                                                       "--overwrite"), watch="run"),
    "--resume with --overwrite": Case(lambda tmp, trained: ["train", *TINY, "--out", str(copy_run(trained, tmp)),
                                                            "--resume", "--overwrite"], 2, ("give one of them",),
                                      watch="run"),
    "corrupt record, record listing": Case(_corrupt_record("index"), RecordError,
                                           ("b.json is corrupt", "git checkout", "delete it"), watch="results"),
    "corrupt record, run-time table": Case(_corrupt_record("table"), RecordError,
                                           ("b.json is corrupt", "git checkout", "delete it"), watch="results"),
    # --- bare tracebacks and misleading messages
    "--device cuda without a GPU": Case(_argv(*TINY, "--device", "cuda"), 2, ("no CUDA GPU", "--device cpu"),
                                        marks=[no_gpu]),
    "--device cuda:9": Case(_argv(*TINY, "--device", "cuda:9"), 2, ("--device cuda:9", "--device")),
    "--device tpu": Case(_argv(*TINY, "--device", "tpu"), 2, ("unknown device", "choose auto, cpu")),
    "--limit-train 0": Case(_argv(*TINY, "--limit-train", "0"), 2, ("--limit-train 0: must be at least 1",)),
    "--limit-val 0": Case(_argv(*TINY, "--limit-val", "0"), 2, ("--limit-val 0: must be at least 1",)),
    "truncated checkpoint, --resume": Case(_truncated, 3, ("cannot read the checkpoint", "truncated", "train again"),
                                           watch="run", after=_no_epoch_trained),
    "empty checkpoint, --resume": Case(_bad_resume(b""), 3, ("the file is empty", "train again"), watch="run",
                                       after=_no_epoch_trained),
    "garbage checkpoint, --resume": Case(_bad_resume(b"PK\x03\x04 not really a zip" * 9), 3,
                                         ("cannot read the checkpoint", "checkpoint.pt"), watch="run",
                                         after=_no_epoch_trained),
    "truncated checkpoint, evaluate": Case(_truncated_evaluate, 3, ("cannot read the checkpoint", "cut.pt",
                                                                    "truncated")),
    "empty checkpoint, evaluate": Case(_bad_file(b""), 3, ("bad.pt", "the file is empty", "train again")),
    "garbage checkpoint, evaluate": Case(_bad_file(b"12345 garbage \x00\x01" * 20), 3,
                                         ("cannot read the checkpoint", "bad.pt", "not a checkpoint")),
    "a folder given to evaluate": Case(lambda tmp, trained: ["evaluate", str(trained)], 3,
                                       ("is a folder", "pass that file")),
    "a plain tensor given to evaluate": Case(_plain_tensor, 3, ("not a checkpoint written by `train`", "Tensor")),
    "--out under a read-only folder": Case(_read_only_parent, 3, ("cannot write into the run folder", "read-only",
                                                                  "another --out")),
    "--out is a file": Case(_out_is_a_file, 3, ("is a file, not a folder",)),
    "--out under a file": Case(_out_under_a_file, 3, ("lies under", "which is a file")),
    "read-only run folder on --resume": Case(_read_only_resume, 3, ("cannot write into the run folder",),
                                             watch="run", after=_no_epoch_trained),
    "NaN after a diverging epoch": Case(_diverging_checkpoint, RuntimeError,
                                        ("already 4e\\+26", "will not help", "--overwrite", "lower --lr"),
                                        not_says=("--init kaiming", "--precision fp32")),
    "only train/ present": Case(_only_train_split, 2, ("split 'val' not found", "ImageFolder layout"),
                                after=_nothing_decoded),
    # --- second round (#32): no silently wrong number
    "a dataset with one class": Case(_one_class, 2, ("1 class folder", "at least two", "Add the other classes"),
                                     after=_nothing_decoded),
    "evaluate on other classes": Case(_evaluate_other_classes, 2, ("trained on 2 classes", "bird", "--dataset")),
    "evaluate on another count, old checkpoint": Case(_evaluate_other_count_old_checkpoint, 2,
                                                      ("has 2 class outputs", "3 classes", "--dataset")),
    "--resume on a finished run": Case(_resume_finished, 0, ("already finished after 1 epoch",
                                                                   "no file changed", "larger --epochs"), watch="run"),
    "--resume with fewer --epochs than done": Case(_resume_fewer_epochs, 0, ("already finished after 2 epoch",),
                                                   watch="run"),
    "train --out ''": Case(_empty_out, 3, ("--out is empty", "its own folder"), after=_nothing_written_here),
    "experiment --only unknown": Case(_experiment_only_unknown, 2, ("--only no-such-run", "choose among", "lrn-s0")),
    "reproduce --only unknown": Case(lambda tmp, trained: ["reproduce", "--profile", "smoke", "--only", "nosuch",
                                                           "--no-build"], 2, ("--only names no notebook",)),
    "record, config is a list": Case(_record_shape(dict(config=[], history=[], metrics={}, provenance={})),
                                     RecordError, ("a.json", "wrong shape", "config is a list", "git checkout")),
    "record, metrics without val_top1": Case(_record_shape(dict(config={}, history=[], metrics={}, provenance={})),
                                             RecordError, ("a.json", "lack val_top1")),
    "record --parallel 0": Case(lambda tmp, trained: ["record", "--profile", "smoke", "--parallel", "0"], 2,
                                ("--parallel 0", "at least 1")),
    "ALEXNET_RUNS is a file, record": Case(_runs_is_a_file(["record", "--profile", "smoke"]), 2,
                                           ("ALEXNET_RUNS=", "is a file", "Point ALEXNET_RUNS")),
    "ALEXNET_RUNS is a file, experiment": Case(_runs_is_a_file(["experiment", "lrn_cifar", "--profile", "smoke"]), 2,
                                               ("ALEXNET_RUNS=", "is a file")),
    "--seed beyond 64 bits": Case(_argv(*TINY, "--seed", str(2**64)), 2, ("--seed 18446744073709551616", "at most")),
    "--crop larger than the images": Case(_crop_too_large, 2, ("--crop 40", "32x32", "--crop 32 or less"),
                                          after=_nothing_decoded),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=c.marks) for n, c in CASES.items()])
def test_bad_input_is_named_with_its_fix_and_loses_nothing(name, tmp_path, trained_run, capsys):
    case = CASES[name]
    action = case.setup(tmp_path, trained_run)
    watched = tmp_path / case.watch if case.watch else tmp_path
    before = snapshot(watched) if case.watch else {}
    capsys.readouterr()
    if isinstance(case.code, int):
        code = action() if callable(action) else main(action)
        out, err = capsys.readouterr()
        assert code == case.code, f"exit {code}, expected {case.code}\nstdout: {out}\nstderr: {err}"
        message = err
    else:
        with pytest.raises(case.code) as raised:
            action()
        out, message = capsys.readouterr()[0], str(raised.value)
    assert "Traceback" not in message
    for needle in case.says:
        assert re.search(needle, message), f"{needle!r} not in: {message}"
    for needle in case.not_says:
        assert needle not in message, f"{needle!r} should not be suggested: {message}"
    if case.watch:
        assert snapshot(watched) == before, "files of the earlier run changed"
    if case.after:
        case.after(tmp_path, out)


# --------------------------------------------------------------------------- the fixes at work

def test_a_real_checkpoint_loads_safely_and_resumes(trained_run, tmp_path, capsys):
    state = load_checkpoint(trained_run / CHECKPOINT)
    assert state["epoch"] == 1 and set(state) >= {"model", "optimizer", "schedule", "rng", "history"}
    out = copy_run(trained_run, tmp_path)
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    assert load_checkpoint(out / CHECKPOINT)["epoch"] == 2


def test_overwrite_replaces_an_earlier_run(trained_run, tmp_path):
    out = copy_run(trained_run, tmp_path)
    before = json.loads((out / "result.json").read_text())["provenance"]["date"]
    assert main(["train", *TINY, "--seed", "3", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "result.json").read_text())["config"]["seed"] == 3
    assert before  # the earlier run's result was there, and is replaced


def test_the_lock_is_released_when_a_run_ends(tmp_path):
    with claim_run_folder(tmp_path / "run") as folder:
        assert folder.is_dir()
    with claim_run_folder(tmp_path / "run") as again:  # a second claim after the first ended is fine
        assert again == folder and list(folder.iterdir()) == []  # no lock file or probe left behind


def test_a_crafted_checkpoint_is_refused_by_the_loader_itself(tmp_path):
    marker = crafted_checkpoint(tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(tmp_path / "x.pt")
    assert not marker.exists()


def test_a_cifar_net_on_a_32_pixel_folder_is_cached_at_32(tmp_path):
    from alexnet_core.inputs import load_data
    root = cifar_like_folder(tmp_path / "small")
    train_set, val_set, _ = load_data(TrainConfig(dataset=str(root), model="cifarnet"))
    assert train_set.images.shape[-2:] == (32, 32) and val_set.images.shape[-2:] == (32, 32)
    big = Image.fromarray(np.zeros((300, 400, 3), dtype=np.uint8))
    big.save(root / "train" / "cat" / "big.jpg")
    train_set, _, _ = load_data(TrainConfig(dataset=str(root), model="cifarnet"))
    assert train_set.images.shape[-2:] == (32, 32)  # rescaled and centre-cropped to the family's size


def test_a_cache_with_skipped_images_is_announced_when_used_with_the_flag(tmp_path):
    from alexnet_core import data as D
    root = cifar_like_folder(tmp_path / "withbad")
    (root / "train" / "dog" / "broken.jpg").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        D.load(str(root), "train", size=32, skip_corrupt=True)
    with pytest.warns(UserWarning, match="leaves out 1 unreadable image.*broken.jpg"):
        again = D.load(str(root), "train", size=32, skip_corrupt=True)
    assert len(again.skipped) == 1 and again.subset(4).skipped == again.skipped


# --------------------------------------------------------------------------- second round (#32), own tests

def test_a_16_bit_png_is_read_by_its_range_not_clipped_white(tmp_path):
    from alexnet_core.data import decode_image
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    pixels = decode_image(str(tmp_path / "deep.png"), None)
    assert pixels.shape == (3, 64, 64) and pixels.min() == 0 and pixels.max() == 255
    assert abs(pixels.mean() - 127.5) < 1.0  # not 254.5, as clipping at 255 gave
    np.testing.assert_array_equal(pixels[0], np.rint(ramp / 257.0).astype(np.uint8))


def test_an_image_too_large_to_decode_safely_is_named_and_skippable(tmp_path, monkeypatch):
    from alexnet_core import data as D
    root = cifar_like_folder(tmp_path / "bomb")
    Image.fromarray(np.zeros((200, 200, 3), dtype=np.uint8)).save(root / "train" / "cat" / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # stands in for a 14000 x 14000 image
    with pytest.raises(D.DataError, match="huge.png: it is too large to decode safely.*--skip-corrupt"):
        D.decode_image(str(root / "train" / "cat" / "huge.png"), 32)
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        kept = D.load(str(root), "train", size=32, skip_corrupt=True, use_cache=False)
    assert len(kept) == 16 and any("huge.png" in f for f in kept.skipped)


def test_a_file_name_that_is_not_utf8_is_supported(tmp_path, monkeypatch):
    from alexnet_core import data as D
    root = cifar_like_folder(tmp_path / "names")
    odd = root / "train" / "cat" / os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes, not UTF-8
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(odd)
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cache"))
    first = D.load(str(root), "train", size=32)
    again = D.load(str(root), "train", size=32)  # from the cache, whose index holds the name
    assert len(first) == len(again) == 17 and str(odd) in again.files


def test_skip_corrupt_warns_when_it_empties_a_class(tmp_path):
    from alexnet_core import data as D
    root = cifar_like_folder(tmp_path / "emptied")
    for f in (root / "train" / "dog").iterdir():
        f.write_bytes(b"not an image")
    with pytest.warns(UserWarning, match=r"left class\(es\) \['dog'\].*without a single readable image"):
        D.load(str(root), "train", size=32, skip_corrupt=True, use_cache=False)


@pytest.mark.parametrize("damage", ["npy", "json"])
def test_a_damaged_cache_file_is_named_with_its_fix(tmp_path, monkeypatch, damage):
    from alexnet_core import data as D
    root = cifar_like_folder(tmp_path / "cached")
    cache = tmp_path / "cache"
    monkeypatch.setenv("ALEXNET_CACHE", str(cache))
    D.load(str(root), "train", size=32)
    victim = next(cache.glob("*.images.npy" if damage == "npy" else "*[0-9a-f].json"))
    victim.write_bytes(victim.read_bytes()[: len(victim.read_bytes()) // 2])
    with pytest.raises(D.DataError, match=f"{victim.name} is damaged.*delete .*ALEXNET_CACHE"):
        D.load(str(root), "train", size=32)
    code = main(["train", *cifarnet_on(root), "--out", str(tmp_path / "out")])
    assert code == 2


def test_a_full_cache_disk_is_named_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import errno
    from alexnet_core import data as D
    root = cifar_like_folder(tmp_path / "full")
    cache = tmp_path / "cache"
    monkeypatch.setenv("ALEXNET_CACHE", str(cache))

    def short_write(path, array):
        Path(path).write_bytes(b"\x93NUMPY partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(D.np, "save", short_write)
    with pytest.raises(D.CacheError, match="cannot write the decoded-image cache.*No space left.*ALEXNET_CACHE"):
        D.load(str(root), "train", size=32)
    assert list(cache.iterdir()) == []  # the partial file was removed


def test_a_read_only_cache_falls_back_to_no_cache(tmp_path, monkeypatch):
    from alexnet_core import data as D
    root = cifar_like_folder(tmp_path / "ro")
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("ALEXNET_CACHE", str(cache))
    with read_only(cache):
        with pytest.warns(UserWarning, match="cannot be written.*decoding without it"):
            loaded = D.load(str(root), "train", size=32)
    assert len(loaded) == 16 and loaded.key == ""


def test_a_cache_that_is_a_file_is_named(tmp_path, monkeypatch):
    from alexnet_core import data as D
    root = cifar_like_folder(tmp_path / "cf")
    (tmp_path / "cachefile").write_text("x")
    monkeypatch.setenv("ALEXNET_CACHE", str(tmp_path / "cachefile"))
    with pytest.raises(D.CacheError, match="cachefile is a file, not a folder: point ALEXNET_CACHE"):
        D.load(str(root), "train", size=32)


def test_evaluate_finds_a_moved_dataset_by_dataset_and_checks_its_classes(tmp_path, capsys):
    root, out = _trained_on_folder(tmp_path)
    assert load_checkpoint(out / CHECKPOINT)["classes"] == ["cat", "dog"]
    moved = tmp_path / "moved"
    root.rename(moved)
    assert main(["evaluate", str(out / CHECKPOINT)]) == 2  # the old place is gone: named, no traceback
    assert "if that dataset moved, point at its new place with --dataset" in capsys.readouterr().err
    assert main(["evaluate", str(out / CHECKPOINT), "--dataset", str(moved)]) == 0
    assert "val10_top1" in capsys.readouterr().out


def test_resume_accepts_the_dataset_path_with_a_trailing_slash(tmp_path):
    root = cifar_like_folder(tmp_path / "slash")
    args = ["train", *cifarnet_on(root), "--out", str(tmp_path / "run")]
    assert main(args) == 0
    slashed = [a + "/" if a == str(root) else a for a in args]
    assert main([*slashed[:slashed.index("--epochs") + 1], "2", *slashed[slashed.index("--epochs") + 2:],
                 "--resume"]) == 0
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT)["epoch"] == 2


def test_leftover_temporary_files_are_removed_at_the_next_start(trained_run, tmp_path):
    out = copy_run(trained_run, tmp_path)
    for name in (".checkpoint.pt.tmp4242", ".history.jsonl.tmp4242", ".result.json.tmp99"):
        (out / name).write_bytes(b"half a file")
    assert main(["train", *_tiny(2), "--out", str(out), "--resume"]) == 0
    assert not list(out.glob(".*.tmp*"))


def test_a_refused_start_leaves_no_empty_out_folder(tmp_path, capsys):
    root = tmp_path / "nowhere"
    assert main(["train", *cifarnet_on(root), "--out", str(tmp_path / "fresh")]) == 2
    assert not (tmp_path / "fresh").exists()


def test_the_free_space_refusal_states_its_margin_and_no_resume_without_a_checkpoint(tmp_path, monkeypatch):
    import shutil as sh
    from alexnet_core import checkpoint as C
    monkeypatch.setattr(C.shutil, "disk_usage", lambda p: sh._ntuple_diskusage(1, 1, 10 * 2**20))
    with pytest.raises(C.CheckpointWriteError) as raised:
        C.save_checkpoint(tmp_path / CHECKPOINT, epoch=1, model=torch.zeros(2**20))
    text = str(raised.value)
    assert "margin of 64 MiB" in text and "no earlier checkpoint exists" in text and "not --resume" in text
    assert "`train` with --resume" not in text
