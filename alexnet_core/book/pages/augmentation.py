"""The data augmentation page (section 4.1): the training set's colour statistics, and rows of
images, each view of one picture (stored, and as the network trains on it)."""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from alexnet_core import data as D
from alexnet_core.augment import AugmentConfig, Augmenter, ColourStats
from alexnet_core.inputs import cached_colour_stats
from alexnet_core.book.engine.plan import data_available
from alexnet_core.book.pages.style import SMALLEST_FONT, WIDTH, inches
from alexnet_core.files import atomic_write_json
from alexnet_core.paths import DIAGNOSTICS_DIR
from alexnet_core.provenance import git_state

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler


class ColourSample(NamedTuple):
    """The training images whose RGB covariance the PCA colour shift uses, their statistics, and
    where they come from in words (section 4.1)."""

    train: D.ImageSet
    stats: ColourStats
    source: str


#: Imagenette's colour statistics as a build with the data computed them (eigenvalues and
#: eigenvectors only: a few numbers, no image), for a build without the data.
COLOUR_RECORD = DIAGNOSTICS_DIR / "imagenette-colour-stats.json"


def colour_sample(data_root: str | None, record: Path = COLOUR_RECORD) -> ColourSample:
    """Imagenette's training set and its cached colour statistics where a data root is given or
    set (recorded to ``record`` for builds without the data); else, the statistics ``record``
    holds beside a synthetic set of 64 images of 256x256 (for the examples figure, which such a
    build leaves out), or, with no record either, the synthetic set's own statistics (section 4.1)."""
    if data_available(data_root):
        train = D.load("imagenette", "train", data_root)
        stats = cached_colour_stats(train)
        record_colour_stats(stats, record)
        return ColourSample(train, stats, "Imagenette's training set")
    train = D.synthetic_image_set(n=64, side=256)
    synthetic = ColourStats.from_images(train)
    if record.exists():
        saved = json.loads(record.read_text())
        stats = ColourStats(synthetic.mean_image, torch.tensor(saved["eigenvalues"]), torch.tensor(saved["eigenvectors"]))
        return ColourSample(train, stats, f"Imagenette's training set, as a build with the data recorded them on "
                                          f"{saved['provenance']['date'][:10]} (this build had no dataset)")
    return ColourSample(train, synthetic, "a synthetic set of coloured blocks (no data root was given, and no "
                                          "recorded statistics of the data were found)")


def record_colour_stats(stats: ColourStats, path: Path = COLOUR_RECORD) -> None:
    """Write the eigen-decomposition of ``stats`` with its provenance to ``path``, unless the same
    numbers are there already (to 6 places)."""
    numbers = dict(eigenvalues=[round(v, 6) for v in stats.eigenvalues.tolist()],
                   eigenvectors=[[round(v, 6) for v in row] for row in stats.eigenvectors.tolist()])
    if path.exists():
        saved = json.loads(path.read_text())
        if {k: saved.get(k) for k in numbers} == numbers:
            return
    code = git_state()
    atomic_write_json(path, numbers | dict(dataset="imagenette", split="train",
                                           provenance=dict(code, date=_dt.date.today().isoformat())))


def first_eigenvector_text(stats: ColourStats) -> str:
    """What the largest eigenvector of the RGB covariance is, in words: brightness where its weights
    on R, G and B share a sign and lie within 25% of their mean, else its weights as they are."""
    p = stats.eigenvectors[:, -1].tolist()
    shown = "(" + ", ".join(f"{v:.3f}" for v in p) + ")"
    same_sign = all(v > 0 for v in p) or all(v < 0 for v in p)
    mean = sum(abs(v) for v in p) / 3
    if same_sign and all(abs(abs(v) - mean) <= 0.25 * mean for v in p):
        return (f"the first eigenvector {shown} weighs R, G and B about equally (brightness); the others are "
                "colour contrasts")
    return f"the first eigenvector {shown} is not a brightness direction (unequal weights on R, G and B)"


def eigen_table(stats: ColourStats) -> "Styler":
    """The eigen-decomposition of the RGB covariance (pixels in [0, 1]), largest eigenvalue first,
    each with its eigenvector p (section 4.1's PCA colour)."""
    import pandas as pd

    eig = pd.DataFrame({"eigenvalue (pixels in [0,1])": stats.eigenvalues.numpy()[::-1],
                        "p (R, G, B)": [np.array2string(v, precision=3) for v in stats.eigenvectors.numpy().T[::-1]]})
    return eig.style.hide(axis="index")


def augmented_views(train: D.ImageSet, stats: ColourStats, count: int = 4, seed: int = 0) -> list[np.ndarray]:
    """One training view (random 224 crop, reflection, PCA colour; section 4.1) of each of the
    first ``count`` images, drawn by ``Augmenter.train`` from generator ``seed``, with the centre of
    the mean image added back so it can be viewed (H x W x 3, uint8)."""
    aug = Augmenter(AugmentConfig(crop=224), stats)
    shown = train.images[:count]
    g = torch.Generator().manual_seed(seed)
    return [(aug.train(shown[col:col + 1], g)[0] + aug.stats.mean_image[:, 16:240, 16:240])
            .clamp(0, 255).permute(1, 2, 0).numpy().astype("uint8") for col in range(count)]


def examples_figure(train: D.ImageSet, stats: ColourStats) -> "Figure":
    """The first four training images as stored (top row) and one augmented view of each
    (bottom row), as the network's training draws them (section 4.1)."""
    stored = [image.permute(1, 2, 0).numpy() for image in train.images[:4]]
    return image_rows_figure([stored, augmented_views(train, stats)],
                             ["stored, 256×256", "random 224×224 crop, reflection, PCA colour"])

def image_rows_figure(rows: list[list[np.ndarray]], titles: list[str]) -> "Figure":
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
            ax = fig.add_axes(inches(fig, c * side + 0.03, (len(rows) - r - 1) * (side + 0.35) + 0.03,
                                      side - 0.06, side - 0.06))
            ax.imshow(image)
            ax.axis("off")
    return fig
