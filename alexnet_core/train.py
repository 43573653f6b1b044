"""The trainer: section 5's learning rule on CPU or GPU, with checkpoints, exact resume and DDP.

One loop serves every run in the project (the CLI, the experiments, the notebooks).
Per epoch it shuffles the uint8 training set with a seeded generator, augments each batch
on the training device (section 4.1), takes :class:`~alexnet_core.optim.PaperSGD` steps under
bf16 autocast where that is fast, validates on centre crops, lets the plateau schedule
divide the lr, and writes an atomic checkpoint and ``history.jsonl``.

Never losing work: a checkpoint after every epoch (temporary file, then rename) holds the
model, optimiser, schedule, every random generator and the history, so a run killed after
epoch k and resumed reproduces the uninterrupted history exactly (on CPU, same settings).
A NaN or infinite loss stops the run with advice, keeping the last good checkpoint;
Ctrl-C keeps the last checkpoint and says how to resume.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn

from .allocator import keep_freed_memory
from .augment import Augmenter
from .checkpoint import CHECKPOINT, CheckpointError, CheckpointWriteError, load_checkpoint, save_checkpoint
from .config import RUNTIME_ONLY, TrainConfig
from .data import DataError, ImageSet, skipped_images
from .distributed import DistInfo, init_distributed
from .epoch import NonFiniteLoss, epoch_batches, train_epoch
from .evaluate import evaluate
from .files import atomic_write_json, atomic_write_text
from .hardware import resolve_device, resolve_precision
from .inputs import augment_config, build_model, load_data
from .optim import PlateauSchedule, make_optimizer, set_lr
from .provenance import git_state, provenance
from .run_folder import RunFolderError, claim_run_folder

__all__ = ["CHECKPOINT", "HISTORY", "RESULT", "CheckpointError", "CheckpointWriteError", "ResumeError",
           "RunFolderError", "RunOutcome", "TrainingDiverged", "evaluate_checkpoint", "train"]

HISTORY = "history.jsonl"
RESULT = "result.json"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite at ``step`` (1-based) of ``epoch``."""

    def __init__(self, message: str, epoch: int | None = None, step: int | None = None):
        super().__init__(message)
        self.epoch, self.step = epoch, step


class ResumeError(RuntimeError):
    """A checkpoint cannot be resumed with the given settings."""


def check_config(cfg: TrainConfig) -> None:
    """Reject settings that cannot work before any data is touched (each wrong flag named)."""
    cfg.validate()


def write_history(out: Path, history: list[dict]) -> None:
    atomic_write_text(out / HISTORY, "".join(json.dumps(r, sort_keys=True) + "\n" for r in history))


def comparable(config: dict) -> dict:
    """The settings that must agree between a checkpoint and its resumption (a dataset given as a
    path is the same dataset with or without a trailing slash)."""
    same = {k: v for k, v in config.items() if k not in RUNTIME_ONLY and k not in ("epochs", "early_stop")}
    if isinstance(same.get("dataset"), str) and os.sep in same["dataset"]:
        same["dataset"] = os.path.normpath(same["dataset"])
    return same


@dataclass
class RunOutcome:
    """What :func:`train` returns: the config, per-epoch history, final metrics and provenance."""

    config: dict
    history: list[dict]
    metrics: dict
    provenance: dict
    model: nn.Module | None = None
    #: Which validation images the final model got right (centre crop and ten patches; see
    #: :func:`final_predictions`); None where not measured.
    predictions: dict | None = None

    def record(self) -> dict:
        record = dict(config=self.config, history=self.history, metrics=self.metrics, provenance=self.provenance)
        return record | (dict(predictions=self.predictions) if self.predictions is not None else {})


def train(cfg: TrainConfig, out: str | os.PathLike | None = None, *, resume: bool = False, overwrite: bool = False,
          on_epoch_end: Callable[[dict], None] | None = None, data: tuple | None = None) -> RunOutcome:
    """Train one model as ``cfg`` says; checkpoints and history go to ``out`` when given.

    ``out`` is claimed for this run first (:mod:`alexnet_core.run_folder`): writable, locked
    while the run writes it, and holding no earlier run unless ``resume`` continues it or
    ``overwrite`` replaces it. ``data`` may pass (train, val, stats) already loaded
    (experiments reuse them across runs).
    """
    started = time.time()
    code = git_state()  # the code this run trains with, before the tree can change under it
    check_config(cfg)
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # reuse freed CPU memory instead of page-faulting fresh memory for every tensor (allocator.py)
    allocator = "keep-freed" if device.type == "cpu" and keep_freed_memory() else "default"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rank = init_distributed(device)
    if rank.world > 1 and device.type == "cuda":
        device = torch.device("cuda", rank.local_rank)
        torch.cuda.set_device(device)
    if cfg.batch_size % rank.world:
        raise ValueError(f"batch size {cfg.batch_size} does not split over {rank.world} processes")
    if out is not None and not str(out).strip():
        raise RunFolderError("--out is empty (it would train into the current folder); give the run its own "
                             "folder, e.g. --out runs/alexnet")
    out_dir = Path(out) if out is not None else None
    if resume and out_dir is None:
        raise ResumeError("resume needs the run folder (--out) whose checkpoint to continue")
    claim = (claim_run_folder(out_dir, resume=resume, overwrite=overwrite) if out_dir is not None and rank.main
             else contextlib.nullcontext())
    with claim:
        state = resume_state(out_dir / CHECKPOINT, cfg, device) if resume else None
        if state is not None and _finished(state, cfg) and (out_dir / RESULT).exists():
            return _already_finished(out_dir, state)
        run = TrainingRun(cfg, data if data is not None else load_data(cfg), device, precision, rank, out_dir)
        if state is not None:
            run.restore(state)
        run.train_epochs(on_epoch_end)
        return run.outcome(provenance(device, precision, time.time() - started + run.earlier_seconds(), code)
                           | dict(world_size=rank.world) | (dict(cpu_allocator=allocator) if device.type == "cpu" else {}))


def resume_state(path: Path, cfg: TrainConfig, device: torch.device) -> dict:
    """The checkpoint a resumed run continues from, read safely and checked against ``cfg``
    before any data is decoded."""
    if not path.exists():
        raise ResumeError(f"--resume given but no checkpoint at {path}; start without --resume")
    state = load_checkpoint(path, map_location=device)
    if comparable(state["config"]) != comparable(cfg.to_dict()):
        diff = {k: (state["config"].get(k), v) for k, v in comparable(cfg.to_dict()).items()
                if state["config"].get(k) != v}
        raise ResumeError(f"the checkpoint in {path.parent} was made with other settings {diff} "
                          "(checkpoint, now); resume with the same settings or use a new --out")
    return state


def _finished(state: dict, cfg: TrainConfig) -> bool:
    """Whether a checkpoint's run has nothing left to train under ``cfg``: its epochs are done (or
    more than asked for), or its schedule ended it early."""
    if state["epoch"] >= cfg.epochs:
        return True
    schedule = PlateauSchedule(lr=cfg.lr, patience=cfg.patience, max_drops=cfg.max_drops, factor=cfg.lr_factor,
                               min_delta=cfg.min_delta, drop_by=cfg.drop_by)
    schedule.load_state_dict(state["schedule"])
    return schedule.finished and cfg.early_stop


def _already_finished(out_dir: Path, state: dict) -> RunOutcome:
    """A resumed run that is already finished: said, and nothing trained, evaluated or rewritten."""
    record = json.loads((out_dir / RESULT).read_text())
    print(f"the run in {out_dir} already finished after {state['epoch']} epoch(s); nothing was trained and no file "
          "changed. To train it further, --resume with a larger --epochs.", file=sys.stderr, flush=True)
    return RunOutcome(record["config"], record["history"], record["metrics"], record["provenance"],
                      predictions=record.get("predictions"))


class TrainingRun:
    """One run's state between epochs: model, optimiser, schedule, random generators, history.

    Everything here goes into the checkpoint, so a resumed run continues exactly.
    """

    def __init__(self, cfg: TrainConfig, data: tuple, device: torch.device, precision: str, rank: DistInfo,
                 out_dir: Path | None):
        self.cfg, self.device, self.precision, self.rank = cfg, device, precision, rank
        self.train_set, self.val_set, stats = data
        self.num_classes = len(self.train_set.classes)
        self.model = build_model(cfg, self.num_classes).to(device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(self.model, cfg.update_rule, cfg.lr, cfg.momentum, cfg.weight_decay,
                                        cfg.decay_biases, cfg.recipe_settings()["bias_lr_mult"])
        self.schedule = PlateauSchedule(lr=cfg.lr, patience=cfg.patience, max_drops=cfg.max_drops,
                                        factor=cfg.lr_factor, min_delta=cfg.min_delta, drop_by=cfg.drop_by)
        self.augmenter = Augmenter(augment_config(cfg), stats)
        self.order_gen = torch.Generator().manual_seed(cfg.seed)
        self.aug_gen = torch.Generator(device=device).manual_seed(cfg.seed * 1000 + 17 + rank.rank)
        torch.manual_seed(cfg.seed + 7919 * rank.rank)  # dropout's randomness
        self.history: list[dict] = []
        self.start_epoch = 1
        self.ckpt_path = out_dir / CHECKPOINT if out_dir is not None else None

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint: weights, momentum, schedule, generators, history."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        rng = state["rng"]
        self.order_gen.set_state(rng["order"].cpu())
        self.aug_gen.set_state(rng["augment"].cpu())
        torch.set_rng_state(rng["torch"].cpu())
        if self.device.type == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state(rng["cuda"].cpu(), self.device)
        self.history = state["history"]
        self.start_epoch = state["epoch"] + 1
        set_lr(self.optimizer, self.schedule.lr)

    def save(self, epoch: int) -> None:
        if self.ckpt_path is None or not self.rank.main:
            return
        rng = dict(order=self.order_gen.get_state(), augment=self.aug_gen.get_state(), torch=torch.get_rng_state(),
                   cuda=torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None)
        save_checkpoint(self.ckpt_path, epoch=epoch, config=self.cfg.to_dict(), model=self.model.state_dict(),
                        optimizer=self.optimizer.state_dict(), schedule=self.schedule.state_dict(),
                        history=self.history, rng=rng, classes=list(self.train_set.classes))
        write_history(self.ckpt_path.parent, self.history)

    def _place_data(self) -> None:
        """Keep the uint8 sets on the GPU when asked, or when they fit (``auto``)."""
        cfg, device = self.cfg, self.device
        in_memory = hasattr(self.train_set, "images")
        if in_memory and (cfg.data_on_device == "yes" or (cfg.data_on_device == "auto" and device.type == "cuda"
                                                           and _fits_on_gpu(self.train_set, self.val_set, device))):
            self.train_set, self.val_set = self.train_set.to(device), self.val_set.to(device)

    def train_epochs(self, on_epoch_end: Callable[[dict], None] | None) -> None:
        """Epochs from where the run stands to the cap or the schedule's end, one checkpoint each."""
        self._place_data()
        self.train_probe = train_probe(self.train_set, self.cfg.train_eval_images)
        step_model = torch.compile(self.model) if self.cfg.compile else self.model
        self.step_model = (nn.parallel.DistributedDataParallel(
            step_model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if self.rank.world > 1 else step_model)
        epoch = self.start_epoch - 1
        try:
            for epoch in range(self.start_epoch, self.cfg.epochs + 1):
                if self.schedule.finished and self.cfg.early_stop:
                    break
                record = self.train_one_epoch(epoch)
                if on_epoch_end is not None:
                    on_epoch_end(record)
        except KeyboardInterrupt:
            where = (f"{self.ckpt_path} (after epoch {epoch - 1})" if self.ckpt_path is not None and self.history
                     else "nowhere (no --out)")
            print(f"\ninterrupted during epoch {epoch}; the last checkpoint is kept at {where}. "
                  "Continue with the same command and --resume.", file=sys.stderr, flush=True)
            raise

    def train_one_epoch(self, epoch: int) -> dict:
        """Train, validate, let the schedule decide, record and checkpoint one epoch."""
        cfg, device, rank = self.cfg, self.device, self.rank
        n = len(self.train_set)
        steps = max(1, n // cfg.batch_size)  # the last incomplete batch is dropped (order reshuffles)
        global_batch = min(cfg.batch_size, n)
        self.model.train()
        t0 = time.time()
        batches = epoch_batches(self.train_set, epoch, self.order_gen, global_batch, steps, rank, cfg, device)
        try:
            totals = train_epoch(self.step_model, self.optimizer, self.augmenter, batches, steps,
                                 generator=self.aug_gen, device=device, precision=self.precision,
                                 record=max(0, cfg.record_steps - (epoch - 1) * steps), world=rank.world,
                                 bar_desc=f"epoch {epoch}/{cfg.epochs}" if cfg.progress and rank.main else None)
        except NonFiniteLoss as bad:
            raise TrainingDiverged(_diverged_message(epoch, bad.step, self.ckpt_path, cfg, self.history,
                                                     self.precision, self.num_classes), epoch, bad.step + 1) from None
        loss_sum, errors, seen = totals.loss_sum, totals.errors, totals.seen
        if rank.world > 1:
            summed = torch.stack([loss_sum, errors.float(), torch.tensor(float(seen), device=device)])
            dist.all_reduce(summed)
            loss_sum, errors, seen = summed[0], summed[1], int(summed[2].item())
        val = self._validate(max(256, global_batch // rank.world))
        fair_train = self._evaluate_train_probe(max(256, global_batch // rank.world))
        dropped = self.schedule.step(val["top1"], epoch)
        record = dict(epoch=epoch, train_loss=loss_sum.item() / seen, train_top1=100.0 * errors.item() / seen,
                      val_top1=val["top1"], val_top5=val["top5"], lr=self.optimizer.param_groups[0]["lr"],
                      seconds=round(time.time() - t0, 3), train_seconds=round(totals.train_seconds, 3),
                      images_per_s=round(seen / totals.train_seconds, 1), lr_dropped_after=dropped,
                      lr_drop_forced=dropped and self.schedule.forced_drop_epoch == epoch)
        if fair_train is not None:
            record["train_eval_top1"] = fair_train["top1"]
        if totals.step_losses:
            record["step_losses"] = [round(v, 4) for v in torch.stack(totals.step_losses).float().tolist()]
        self.history.append(record)
        set_lr(self.optimizer, self.schedule.lr)
        self.save(epoch)
        if rank.main:
            print(f"epoch {epoch:3d}  loss {record['train_loss']:.4f}  train top-1 {record['train_top1']:5.2f}%  "
                  f"val top-1 {record['val_top1']:5.2f}%  top-5 {record['val_top5']:5.2f}%  lr {record['lr']:.0e}"
                  f"{' -> ' + format(self.schedule.lr, '.0e') if dropped else ''}  "
                  f"{record['images_per_s']:.0f} img/s  {record['seconds']:.1f}s", flush=True)
        return record

    def _validate(self, batch_size: int) -> dict:
        """Centre-crop validation on the main process, shared with the others."""
        val = (evaluate(self.model, self.val_set, self.augmenter, device=self.device, precision=self.precision,
                        batch_size=batch_size) if self.rank.main else None)
        if self.rank.world > 1:
            box = [val]
            dist.broadcast_object_list(box, src=0)
            val = box[0]
        return val

    def _evaluate_train_probe(self, batch_size: int) -> dict | None:
        """The fixed training images evaluated as validation is (eval mode, centre crop), on the
        main process: a training error free of dropout and augmentation, for the overfitting gap."""
        if self.train_probe is None or not self.rank.main:
            return None
        return evaluate(self.model, self.train_probe, self.augmenter, device=self.device, precision=self.precision,
                        batch_size=batch_size)

    def earlier_seconds(self) -> float:
        """The epochs an earlier process trained before this one resumed (their set-up is not kept)."""
        return sum(r["seconds"] for r in self.history[:self.start_epoch - 1])

    def outcome(self, prov: dict) -> RunOutcome:
        """The final metrics and the record; written to ``result.json`` when the run has a folder."""
        cfg = self.cfg
        metrics = (final_metrics(self.model, self.val_set, self.augmenter, self.device, self.precision, cfg,
                                 self.history) if self.rank.main else {})
        predictions = metrics.pop("predictions", None)
        if self.start_epoch > 1:
            prov["resumed_after_epoch"] = self.start_epoch - 1
        skipped = skipped_images(self.train_set, self.val_set)
        if skipped:
            prov["skipped_images"] = skipped
        outcome = RunOutcome(cfg.to_dict(), self.history, metrics, prov, self.model, predictions)
        if self.ckpt_path is not None and self.rank.main:
            atomic_write_json(self.ckpt_path.parent / RESULT, outcome.record())
        return outcome


def final_metrics(model: nn.Module, val_set: ImageSet, augmenter: Augmenter, device: torch.device,
                  precision: str, cfg: TrainConfig, history: list[dict]) -> dict:
    """Centre-crop and (optionally) ten-patch validation error of the final model, with which
    images it got right under ``predictions`` (:func:`final_predictions`)."""
    kwargs = dict(device=device, precision=precision, batch_size=256, per_image=True)
    centre = evaluate(model, val_set, augmenter, **kwargs)
    metrics = dict(val_top1=centre["top1"], val_top5=centre["top5"], val_top1_se=centre["top1_se"],
                   val_top5_se=centre["top5_se"], val_images=centre["n"], epochs=len(history),
                   final_train_top1=history[-1]["train_top1"] if history else None,
                   final_train_loss=history[-1]["train_loss"] if history else None,
                   final_train_eval_top1=history[-1].get("train_eval_top1") if history else None,
                   best_val_top1=min((h["val_top1"] for h in history), default=None),
                   lr_drops=sum(bool(h.get("lr_dropped_after")) for h in history),
                   train_images_per_s=(sum(h["images_per_s"] for h in history) / len(history)) if history else None)
    ten = None
    if cfg.ten_crop:
        ten = evaluate(model, val_set, augmenter, ten_crop=True, **kwargs)
        metrics.update(val10_top1=ten["top1"], val10_top5=ten["top5"])
    metrics["predictions"] = final_predictions(val_set, centre, ten)
    return metrics


def final_predictions(val_set: ImageSet, centre: dict, ten: dict | None) -> dict:
    """Which validation images the final model got right, packed (``evaluate.pack_hits``), with
    a digest of the images and labels they refer to: two runs' predictions pair image by image
    only where the digests agree."""
    names = "\n".join(map(str, getattr(val_set, "files", []) or []))
    digest = hashlib.sha256(names.encode("utf-8", "surrogateescape")
                            + bytes(val_set.labels.to(torch.int64).cpu().numpy())).hexdigest()[:16]
    views = {"centre": centre} | ({"ten_patch": ten} if ten is not None else {})
    return dict(images=centre["n"], images_digest=digest,
                **{view: dict(top1=result["top1_hits"], top5=result["top5_hits"]) for view, result in views.items()})


def train_probe(train_set: ImageSet, n: int) -> ImageSet | None:
    """A fixed random subset of ``n`` training images (the same for every run and epoch), or None
    when off (``n`` = 0) or the split is streamed rather than held in memory."""
    if n <= 0 or not hasattr(train_set, "subset"):
        return None
    return train_set.subset(n, seed=0)


def _fits_on_gpu(train_set: ImageSet, val_set: ImageSet, device: torch.device) -> bool:
    need = train_set.images.numel() + val_set.images.numel()
    free, _ = torch.cuda.mem_get_info(device)
    return need < 0.5 * free


def _diverged_message(epoch: int, step: int, ckpt: Path | None, cfg: TrainConfig, history: list[dict],
                      precision: str, num_classes: int) -> str:
    """What happened, what the kept checkpoint is worth, and only the remedies not already in use."""
    chance = math.log(max(num_classes, 2))  # the loss of a uniform guess
    if ckpt is None or not ckpt.exists() or not history:
        kept = "no checkpoint was written yet"
    elif history[-1]["train_loss"] > chance + 1.0:
        kept = (f"the checkpoint of epoch {history[-1]['epoch']} at {ckpt} is kept, but its training loss was "
                f"already {history[-1]['train_loss']:.3g} (a uniform guess scores {chance:.2f}): it was diverging, "
                "so resuming from it will not help; start afresh with --overwrite")
    else:
        kept = (f"the last good checkpoint (epoch {history[-1]['epoch']}, training loss "
                f"{history[-1]['train_loss']:.3g}) is kept at {ckpt}")
    remedies = [f"a lower --lr (now {cfg.lr:g}; the paper's is 0.01)"]
    if precision != "fp32":
        remedies.append("--precision fp32")
    if cfg.init != "kaiming":
        remedies.append("--init kaiming")
    return (f"the training loss became NaN or infinite at epoch {epoch}, step {step + 1}; {kept}. "
            f"Try {', '.join(remedies[:-1]) + ' or ' + remedies[-1] if len(remedies) > 1 else remedies[0]}.")


def check_checkpoint_classes(path: Path, state: dict, classes: list[str], dataset: str) -> None:
    """Refuse to evaluate a checkpoint on a dataset of other classes: by name where the checkpoint
    stores them, else by the number of the network's outputs."""
    known = state.get("classes")
    outputs = next((v.shape[0] for k, v in state["model"].items() if k in OUTPUT_WEIGHTS), None)
    if known is not None and list(known) != classes:
        missing, extra = sorted(set(known) - set(classes)), sorted(set(classes) - set(known))
        detail = (f"missing here: {missing}; " if missing else "") + (f"not trained on: {extra}" if extra else "")
        raise DataError(f"the checkpoint {path} was trained on {len(known)} classes that dataset {dataset!r} does not "
                        f"match ({detail.strip('; ') or 'the same names in another order'}). Evaluate it on the dataset "
                        "it was trained on: point --dataset or --data-root at it")
    if outputs is not None and outputs != len(classes):
        raise DataError(f"the checkpoint {path} has {outputs} class outputs but dataset {dataset!r} has {len(classes)} "
                        "classes; evaluate it on the dataset it was trained on (--dataset, --data-root)")


#: The final layer's weight of each network: its rows are the class outputs.
OUTPUT_WEIGHTS = ("fc8.weight", "fc.weight", "fc10.weight")


def evaluate_checkpoint(path: Path, data_root: str | None = None, device: str = "auto",
                        dataset: str | None = None) -> dict:
    """Centre-crop and ten-patch validation error of a saved checkpoint, on the dataset it was
    trained on (``dataset``/``data_root`` say where it is now, if it moved), checked by class name."""
    state = load_checkpoint(path, map_location="cpu")
    cfg = TrainConfig.from_dict(state["config"])
    if data_root is not None:
        cfg.data_root = data_root
    if dataset is not None:
        cfg.dataset = dataset
    dev = resolve_device(device)
    precision = resolve_precision(cfg.precision, dev)
    try:
        train_set, val_set, stats = load_data(cfg)
    except DataError as err:
        raise DataError(f"{err}. The checkpoint {path} was trained on {cfg.dataset!r}: if that dataset moved, point "
                        "at its new place with --dataset (or --data-root)") from None
    check_checkpoint_classes(path, state, list(train_set.classes), cfg.dataset)
    model = build_model(cfg, len(train_set.classes))
    model.load_state_dict(state["model"])
    model = model.to(dev)
    cfg.ten_crop = True
    metrics = final_metrics(model, val_set, Augmenter(augment_config(cfg), stats), dev, precision, cfg,
                            state["history"])
    metrics.pop("predictions")  # the per-image record is for run records, not the printed summary
    return metrics
