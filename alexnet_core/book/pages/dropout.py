"""The dropout page (section 4.2): the early-steps study of the dropout experiment, in words and
as a figure."""
from __future__ import annotations

from alexnet_core.book.engine.diagnostics import early_steps_rows
from alexnet_core.book.pages.style import PALETTE, PAPER_STYLE, WIDTH, legend_above, seed_lines

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
