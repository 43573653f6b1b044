"""One plot style for every chapter: colour-blind-safe colours, the paper's numbers hollow/dashed.

Every figure is drawn for the page's width: at most :data:`WIDTH` inches at :data:`DPI`, so it
is shown at its own size (672 px) in a content column of 730-770 px, and no text is smaller than
:data:`SMALLEST_FONT` points (17 px there, about 9 px on a 390-px phone). Panels are stacked, not
set side by side, and legends sit outside the data.
"""
from __future__ import annotations

import numpy as np

from alexnet_core.book.engine.measures import mean_and_se

#: Okabe & Ito's colour-blind-safe palette.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
PAPER_STYLE = dict(linestyle="--", color="#555555", linewidth=1.2)
#: A figure's width (inches) and resolution: 672 px, shown unscaled in the book's content column.
WIDTH, DPI = 5.6, 120
#: The smallest font of any text in a figure (points): 10 pt at 120 dpi is 16.7 px on the page.
SMALLEST_FONT = 10
SEED_DOT = dict(marker="o", linestyle="none", markersize=5, markerfacecolor="white", markeredgecolor="black",
                markeredgewidth=1, zorder=4)


def use_style() -> None:
    """Apply the book's matplotlib style."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "figure.figsize": (WIDTH, 3.6), "figure.dpi": DPI, "savefig.dpi": DPI, "figure.constrained_layout.use": True,
        "axes.prop_cycle": cycler(color=PALETTE), "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
        "font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11, "figure.titlesize": 11,
        "xtick.labelsize": SMALLEST_FONT, "ytick.labelsize": SMALLEST_FONT, "legend.fontsize": SMALLEST_FONT,
    })


def legend_above(fig, ax, ncols: int | None = None, where: str = "upper", last: tuple[str, ...] = ()) -> None:
    """``ax``'s legend outside the data: above the figure's panels (``lower``: below them), in
    two columns when its labels are short enough to sit side by side; labels in ``last`` last."""
    entries = sorted(zip(*ax.get_legend_handles_labels()), key=lambda e: last.index(e[1]) if e[1] in last else -1)
    if not entries:
        return
    if ncols is None:
        ncols = 2 if max(len(label) for _, label in entries) <= 30 else 1
    fig.legend(*zip(*entries), loc=f"outside {where} center", ncols=ncols)


def curves(ax, groups: dict[str, list[dict]], key: str, label_suffix: str = "") -> None:
    """Per-epoch ``key`` of every run faintly, the mean over seeds boldly, one colour per variant."""

    for colour, (variant, runs) in zip(PALETTE, groups.items()):
        for run in runs:
            epochs = [h["epoch"] for h in run.history]
            ax.plot(epochs, [h[key] for h in run.history], color=colour, alpha=0.25, linewidth=1)
        length = min(len(r.history) for r in runs)
        avg = np.mean([[h[key] for h in r.history[:length]] for r in runs], axis=0)
        ax.plot(range(1, length + 1), avg, color=colour, linewidth=2.2,
                label=f"{variant} (ours{label_suffix}, {len(runs)} run{'s' if len(runs) > 1 else ''})")


def paper_line(ax, value: float, label: str) -> None:
    """A paper number as a dashed horizontal line."""
    ax.axhline(value, **PAPER_STYLE, label=f"paper: {label}")


def curves_figure(groups: dict[str, list[dict]], key: str, ylabel: str, label_suffix: str = "",
                  paper: tuple[float, str] | None = None):
    """One panel of per-epoch curves (every run faint, the mean bold), the paper's number dashed,
    the legend above the panel."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH, 4.2))
    curves(ax, groups, key, label_suffix)
    if paper:
        paper_line(ax, *paper)
    ax.set(xlabel="epoch", ylabel=ylabel)
    legend_above(fig, ax, ncols=1)
    return fig


def final_values(runs: list[dict]) -> tuple[list[float], list[float], bool]:
    """A variant's final training and validation top-1 of each run, and whether the training
    error is the eval-mode one of fixed training images (every run recorded it) or the running
    error of the last epoch in train mode."""
    fair = all(r.metrics.get("final_train_eval_top1") is not None for r in runs)
    train = [r.metrics["final_train_eval_top1" if fair else "final_train_top1"] for r in runs]
    return train, [r.metrics["val_top1"] for r in runs], fair


#: The legend's word where every variant has one run, so no bar has a spread to show.
ONE_RUN = "one run per variant: no spread between seeds"


def final_error_bars(ax, groups: dict[str, list[dict]]) -> None:
    """Per variant, a bar of the final training and one of the validation top-1 (the mean over
    seeds, horizontal, the first variant on top); with several seeds, each seed's value as a dot
    and the mean's standard error as an error bar."""
    names = list(groups)
    y = np.arange(len(names))
    shown = []  # (values, bar position)
    for i, name in enumerate(names):
        train, val, fair = final_values(groups[name])
        for values, pos, colour, hatch, label in (
                (train, y[i] - 0.2, PALETTE[5], None if fair else "//",
                 "training, eval mode" if fair else "training, train mode (running)"),
                (val, y[i] + 0.2, PALETTE[0], None, "validation")):
            labelled = label in ax.get_legend_handles_labels()[1]
            ax.barh(pos, mean_and_se(values)[0], 0.4, color=colour, hatch=hatch, linewidth=0.5,
                    edgecolor="#333333" if hatch else colour, label=None if labelled else label)
            shown.append((values, pos))
    several = [(values, pos) for values, pos in shown if len(values) > 1]
    for k, (values, pos) in enumerate(several):
        mean, se = mean_and_se(values)
        ax.errorbar(mean, pos, xerr=se, fmt="none", ecolor="black", capsize=4, elinewidth=1.5,
                    label=None if k else "mean ± standard error")
        ax.plot(values, [pos] * len(values), **SEED_DOT, label=None if k else "each seed")
    if not several:  # say it in the figure: a bar with nothing on it could be mistaken for a certain one
        ax.plot([], [], linestyle="none", label=ONE_RUN)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("final top-1 error (%)")


def ablation_figure(groups: dict[str, list[dict]], label_suffix: str = ""):
    """Top: validation top-1 per epoch (every run faint, mean bold), its legend above. Bottom:
    final training and validation top-1 per variant, the gap between them being the overfitting,
    its legend below. The training bar is the error of fixed training images evaluated like
    validation (eval mode) where every run of the variant recorded it, else the running error of
    the last epoch in train mode (hatched)."""
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(WIDTH, 5.6 + 0.45 * len(groups)),
                                      height_ratios=[3.2, 1 + 0.45 * len(groups)])
    curves(top, groups, "val_top1", label_suffix)
    top.set(xlabel="epoch", ylabel="validation top-1\nerror (%)")
    legend_above(fig, top)
    final_error_bars(bottom, groups)
    legend_above(fig, bottom, where="lower", last=("mean ± standard error", "each seed", ONE_RUN))
    return fig


def note_figure(text: str):
    """A small figure of text that stands where a figure will be once what it shows exists."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH, 0.4 + 0.25 * (text.count("\n") + 1)))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig


def pending_figure(recorded: int, expected: int, experiment: str, profile: str):
    """A small figure that stands where an experiment's figure will be once its runs are recorded."""
    return note_figure(f"{recorded} of {expected} runs recorded so far; the rest:\n"
                       f"python -m alexnet_core experiment {experiment} --profile {profile}")


def seed_lines(ax, runs: list[list[float]], colour: str, label: str, width: float = 2.0) -> None:
    """Per-step series of several seeds: each faint, their mean over the common length bold."""
    for losses in runs:
        ax.plot(range(1, len(losses) + 1), losses, color=colour, alpha=0.3, linewidth=1)
    length = min(map(len, runs))
    ax.plot(range(1, length + 1), np.mean([r[:length] for r in runs], axis=0), color=colour, linewidth=width,
            label=label)


def inches(fig, left: float, bottom: float, width: float, height: float) -> tuple[float, ...]:
    """An axes rectangle given in inches, as the figure fractions ``add_axes`` takes."""
    w, h = fig.get_size_inches()
    return left / w, bottom / h, width / w, height / h
