"""The tables every chapter and the scorecard show: per variant, and per effect with its verdict."""
from __future__ import annotations

import math
from statistics import mean

from alexnet_core.book.engine import judge as V
from alexnet_core.book.engine.judge import effect_row
from alexnet_core.book.engine.measures import by_variant, did_not_learn, epochs_near_chance, mean_and_se, value



#: The column that shows :func:`late_start` in effect tables and the scorecard.
LATE_START = "epochs at chance (with / without)"


def late_start(effect, groups: dict[str, list[dict]]) -> str:
    """'a / b': mean leading epochs at chance of the reference runs and the ablated runs."""
    sides = [[epochs_near_chance(run) for run in groups.get(side, [])] for side in (effect.reference, effect.ablated)]
    return " / ".join("-" if not v or None in v else f"{mean(v):g}" for v in sides)


def failed_runs_note(groups: dict[str, list[dict]]) -> str:
    """A sentence naming every run that ended near chance (empty when all learned)."""
    notes = []
    for variant, runs in groups.items():
        for r in runs:
            if did_not_learn(r):
                drops = [h["epoch"] for h in r.history if h.get("lr_dropped_after")]
                when = f"; its lr was divided after epoch{'s' if len(drops) > 1 else ''} " \
                       f"{', '.join(map(str, drops))}" if drops else ""
                notes.append(f"the {variant} run (seed {'?' if r.seed is None else r.seed}) ended at "
                             f"{r.metrics['val_top1']:.1f}% validation error after {len(r.history)} "
                             f"epochs, at chance{when}")
    if not notes:
        return ""
    return "Did not learn: " + "; ".join(notes) + ". Effects involving such a run get no verdict."


def variant_table(groups: dict[str, list[dict]]):
    """Per variant: runs, validation errors (centre crop and ten patches), final training error."""
    import pandas as pd

    rows = []
    for variant, runs in groups.items():
        def fmt(key):
            vals = [value(r, key) for r in runs if value(r, key) is not None]
            if not vals:
                return "-"
            m, s = mean_and_se(vals)
            return f"{m:.1f} ± {s:.1f}" if len(vals) > 1 else f"{m:.1f}"
        rows.append({"variant": variant, "runs": len(runs), "val top-1 (%)": fmt("val_top1"),
                     "val top-5 (%)": fmt("val_top5"), "10-patch top-1 (%)": fmt("val10_top1"),
                     "10-patch top-5 (%)": fmt("val10_top5"), "final train top-1 (%)": fmt("final_train_top1"),
                     "final train top-1, eval mode (%)": fmt("final_train_eval_top1"),
                     "epochs": round(mean([len(r.history) for r in runs]), 1)})
    return pd.DataFrame(rows)


def effect_table(experiment, records: list[dict], smoke: bool = False, noise: V.Spreads | dict | None = None,
                 expected: int | None = None):
    """The experiment's effects as a table, ready to show; ``noise`` and ``expected`` as for
    :func:`alexnet_core.book.engine.judge.effect_row`."""
    import pandas as pd

    groups = by_variant(records)
    rows = []
    for eff in experiment.effects:
        r = effect_row(eff, groups, smoke, experiment.paper.get("target_train_error", 25.0), noise, expected)
        rows.append({"claim": r["claim"], "paper": "qualitative" if r["paper"] is None else f"{r['paper']:+.1f}",
                     "ours": format_ours(r),
                     "runs per side": r["runs"], LATE_START: late_start(eff, groups),
                     "verdict": r["label"]})
    return pd.DataFrame(rows)


def format_ours(row: dict) -> str:
    """'+1.23 ± 0.45', '≥ 1.80 (lower bound, ...)' or '-' for a row of :func:`effect_row`."""
    if row.get("bound") is not None:
        resolved = row["runs"] - row.get("unresolved", 0)
        return (f"≥ {row['bound']:.2f} (a lower bound: in {row['censored']} of the {resolved} seed(s) with a ratio "
                "the slower net never reached the target)")
    if math.isnan(row["ours"]):
        return "-"
    if not math.isfinite(row["se"]):
        return f"{row['ours']:+.2f} (no error: {row['runs']} run{'s' if row['runs'] != 1 else ''} per side)"
    return f"{row['ours']:+.2f} ± {row['se']:.2f}"
