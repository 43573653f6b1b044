"""The dropout page (section 4.2): which runs did not learn, and the early-steps study of the
dropout experiment, in words, as a table and as a figure."""
from __future__ import annotations

from typing import TYPE_CHECKING

from alexnet_core.book.engine.diagnostics import early_steps_rows, load_early_steps
from alexnet_core.book.pages import tables as T
from alexnet_core.book.pages.chapter import Ablation
from alexnet_core.book.pages.style import PALETTE, PAPER_STYLE, WIDTH, legend_above, note_figure, seed_lines

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

#: What the page says, and shows, while the first steps have not been measured.
NOT_MEASURED = "The first steps have not been measured yet."
MEASURE_COMMAND = "python -m alexnet_core early-steps dropout --profile cpu"


def failed_note(ab: Ablation) -> str:
    """The runs of section 4.2's ablation that ended at chance, named; or 'Every run learned.'"""
    return T.failed_runs_note(ab.groups) or "Every run learned."


def load_early(profile: str) -> dict | None:
    """The dropout experiment's early-steps measurement (section 4.2's first steps) under ``profile``,
    else the cpu profile's, else None (not measured yet)."""
    return load_early_steps(profile, "dropout") or load_early_steps("cpu", "dropout")


def early_summary(early: dict | None) -> str:
    """The first steps with and without dropout in words (:func:`describe`), or that they have not
    been measured yet."""
    return describe(early) if early else NOT_MEASURED


def early_provenance(early: dict | None) -> str:
    """Where and when section 4.2's first steps were measured, one line ending in a newline, for the page to
    print above their table; empty where they have not been measured."""
    if not early:
        return ""
    prov = early["provenance"]
    return (f"measured under the {early['profile']} profile on {prov['device']}, {prov['precision']}, "
            f"commit {prov['commit'][:8]}, {prov['date'][:10]}, {prov['wall_seconds'] / 60:.0f} minutes\n")


def early_table(early: dict | None) -> "Styler | None":
    """Per variant and learning rate, the first steps' peak and last losses, dead units and
    validation error, means over seeds (section 4.2); None where not measured, so nothing shows."""
    import pandas as pd

    if not early:
        return None
    return (pd.DataFrame(early_steps_rows(early)).style.hide(axis="index").format(precision=2)
            .format("{:g}", subset=["lr"]))


def early_figure(early: dict | None) -> "Figure":
    """:func:`early_steps_figure` of section 4.2's first steps, or a note saying how to measure them."""
    return early_steps_figure(early) if early else note_figure(f"not measured yet: {MEASURE_COMMAND}")

def describe(result: dict) -> str:
    """The measurement in words, computed from it (the chapter glues this in)."""
    rows = early_steps_rows(result)
    chance = result["chance_loss"]
    parts = []
    for lr in sorted({r["lr"] for r in rows}, reverse=True):
        at_lr = [r for r in rows if r["lr"] == lr]
        dead_key = [k for k in at_lr[0] if k.startswith("dead ")][-1]
        layer = dead_key.split(" ")[1]
        each = "; ".join(f"{r['variant']}: peak {r['peak step loss']:.2f}, last steps {r['loss, last 5 steps']:.2f}, "
                         f"{r[dead_key]:.0f}% of {layer}'s units dead, validation error {r['val top-1 after (%)']:.0f}%"
                         for r in at_lr)
        parts.append(f"at lr {lr:g} ({each})")
    return (f"Over the first {result['steps']} steps (means over {len(result['seeds'])} seeds; chance is a loss of "
            f"{chance:.2f}): " + "; and ".join(parts) + ".")


def early_steps_figure(result: dict) -> "Figure":
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
