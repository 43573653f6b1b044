"""One epoch of training: the batches in their seeded order, and the steps over them (section 5)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterable

import torch
from torch import nn
from tqdm import tqdm

from .augment import Augmenter
from .config import TrainConfig
from .distributed import DistInfo
from .step import train_step


class NonFiniteLoss(ArithmeticError):
    """The running training loss became NaN or infinite at ``step`` (0-based) of the epoch."""

    def __init__(self, step: int):
        super().__init__(f"non-finite loss at step {step + 1}")
        self.step = step


@dataclass
class EpochTotals:
    """What one epoch's steps add up to (``loss_sum`` and ``errors`` stay on the device)."""

    loss_sum: torch.Tensor
    errors: torch.Tensor
    seen: int = 0
    step_losses: list[torch.Tensor] = field(default_factory=list)
    train_seconds: float = 0.0


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, augmenter: Augmenter,
                batches: Iterable[tuple[torch.Tensor, torch.Tensor]], steps: int, *, generator: torch.Generator,
                device: torch.device, precision: str, record: int = 0, bar_desc: str | None = None,
                world: int = 1) -> EpochTotals:
    """:func:`~alexnet_core.step.train_step` over ``steps`` batches; the losses of the first
    ``record`` steps are kept. A non-finite running loss raises :class:`NonFiniteLoss` (checked
    every step on a CPU, every 50 steps and at the end on a GPU, where a check costs a sync)."""
    totals = EpochTotals(torch.zeros((), device=device), torch.zeros((), device=device))
    t0 = time.time()
    bar = tqdm(range(steps), desc=bar_desc, unit="batch", leave=False, disable=bar_desc is None)
    for step, (images, labels) in zip(bar, batches):
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        if labels.min() < 0:  # streamed images skipped as unreadable (--skip-corrupt)
            keep = labels >= 0
            images, labels = images[keep], labels[keep]
        loss, logits = train_step(model, optimizer, augmenter, images, labels, generator, device, precision)
        totals.loss_sum += loss * len(labels)
        if step < record:
            totals.step_losses.append(loss)
        totals.errors += (logits.argmax(1) != labels).sum()
        totals.seen += len(labels)
        if device.type == "cpu" or step % 50 == 49 or step == steps - 1:
            running = totals.loss_sum.item() / totals.seen
            if not math.isfinite(running):
                raise NonFiniteLoss(step)
            if bar_desc is not None:
                bar.set_postfix(loss=f"{running:.3f}", img_s=f"{totals.seen * world / (time.time() - t0):.0f}")
    totals.train_seconds = time.time() - t0
    return totals


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
