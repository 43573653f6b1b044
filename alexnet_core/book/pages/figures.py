"""The paper's drawings, redrawn from this project's model and records: Figure 2 (the network,
its shapes taken from a forward pass), Figure 3 (conv1's kernels, one block per column) and
Figure 4 (each query's top-5 under its image; its nearest training images in fc7 space).

Sizes follow :mod:`.plots`: at most ``WIDTH`` inches wide, no text under ``SMALLEST_FONT``.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import torch
from torch import nn

from alexnet_core.book.pages.style import PALETTE, SMALLEST_FONT, WIDTH

#: What a module after a weight layer does, as Figure 2's labels name it.
_OP_NAMES = {nn.ReLU: "ReLU", nn.Tanh: "tanh", nn.Dropout: "dropout"}


def _op_name(module: nn.Module) -> str | None:
    """A short name for a module that follows a weight layer (None for one that does nothing)."""
    if isinstance(module, (nn.Identity, nn.Flatten)):
        return None
    if isinstance(module, nn.MaxPool2d):
        return f"max-pool {module.kernel_size}/{module.stride}"
    if isinstance(module, nn.AvgPool2d):
        return f"avg-pool {module.kernel_size}/{module.stride}"
    for kind, name in _OP_NAMES.items():
        if isinstance(module, kind):
            return name
    return "LRN" if type(module).__name__ == "LocalResponseNorm" else type(module).__name__


def _traced_modules(model: nn.Module, size: int) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    """Every leaf module in the order one image's forward pass calls it, with its output's shape."""
    calls: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: calls.append((name, mod, tuple(out.shape[1:]))))
             for name, m in model.named_modules() if not list(m.children())]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return calls


def architecture_layers(model: nn.Module, input_size: int | None = None) -> list[dict]:
    """Figure 2's layers, traced through a forward pass of one zero image: per weight layer its
    kernel, output shape, the operations after it (and the shape they leave), how many columns
    its output is split into (2 where it or the next layer is a grouped convolution) and what it
    sees of the layer before (``own column``, ``both columns`` or ``all``)."""
    size = input_size or getattr(model, "input_size", 224)
    layers: list[dict] = [dict(name="input", kernel="image", shape=(3, size, size), ops=[], after=(3, size, size),
                               groups=1)]
    for name, module, shape in _traced_modules(model, size):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            conv = isinstance(module, nn.Conv2d)
            kernel = (f"{module.kernel_size[0]}×{module.kernel_size[1]}"
                      + (f", stride {module.stride[0]}" if module.stride[0] > 1 else "") if conv else "fully connected")
            layers.append(dict(name=name, kernel=kernel, shape=shape, ops=[], after=shape,
                               groups=module.groups if conv else 1))
        elif (op := _op_name(module)) is not None and len(layers) > 1:
            layers[-1]["ops"].append(op)
            layers[-1]["after"] = shape
    for before, layer, after in zip(layers, layers[1:], layers[2:] + [None]):
        layer["columns"] = max(layer["groups"], after["groups"] if after else 1)
        layer["sees"] = ("all" if before.get("columns", 1) == 1 else
                         "own column" if layer["groups"] == before["columns"] else "both columns")
    layers[0].update(columns=1, sees="")
    return layers


def _shape_text(shape: tuple[int, ...], columns: int) -> str:
    return "×".join(map(str, (shape[0] // columns, *shape[1:])))


def _box(ax, x: float, y: float, width: float, lines: list[str], colour: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.27), width, 0.54, boxstyle="round,pad=0.02",
                                facecolor=colour, edgecolor="#333333", linewidth=0.8, alpha=0.9))
    ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=SMALLEST_FONT)


def architecture_figure(model: nn.Module, input_size: int | None = None):
    """The network as the paper's Figure 2 draws it, one row per layer from the input down: a box
    per column holding that column's output shape (and the shape after pooling), the kernel and
    the operations after it at the left; arrows show which columns each layer sees."""
    import matplotlib.pyplot as plt

    layers = architecture_layers(model, input_size)
    two = max(layer["columns"] for layer in layers) > 1
    centres = {1: [3.75], 2: [2.8, 4.7]}
    top = 0.5 if two else 0.2
    fig = plt.figure(figsize=(WIDTH, top + 0.85 * len(layers) - 0.4), layout="none")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, WIDTH), ylim=(-0.85 * len(layers) + 0.4, top))
    ax.axis("off")
    if two:
        for x, label in zip(centres[2], ("column 1 (GPU 1)", "column 2 (GPU 2)")):
            ax.text(x, 0.3, label, ha="center", va="center", fontsize=SMALLEST_FONT + 1, weight="bold")
    for i, layer in enumerate(layers):
        y = -0.85 * i - 0.1
        cols = layer["columns"]
        width = 1.75 if cols == 2 else 3.65
        shape = [_shape_text(layer["shape"], cols)]
        if layer["after"] != layer["shape"]:
            shape.append("pooled " + _shape_text(layer["after"], cols))
        for x in centres[cols]:
            _box(ax, x, y, width, shape, PALETTE[5] if layer["name"].startswith("conv") else
                 PALETTE[4] if layer["name"].startswith("fc") else "#DDDDDD")
        ops = textwrap.fill(", ".join(layer["ops"]), 18, break_on_hyphens=False)
        ax.text(0.05, y, f"{layer['name']}: {layer['kernel']}" + (f"\n{ops}" if ops else ""), ha="left",
                va="center", fontsize=SMALLEST_FONT, linespacing=1.1)
        if i:
            _arrows(ax, centres[layers[i - 1]["columns"]], centres[cols], y + 0.58, y + 0.27, layer["sees"])
    return fig


def _arrows(ax, upper: list[float], lower: list[float], top: float, bottom: float, sees: str) -> None:
    """Arrows from the boxes above to those below: column to column where a layer sees only its own
    column, from every box above to every box below otherwise."""
    pairs = list(zip(upper, lower)) if sees == "own column" else [(a, b) for a in upper for b in lower]
    for a, b in pairs:
        ax.annotate("", (b, bottom), (a, top), arrowprops=dict(arrowstyle="->", color="#333333", linewidth=1))


def kernel_mosaic(kernels: np.ndarray, per_row: int = 16, gap: int = 1) -> np.ndarray:
    """Kernels (N x 3 x k x k) tiled ``per_row`` to a row, each scaled to [0, 1] on its own, with
    ``gap`` white pixels between them: an H x W x 3 image."""
    n, _, k, _ = kernels.shape
    rows = -(-n // per_row)
    mosaic = np.ones((rows * (k + gap) - gap, per_row * (k + gap) - gap, 3))
    for i, kernel in enumerate(kernels):
        r, c = divmod(i, per_row)
        low, high = kernel.min(), kernel.max()
        mosaic[r * (k + gap):r * (k + gap) + k, c * (k + gap):c * (k + gap) + k] = (
            (kernel - low) / max(high - low, 1e-8)).transpose(1, 2, 0)
    return mosaic


def kernels_figure(kernels: np.ndarray, columns: int, specificity: list[float] | None = None, per_row: int = 16):
    """conv1's kernels as the paper's Figure 3 lays them out: the kernels of each column (the
    first N / columns, then the rest) as a block of ``per_row`` to a row, the blocks one above the
    other with a gap between them, each titled with its kernels and their mean colour specificity."""
    import matplotlib.pyplot as plt

    blocks = np.array_split(np.asarray(kernels), columns)
    first = np.cumsum([0] + [len(b) for b in blocks])
    mosaics = [kernel_mosaic(b, per_row) for b in blocks]
    fig, axes = plt.subplots(columns, 1, figsize=(WIDTH, 0.3 + columns * (0.4 + WIDTH * mosaics[0].shape[0]
                                                                           / mosaics[0].shape[1])), squeeze=False)
    for i, (ax, mosaic) in enumerate(zip(axes[:, 0], mosaics)):
        ax.imshow(mosaic, interpolation="nearest")
        ax.axis("off")
        title = (f"column {i + 1} (GPU {i + 1}): " if columns > 1 else "one column: ") + \
            f"kernels {first[i] + 1}-{first[i + 1]}"
        if specificity is not None:
            title += f", colour specificity {np.mean(specificity[first[i]:first[i + 1]]):.2f}"
        ax.set_title(title, fontsize=SMALLEST_FONT + 1)
    return fig


def predictions_figure(images: list[np.ndarray], labels: list[int], top_classes: list[list[int]],
                       top_probs: list[list[float]], names: list[str], columns: int = 2):
    """The left half of the paper's Figure 4: one panel per query, its image under its true class
    and, below it, the model's top-5 classes as bars of their probability (the true class's bar in
    the second colour)."""
    import matplotlib.pyplot as plt

    rows = -(-len(images) // columns)
    panel_w, panel_h, image, bar_h = WIDTH / columns, 3.45, 1.75, 1.05  # inches
    fig = plt.figure(figsize=(WIDTH, panel_h * rows), layout="none")
    for i, (picture, label, top, probs) in enumerate(zip(images, labels, top_classes, top_probs)):
        r, c = divmod(i, columns)
        left, top_edge = c * panel_w, (rows - r) * panel_h - 0.3  # inches from the figure's lower left
        ax = fig.add_axes(_inches(fig, left + (panel_w - image) / 2, top_edge - image, image, image))
        ax.imshow(picture)
        ax.axis("off")
        ax.set_title(names[label], fontsize=SMALLEST_FONT + 1, weight="bold")
        bars = fig.add_axes(_inches(fig, left + 0.44 * panel_w, top_edge - image - 0.12 - bar_h, 0.4 * panel_w, bar_h))
        drawn = bars.barh(range(len(top)), probs, color=[PALETTE[1] if k == label else PALETTE[0] for k in top])
        bars.bar_label(drawn, labels=[f"{p:.2f}" for p in probs], padding=2, fontsize=SMALLEST_FONT)
        bars.set_yticks(range(len(top)), [names[k] for k in top])
        bars.set(xlim=(0, 1), xticks=[], ylim=(len(top) - 0.5, -0.5))
        bars.grid(False)
        bars.spines["bottom"].set_visible(False)
    return fig


def _inches(fig, left: float, bottom: float, width: float, height: float) -> tuple[float, ...]:
    """An axes rectangle given in inches, as the figure fractions ``add_axes`` takes."""
    w, h = fig.get_size_inches()
    return left / w, bottom / h, width / w, height / h


def neighbours_figure(queries: list[np.ndarray], neighbours: list[list[np.ndarray]],
                      same_class: list[list[bool]] | None = None):
    """The right half of the paper's Figure 4: each query (first column) and the training images
    nearest to it in fc7 space, nearest first; a neighbour of another class than its query's is
    framed in the second colour."""
    import matplotlib.pyplot as plt

    k = len(neighbours[0]) if neighbours else 0
    side = WIDTH / (k + 1.4)
    fig, axes = plt.subplots(len(queries), k + 2, figsize=(WIDTH, 0.4 + side * len(queries)), squeeze=False,
                             gridspec_kw=dict(width_ratios=[1, 0.12] + [1] * k, wspace=0.04, hspace=0.04),
                             layout="none")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.4 / (0.4 + side * len(queries)))
    for r, (query, row) in enumerate(zip(queries, neighbours)):
        axes[r, 1].axis("off")
        for c, image in enumerate([query] + list(row)):
            ax = axes[r, 0 if c == 0 else c + 1]
            ax.imshow(image)
            ax.set(xticks=[], yticks=[])
            other = c > 0 and same_class is not None and not same_class[r][c - 1]
            for spine in ax.spines.values():
                spine.set(visible=other, color=PALETTE[1], linewidth=3)
    axes[0, 0].set_title("query", fontsize=SMALLEST_FONT + 1)
    if k:
        axes[0, 2 + (k - 1) // 2].set_title("nearest training images, nearest first", fontsize=SMALLEST_FONT + 1,
                                            loc="left" if k % 2 == 0 else "center")
    return fig


def image_rows_figure(rows: list[list[np.ndarray]], titles: list[str]):
    """Rows of images (H x W x 3), each row under its title: e.g. stored images above the
    augmented crops the network trains on."""
    import matplotlib.pyplot as plt

    columns = max(len(row) for row in rows)
    side = WIDTH / columns
    fig = plt.figure(figsize=(WIDTH, len(rows) * (side + 0.35)), layout="none")
    for r, (row, title) in enumerate(zip(rows, titles)):
        top = 1 - r / len(rows)
        fig.text(0.5, top - 0.02 / len(rows), title, ha="center", va="top", fontsize=SMALLEST_FONT + 1)
        for c, image in enumerate(row):
            ax = fig.add_axes(_inches(fig, c * side + 0.03, (len(rows) - r - 1) * (side + 0.35) + 0.03,
                                      side - 0.06, side - 0.06))
            ax.imshow(image)
            ax.axis("off")
    return fig
