"""The trainer: section 5's learning rule, the plateau schedule, checkpoints, resume, DDP, CLI."""
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from alexnet_core.config import TrainConfig
from alexnet_core.optim import PaperSGD, PlateauSchedule, make_optimizer, set_lr
from alexnet_core.train import CHECKPOINT, HISTORY, RESULT, ResumeError, TrainingDiverged, train

ROOT = Path(__file__).resolve().parents[2]
TIMING_KEYS = ("seconds", "train_seconds", "images_per_s")


def tiny(**overrides) -> TrainConfig:
    """A CIFAR-net run on 128 synthetic 32x32 images: a few seconds on 2 cores."""
    base = dict(dataset="synthetic", model="cifarnet", limit_train=128, limit_val=32, batch_size=32,
                epochs=3, lr=0.01, precision="fp32", device="cpu", progress=False, ten_crop=False,
                threads=2)
    base.update(overrides)
    return TrainConfig(**base)


def without_timings(history):
    return [{k: v for k, v in h.items() if k not in TIMING_KEYS} for h in history]


# --------------------------------------------------------------------------- learning rule

def test_paper_update_rule_by_hand():
    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = PaperSGD([w], lr=0.1, momentum=0.9, weight_decay=0.5)
    w.grad = torch.tensor([0.2, 0.4])
    opt.step()  # v = 0 - 0.5*0.1*w - 0.1*g = [-0.07, 0.06]
    assert torch.allclose(w.data, torch.tensor([0.93, -1.94]))
    w.grad = torch.tensor([0.0, 0.0])
    opt.step()  # v = 0.9 v - 0.05 w = [-0.063 - 0.0465, 0.054 + 0.097]
    assert torch.allclose(w.data, torch.tensor([0.93 - 0.1095, -1.94 + 0.151]), atol=1e-6)


def _two_optimisers(rule_a, rule_b, change_lr_at=None, steps=6):
    torch.manual_seed(0)
    a = nn.Linear(4, 3)
    b = nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    oa, ob = make_optimizer(a, rule_a, 0.1, 0.9, 5e-4), make_optimizer(b, rule_b, 0.1, 0.9, 5e-4)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    for step in range(steps):
        if step == change_lr_at:
            set_lr(oa, 0.01)
            set_lr(ob, 0.01)
        for model, opt in ((a, oa), (b, ob)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    return a, b


def test_paper_rule_equals_torch_sgd_at_constant_lr_and_differs_after_a_change():
    a, b = _two_optimisers("paper", "torch")
    assert torch.allclose(a.weight, b.weight, atol=1e-6)
    a, b = _two_optimisers("paper", "torch", change_lr_at=3)
    assert not torch.allclose(a.weight, b.weight, atol=1e-5)


def test_biases_are_not_decayed_unless_asked():
    model = nn.Linear(2, 2)
    groups = make_optimizer(model, "paper", 0.01, 0.9, 5e-4).param_groups
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0]
    groups = make_optimizer(model, "paper", 0.01, 0.9, 5e-4, decay_biases=True).param_groups
    assert [g["weight_decay"] for g in groups] == [5e-4, 5e-4]


def test_plateau_schedule_drops_then_stops():
    s = PlateauSchedule(lr=0.01, patience=2, max_drops=2)
    drops = [s.step(e) for e in (50, 40, 41, 42, 39, 39, 39, 38, 38, 38)]
    assert drops == [False, False, False, True, False, False, True, False, False, False]
    assert s.drops == 2 and s.lr == pytest.approx(1e-4)
    assert s.finished  # a third plateau after the last allowed drop ends training
    s2 = PlateauSchedule(lr=0.01, patience=1, max_drops=3)
    for _ in range(10):
        s2.step(50)
    assert s2.drops == 3 and s2.lr == pytest.approx(1e-5)


def test_budget_drop_divides_once_when_no_plateau_came():
    s = PlateauSchedule(lr=0.01, patience=3, drop_by=4)
    drops = [s.step(e, epoch) for epoch, e in enumerate((60, 50, 40, 30, 25, 20), start=1)]
    assert drops == [False, False, False, True, False, False]  # forced after epoch 4, never again
    assert s.lr == pytest.approx(1e-3) and s.forced_drop_epoch == 4
    early = PlateauSchedule(lr=0.01, patience=1, drop_by=4)
    assert [early.step(e, epoch) for epoch, e in enumerate((50, 50, 49, 48, 47), start=1)] == [False, True, False,
                                                                                              False, False]
    assert early.forced_drop_epoch == 0  # a real plateau came first, so no forced drop


# --------------------------------------------------------------------------- training runs

def test_tiny_net_overfits_a_tiny_set(tmp_path):
    cfg = tiny(limit_train=64, batch_size=16, epochs=25, random_crop=False, flip=False, pca_colour=False,
               patience=100, lr=0.004, record_steps=6)
    outcome = train(cfg, tmp_path)
    first, last = outcome.history[0], outcome.history[-1]
    assert last["train_loss"] < 0.5 * first["train_loss"]
    assert last["train_top1"] <= 5.0
    record = json.loads((tmp_path / RESULT).read_text())
    assert set(record) == {"config", "history", "metrics", "provenance", "predictions"}
    assert record["provenance"]["precision"] == "fp32" and record["provenance"]["commit"]
    lines = (tmp_path / HISTORY).read_text().splitlines()
    assert len(lines) == 25 and {"train_loss", "train_top1", "val_top1", "val_top5", "lr", "seconds",
                                 "images_per_s"} <= set(json.loads(lines[0]))
    # the first record_steps steps keep their losses (how the run started); their mean is the epoch's loss
    steps = first["step_losses"]
    assert len(steps) == 64 // 16 and len(outcome.history[1]["step_losses"]) == 6 - 64 // 16
    assert "step_losses" not in outcome.history[2]
    assert sum(steps) / len(steps) == pytest.approx(first["train_loss"], abs=1e-3)


def test_lr_drops_on_plateau_and_stops_after_the_set_number(tmp_path):
    cfg = tiny(epochs=30, patience=1, max_drops=2, lr=1e-7)  # lr too small to improve anything
    outcome = train(cfg, tmp_path)
    lrs = [h["lr"] for h in outcome.history]
    assert sorted(set(lrs), reverse=True) == pytest.approx([1e-7, 1e-8, 1e-9])
    assert outcome.metrics["lr_drops"] == 2
    assert len(outcome.history) < 30  # early stop after the last allowed drop


KILL_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    from alexnet_core.config import TrainConfig
    from alexnet_core.train import train
    cfg = TrainConfig(**{cfg!r})
    def die(record):
        if record["epoch"] == 1:
            os._exit(137)  # like SIGKILL: no clean-up, right after the epoch's checkpoint
    train(cfg, {out!r}, on_epoch_end=die)
""")


def test_kill_after_epoch_one_and_resume_equals_uninterrupted(tmp_path):
    cfg = tiny(epochs=3, dropout=0.5)
    straight = train(cfg, tmp_path / "straight")
    script = KILL_SCRIPT.format(root=str(ROOT), cfg=cfg.to_dict(), out=str(tmp_path / "killed"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 137, proc.stderr
    assert len((tmp_path / "killed" / HISTORY).read_text().splitlines()) == 1
    resumed = train(cfg, tmp_path / "killed", resume=True)
    assert without_timings(resumed.history) == without_timings(straight.history)
    a = torch.load(tmp_path / "straight" / CHECKPOINT, weights_only=True)["model"]
    b = torch.load(tmp_path / "killed" / CHECKPOINT, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_other_settings_and_missing_checkpoint(tmp_path):
    train(tiny(epochs=1), tmp_path)
    with pytest.raises(ResumeError, match="other settings"):
        train(tiny(epochs=2, lr=0.02), tmp_path, resume=True)
    with pytest.raises(ResumeError, match="no checkpoint"):
        train(tiny(), tmp_path / "empty", resume=True)


def test_nan_loss_stops_with_advice_and_keeps_last_good_checkpoint(tmp_path):
    holder = {}

    def poison(record):
        if record["epoch"] == 1:
            with torch.no_grad():
                holder["model"].fc.weight.fill_(float("nan"))

    import alexnet_core.train as T
    original = T.build_model

    def spy(cfg, n):
        holder["model"] = original(cfg, n)
        return holder["model"]

    T.build_model = spy
    try:
        with pytest.raises(TrainingDiverged, match="NaN or infinite at epoch 2.*last good checkpoint \\(epoch 1, training loss .*\\) is kept.*--lr"):
            train(tiny(epochs=3), tmp_path, on_epoch_end=poison)
    finally:
        T.build_model = original
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert state["epoch"] == 1 and torch.isfinite(state["model"]["fc.weight"]).all()


def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(tmp_path, capsys):
    def interrupt(record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny(epochs=3), tmp_path, on_epoch_end=interrupt)
    assert "--resume" in capsys.readouterr().err
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["epoch"] == 2
    resumed = train(tiny(epochs=3), tmp_path, resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]


def test_a_full_disk_is_a_clear_error_that_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import shutil as sh

    import alexnet_core.checkpoint as T
    real = sh.disk_usage
    full = {}

    def disk_usage(path):
        usage = real(path)
        return usage._replace(free=1024) if full else usage

    monkeypatch.setattr(T.shutil, "disk_usage", disk_usage)
    with pytest.raises(T.CheckpointWriteError, match="not enough disk space for the checkpoint of epoch 2.*"
                                                     "previous epoch's checkpoint is kept.*ALEXNET_RUNS"):
        train(tiny(epochs=3), tmp_path, on_epoch_end=lambda record: full.setdefault("from", record["epoch"]))
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT, HISTORY]  # no partial file
    full.clear()
    resumed = train(tiny(epochs=3), tmp_path, resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]


def test_a_write_that_fails_midway_removes_its_partial_file(tmp_path, monkeypatch):
    import alexnet_core.checkpoint as T
    path = tmp_path / CHECKPOINT
    T.save_checkpoint(path, epoch=1, model={"w": torch.ones(4)})

    def short_write(state, file):
        Path(file).write_bytes(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 112 vs 0")

    monkeypatch.setattr(T.torch, "save", short_write)
    with pytest.raises(T.CheckpointWriteError, match="writing the checkpoint failed.*unexpected pos.*MiB are free"):
        T.save_checkpoint(path, epoch=2, model={"w": torch.zeros(4)})
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]
    assert torch.load(path, weights_only=True)["epoch"] == 1


def test_bf16_cpu_run_records_its_precision(tmp_path):
    outcome = train(tiny(epochs=1, precision="bf16"), tmp_path)
    assert outcome.provenance["precision"] == "bf16"
    assert all(torch.isfinite(torch.tensor(h["train_loss"])) for h in outcome.history)


# --------------------------------------------------------------------------- DDP on CPU with gloo

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, cfg_dict: dict, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    train(TrainConfig(**cfg_dict), out)  # only rank 0 writes the checkpoint
    torch.distributed.destroy_process_group()


DDP_TOLERANCE = 1e-4  # float32 all-reduce sums gradients in another order than one process


def test_two_process_gloo_ddp_matches_one_process_on_the_same_global_batch(tmp_path):
    # no randomness that differs per process: no crops, flips, colour shifts (dropout: cifarnet has none)
    cfg = tiny(epochs=2, random_crop=False, flip=False, pca_colour=False, threads=1)
    single = train(cfg, tmp_path / "single")
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=_ddp_worker, args=(r, 2, port, cfg.to_dict(), str(tmp_path / "ddp")))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
        assert p.exitcode == 0
    result = torch.load(tmp_path / "ddp" / CHECKPOINT, weights_only=True)
    assert len(result["history"]) == len(single.history) == 2
    assert json.loads((tmp_path / "ddp" / RESULT).read_text())["provenance"]["world_size"] == 2
    for ours, ref in zip(result["history"], single.history):
        for key in ("train_loss", "val_top1", "lr"):
            assert ours[key] == pytest.approx(ref[key], abs=DDP_TOLERANCE * max(1, abs(ref[key]))), key
    for name, value in single.model.state_dict().items():
        assert torch.allclose(result["model"][name], value, atol=DDP_TOLERANCE), name


# --------------------------------------------------------------------------- command line

def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "alexnet_core", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env=env)


def test_cli_missing_data_root_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ALEXNET_DATA"}
    proc = run_cli("train", "--dataset", "imagenette", "--out", str(tmp_path), env=env)
    assert proc.returncode == 2
    assert "--data-root" in proc.stderr and "ALEXNET_DATA" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("train", "--dataset", "imagenette", "--data-root", str(tmp_path / "missing"), "--out", str(tmp_path))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_cli_unknown_flag_points_at_help(tmp_path):
    proc = run_cli("train", "--out", str(tmp_path), "--learning-rate", "0.1")
    assert proc.returncode == 2
    assert "unrecognized arguments: --learning-rate" in proc.stderr and "--help" in proc.stderr


def test_cli_help_documents_every_setting():
    proc = run_cli("train", "--help")
    assert proc.returncode == 0
    for field in TrainConfig.__dataclass_fields__:
        assert "--" + field.replace("_", "-") in proc.stdout, field


def test_cli_trains_and_writes_its_files(tmp_path):
    proc = run_cli("train", "--dataset", "synthetic", "--model", "cifarnet", "--limit-train", "64",
                   "--limit-val", "16", "--batch-size", "32", "--epochs", "1", "--device", "cpu",
                   "--no-progress", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "epoch   1" in proc.stdout
    assert (tmp_path / CHECKPOINT).exists() and (tmp_path / RESULT).exists()


def test_streamed_imagefolder_trains_like_imagenet(image_root, tmp_path):
    """The ImageNet path: JPEGs decoded every epoch by DataLoader workers, a distributed sampler."""
    cfg = TrainConfig(dataset=str(image_root), stream=True, model="alexnet", groups=1, width=0.25,
                      batch_size=4, epochs=2, device="cpu", precision="fp32", progress=False, ten_crop=True,
                      num_workers=0, stats_sample=8, threads=2)
    outcome = train(cfg, tmp_path)
    assert [h["epoch"] for h in outcome.history] == [1, 2]
    assert outcome.history[0]["images_per_s"] > 0 and outcome.metrics["val_images"] == 6
    resumed = train(TrainConfig(**(cfg.to_dict() | dict(epochs=3))), tmp_path, resume=True)
    assert len(resumed.history) == 3


def test_cpu_runs_keep_freed_memory_and_say_so(tmp_path, monkeypatch):
    import platform

    from alexnet_core.allocator import keep_freed_memory

    monkeypatch.setenv("ALEXNET_MALLOC", "default")
    assert keep_freed_memory() is False  # the user's opt-out is honoured
    assert train(tiny(epochs=1), tmp_path / "a").provenance["cpu_allocator"] == "default"
    monkeypatch.delenv("ALEXNET_MALLOC")
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    outcome = train(tiny(epochs=1), tmp_path / "b")
    assert outcome.provenance["cpu_allocator"] == ("keep-freed" if glibc else "default")
    assert torch.isfinite(torch.tensor(outcome.history[0]["train_loss"]))


def test_training_images_evaluated_like_validation_without_changing_training(tmp_path):
    """#21's fair overfitting gap: a fixed training subset in eval mode (no dropout, centre crop)
    each epoch; evaluating it draws no random numbers, so the training itself is unchanged."""
    base = dict(limit_train=64, batch_size=16, epochs=3, dropout=0.5, patience=100, lr=0.004)
    probed = train(tiny(**base, train_eval_images=32), tmp_path / "probed")
    plain = train(tiny(**base, train_eval_images=0), tmp_path / "plain")
    assert [h["train_loss"] for h in probed.history] == [h["train_loss"] for h in plain.history]
    assert all(0.0 <= h["train_eval_top1"] <= 100.0 for h in probed.history)
    assert all("train_eval_top1" not in h for h in plain.history)
    assert probed.metrics["final_train_eval_top1"] == probed.history[-1]["train_eval_top1"]
    assert plain.metrics["final_train_eval_top1"] is None
