"""The results page (sections 6 and 6.1): Figure 3 (conv1's kernels, one block per column) and
Figure 4 (each query's top-5 under its image; its nearest training images in fc7 space), redrawn
from this project's records. Sizes follow :mod:`.style`: at most ``WIDTH`` inches wide, no text
under ``SMALLEST_FONT``."""
from __future__ import annotations

import numpy as np

from alexnet_core.book.pages.style import PALETTE, SMALLEST_FONT, WIDTH, inches


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
        ax = fig.add_axes(inches(fig, left + (panel_w - image) / 2, top_edge - image, image, image))
        ax.imshow(picture)
        ax.axis("off")
        ax.set_title(names[label], fontsize=SMALLEST_FONT + 1, weight="bold")
        bars = fig.add_axes(inches(fig, left + 0.44 * panel_w, top_edge - image - 0.12 - bar_h, 0.4 * panel_w, bar_h))
        drawn = bars.barh(range(len(top)), probs, color=[PALETTE[1] if k == label else PALETTE[0] for k in top])
        bars.bar_label(drawn, labels=[f"{p:.2f}" for p in probs], padding=2, fontsize=SMALLEST_FONT)
        bars.set_yticks(range(len(top)), [names[k] for k in top])
        bars.set(xlim=(0, 1), xticks=[], ylim=(len(top) - 0.5, -0.5))
        bars.grid(False)
        bars.spines["bottom"].set_visible(False)
    return fig


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


