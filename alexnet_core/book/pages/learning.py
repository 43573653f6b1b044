"""The learning-rule page (section 5): which recipe lets every AlexNet variant start to learn
(the recipe-start study in words and as a figure), and the learning-rate schedule's figure."""
from __future__ import annotations

from statistics import mean

from alexnet_core.book.engine.diagnostics import (DROPOUT_NAMES, STUDY_VARIANTS, chosen_candidate, recipe_start_rows,
                                                  row_dropout, starts_everywhere, study_order, study_rows)
from alexnet_core.book.engine.measures import did_not_learn
from alexnet_core.book.engine.plan import ALEXNET_RECIPE, EXPERIMENTS
from alexnet_core.book.engine.records import Record
from alexnet_core.book.pages.chapter import Chapter
from alexnet_core.book.pages.style import PALETTE, PAPER_STYLE, WIDTH, note_figure, seed_lines
from alexnet_core.book.pages.tables import failed_runs_note


def describe(study: dict) -> str:
    """The measurement in words, per recipe, dropout form and learning rate: when each variant left chance."""
    parts = []
    for row in recipe_start_rows(study):
        parts.append(f"{row['recipe']} with the {row['dropout']} at lr {row['lr']:g}, {row['variant']}: "
                     f"{row['left chance at step (per seed)']}")
    return "; ".join(parts)


def _candidate(study: dict, recipe: str, lr: float, dropout: str) -> str:
    """'every run left chance, the last at step 93 (no-dropout, seed 1)' or which runs did not."""
    rows = study_rows(study, recipe, lr, dropout)
    stuck = [r for r in rows if r.get("left_chance_step") is None]
    if stuck:
        names = ", ".join(f"{r['variant']} seed {r['seed']}" + (" diverged" if r.get("diverged_at_step") else "")
                          for r in stuck)
        return f"{len(stuck)} of {len(rows)} runs never left chance ({names})"
    last = max(rows, key=lambda r: r["left_chance_step"])
    return f"every run left chance, the last at step {last['left_chance_step']} ({last['variant']}, seed {last['seed']})"


def _measured_rows(study: dict | None, recipe: str, lr: float, dropout: str) -> dict[str, dict]:
    """:func:`summary_rows` of ``recipe`` with ``dropout`` at ``lr`` by variant, those with
    dead-unit counts only (a variant whose every seed diverged has none)."""
    return {r["variant"]: r for r in (recipe_start_rows(study) if study else [])
            if (r["recipe"], r["lr"], r["dropout"]) == (recipe, lr, DROPOUT_NAMES[dropout])
            and r["dead fc7 units (%)"] is not None}


def _named(recipe: str, lr: float, dropout: str) -> str:
    return f"the {recipe} recipe with the {DROPOUT_NAMES[dropout]} at lr {lr:g}"


def dead_units_text(study: dict | None, recipe: str, lr: float, dropout: str = "test") -> str:
    """How many of fc7's units the first steps left dead under ``recipe`` with ``dropout`` at
    ``lr``: the fewest and the most over the variants (mean over seeds, diverged runs left out), as words."""
    rows = list(_measured_rows(study, recipe, lr, dropout).values())
    if not rows:
        return f"the first steps have not been measured under {_named(recipe, lr, dropout)}"
    fewest = min(rows, key=lambda r: r["dead fc7 units (%)"])
    most = max(rows, key=lambda r: r["dead fc7 units (%)"])
    return (f"after the first {study['rows'][0]['steps']} steps under {_named(recipe, lr, dropout)}, between "
            f"{fewest['dead fc7 units (%)']:.0f}% ({fewest['variant']}) and {most['dead fc7 units (%)']:.0f}% "
            f"({most['variant']}) of fc7's units were dead")


def start_contrast_text(study: dict | None, recipe: str, lr: float, variant: str,
                        against: str = "reference", dropout: str = "test") -> str:
    """``variant``'s first steps beside ``against``'s under ``recipe`` with ``dropout`` at ``lr``,
    as words: the step at which each seed left chance and the share of fc7's units left dead
    (empty when either was not measured)."""
    rows = _measured_rows(study, recipe, lr, dropout)
    if variant not in rows or against not in rows:
        return ""
    mine, theirs = rows[variant], rows[against]
    return (f"In the first-steps measurement under {_named(recipe, lr, dropout)}, {variant} left chance at step "
            f"{mine['left chance at step (per seed)']} (per seed) against {theirs['left chance at step (per seed)']} "
            f"for {against}, with {mine['dead fc7 units (%)']:.0f}% of fc7's units dead against "
            f"{theirs['dead fc7 units (%)']:.0f}%.")


def dropout_contrast_text(study: dict | None, recipe: str, lr: float) -> str:
    """The two dropout forms side by side under ``recipe`` at ``lr``: how many runs of each left
    chance within the steps, and fc7's dead units (empty unless both were measured)."""
    if not study or not study_rows(study, recipe, lr, "test") or not study_rows(study, recipe, lr, "train"):
        return ""
    parts = []
    for dropout in ("test", "train"):
        rows = study_rows(study, recipe, lr, dropout)
        left = sum(r.get("left_chance_step") is not None for r in rows)
        dead = [r["dead_units"]["fc7"] for r in rows if r.get("dead_units", {}).get("fc7") is not None]
        parts.append(f"with the {DROPOUT_NAMES[dropout]} {left} of {len(rows)} runs left chance"
                     + (f" ({100 * mean(dead):.0f}% of fc7's units dead on average)" if dead else ""))
    return f"Under the {recipe} recipe at lr {lr:g}, " + "; ".join(parts) + "."


def choice_text(study: dict | None, recipe: str, lr: float, dropout: str = "test") -> str:
    """Why the book trains ``recipe`` with ``dropout`` at ``lr``, from the measurement: for each
    candidate, closest to the paper first, whether every run left chance within the steps measured."""
    if not study:
        return "The first steps have not been measured yet, so the recipe is not chosen from evidence."
    candidates = sorted({(r["recipe"], row_dropout(r), r["lr"]) for r in study["rows"]}, key=lambda c: study_order(*c))
    steps = study["rows"][0]["steps"]
    verdicts = [f"{name} with the {DROPOUT_NAMES[form]} at lr {rate:g}: {_candidate(study, name, rate, form)}"
                for name, form, rate in candidates]
    variants = sorted({r["variant"] for r in study_rows(study, recipe, lr, dropout)})
    if not variants:
        return (f"Over the first {steps} steps, candidates closest to the paper first: " + "; ".join(verdicts)
                + f". The book's recipe, {_named(recipe, lr, dropout)}, has not been measured yet.")
    return (f"Over the first {steps} steps, candidates closest to the paper first: " + "; ".join(verdicts)
            + ". " + _chosen_text(study, recipe, lr, dropout, len(variants)))


def _chosen_text(study: dict, recipe: str, lr: float, dropout: str, measured: int) -> str:
    """Whether the book's recipe is the one the rule picks (:func:`chosen_candidate`): the closest to
    the paper under which all the study's variants, in every seed measured, left chance."""
    chosen = chosen_candidate(study, dropout)
    own = (f"under which {'every run' if starts_everywhere(study, recipe, lr, dropout=dropout) else 'not every run'} "
           f"of the {measured} variants measured left chance")
    if chosen == (recipe, lr):
        return (f"The book's AlexNet runs train {_named(recipe, lr, dropout)}, the closest to the paper under which "
                f"all {len(STUDY_VARIANTS)} variants, in every seed measured, left chance.")
    if chosen is None:
        return (f"No candidate is yet measured in all {len(STUDY_VARIANTS)} variants and every seed with every run "
                f"leaving chance; until one is, the book's AlexNet runs train {_named(recipe, lr, dropout)}, {own}.")
    return (f"By that rule the book's recipe is now {_named(*chosen, dropout)}; its AlexNet runs still train "
            f"{_named(recipe, lr, dropout)}, {own}, until they are recorded again.")


# --------------------------------------------------------------------------- every AlexNet run of the book

def failed_text(groups: dict[str, list[Record]]) -> str:
    """The verdict's sentence on runs that ended at chance (section 5's ablation), or that every run learned."""
    return failed_runs_note(groups) or "Every run learned."


def distinct_alexnet_runs(ch: Chapter) -> list[Record]:
    """Every AlexNet run the book shows, each once (by config hash) and never a copy: the runs of
    every AlexNet experiment as the chapter ``ch`` finds them (trained where missing)."""
    runs = {r.provenance.get("config_hash", id(r)): r for e in EXPERIMENTS.values() if e.family == "alexnet"
            for r in ch.runs(e.name) if not r.copied_from}
    return list(runs.values())


def stuck_text(runs: list[Record]) -> str:
    """Which of ``runs`` ended at chance, with their learning rate and dropout (section 5's lr), as a sentence."""
    stuck = [r for r in runs if did_not_learn(r)]
    behind_book = f"{len(runs)} distinct AlexNet runs behind this book"
    if not stuck:
        return f"None of the {behind_book} ended at chance."
    return f"{len(stuck)} of the {behind_book} ended at chance: " + ", ".join(
        f"{r.found.experiment}/{r.found.run} (lr {r.config['lr']}, dropout {r.config['dropout']})"
        for r in stuck) + "."


def under_book_recipe(run: Record) -> bool:
    """Whether a run trained under the book's AlexNet recipe."""
    return run.config.get("recipe") == ALEXNET_RECIPE["recipe"]


def recipes_text(runs: list[Record]) -> str:
    """How many of ``runs`` trained under the book's recipe (and at which other learning rates,
    section 5), as a clause."""
    coded = [r for r in runs if under_book_recipe(r)]
    off_rate = [r for r in coded if r.config["lr"] != ALEXNET_RECIPE["lr"]]
    off_rates = ", ".join(f"{lr:g}" for lr in sorted({r.config["lr"] for r in off_rate}))
    except_off_rate = (f", except {len(off_rate)} at lr {off_rates}, which test{'s' if len(off_rate) == 1 else ''} "
                       "that rate" if off_rate else "")
    return (f"{len(coded)} of the {len(runs)} distinct AlexNet runs shown in this book trained under the book's "
            f"recipe ({ALEXNET_RECIPE['recipe']} with the paper's dropout, lr {ALEXNET_RECIPE['lr']}{except_off_rate})")


# --------------------------------------------------------------------------- the recipe-start study

def study_line(study: dict) -> str:
    """Where and when the recipe-start study was measured, and how many runs it holds."""
    prov = study["provenance"]
    return (f"measured on {prov['device']}, {prov['cpu_isa']}, {prov['precision']}, commit {prov['commit'][:8]}, "
            f"{prov['date'][:10]}; {len(study['rows'])} runs")


def study_table(study: dict):
    """The recipe-start study's rows (:func:`recipe_start_rows`) as the page's styled table."""
    import pandas as pd

    return (pd.DataFrame(recipe_start_rows(study)).style.hide(axis="index").format(precision=2, na_rep="-")
            .format("{:g}", subset=["lr"]))


def show_study(study: dict | None) -> None:
    """Print where the recipe-start study was measured and display its table; nothing when it was not made."""
    from IPython.display import display

    if study:
        print(study_line(study))
        display(study_table(study))


def study_figure(study: dict | None):
    """:func:`recipe_start_figure` of the study, or a note saying how to measure it."""
    if study:
        return recipe_start_figure(study)
    return note_figure("not measured yet: python -m alexnet_core recipe-start --profile cpu")


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
            ax.step([h["epoch"] for h in run.history], [h["lr"] for h in run.history], where="post",
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
