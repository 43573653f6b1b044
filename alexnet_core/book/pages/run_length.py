"""Does an 8-epoch effect last? The effects the long_training experiment measures again after 24
epochs (section 5: "roughly 90 cycles"), shown in the chapter of the 8-epoch claim beside it."""
from __future__ import annotations

from alexnet_core.book.engine.plan import EXPERIMENTS
from alexnet_core.book.engine.records import book_runs
from alexnet_core.book.pages.chapter import Ablation, Chapter

#: The experiment that trains the book's AlexNet claims three times longer.
LONGER = "long_training"

def longer_effects(experiment: str) -> list[tuple[str, str]]:
    """(label of the effect in ``experiment``, label of the same effect in the longer runs), in the
    longer experiment's order: which of an experiment's effects are measured again over longer training."""
    return [(e.longer_run_of[1], e.label) for e in EXPERIMENTS[LONGER].effects
            if e.longer_run_of and e.longer_run_of[0] == experiment]


def planned_epochs(ch: Chapter, experiment: str) -> int:
    """The length of the runs ``experiment`` plans in the profile the chapter shows."""
    return book_runs(experiment, ch.source(experiment))[0].config.epochs


def run_length_table(ch: Chapter, short: Ablation, longer: Ablation):
    """Per effect of ``short`` that the longer runs measure again: ours with its standard error, the
    pairs and the verdict at each run length, under a heading that names it (a styled table); a
    one-line note instead where the profile's runs are already as long."""
    import pandas as pd

    if longer.experiment.name != LONGER:
        raise ValueError(f"run_length_table compares against {LONGER}, not {longer.experiment.name}")
    if not longer_effects(short.experiment.name):
        raise ValueError(f"{LONGER} measures no effect of {short.experiment.name} again")
    lengths = planned_epochs(ch, short.experiment.name), planned_epochs(ch, LONGER)
    if lengths[0] >= lengths[1]:
        from IPython.display import Markdown
        return Markdown(f"*In this profile the runs above already train for {lengths[0]} epoch{'s' * (lengths[0] != 1)}, as long as "
                        f"the {LONGER} experiment's: there is no longer run to set beside them.*")
    sides = [(short, f"after {lengths[0]} epochs"), (longer, f"after {lengths[1]} epochs")]
    rows = []
    for labels in longer_effects(short.experiment.name):
        row = {("", "claim"): labels[0].replace(" (points)", "")}
        for (ablation, heading), label in zip(sides, labels):
            effect = ablation.effects.set_index("claim").loc[label]
            row[("", "paper")] = effect["paper"]
            row |= {(heading, "ours"): effect["ours"], (heading, "pairs"): effect["runs per side"],
                    (heading, "verdict"): effect["verdict"]}
        rows.append(row)
    table = pd.DataFrame(rows)
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    drop_by = book_runs(LONGER, ch.source(LONGER))[0].config.drop_by
    caption = (f"The same paired comparison {sides[0][1]} and {sides[1][1]} (the learning rate divided after epoch "
               f"{drop_by} where no plateau divided it first). The two sides of a pair share their seed's data order, "
               "augmentation draws and starting weights; the verdicts follow the book's interval rule.")
    return table.style.hide(axis="index").set_caption(caption)
