"""The local response normalisation page (section 3.3): the two conventions' figure."""
from __future__ import annotations

import torch

from alexnet_core.model import paper_lrn
from alexnet_core.book.pages.style import PALETTE, PAPER_STYLE, WIDTH, legend_above

def lrn_conventions_figure():
    """What section 3.3's normalisation does to one unit's activation under each convention for
    alpha: output against input (top) and their ratio (bottom) for a unit alone in its window
    (computed by the model's modules)."""
    import matplotlib.pyplot as plt

    a = torch.logspace(-1, 3.5, 200).view(1, 1, -1, 1)  # one channel: the window's sum is a^2
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 6.4), sharex=True)
    for colour, convention, label in ((PALETTE[0], "printed", "as printed: alpha = 1e-4"),
                                      (PALETTE[1], "per-window", "as coded: alpha / n = 2e-5")):
        b = paper_lrn(convention)(a)
        axes[0].plot(a.flatten(), b.flatten(), color=colour, linewidth=2, label=label)
        axes[1].plot(a.flatten(), (b / a).flatten(), color=colour, linewidth=2, label=label)
    axes[0].plot(a.flatten(), a.flatten() / 2 ** 0.75, **PAPER_STYLE, label="k^-beta a (no inhibition)")
    axes[0].set(xscale="log", yscale="log", ylabel="normalised b")
    axes[1].set(xscale="log", xlabel="activation a (alone in its window)", ylabel="b / a")
    legend_above(fig, axes[0], ncols=1)
    return fig
