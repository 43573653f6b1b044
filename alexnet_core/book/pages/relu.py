"""The ReLU page (section 3.1, Figure 1): epochs to a training error per seed, the speed-up of
ReLU over tanh in words and as a table, and the learning-rate sweep behind each activation's rate."""
from __future__ import annotations

from typing import TYPE_CHECKING

from alexnet_core.book.engine import measures as A
from alexnet_core.book.engine.judge import effect_row
from alexnet_core.book.engine.plan import ACTIVATION_LRS, get_experiment
from alexnet_core.book.engine.records import Record
from alexnet_core.book.pages.style import curves_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

#: The experiment of Figure 1 and the swept learning rates behind it.
EXPERIMENT = "relu_vs_tanh"
#: The training errors (%) the speed-up table follows down to Figure 1's 25%.
LEVELS = (50.0, 45.0, 40.0, 35.0, 30.0, 25.0)


def target() -> float:
    """Figure 1's training error target (%), as the plan states the paper's number (section 3.1)."""
    return get_experiment(EXPERIMENT).paper["target_train_error"]


def figure_1(records: list[Record], label: str) -> "Figure":
    """Figure 1 redrawn: training error per epoch of ReLU and tanh, every seed faint, the mean
    bold, the paper's 25% target dashed (section 3.1)."""
    return curves_figure(A.by_variant(records), "train_top1", "training error (%)", label,
                         (target(), "25% training error (Figure 1's target)"))


def epochs_text(records: list[Record], variant: str) -> str:
    """Epochs to Figure 1's target, one per seed of ``variant`` ('>N' where never, N the most
    epochs any run ran), e.g. '13, 13, 13' (section 3.1)."""
    epochs_run = max(len(r.history) for r in records)
    reach = [A.epochs_to(r.history, "train_top1", target()) for r in A.by_variant(records)[variant]]
    return ", ".join(str(e) if e else f">{epochs_run}" for e in reach)


def seeds_text(records: list[Record]) -> str:
    """How many ReLU seeds Figure 1's runs hold (section 3.1), as text."""
    return str(len(A.by_variant(records)["relu"]))


def speedup_row(records: list[Record], smoke: bool = False, noise: dict | None = None) -> dict:
    """Figure 1's speed-up at the 25% target as one effect row (section 3.1): ours, its bound,
    the seeds and the verdict (``label``), by the book's one rule."""
    exp = get_experiment(EXPERIMENT)
    return effect_row(exp.effects[0], A.by_variant(records), smoke, target(), noise)


def mean_text(m: float, se: float, n: int) -> str:
    """A speed-up of Figure 1 (section 3.1) in words: '6.2 ± 0.1 (mean ± standard error over 3 seeds)',
    or '6.2 (one seed)'."""
    return f"{m:.1f} ± {se:.1f} (mean ± standard error over {n} seeds)" if n > 1 else f"{m:.1f} (one seed)"


def speedup_text(row: dict, records: list[Record]) -> str:
    """The speed-up of :func:`speedup_row` in words (section 3.1): not measurable, a lower bound
    where tanh never got there, or a mean; and the seeds whose ReLU run itself never got there."""
    t, epochs_run = target(), max(len(r.history) for r in records)
    resolved = row["runs"] - row.get("unresolved", 0)
    if resolved == 0:
        text = f"not measurable: ReLU reached {t:.0f}% in none of the seeds within the {epochs_run} epochs run"
    elif row["bound"] is not None:
        text = (f"at least {row['bound']:.1f} (mean over {resolved} seeds; in {row['censored']} of them tanh never "
                f"reached {t:.0f}% within the {epochs_run} epochs run and enters with the epochs it ran)")
    else:
        text = mean_text(row["ours"], row["se"], resolved)
    if row.get("unresolved"):
        text += (f"; in {row['unresolved']} of the {row['runs']} seeds ReLU itself never reached {t:.0f}%, so "
                 "those seeds bound nothing at this target")
    return text


def common_target_text(records: list[Record]) -> str:
    """The speed-up at the lowest target of :data:`LEVELS` every run reached, with no bound
    needed; or that no such target exists (section 3.1)."""
    groups = A.by_variant(records)
    common = A.common_target(groups["relu"], groups["tanh"], LEVELS)
    if common is None:
        return "No target in the table was reached by every run."
    at = [v for v, _ in A.censored_speedups(groups["relu"], groups["tanh"], common)]
    return (f"At {common:.0f}% training error, the lowest target every run reached, the speed-up is "
            f"{mean_text(*A.mean_and_se(at), len(at))}, with no bound needed.")


def _speedup_cell(per_seed: list[tuple[float, bool]]) -> str:
    """One target's speed-up in Figure 1's table (section 3.1): '-' without a ratio, '≥' where a
    seed is only a lower bound."""
    if not per_seed:
        return "-"
    m, se = A.mean_and_se([v for v, _ in per_seed])
    bound = "≥ " if any(c for _, c in per_seed) else ""
    return f"{bound}{m:.1f} ± {se:.1f} ({len(per_seed)} seeds)" if len(per_seed) > 1 else f"{bound}{m:.1f} (one seed)"


def speedup_table(records: list[Record]) -> "Styler":
    """Per training error target of :data:`LEVELS`: each seed's epochs to it with ReLU and with
    tanh ('-': not reached), and the speed-up over seeds (section 3.1, Figure 1)."""
    import pandas as pd

    groups = A.by_variant(records)
    rows = []
    for level in LEVELS:
        epochs = {v: [A.epochs_to(run.history, "train_top1", level) for run in groups[v]] for v in ("relu", "tanh")}
        rows.append({"training error target (%)": level,
                     "ReLU epochs (per seed)": ", ".join(str(x) if x else "-" for x in epochs["relu"]),
                     "tanh epochs (per seed)": ", ".join(str(x) if x else "-" for x in epochs["tanh"]),
                     "speed-up (mean ± s.e.)": _speedup_cell(A.censored_speedups(groups["relu"], groups["tanh"],
                                                                                  level))})
    return pd.DataFrame(rows).style.hide(axis="index").format({"training error target (%)": "{:.0f}"})


def chosen_lr(activation: str) -> str:
    """The learning rate Figure 1's ``activation`` run trains at, e.g. '0.003' (section 3.1)."""
    return f"{get_experiment(EXPERIMENT).variants[activation]['lr']:g}"


def sweep_size() -> str:
    """How many learning rates the ``activation_lr`` sweep tries (section 3.1), as text."""
    return str(len(ACTIVATION_LRS))


def sweep_edge_text(sweep: list[Record]) -> str:
    """Whether an activation's fastest swept rate lies at the edge of the grid, where a rate
    beyond it might be faster still (section 3.1: rates chosen "to make training as fast as possible")."""
    edges = [act for act, lr in A.fastest_learning_rates(sweep).items() if lr in (min(ACTIVATION_LRS),
                                                                                 max(ACTIVATION_LRS))]
    return (f"The fastest rate for {' and '.join(edges)} lies at the edge of the grid, so a rate beyond "
            "it might be faster still." if edges else "Each chosen rate lies inside the grid.")


def sweep_table(sweep: list[Record]) -> "Styler":
    """One row per swept run: activation, learning rate, epochs, final training error (or
    'diverged') and whether Figure 1's runs use that rate (section 3.1)."""
    import pandas as pd

    variants = get_experiment(EXPERIMENT).variants
    rows = [{"activation": r.config["activation"], "learning rate": r.config["lr"], "epochs": len(r.history),
             "final training error (%)": ("diverged" if r.metrics.get("diverged")
                                          else f"{r.history[-1]['train_top1']:.1f}"),
             "chosen": "yes" if variants[r.config["activation"]]["lr"] == r.config["lr"] else ""}
            for r in sweep]
    return pd.DataFrame(rows).style.hide(axis="index").format({"learning rate": "{:g}"})
