"""Small arrays the results chapter's figures need, recorded beside a run (section 6).

Figure 3 shows the 96 conv1 kernels; Figure 4 shows top-5 predictions on eight validation
images and, for each, the six training images nearest in fc7 space. The eight are chosen by a
stated rule (:func:`query_indices`: one image per class, classes spread evenly over the class
list), so a reader knows what the figure samples. Recording the kernels
and the image indices (never the images) lets the book redraw both without the model's
checkpoint; the images themselves are read from the dataset when the book is built.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from alexnet_core.augment import Augmenter
from alexnet_core.data import DataError, ImageSet, decode_image, find_split_folder, list_image_folder, resolve_data_root
from alexnet_core.evaluate import embeddings, nearest_neighbours, predict

QUERY_IMAGES = 8
NEIGHBOURS = 6
#: The rule :func:`query_indices` implements, as records name it.
QUERY_RULE = "one-per-class"


def query_indices(labels, n: int = QUERY_IMAGES, seed: int = 0) -> list[int]:
    """Figure 4's queries: ``n`` validation images, one from each of ``n`` classes spread evenly
    over the sorted class list (with fewer classes than ``n``, every class in turn and again from
    the first), each drawn at random within its class under ``seed``; in validation-set order."""
    labels = torch.as_tensor(labels)
    classes = torch.unique(labels).tolist()
    picks = ([classes[i % len(classes)] for i in range(n)] if n >= len(classes) else
             [classes[i] for i in np.round(np.linspace(0, len(classes) - 1, n)).astype(int)])
    g = torch.Generator().manual_seed(seed)
    members = {c: torch.nonzero(labels == c).flatten() for c in classes}
    shuffled = {c: members[c][torch.randperm(len(members[c]), generator=g)].tolist() for c in classes}
    chosen = [shuffled[c][picks[:i].count(c)] for i, c in enumerate(picks) if picks[:i].count(c) < len(shuffled[c])]
    return sorted(chosen)


def random_query_indices(count: int, n: int = QUERY_IMAGES, seed: int = 0) -> list[int]:
    """The rule of records made before :func:`query_indices`: ``n`` of ``count`` validation images
    drawn uniformly at random (``torch.randperm`` under ``seed``), whatever their class."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n].sort().values.tolist()


def query_rule(arrays: dict, labels=None) -> str:
    """How a record's Figure 4 queries were chosen, in words, checked against the validation
    labels (in the order the trainer loads them) where they are given."""
    q = arrays["queries"]
    n, seed = len(q["val_index"]), q.get("seed", 0)
    if q.get("rule") == QUERY_RULE:
        classes = len(arrays["classes"])
        text = (f"one validation image from each of {n} classes spread evenly over the {classes} classes" if n <= classes
                else f"{n} validation images, the {classes} classes taken in turn")
        text += f", each drawn at random within its class (seed {seed})"
        expected = query_indices(labels, n, seed) if labels is not None else None
    else:
        text = (f"{n} validation images drawn uniformly at random from the whole validation set (seed {seed}), "
                "whatever their class: the rule in force when this run was recorded (runs recorded from now on "
                "take one image per class)")
        expected = random_query_indices(len(labels), n, seed) if labels is not None else None
    if expected is not None and expected != q["val_index"]:
        text += "; redrawn from the validation set here, this rule does not give the recorded images"
    return text


def neighbour_same_class(arrays: dict) -> list[list[bool]]:
    """Per query, whether each of its nearest training images is of the query's class (read from
    the ImageFolder class folder each recorded file sits in)."""
    q = arrays["queries"]
    return [[Path(f).parent.name == arrays["classes"][label] for f in row]
            for row, label in zip(q["neighbour_files"], q["label"])]


def split_labels(dataset: str, split: str, data_root: str | None = None) -> list[int] | None:
    """The labels of a dataset's split in the order the trainer loads it, from the folder's
    listing (nothing decoded); None where the dataset is not on this machine."""
    try:
        _, samples = list_image_folder(find_split_folder(dataset, split, data_root))
    except DataError:
        return None
    return [label for _, label in samples]


def load_images(recorded: list[str], data_root: str | None = None, size: int = 224) -> list[np.ndarray]:
    """The images a record names (:func:`local_file`), each as the network's centre view:
    rescaled to ``size`` on its short side and centre-cropped, H x W x 3 uint8."""
    return [decode_image(str(local_file(path, data_root)), size).transpose(1, 2, 0) for path in recorded]


def colour_specificity(kernels: torch.Tensor) -> torch.Tensor:
    """Per kernel, the share of its energy that is not grey: ``|w - mean_c w|^2 / |w|^2``.

    0 for a kernel identical in R, G and B (colour-agnostic), towards 1 for one that
    responds to colour contrasts (colour-specific), the distinction Figure 3 draws.
    """
    w = kernels.double()
    grey = w.mean(dim=1, keepdim=True)
    return (((w - grey) ** 2).sum(dim=(1, 2, 3)) / (w ** 2).sum(dim=(1, 2, 3)).clamp_min(1e-12)).float()


def kernel_smoothness(kernels: torch.Tensor) -> float:
    """The mean correlation between horizontally and vertically adjacent weights of each kernel
    (N x 3 x k x k, each channel's mean removed), over the kernels: about 0 for random weights,
    the start of training, and high for the smooth edge and colour-blob filters of the paper's
    Figure 3 (section 6.1), so it says how far training has formed them."""
    w = kernels.double()
    w = w - w.mean(dim=(2, 3), keepdim=True)

    def correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x * y).sum(dim=(1, 2, 3)) / ((x * x).sum(dim=(1, 2, 3)) * (y * y).sum(dim=(1, 2, 3))).sqrt().clamp_min(1e-12)
    across = correlation(w[..., 1:], w[..., :-1])
    down = correlation(w[..., 1:, :], w[..., :-1, :])
    return float(((across + down) / 2).mean())


def figure_artifacts(model: nn.Module, train_set: ImageSet, val_set: ImageSet, augmenter: Augmenter,
                     device: torch.device, precision: str, seed: int = 0) -> dict:
    """conv1 kernels, and the predictions and fc7 neighbours of eight validation images."""
    queries = torch.tensor(query_indices(val_set.labels, QUERY_IMAGES, seed), dtype=torch.long)
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
        queries=dict(rule=QUERY_RULE, seed=seed, val_index=queries.tolist(), label=val_set.labels[queries].tolist(),
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
