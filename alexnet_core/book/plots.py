"""One plot style for every chapter: colour-blind-safe colours, the paper's numbers hollow/dashed."""
from __future__ import annotations

import numpy as np
import torch

from ..model import paper_lrn

#: Okabe & Ito's colour-blind-safe palette.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
PAPER_STYLE = dict(linestyle="--", color="#555555", linewidth=1.2)


def use_style() -> None:
    """Apply the book's matplotlib style."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.6), "figure.dpi": 110, "savefig.dpi": 110,
        "axes.prop_cycle": cycler(color=PALETTE), "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "font.size": 10, "legend.frameon": False,
    })


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



def ablation_figure(groups: dict[str, list[dict]], label_suffix: str = "", title: str = ""):
    """Left: validation top-1 per epoch (every run faint, mean bold). Right: final training and
    validation top-1 per variant, the gap between them being the overfitting. The training bar is
    the error of fixed training images evaluated like validation (eval mode) where every run of
    the variant recorded it, else the running error of the last epoch in train mode (hatched)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw=dict(width_ratios=[1.4, 1]))
    curves(left, groups, "val_top1", label_suffix)
    left.set_xlabel("epoch")
    left.set_ylabel("validation top-1 error (%)")
    left.legend(fontsize=8)
    names = list(groups)
    x = np.arange(len(names))
    val = [np.mean([r["metrics"]["val_top1"] for r in groups[n]]) for n in names]
    fair = [all(r["metrics"].get("final_train_eval_top1") is not None for r in groups[n]) for n in names]
    tr = [np.mean([r["metrics"]["final_train_eval_top1" if ok else "final_train_top1"] for r in groups[n]])
          for n, ok in zip(names, fair)]
    for kind, hatch, label in ((True, None, "training, eval mode"), (False, "//", "training, train mode (running)")):
        idx = [i for i, ok in enumerate(fair) if ok is kind]
        if idx:
            right.bar(x[idx] - 0.2, [tr[i] for i in idx], 0.4, label=label, color=PALETTE[5], hatch=hatch)
    right.bar(x + 0.2, val, 0.4, label="validation", color=PALETTE[0])
    right.set_xticks(x, names, rotation=15, fontsize=8)
    right.set_ylabel("top-1 error (%)")
    right.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def pending_figure(recorded: int, expected: int, experiment: str, profile: str):
    """A small figure that stands where an experiment's figure will be once its runs are recorded."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, f"{recorded} of {expected} runs recorded so far; the rest: "
            f"python -m alexnet_core experiment {experiment} --profile {profile}", ha="center", va="center", fontsize=9)
    return fig


def seed_lines(ax, runs: list[list[float]], colour: str, label: str, width: float = 2.0) -> None:
    """Per-step series of several seeds: each faint, their mean over the common length bold."""
    for losses in runs:
        ax.plot(range(1, len(losses) + 1), losses, color=colour, alpha=0.3, linewidth=1)
    length = min(map(len, runs))
    ax.plot(range(1, length + 1), np.mean([r[:length] for r in runs], axis=0), color=colour, linewidth=width,
            label=label)


def early_steps_figure(result: dict):
    """Per-step training loss of each variant's first steps, one panel per learning rate: every
    seed faint, the mean bold, chance (ln of the number of classes) dashed."""
    import matplotlib.pyplot as plt

    lrs = sorted({r["lr"] for r in result["rows"]}, reverse=True)
    fig, axes = plt.subplots(1, len(lrs), figsize=(5 * len(lrs), 3.4), squeeze=False, sharey=True)
    variants = list(dict.fromkeys(r["variant"] for r in result["rows"]))
    for ax, lr in zip(axes[0], lrs):
        for colour, variant in zip(PALETTE, variants):
            runs = [r["step_losses"] for r in result["rows"] if r["variant"] == variant and r["lr"] == lr]
            seed_lines(ax, runs, colour, f"{variant} ({len(runs)} seeds)", width=2.2)
        ax.axhline(result["chance_loss"], **PAPER_STYLE, label="chance")
        ax.set(xlabel="training step", title=f"lr {lr:g}")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("training loss of the step")
    fig.tight_layout()
    return fig


def recipe_start_figure(study: dict, columns: int = 4):
    """The first steps' training loss under each recipe, one panel per variant and learning rate
    measured: every seed faint, the mean bold (runs that diverged are left out and named in the
    table), chance dashed."""
    import matplotlib.pyplot as plt

    rows = study["rows"]
    panels = list(dict.fromkeys((r["variant"], r["lr"]) for r in sorted(rows, key=lambda r: -r["lr"])))
    panels.sort(key=lambda p: [r["variant"] for r in rows].index(p[0]))
    recipes = sorted({r["recipe"] for r in rows}, key=lambda name: name != "printed")
    n_rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(n_rows, columns, figsize=(3.2 * columns, 2.6 * n_rows), squeeze=False,
                             sharex=True, sharey=True)
    for ax, (variant, lr) in zip(axes.flat, panels):
        for colour, recipe in zip(PALETTE, recipes):
            runs = [r["step_losses"] for r in rows if (r["variant"], r["lr"], r["recipe"]) == (variant, lr, recipe)
                    and r["step_losses"]]
            if runs:
                seed_lines(ax, runs, colour, f"{recipe} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
        ax.axhline(study["chance_loss"], **PAPER_STYLE, label="chance")
        ax.set_title(f"{variant}, lr {lr:g}", fontsize=9)
        ax.set_ylim(0, 2 * study["chance_loss"])
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    for ax in list(axes.flat)[max(0, len(panels) - columns):len(panels)]:  # the lowest panel of each column
        ax.set_xlabel("training step")
        ax.xaxis.set_tick_params(labelbottom=True)
    for row in axes:
        row[0].set_ylabel("loss")
    fig.tight_layout()
    return fig


def lrn_conventions_figure():
    """What section 3.3's normalisation does to one unit's activation under each convention for
    alpha: output against input for a unit alone in its window (computed by the model's modules)."""
    import matplotlib.pyplot as plt

    a = torch.logspace(-1, 3.5, 200).view(1, 1, -1, 1)  # one channel: the window's sum is a^2
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for colour, convention, label in ((PALETTE[0], "printed", "as printed: alpha = 1e-4"),
                                      (PALETTE[1], "per-window", "as coded: alpha / n = 2e-5")):
        b = paper_lrn(convention)(a)
        axes[0].plot(a.flatten(), b.flatten(), color=colour, label=label)
        axes[1].plot(a.flatten(), (b / a).flatten(), color=colour, label=label)
    axes[0].plot(a.flatten(), a.flatten() / 2 ** 0.75, **PAPER_STYLE, label="k^-beta a (no inhibition)")
    axes[0].set(xscale="log", yscale="log", xlabel="activation a (alone in its window)", ylabel="normalised b")
    axes[1].set(xscale="log", xlabel="activation a (alone in its window)", ylabel="b / a")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
