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
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from . import data as D
from .allocator import keep_freed_memory
from .augment import AugmentConfig, Augmenter, ColourStats
from .checkpoint import CHECKPOINT, CheckpointError, CheckpointWriteError, load_checkpoint, save_checkpoint
from .config import RUNTIME_ONLY, TrainConfig
from .evaluate import evaluate
from .hardware import autocast, resolve_device, resolve_precision
from .model import AlexNet, CifarNet
from .optim import PlateauSchedule, make_optimizer, set_lr
from .results import atomic_write_json, atomic_write_text, git_state, provenance
from .run_folder import RunFolderError, claim_run_folder

__all__ = ["CHECKPOINT", "HISTORY", "RESULT", "CheckpointError", "CheckpointWriteError", "ResumeError",
           "RunFolderError", "RunOutcome", "TrainingDiverged", "evaluate_checkpoint", "load_data", "train"]

HISTORY = "history.jsonl"
RESULT = "result.json"


# A run keeps the loss of each of its first ``record_steps`` steps (100 by default) in the history,
# as ``step_losses`` of the epochs they fall in: how a run starts out (a spike, a collapse to
# chance) is invisible in epoch means.


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class ResumeError(RuntimeError):
    """A checkpoint cannot be resumed with the given settings."""


# --------------------------------------------------------------------------- building blocks

def build_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    """The network a config names, initialised under the config's seed."""
    torch.manual_seed(cfg.seed)
    crop = cfg.resolved_crop()
    recipe = cfg.recipe_settings()
    if cfg.model == "alexnet":
        model: nn.Module = AlexNet(num_classes, groups=cfg.groups, lrn=cfg.lrn, overlap_pool=cfg.overlap_pool,
                                   activation=cfg.activation, dropout=cfg.dropout, init=cfg.init,
                                   width=cfg.width, input_size=crop, remove_conv=cfg.remove_conv,
                                   lrn_alpha=recipe["lrn_alpha"], lrn1_before_relu=recipe["lrn1_before_relu"],
                                   norm2_within_map=recipe["norm2_within_map"], conv345_std=recipe["conv345_std"])
    elif cfg.model == "cifarnet":
        model = CifarNet(num_classes, activation=cfg.activation, lrn=cfg.lrn, input_size=crop, init=cfg.init)
    else:
        raise ValueError(f"unknown model {cfg.model!r}: choose alexnet or cifarnet")
    if cfg.init == "paper" and not cfg.bias_one:
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.zeros_(m.bias)
    return model


def load_data(cfg: TrainConfig) -> tuple[D.ImageSet, D.ImageSet, ColourStats]:
    """Training and validation splits (decoded once) and the training set's colour statistics.

    The layout (both splits, the same classes) is checked before any image is decoded, and the
    two splits are checked again after loading: a label means the same class in both."""
    if cfg.dataset == "synthetic":
        side = 32 if cfg.model == "cifarnet" else 256
        train = D.synthetic_image_set(n=cfg.limit_train or 256, num_classes=4, side=side, seed=1)
        val = D.synthetic_image_set(n=cfg.limit_val or 64, num_classes=4, side=side, seed=2)
        return train, val, ColourStats.from_images(train)
    D.check_layout(cfg.dataset, cfg.data_root, download=cfg.download)
    size = D.store_size(cfg.dataset, cfg.model)
    if cfg.stream or cfg.dataset == "imagenet":
        train = D.load_streaming(cfg.dataset, "train", cfg.data_root, skip_corrupt=cfg.skip_corrupt,
                                 limit=cfg.limit_train, size=size)
        val = D.load_streaming(cfg.dataset, "val", cfg.data_root, skip_corrupt=cfg.skip_corrupt, limit=cfg.limit_val,
                               size=size)
        D.check_same_classes(train, val)
        return train, val, ColourStats.from_images(train.sample_images(min(cfg.stats_sample, len(train)), cfg.seed))
    kwargs = dict(root=cfg.data_root, skip_corrupt=cfg.skip_corrupt, download=cfg.download, size=size)
    if cfg.decode_subset:
        train = D.load(cfg.dataset, "train", limit=cfg.limit_train, decode_subset=True, **kwargs)
        val = D.load(cfg.dataset, "val", limit=cfg.limit_val, decode_subset=True, **kwargs)
        D.check_same_classes(train, val)
        return train, val, cached_colour_stats(train)
    train = D.load(cfg.dataset, "train", **kwargs)
    val = D.load(cfg.dataset, "val", **kwargs)
    D.check_same_classes(train, val)
    stats = cached_colour_stats(train)
    return train.subset(cfg.limit_train, seed=0), val.subset(cfg.limit_val, seed=0), stats


def cached_colour_stats(train: D.ImageSet) -> ColourStats:
    """Mean image and RGB eigen-decomposition of the whole training split, cached beside its images."""
    key = getattr(train, "key", "")
    path = D.default_cache_dir() / f"{key}.stats.pt" if key else None
    if path is not None and path.exists():
        return ColourStats(**torch.load(path, weights_only=True))
    stats = ColourStats.from_images(train)
    if path is not None:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(stats.state_dict(), tmp)
        os.replace(tmp, path)
    return stats


def augment_config(cfg: TrainConfig) -> AugmentConfig:
    return AugmentConfig(crop=cfg.resolved_crop(), random_crop=cfg.random_crop, flip=cfg.flip,
                         pca_colour=cfg.pca_colour, pca_std=cfg.pca_std, subtract_mean=cfg.subtract_mean,
                         colour_rescale=cfg.recipe_settings()["colour_rescale"])


def check_config(cfg: TrainConfig) -> None:
    """Reject settings that cannot work before any data is touched (each wrong flag named)."""
    cfg.validate()


# --------------------------------------------------------------------------- distributed

@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes (WORLD_SIZE > 1); gloo on CPU, nccl on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return info


# --------------------------------------------------------------------------- run files

def write_history(out: Path, history: list[dict]) -> None:
    atomic_write_text(out / HISTORY, "".join(json.dumps(r, sort_keys=True) + "\n" for r in history))


def comparable(config: dict) -> dict:
    """The settings that must agree between a checkpoint and its resumption."""
    return {k: v for k, v in config.items() if k not in RUNTIME_ONLY and k not in ("epochs", "early_stop")}


# --------------------------------------------------------------------------- the loop

@dataclass
class RunOutcome:
    """What :func:`train` returns: the config, per-epoch history, final metrics and provenance."""

    config: dict
    history: list[dict]
    metrics: dict
    provenance: dict
    model: nn.Module | None = None

    def record(self) -> dict:
        return dict(config=self.config, history=self.history, metrics=self.metrics, provenance=self.provenance)


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
    out_dir = Path(out) if out is not None else None
    if resume and out_dir is None:
        raise ResumeError("resume needs the run folder (--out) whose checkpoint to continue")
    claim = (claim_run_folder(out_dir, resume=resume, overwrite=overwrite) if out_dir is not None and rank.main
             else contextlib.nullcontext())
    with claim:
        state = resume_state(out_dir / CHECKPOINT, cfg, device) if resume else None
        return _train(cfg, out_dir, state, device=device, precision=precision, rank=rank, allocator=allocator,
                      started=started, code=code, on_epoch_end=on_epoch_end, data=data)


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


def _train(cfg: TrainConfig, out_dir: Path | None, state: dict | None, *, device: torch.device, precision: str,
           rank: DistInfo, allocator: str, started: float, code: dict, on_epoch_end: Callable[[dict], None] | None,
           data: tuple | None) -> RunOutcome:
    """The body of :func:`train`, once the run folder is claimed (``state``: a checkpoint to resume)."""
    train_set, val_set, stats = data if data is not None else load_data(cfg)
    num_classes = len(train_set.classes)
    model = build_model(cfg, num_classes).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, cfg.update_rule, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.decay_biases,
                               cfg.recipe_settings()["bias_lr_mult"])
    schedule = PlateauSchedule(lr=cfg.lr, patience=cfg.patience, max_drops=cfg.max_drops, factor=cfg.lr_factor,
                               min_delta=cfg.min_delta, drop_by=cfg.drop_by)
    augmenter = Augmenter(augment_config(cfg), stats)
    order_gen = torch.Generator().manual_seed(cfg.seed)
    aug_gen = torch.Generator(device=device).manual_seed(cfg.seed * 1000 + 17 + rank.rank)
    torch.manual_seed(cfg.seed + 7919 * rank.rank)  # dropout's randomness
    history: list[dict] = []
    start_epoch = 1

    ckpt_path = out_dir / CHECKPOINT if out_dir is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        rng = state["rng"]
        order_gen.set_state(rng["order"].cpu())
        aug_gen.set_state(rng["augment"].cpu())
        torch.set_rng_state(rng["torch"].cpu())
        if device.type == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state(rng["cuda"].cpu(), device)
        history = state["history"]
        start_epoch = state["epoch"] + 1
        set_lr(optimizer, schedule.lr)

    in_memory = hasattr(train_set, "images")
    on_device = in_memory and (cfg.data_on_device == "yes" or (cfg.data_on_device == "auto" and device.type == "cuda"
                                                               and _fits_on_gpu(train_set, val_set, device)))
    if on_device:
        train_set, val_set = train_set.to(device), val_set.to(device)
    step_model = torch.compile(model) if cfg.compile else model
    ddp_model = (nn.parallel.DistributedDataParallel(step_model, device_ids=[device.index] if device.type == "cuda" else None)
                 if rank.world > 1 else step_model)

    n = len(train_set)
    steps = max(1, n // cfg.batch_size)  # the last incomplete batch is dropped (order reshuffles)
    global_batch = min(cfg.batch_size, n)
    per_rank = global_batch // rank.world

    def save(epoch: int) -> None:
        if ckpt_path is None or not rank.main:
            return
        save_checkpoint(ckpt_path, epoch=epoch, config=cfg.to_dict(), model=model.state_dict(),
                        optimizer=optimizer.state_dict(), schedule=schedule.state_dict(), history=history,
                        rng=dict(order=order_gen.get_state(), augment=aug_gen.get_state(),
                                 torch=torch.get_rng_state(),
                                 cuda=torch.cuda.get_rng_state(device) if device.type == "cuda" else None))
        write_history(ckpt_path.parent, history)

    epoch = start_epoch - 1
    try:
        for epoch in range(start_epoch, cfg.epochs + 1):
            if schedule.finished and cfg.early_stop:
                break
            model.train()
            t0 = time.time()
            loss_sum = torch.zeros((), device=device)
            errors = torch.zeros((), device=device)
            seen = 0
            first_losses: list[torch.Tensor] = []  # epoch 1's first steps, one loss each (early stability)
            bar = tqdm(range(steps), desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", leave=False,
                       disable=not (cfg.progress and rank.main))
            batches_of_epoch = epoch_batches(train_set, epoch, order_gen, global_batch, steps, rank, cfg, device)
            for step, (images, labels) in zip(bar, batches_of_epoch):
                images = images.to(device, non_blocking=True)
                labels = labels.to(device, non_blocking=True)
                if labels.min() < 0:  # streamed images skipped as unreadable (--skip-corrupt)
                    keep = labels >= 0
                    images, labels = images[keep], labels[keep]
                x = augmenter.train(images, aug_gen)
                with autocast(device, precision):
                    logits = ddp_model(x)
                loss = F.cross_entropy(logits.float(), labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach() * len(labels)
                if (epoch - 1) * steps + step < cfg.record_steps:
                    first_losses.append(loss.detach())
                errors += (logits.detach().argmax(1) != labels).sum()
                seen += len(labels)
                if device.type == "cpu" or step % 50 == 49 or step == steps - 1:
                    running = loss_sum.item() / seen
                    if not math.isfinite(running):
                        raise TrainingDiverged(_diverged_message(epoch, step, ckpt_path, cfg, history, precision,
                                                                num_classes))
                    if cfg.progress and rank.main:
                        bar.set_postfix(loss=f"{running:.3f}", img_s=f"{seen * rank.world / (time.time() - t0):.0f}")
            train_seconds = time.time() - t0
            if rank.world > 1:
                totals = torch.stack([loss_sum, errors.float(), torch.tensor(float(seen), device=device)])
                dist.all_reduce(totals)
                loss_sum, errors, seen = totals[0], totals[1], int(totals[2].item())
            val = evaluate(model, val_set, augmenter, device=device, precision=precision,
                           batch_size=max(256, per_rank)) if rank.main else None
            if rank.world > 1:
                box = [val]
                dist.broadcast_object_list(box, src=0)
                val = box[0]
            dropped = schedule.step(val["top1"], epoch)
            record = dict(epoch=epoch, train_loss=loss_sum.item() / seen, train_top1=100.0 * errors.item() / seen,
                          val_top1=val["top1"], val_top5=val["top5"], lr=optimizer.param_groups[0]["lr"],
                          seconds=round(time.time() - t0, 3), train_seconds=round(train_seconds, 3),
                          images_per_s=round(seen / train_seconds, 1), lr_dropped_after=dropped,
                          lr_drop_forced=dropped and schedule.forced_drop_epoch == epoch)
            if first_losses:
                record["step_losses"] = [round(v, 4) for v in torch.stack(first_losses).float().tolist()]
            history.append(record)
            set_lr(optimizer, schedule.lr)
            save(epoch)
            if rank.main:
                print(f"epoch {epoch:3d}  loss {record['train_loss']:.4f}  train top-1 {record['train_top1']:5.2f}%  "
                      f"val top-1 {record['val_top1']:5.2f}%  top-5 {record['val_top5']:5.2f}%  lr {record['lr']:.0e}"
                      f"{' -> ' + format(schedule.lr, '.0e') if dropped else ''}  "
                      f"{record['images_per_s']:.0f} img/s  {record['seconds']:.1f}s", flush=True)
            if on_epoch_end is not None:
                on_epoch_end(record)
    except KeyboardInterrupt:
        where = f"{ckpt_path} (after epoch {epoch - 1})" if ckpt_path is not None and history else "nowhere (no --out)"
        print(f"\ninterrupted during epoch {epoch}; the last checkpoint is kept at {where}. "
              "Continue with the same command and --resume.", file=sys.stderr, flush=True)
        raise

    metrics = final_metrics(model, val_set, augmenter, device, precision, cfg, history) if rank.main else {}
    # a resumed run's wall time adds the epochs an earlier process trained (their set-up is not kept)
    earlier = sum(r["seconds"] for r in history[:start_epoch - 1])
    extra = dict(resumed_after_epoch=start_epoch - 1) if start_epoch > 1 else {}
    skipped = D.skipped_images(train_set, val_set)
    if skipped:
        extra["skipped_images"] = skipped
    outcome = RunOutcome(cfg.to_dict(), history, metrics,
                         provenance(device, precision, time.time() - started + earlier, code) | dict(world_size=rank.world)
                         | (dict(cpu_allocator=allocator) if device.type == "cpu" else {}) | extra, model)
    if out_dir is not None and rank.main:
        atomic_write_json(out_dir / RESULT, outcome.record())
    return outcome


def epoch_batches(train_set, epoch: int, order_gen: torch.Generator, global_batch: int, steps: int,
                  rank: DistInfo, cfg: TrainConfig, device: torch.device):
    """This process's (uint8 images, labels) batches for one epoch.

    In-memory sets: a permutation from ``order_gen`` (saved in checkpoints), each global
    batch split evenly over the processes. Streamed sets: a DistributedSampler seeded by
    the run's seed and the epoch number, DataLoader workers decoding JPEGs.
    """
    per_rank = global_batch // rank.world
    if hasattr(train_set, "images"):
        order = torch.randperm(len(train_set), generator=order_gen)
        for step in range(steps):
            idx = order[step * global_batch:(step + 1) * global_batch][rank.rank * per_rank:(rank.rank + 1) * per_rank]
            yield train_set.images[idx.to(train_set.images.device)], train_set.labels[idx.to(train_set.labels.device)]
        return
    sampler = torch.utils.data.distributed.DistributedSampler(train_set, num_replicas=rank.world, rank=rank.rank,
                                                              shuffle=True, seed=cfg.seed, drop_last=True)
    sampler.set_epoch(epoch)
    loader = torch.utils.data.DataLoader(train_set, batch_size=per_rank, sampler=sampler, drop_last=True,
                                         num_workers=cfg.num_workers, pin_memory=device.type == "cuda",
                                         persistent_workers=False)
    yield from loader


def final_metrics(model: nn.Module, val_set: D.ImageSet, augmenter: Augmenter, device: torch.device,
                  precision: str, cfg: TrainConfig, history: list[dict]) -> dict:
    """Centre-crop and (optionally) ten-patch validation error of the final model."""
    kwargs = dict(device=device, precision=precision, batch_size=256)
    centre = evaluate(model, val_set, augmenter, **kwargs)
    metrics = dict(val_top1=centre["top1"], val_top5=centre["top5"], val_top1_se=centre["top1_se"],
                   val_top5_se=centre["top5_se"], val_images=centre["n"], epochs=len(history),
                   final_train_top1=history[-1]["train_top1"] if history else None,
                   final_train_loss=history[-1]["train_loss"] if history else None,
                   best_val_top1=min((h["val_top1"] for h in history), default=None),
                   lr_drops=sum(bool(h.get("lr_dropped_after")) for h in history),
                   train_images_per_s=(sum(h["images_per_s"] for h in history) / len(history)) if history else None)
    if cfg.ten_crop:
        ten = evaluate(model, val_set, augmenter, ten_crop=True, **kwargs)
        metrics.update(val10_top1=ten["top1"], val10_top5=ten["top5"])
    return metrics


def _fits_on_gpu(train_set: D.ImageSet, val_set: D.ImageSet, device: torch.device) -> bool:
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


def evaluate_checkpoint(path: Path, data_root: str | None = None, device: str = "auto") -> dict:
    """Centre-crop and ten-patch validation error of a saved checkpoint."""
    state = load_checkpoint(path, map_location="cpu")
    cfg = TrainConfig.from_dict(state["config"])
    if data_root is not None:
        cfg.data_root = data_root
    dev = resolve_device(device)
    precision = resolve_precision(cfg.precision, dev)
    train_set, val_set, stats = load_data(cfg)
    model = build_model(cfg, len(train_set.classes))
    model.load_state_dict(state["model"])
    model = model.to(dev)
    cfg.ten_crop = True
    return final_metrics(model, val_set, Augmenter(augment_config(cfg), stats), dev, precision, cfg, state["history"])
