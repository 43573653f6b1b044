"""One training step of section 5's learning rule: augment a batch, forward under the run's
precision, cross-entropy, backward, update. The trainer and the throughput benchmark share it."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .augment import Augmenter
from .hardware import autocast


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, augmenter: Augmenter, images: torch.Tensor,
               labels: torch.Tensor, generator: torch.Generator | None, device: torch.device,
               precision: str, channels_last_input: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on a uint8 batch; returns the (detached) loss and the logits.

    The augmentation (section 4.1) runs on ``device`` with ``generator`` and yields a
    channels_last batch; ``channels_last_input=False`` makes it contiguous first (the throughput
    benchmark's plain-memory rows). The loss is computed in float32 whatever the precision.
    """
    x = augmenter.train(images, generator)
    if not channels_last_input:
        x = x.contiguous()
    with autocast(device, precision):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()
