"""Small arrays the results chapter's figures need, recorded beside a run (section 6).

Figure 3 shows the 96 conv1 kernels; Figure 4 shows top-5 predictions on eight validation
images and, for each, the six training images nearest in fc7 space. Recording the kernels
and the image indices (never the images) lets the book redraw both without the model's
checkpoint; the images themselves are read from the dataset when the book is built.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..augment import Augmenter
from ..data import DataError, ImageSet, resolve_data_root
from ..evaluate import embeddings, nearest_neighbours, predict

QUERY_IMAGES = 8
NEIGHBOURS = 6


def colour_specificity(kernels: torch.Tensor) -> torch.Tensor:
    """Per kernel, the share of its energy that is not grey: ``|w - mean_c w|^2 / |w|^2``.

    0 for a kernel identical in R, G and B (colour-agnostic), towards 1 for one that
    responds to colour contrasts (colour-specific), the distinction Figure 3 draws.
    """
    w = kernels.double()
    grey = w.mean(dim=1, keepdim=True)
    return (((w - grey) ** 2).sum(dim=(1, 2, 3)) / (w ** 2).sum(dim=(1, 2, 3)).clamp_min(1e-12)).float()


def figure_artifacts(model: nn.Module, train_set: ImageSet, val_set: ImageSet, augmenter: Augmenter,
                     device: torch.device, precision: str, seed: int = 0) -> dict:
    """conv1 kernels, and the predictions and fc7 neighbours of eight validation images."""
    g = torch.Generator().manual_seed(seed)
    queries = torch.randperm(len(val_set), generator=g)[:QUERY_IMAGES].sort().values
    query_set = ImageSet(val_set.images[queries], val_set.labels[queries], val_set.classes)
    probs = predict(model, query_set, augmenter, device=device, precision=precision)
    top = probs.topk(min(5, probs.shape[1]), dim=1)
    kwargs = dict(device=device, precision=precision)
    gallery = embeddings(model, train_set, augmenter, **kwargs)
    idx, dist = nearest_neighbours(embeddings(model, query_set, augmenter, **kwargs), gallery, NEIGHBOURS)
    kernels = model.conv1.weight.detach().float().cpu()
    return dict(
        conv1=[[round(v, 5) for v in k.flatten().tolist()] for k in kernels],
        conv1_shape=list(kernels.shape),
        colour_specificity=[round(v, 4) for v in colour_specificity(kernels).tolist()],
        queries=dict(val_index=queries.tolist(), label=val_set.labels[queries].tolist(),
                     files=[val_set.files[i] for i in queries.tolist()] if val_set.files else [],
                     top5_class=top.indices.tolist(), top5_prob=[[round(p, 4) for p in row] for row in top.values.tolist()],
                     neighbour_train_index=idx.tolist(), neighbour_distance=[[round(d, 3) for d in r] for r in dist.tolist()],
                     neighbour_files=[[train_set.files[j] for j in row] for row in idx.tolist()] if train_set.files else []),
        classes=list(val_set.classes),
    )


def local_file(recorded: str, data_root: str | None = None) -> Path:
    """An image file named in a record, found under this machine's data root.

    Records name files by the path they had where the run was made (a GPU machine's
    ``/tmp/data/imagenette-224/val/...``); the same file is looked up here by the longest
    tail of that path that exists under the local data root.
    """
    path = Path(recorded)
    if path.exists():
        return path
    root = resolve_data_root(data_root)
    parts = path.parts
    for k in range(1, len(parts)):
        candidate = root.joinpath(*parts[k:])
        if candidate.exists():
            return candidate
    raise DataError(f"{recorded} is not under the data root {root}: point --data-root/ALEXNET_DATA at the "
                    "folder that holds the dataset the run used")
