"""The results page (sections 6 and 6.1): Tables 1 and 2 beside our errors and what the ten
patches gain; Figure 3 (conv1's kernels, one block per column) and Figure 4 (each query's top-5
under its image; its nearest training images in fc7 space), redrawn from this project's records.
Sizes follow :mod:`.style`: at most ``WIDTH`` inches wide, no text under ``SMALLEST_FONT``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from alexnet_core.book.engine.artifacts import (kernel_smoothness, load_images, neighbour_same_class, query_rule,
                                                split_labels)
from alexnet_core.book.engine.measures import mean_and_se
from alexnet_core.book.engine.plan import data_available, get_experiment
from alexnet_core.book.engine.records import Record, load_artifacts, recorded_runs
from alexnet_core.book.pages.style import PALETTE, SMALLEST_FONT, WIDTH, inches, note_figure
from alexnet_core.data import class_display_name
from alexnet_core.paths import RESULTS_DIR

#: conv1's kernels of column 1 (the paper's GPU 1): the first 48 of 96, which conv2's first group reads.
COLUMN_1_KERNELS = 48


# --------------------------------------------------------------------------- Tables 1 and 2

def ours_cell(records: list[Record], key: str) -> str:
    """A metric over the runs as the results table shows it: the mean, with its standard error
    where there are several runs ('nan' where none recorded it)."""
    vals = [r.metrics[key] for r in records if r.metrics.get(key) is not None]
    mean, se = mean_and_se(vals)
    return f"{mean:.1f}" + (f" ± {se:.1f}" if len(vals) > 1 else "")


def tables_1_2(records: list[Record], paper: dict, source: str):
    """The paper's one-CNN rows of Tables 1 and 2 (section 6) beside our centre-crop and
    ten-patch errors on Imagenette (runs of the ``source`` profile), as the page's styled table."""
    import pandas as pd

    rows = [("paper, 1 CNN (Table 1, ILSVRC-2010 test, 10 patches)", f"{paper['table1_top1']:.1f}",
             f"{paper['table1_top5']:.1f}"),
            ("paper, 1 CNN (Table 2, ILSVRC-2012 val)", f"{paper['table2_top1']:.1f}", f"{paper['table2_top5']:.1f}"),
            (f"ours ({source}), Imagenette val, centre crop", ours_cell(records, "val_top1"),
             ours_cell(records, "val_top5")),
            (f"ours ({source}), Imagenette val, 10 patches", ours_cell(records, "val10_top1"),
             ours_cell(records, "val10_top5"))]
    table = pd.DataFrame([{"model": model, "top-1 (%)": top1, "top-5 (%)": top5} for model, top1, top5 in rows])
    return table.style.hide(axis="index")


def tenpatch_gain_text(records: list[Record]) -> str:
    """What averaging the ten patches (section 4.1) did to our top-1 error against the centre
    crop, mean over the runs that measured both, in words."""
    gain = [r.metrics["val_top1"] - r.metrics["val10_top1"] for r in records
            if r.metrics.get("val10_top1") is not None]
    g = mean_and_se(gain)[0] if gain else float("nan")
    if g != g:
        return "not measured"
    return f"{'lowered' if g > 0 else 'raised'} our top-1 error by {abs(g):.2f} points"


def reference_runs(records: list[Record]) -> list[Record]:
    """The book's AlexNet reference among an LRN experiment's ``records``: its reference variant's
    runs, the runs the error table shows."""
    reference = get_experiment("lrn_alexnet").effects[0].reference
    return [r for r in records if r.variant == reference]


def table_runs(final_records: list[Record], source: str, results_dir: Path = RESULTS_DIR) -> list[Record]:
    """The runs the error table shows: :func:`reference_runs` of the LRN experiment's records in
    ``source`` (read, never trained) where it has them, else the final model's own ``final_records``
    (under the smoke profile, say, which records nothing)."""
    return reference_runs(recorded_runs("lrn_alexnet", source, results_dir)) or final_records


def runs_count_text(records: list[Record]) -> str:
    """'1 run', '3 runs'."""
    return f"{len(records)} run" + ("s" if len(records) != 1 else "")


# --------------------------------------------------------------------------- Figures 3 and 4

def final_arrays(records: list[Record], source: str, results_dir: Path = RESULTS_DIR) -> dict | None:
    """The small arrays recorded beside the first final-model run of the ``source`` profile
    (conv1's kernels, Figure 4's queries and neighbours)."""
    return load_artifacts(results_dir, source, "final_model", records[0].found.run)


def figure_3(arrays: dict, record: Record):
    """The paper's Figure 3 (section 6.1) redrawn from the recorded conv1 kernels, one block per column."""
    kernels = np.array(arrays["conv1"]).reshape(arrays["conv1_shape"])
    return kernels_figure(kernels, record.config.get("groups", 1), np.array(arrays["colour_specificity"]))


#: The runs whose conv1 kernels Figure 3 may show: the final model's, and the reference of the runs
#: trained longer (the profile's longest, where recorded).
KERNEL_SOURCES = (("final_model", None), ("long_training", "reference"))


@dataclass
class Kernels:
    """The conv1 kernels Figure 3 draws: the recorded arrays, their run's record, and its name."""

    arrays: dict
    record: Record
    run: str  # experiment/run


def longest_trained_kernels(source: str, results_dir: Path = RESULTS_DIR) -> Kernels | None:
    """Of the runs of :data:`KERNEL_SOURCES` that ``source`` recorded with their kernels, the one
    trained for the most epochs: Figure 3 shows what training formed, and short runs form little."""
    found = []
    for experiment, variant in KERNEL_SOURCES:
        for record in recorded_runs(experiment, source, results_dir):
            if variant is not None and record.found.variant != variant:
                continue
            arrays = load_artifacts(results_dir, source, experiment, record.found.run)
            if arrays is not None:
                found.append(Kernels(arrays, record, f"{experiment}/{record.found.run}"))
    return max(found, key=lambda k: len(k.record.history), default=None)


def kernels_text(kernels: Kernels) -> str:
    """Which run the kernels come from, how long it trained, and how smooth training has made them
    (:func:`alexnet_core.book.engine.artifacts.kernel_smoothness`), in words."""
    w = torch.tensor(np.array(kernels.arrays["conv1"]).reshape(kernels.arrays["conv1_shape"]))
    epochs = len(kernels.record.history)
    return (f"the kernels of `{kernels.run}`, trained for {epochs} epoch{'s' * (epochs != 1)} against the paper's "
            f"roughly 90. Adjacent weights of a kernel correlate {kernel_smoothness(w):.2f} on average: random weights "
            "(the start of training) give about 0, and the smoother a kernel's edges and colour blobs, the higher "
            "it is, so a value near 0 means the figure shows mostly the random start, not learned filters")


def column_specificity(arrays: dict, column: int) -> str:
    """Mean colour specificity of column 1's kernels (the first 48) or column 2's (the rest), to 3 places."""
    spec = np.array(arrays["colour_specificity"])
    part = spec[:COLUMN_1_KERNELS] if column == 1 else spec[COLUMN_1_KERNELS:]
    return f"{part.mean():.3f}"


#: The colour specificity of a kernel of independent random weights, in expectation: removing
#: the mean of three independent channels leaves 2/3 of their energy.
RANDOM_SPECIFICITY = 2 / 3


def column_split_text(arrays: dict) -> str:
    """Whether the kernels show Figure 3's split (section 6.1: one column's kernels largely
    colour-agnostic, the other's colour-specific), in words, against what random weights give."""
    spec = np.array(arrays["colour_specificity"])
    one, two = spec[:COLUMN_1_KERNELS].mean(), spec[COLUMN_1_KERNELS:].mean()
    said = f"column 1's kernels average {one:.2f} and column 2's {two:.2f}"
    if abs(one - two) < 0.1:
        near = all(abs(c - RANDOM_SPECIFICITY) < 0.1 for c in (one, two))
        return (f"Figure 3's split between the columns does not show here: {said}"
                + (f", both near the {RANDOM_SPECIFICITY:.2f} of random weights" if near else "") + ".")
    agnostic = 1 if one < two else 2
    return (f"A split like Figure 3's shows: {said}, so column {agnostic}'s are the more colour-agnostic "
            "(in the paper either column can take either role).")


@dataclass
class Figure4:
    """The paper's Figure 4 as the page shows it: how the queries were chosen, its two halves
    (one note figure for both when the dataset is absent) and, then, the predictions as a table."""

    query_rule: str
    predictions: object  # matplotlib figures: matplotlib is a book dependency, imported where used
    neighbours: object
    table: object | None  # a pandas Styler, where the images could not be read


def predictions_table(arrays: dict):
    """Each query's true class and top-5 predictions with their probabilities (Figure 4's left
    half without the images), as a styled table."""
    import pandas as pd

    q = arrays["queries"]
    names = [class_display_name(c) for c in arrays["classes"]]
    return pd.DataFrame([{"true class": names[label], "top-5 predictions (probability)":
                          ", ".join(f"{names[c]} {p:.2f}" for c, p in zip(top, probs))}
                         for label, top, probs in zip(q["label"], q["top5_class"], q["top5_prob"])]
                        ).style.hide(axis="index")


def figure_4(arrays: dict, record: Record, data_root: str | None) -> Figure4:
    """The paper's Figure 4 (section 6.1) from the recorded queries: drawn with the images read
    from the dataset where it is given, else a note (twice) and the predictions as a table."""
    q = arrays["queries"]
    have_images = bool(q["files"]) and data_available(data_root)
    labels = split_labels(record.config["dataset"], "val", data_root) if have_images else None
    rule = query_rule(arrays, labels)
    if not have_images:
        note = note_figure("The images are read from the dataset at build time; no dataset was given.")
        return Figure4(rule, note, note, predictions_table(arrays))
    names = [class_display_name(c) for c in arrays["classes"]]
    images = load_images(q["files"], data_root)
    predictions = predictions_figure(images, q["label"], q["top5_class"], q["top5_prob"], names)
    neighbours = neighbours_figure(images, [load_images(row, data_root) for row in q["neighbour_files"]],
                                   neighbour_same_class(arrays))
    return Figure4(rule, predictions, neighbours, None)


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


