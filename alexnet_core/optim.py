"""The learning rule and learning-rate schedule of section 5.

Section 5: "We trained our models using stochastic gradient descent with a batch size of 128
examples, momentum of 0.9, and weight decay of 0.0005 ... The update rule for weight w was

    v_{i+1} := 0.9 v_i - 0.0005 * eps * w_i - eps * <dL/dw>_{D_i}
    w_{i+1} := w_i + v_{i+1}

... The heuristic which we followed was to divide the learning rate by 10 when the
validation error rate stopped improving with the current learning rate. The learning rate
was initialized at 0.01 and reduced three times prior to termination."

:class:`PaperSGD` is that rule. ``torch.optim.SGD(momentum=0.9, weight_decay=5e-4)`` keeps a
buffer ``b <- 0.9 b + (g + 0.0005 w)`` and steps ``w <- w - lr b``: with a constant lr the
two are the same (``v = -lr b``), but right after the lr is divided by 10 torch's buffer,
which does not contain the lr, keeps pushing with the *new* lr times the *old* momentum,
while the paper's velocity still carries the old lr's step and decays it over ~10 steps.
Both are available (``update_rule``); the paper's is the default.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

import torch
from torch import nn


class PaperSGD(torch.optim.Optimizer):
    """Section 5's momentum SGD, with the learning rate inside the velocity."""

    def __init__(self, params: Iterable, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 5e-4):
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ValueError(f"invalid PaperSGD settings lr={lr} momentum={momentum} weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            velocities = []
            for p in params:
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                velocities.append(state["velocity"])
            grads = [p.grad for p in params]
            torch._foreach_mul_(velocities, momentum)               # 0.9 v
            if decay:
                torch._foreach_add_(velocities, params, alpha=-decay * lr)  # - 0.0005 eps w
            torch._foreach_add_(velocities, grads, alpha=-lr)        # - eps grad
            torch._foreach_add_(params, velocities)                  # w + v
        return loss


def parameter_groups(model: nn.Module, weight_decay: float, decay_biases: bool,
                     bias_lr_mult: float = 1.0) -> list[dict]:
    """Weights get weight decay; biases too only when ``decay_biases``.

    The paper's rule is written for "weight w"; cuda-convnet, which the paper used, applied
    weight decay to weights only. ``decay_biases=True`` gives torch's usual all-parameter decay.
    Each group carries ``lr_mult``, its learning rate over the weights': the 2012 code gave
    biases twice the weights' rate (``epsB=0.02`` against ``epsW=0.01``), ``bias_lr_mult=2``.
    """
    mults = getattr(model, "decay_mult", {})  # per layer, decay over the run's (conv-local net: 0 for convs)
    by_mult: dict[float, list] = {}
    for n, p in model.named_parameters():
        if not n.endswith("bias"):
            by_mult.setdefault(mults.get(n.rsplit(".", 1)[0], 1.0), []).append(p)
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    return [dict(params=weights, weight_decay=weight_decay * mult, lr_mult=1.0) for mult, weights in by_mult.items()] \
        + [dict(params=biases, weight_decay=weight_decay if decay_biases else 0.0, lr_mult=bias_lr_mult)]


def make_optimizer(model: nn.Module, rule: str, lr: float, momentum: float, weight_decay: float,
                   decay_biases: bool = False, bias_lr_mult: float = 1.0) -> torch.optim.Optimizer:
    """``paper``: :class:`PaperSGD`; ``torch``: ``torch.optim.SGD`` with the same settings."""
    groups = parameter_groups(model, weight_decay, decay_biases, bias_lr_mult)
    for group in groups:
        group["lr"] = lr * group["lr_mult"]
    if rule == "paper":
        return PaperSGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if rule == "torch":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown update rule {rule!r}: choose 'paper' or 'torch'")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the weights' learning rate; every group follows at its ``lr_mult`` (1 when absent).

    The 2012 code's notes lower only ``epsW`` at each step, so its biases kept 0.02 to the
    end; here they keep their ratio to the weights' rate (the book's table says so)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)


@dataclass
class PlateauSchedule:
    """Divide the lr by ``factor`` when validation error has not improved for ``patience`` epochs.

    At most ``max_drops`` divisions (the paper: three). After the last one, a further
    plateau of ``patience`` epochs ends training (``finished``), as the paper's run ended
    after its third reduction. An improvement must exceed ``min_delta`` percentage points.

    ``drop_by`` (0: off) is for runs cut short by a compute budget: if the lr has not been
    divided once by the end of epoch ``drop_by``, it is divided then, so that every recorded
    run also measures the network after a reduction, as the paper's did (section 5). It is a
    stand-in for a plateau the short run would have reached later, and is recorded as such.
    """

    lr: float = 0.01
    patience: int = 3
    max_drops: int = 3
    factor: float = 10.0
    min_delta: float = 0.0
    drop_by: int = 0
    forced_drop_epoch: int = 0
    best: float = float("inf")
    epochs_without_improvement: int = 0
    drops: int = 0
    finished: bool = False

    def step(self, val_error: float, epoch: int | None = None) -> bool:
        """Record one epoch's validation error; returns True when the lr was just divided."""
        if self.drop_by and epoch is not None and epoch >= self.drop_by and self.drops == 0 and self.max_drops > 0:
            self.best = min(self.best, val_error)
            self.epochs_without_improvement = 0
            self.drops += 1
            self.lr /= self.factor
            self.forced_drop_epoch = epoch
            return True
        if val_error < self.best - self.min_delta:
            self.best = val_error
            self.epochs_without_improvement = 0
            return False
        self.epochs_without_improvement += 1
        if self.epochs_without_improvement < self.patience:
            return False
        self.epochs_without_improvement = 0
        if self.drops < self.max_drops:
            self.drops += 1
            self.lr /= self.factor
            return True
        self.finished = True
        return False

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
