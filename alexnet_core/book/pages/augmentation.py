"""The data augmentation page (section 4.1): rows of images, each view of one picture."""
from __future__ import annotations

import numpy as np

from alexnet_core.book.pages.style import SMALLEST_FONT, WIDTH, inches

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
            ax = fig.add_axes(inches(fig, c * side + 0.03, (len(rows) - r - 1) * (side + 0.35) + 0.03,
                                      side - 0.06, side - 0.06))
            ax.imshow(image)
            ax.axis("off")
    return fig
