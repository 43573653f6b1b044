"""Evaluation: top-1/top-5 error, the ten-patch test of section 4.1, fc7 retrieval (Figure 4)."""
from __future__ import annotations

import math
from typing import Iterator

import torch
from torch import nn
from tqdm import tqdm

from .augment import Augmenter
from .data import ImageSet
from .hardware import autocast


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices covering ``range(n)``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def eval_batches(data, batch_size: int, num_workers: int = 2) -> Iterator[torch.Tensor]:
    """uint8 image batches in order: slices of an in-memory ImageSet, or a DataLoader over a
    streamed split."""
    if hasattr(data, "images"):
        for s in batches(len(data), batch_size):
            yield data.images[s]
        return
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    for images, _ in loader:
        yield images


@torch.no_grad()
def predict(model: nn.Module, data: ImageSet, augmenter: Augmenter, *, device: torch.device | str = "cpu",
            precision: str = "fp32", batch_size: int = 256, ten_crop: bool = False,
            progress: bool = False) -> torch.Tensor:
    """Softmax probabilities (N x classes, float32, CPU) for every image of ``data``.

    With ``ten_crop`` the softmax is averaged over section 4.1's ten patches; otherwise
    the centre crop is used.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    out = []
    try:
        for images in tqdm(eval_batches(data, batch_size), total=math.ceil(len(data) / batch_size),
                           desc="evaluating", unit="batch", disable=not progress, leave=False):
            images = images.to(device, non_blocking=True)
            with autocast(device, precision):
                if ten_crop:  # one patch position at a time: the memory of a centre-crop pass, not ten
                    views = augmenter.ten_crop(images)
                    probs = sum(model(view).float().softmax(-1) for view in views) / len(views)
                else:
                    probs = model(augmenter.centre(images)).float().softmax(-1)
            out.append(probs.cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def topk_error(scores: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Percentage of images whose true label is not among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    top = scores.topk(k, dim=1).indices
    hit = (top == labels.to(top.device)[:, None]).any(dim=1)
    return 100.0 * (1.0 - hit.float().mean().item())


def binomial_standard_error(error_percent: float, n: int) -> float:
    """Standard error, in percentage points, of an error rate measured on ``n`` images."""
    p = error_percent / 100.0
    return 100.0 * math.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))


def evaluate(model: nn.Module, data: ImageSet, augmenter: Augmenter, *, ten_crop: bool = False,
             per_image: bool = False, **kwargs) -> dict:
    """Top-1 and top-5 error (percent) with their binomial standard errors; with ``per_image``
    also which images were right, top-1 and top-5, as :func:`pack_hits` strings (``top1_hits``,
    ``top5_hits``): what the paired comparison of two runs on the same images needs."""
    probs = predict(model, data, augmenter, ten_crop=ten_crop, **kwargs)
    top1, top5 = topk_error(probs, data.labels, 1), topk_error(probs, data.labels, 5)
    n = len(data)
    result = dict(top1=top1, top5=top5, top1_se=binomial_standard_error(top1, n),
                  top5_se=binomial_standard_error(top5, n), n=n, views=10 if ten_crop else 1)
    if per_image:
        result.update(top1_hits=pack_hits(hits(probs, data.labels, 1)), top5_hits=pack_hits(hits(probs, data.labels, 5)))
    return result


def hits(scores: torch.Tensor, labels: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Per image, whether its true label is among the ``k`` highest scores (bool, N)."""
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices
    return (top == labels.to(top.device)[:, None]).any(dim=1).cpu()


def pack_hits(hit: torch.Tensor) -> str:
    """Per-image right/wrong as hex, eight images a byte (image i in bit i % 8 of byte i // 8):
    a run's 3,925 Imagenette validation images take 982 characters."""
    bits = hit.to(torch.uint8).flatten()
    padded = torch.cat([bits, bits.new_zeros((-len(bits)) % 8)]).view(-1, 8)
    weights = torch.tensor([1 << i for i in range(8)], dtype=torch.int32)
    return bytes((padded.to(torch.int32) * weights).sum(1).to(torch.uint8).tolist()).hex()


def unpack_hits(packed: str, n: int) -> torch.Tensor:
    """The bool per image that :func:`pack_hits` packed (``n`` images)."""
    data = torch.tensor(list(bytes.fromhex(packed)), dtype=torch.int32)
    bits = (data[:, None] >> torch.arange(8, dtype=torch.int32)) & 1
    return bits.flatten()[:n].bool()


@torch.no_grad()
def embeddings(model: nn.Module, data: ImageSet, augmenter: Augmenter, *, device: torch.device | str = "cpu",
               precision: str = "fp32", batch_size: int = 256) -> torch.Tensor:
    """``model.embed`` of each image's centre crop: the fc7 activations for AlexNet."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    try:
        out = []
        for images in eval_batches(data, batch_size):
            with autocast(device, precision):
                out.append(model.embed(augmenter.centre(images.to(device))).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def nearest_neighbours(queries: torch.Tensor, gallery: torch.Tensor, k: int = 6,
                       exclude_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and Euclidean distances of the ``k`` gallery vectors nearest each query (Figure 4)."""
    distances = torch.cdist(queries.double(), gallery.double())
    if exclude_self:
        distances.fill_diagonal_(float("inf"))
    d, idx = distances.topk(min(k, gallery.shape[0]), dim=1, largest=False)
    return idx, d.float()
