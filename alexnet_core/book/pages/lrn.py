"""The local response normalisation page (section 3.3): the two conventions' figure, and the
paper's CIFAR-10 net pair's absolute errors against the source's 13% and 11%."""
from __future__ import annotations

from statistics import mean
from typing import TYPE_CHECKING

import torch

from alexnet_core.model import paper_lrn
from alexnet_core.book.engine.records import book_runs
from alexnet_core.book.pages.chapter import Ablation
from alexnet_core.book.pages.style import PALETTE, PAPER_STYLE, WIDTH, legend_above

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def lrn_conventions_figure() -> "Figure":
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


def ten_patch(ab: Ablation, variant: str) -> float:
    """The mean over seeds of ``variant``'s ten-patch test error (%) in the paper's CIFAR-10 pair
    (section 3.3), nan where no run has one."""
    values = [r.metrics.get("val10_top1") for r in ab.groups.get(variant, [])
              if r.metrics.get("val10_top1") is not None]
    return mean(values) if values else float("nan")


def epoch_span(epochs: list[int]) -> str:
    """How long the pair's runs trained (section 3.3): '30' when all as long, else '25-30'."""
    return f"{min(epochs)}" if min(epochs) == max(epochs) else f"{min(epochs)}-{max(epochs)}"


def pair_absolute(ab: Ablation, source: str) -> str:
    """The paper's CIFAR-10 pair (section 3.3) in absolute terms: each net's ten-patch test error
    against the source's 11% and 13%, and how long the runs trained against the source's epochs;
    or, while the pair's runs for profile ``source`` are still being recorded, how many are in."""
    expected = len(book_runs(ab.experiment.name, source))
    if len(ab.records) < expected:
        return (f"The pair's runs are still being recorded ({len(ab.records)} of {expected} so "
                "far), so the absolute errors are not compared with 13% and 11% yet")
    config = ab.records[0].config
    return (f"With normalisation the net ends at {ten_patch(ab, 'lrn'):.1f}% ten-patch test error and "
            f"without it at {ten_patch(ab, 'no-lrn'):.1f}% (means over seeds), against the source's 11% and "
            f"13%. The runs here stop after {epoch_span([len(r.history) for r in ab.records])} epochs (at most "
            f"{config['epochs']}, the rate divided on a plateau and after epoch "
            f"{config['drop_by']} at the latest) of the source's about "
            f"{ab.experiment.paper['source_epochs']}")
