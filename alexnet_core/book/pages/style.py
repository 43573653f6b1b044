"""One plot style for every chapter: colour-blind-safe colours, the paper's numbers hollow/dashed.

Every figure is drawn for the page's width: at most :data:`WIDTH` inches at :data:`DPI`, so it
is shown at its own size (672 px) in a content column of 730-770 px, and no text is smaller than
:data:`SMALLEST_FONT` points (17 px there, about 9 px on a 390-px phone). Panels are stacked, not
set side by side, and legends sit outside the data.
"""
from __future__ import annotations

import numpy as np
import torch

from alexnet_core.model import paper_lrn
from alexnet_core.book.engine.measures import mean_and_se
from alexnet_core.book.engine.recipe_start import DROPOUT_NAMES, row_dropout

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
            epochs = [h["epoch"] for h in run["history"]]
            ax.plot(epochs, [h[key] for h in run["history"]], color=colour, alpha=0.25, linewidth=1)
        length = min(len(r["history"]) for r in runs)
        avg = np.mean([[h[key] for h in r["history"][:length]] for r in runs], axis=0)
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
    fair = all(r["metrics"].get("final_train_eval_top1") is not None for r in runs)
    train = [r["metrics"]["final_train_eval_top1" if fair else "final_train_top1"] for r in runs]
    return train, [r["metrics"]["val_top1"] for r in runs], fair


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
    legend_above(fig, bottom, where="lower", last=("mean ± standard error", "each seed"))
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


def early_steps_figure(result: dict):
    """Per-step training loss of each variant's first steps, one panel per learning rate (stacked):
    every seed faint, the mean bold, chance (ln of the number of classes) dashed."""
    import matplotlib.pyplot as plt

    lrs = sorted({r["lr"] for r in result["rows"]}, reverse=True)
    fig, axes = plt.subplots(len(lrs), 1, figsize=(WIDTH, 1.2 + 2.6 * len(lrs)), squeeze=False, sharex=True,
                             sharey=True)
    variants = list(dict.fromkeys(r["variant"] for r in result["rows"]))
    for ax, lr in zip(axes[:, 0], lrs):
        for colour, variant in zip(PALETTE, variants):
            runs = [r["step_losses"] for r in result["rows"] if r["variant"] == variant and r["lr"] == lr]
            seed_lines(ax, runs, colour, f"{variant} ({len(runs)} seeds)", width=2.2)
        ax.axhline(result["chance_loss"], **PAPER_STYLE, label="chance")
        ax.set(title=f"lr {lr:g}", ylabel="training loss")
    axes[-1, 0].set_xlabel("training step")
    legend_above(fig, axes[0, 0])
    return fig


def recipe_start_figure(study: dict, columns: int = 2):
    """The first steps' training loss under each recipe and dropout form, one panel per variant and learning rate
    measured: every seed faint, the mean bold (runs that diverged are left out and named in the
    table), chance dashed; one legend for all panels, above them."""
    import matplotlib.pyplot as plt

    rows = study["rows"]
    panels = list(dict.fromkeys((r["variant"], r["lr"]) for r in sorted(rows, key=lambda r: -r["lr"])))
    panels.sort(key=lambda p: [r["variant"] for r in rows].index(p[0]))
    recipes = sorted({(r["recipe"], row_dropout(r)) for r in rows}, key=lambda c: (c[0] != "printed", c[1] != "test"))
    n_rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(n_rows, columns, figsize=(WIDTH, 0.8 + 2.0 * n_rows), squeeze=False,
                             sharex=True, sharey=True)
    for ax, (variant, lr) in zip(axes.flat, panels):
        for colour, (recipe, dropout) in zip(PALETTE, recipes):
            runs = [r["step_losses"] for r in rows if (r["variant"], r["lr"], r["recipe"], row_dropout(r))
                    == (variant, lr, recipe, dropout) and r["step_losses"]]
            if runs:
                seed_lines(ax, runs, colour, f"{recipe}, {DROPOUT_NAMES[dropout]}")
        ax.axhline(study["chance_loss"], **PAPER_STYLE, label="chance")
        ax.set_title(f"{variant}, lr {lr:g}")
        ax.set_ylim(0, 2 * study["chance_loss"])
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    for ax in list(axes.flat)[max(0, len(panels) - columns):len(panels)]:  # the lowest panel of each column
        ax.set_xlabel("training step")
        ax.xaxis.set_tick_params(labelbottom=True)
    for row in axes:
        row[0].set_ylabel("loss")
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="outside upper center", ncols=2)
    return fig


def lr_schedule_figure(groups: dict[str, list[dict]], columns: int = 2):
    """The learning rate the plateau schedule gave each run, one panel per variant (runs that
    share a schedule would hide each other in one panel), every seed's run drawn."""
    import matplotlib.pyplot as plt

    n_rows = -(-len(groups) // columns)
    fig, axes = plt.subplots(n_rows, columns, figsize=(WIDTH, 0.6 + 2.1 * n_rows), squeeze=False, sharex=True,
                             sharey=True)
    for ax, colour, (variant, runs) in zip(axes.flat, PALETTE, groups.items()):
        for run in runs:
            ax.step([h["epoch"] for h in run["history"]], [h["lr"] for h in run["history"]], where="post",
                    color=colour, linewidth=2, alpha=1 if len(runs) == 1 else 0.6)
        ax.set_title(variant if len(runs) == 1 else f"{variant} ({len(runs)} runs)")
        ax.set_yscale("log")
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    for ax in list(axes.flat)[max(0, len(groups) - columns):len(groups)]:
        ax.set_xlabel("epoch")
        ax.xaxis.set_tick_params(labelbottom=True)
    for row in axes:
        row[0].set_ylabel("learning rate")
    return fig


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
