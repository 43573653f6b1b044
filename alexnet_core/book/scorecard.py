"""The scorecard: every measured claim, the paper's number, ours, and the verdict, in one table;
how far one AlexNet run moves by chance (the seed yardstick); the same claims at other sizes."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import analysis as A
from .experiments import EXPERIMENTS, PROFILES, Experiment, recorded_runs
from .original_code import authors_cell

#: The verdicts that say something about the sign of an effect (the seed yardstick checks them).
SIGN_VERDICTS = ("reproduced", "direction only", "not reproduced")
BEYOND = "beyond seed noise (cpu yardstick)"


@dataclass
class Yardstick:
    """The spread between seeds of the same AlexNet configuration, pooled over the configs with
    several seeds; an effect from one run per side is a difference of two runs, so its own seed
    noise is sqrt(2) times the spread."""

    groups: dict[str, list[dict]]
    sd: float
    dof: int

    @property
    def one_seed_noise(self) -> float:
        return math.sqrt(2) * self.sd


def seed_yardstick(profile: str = "cpu", records: list[dict] | None = None) -> Yardstick:
    """Pooled seed spread of the AlexNet runs ``profile`` recorded (a shared reference run counts once)."""
    if records is None:
        records = [r for exp in EXPERIMENTS.values() if exp.family == "alexnet" for r in recorded_runs(exp.name, profile)]
    groups = A.by_config(records)
    sd, dof = A.seed_spread(groups)
    return Yardstick(groups, sd, dof)


def setting_of(experiment: Experiment, profile: str) -> str:
    """Dataset, model and epochs of an experiment's runs under ``profile``, for a table cell."""
    prof = PROFILES[profile]
    base = prof.base(experiment.family)
    return f"{base['dataset']}, {base['model']}, {experiment.epochs.get(prof.name, base['epochs'])} epochs ({prof.name})"


def beyond_seed_noise(experiment: Experiment, row: dict, metric: str, yard: Yardstick, smoke: bool) -> str:
    """'yes'/'no' for a one-run AlexNet effect with a sign verdict, against twice the yardstick's
    one-run noise; '-' where the check does not apply (CIFAR-10, several runs, a speed-up or an
    epoch count, no yardstick, a smoke build, or a verdict that says nothing of the sign)."""
    applies = (experiment.family == "alexnet" and row["runs"] == 1 and metric not in ("speedup", "best_epoch")
               and yard.dof and not smoke and row["verdict"] in SIGN_VERDICTS)
    if not applies:
        return "-"
    return "yes" if abs(row["ours"]) > 2 * yard.one_seed_noise else "no"


@dataclass
class Scorecard:
    """The table's rows and, for the one-run AlexNet effects checked, whether each cleared the yardstick."""

    rows: list[dict]
    checked: list[tuple[str, str]] = field(default_factory=list)


def scorecard(runs_of, source_of, smoke: bool, yard: Yardstick) -> Scorecard:
    """One row per effect of every experiment. ``runs_of(name)`` gives an experiment's records and
    ``source_of(name)`` the profile they come from (a chapter's ``runs`` and ``source``)."""
    card = Scorecard([])
    for exp in EXPERIMENTS.values():
        if not exp.effects:
            continue
        groups = A.by_variant(runs_of(exp.name))
        setting = setting_of(exp, source_of(exp.name))
        for eff in exp.effects:
            r = A.effect_row(eff, groups, smoke, exp.paper.get("target_train_error", 25.0))
            beyond = beyond_seed_noise(exp, r, eff.metric, yard, smoke)
            if beyond != "-":
                card.checked.append((r["claim"], beyond))
            card.rows.append({"section": exp.section, "claim": r["claim"], "paper": paper_cell(r["paper"]),
                              "authors' run": authors_cell(r["claim"]), "ours": A.format_ours(r), "runs per side": r["runs"], "setting": setting,
                              A.LATE_START: A.late_start(eff, groups), "verdict": r["verdict"], BEYOND: beyond,
                              RECIPE: recipe_cell(exp, groups, eff)})
    return card


RECIPE = "AlexNet recipe of the runs"


def recipe_cell(experiment: Experiment, groups: dict[str, list[dict]], effect) -> str:
    """The recipe an effect's AlexNet runs trained under; runs recorded under a superseded recipe,
    standing in until they are retrained under the book's, are named as such ('-' for CIFAR-10)."""
    if experiment.family != "alexnet":
        return "-"
    runs = groups.get(effect.reference, []) + groups.get(effect.ablated, [])
    old = sorted({r["provenance"]["superseded"] for r in runs if r["provenance"].get("superseded")})
    if old:
        return f"superseded ({'; '.join(old)}), {sum(bool(r['provenance'].get('superseded')) for r in runs)} " \
               f"of {len(runs)} runs"
    recipes = sorted({r.get("config", {}).get("recipe", "printed") for r in runs})
    return ", ".join(recipes) or "-"


def paper_cell(paper: float | None) -> str:
    return "qualitative" if paper is None else f"{paper:+.1f}"


def verdict_counts(rows: list[dict]) -> str:
    """'reproduced: 3; within noise: 2; ...', most frequent first (pandas' ``value_counts`` order)."""
    import pandas as pd

    return "; ".join(f"{v}: {n}" for v, n in pd.Series([row["verdict"] for row in rows]).value_counts().items())


def yardstick_text(yard: Yardstick, checked: list[tuple[str, str]]) -> str:
    """The yardstick in words: the runs it comes from, the pooled spread against a run's binomial
    error, and which one-run effects clear twice the resulting noise."""
    if not yard.dof:
        return ("The spread between AlexNet seeds has not been measured yet (the cpu profile's second "
                "seeds), so the one-seed AlexNet verdicts rest on a binomial error alone.")
    several = [runs for runs in yard.groups.values() if len(runs) >= 2]
    seen = "; ".join(f"{runs[0]['provenance']['variant']}: " + ", ".join(f"{A.value(r, 'val_top1'):.1f}%" for r in runs)
                     for runs in several)
    binomial = [r["metrics"]["val_top1_se"] for runs in several for r in runs]
    kept = [claim for claim, beyond in checked if beyond == "yes"]
    return (f"How far one run moves by chance: the cpu profile trained {len(several)} AlexNet configurations "
            f"under more than one seed ({seen} validation top-1 error). Pooled, seeds of the "
            f"same network differ by a standard deviation of {yard.sd:.1f} points ({yard.dof} degrees of "
            f"freedom, so itself a rough figure), against a binomial standard error of "
            f"{sum(binomial) / len(binomial):.1f} points for one run: the binomial interval leaves most of "
            f"a single AlexNet run's noise out. An effect from one run per side, a difference of two runs, "
            f"then carries about {yard.one_seed_noise:.1f} points of seed noise. The column \"beyond seed noise\" "
            f"marks the one-seed AlexNet effects with a sign verdict that exceed twice that "
            f"({2 * yard.one_seed_noise:.1f} points): {len(kept)} of {len(checked)}"
            + (f" ({'; '.join(kept)})" if kept else "") +
            ". The others keep their verdict under the book's rule, but it would not survive the "
            "measured spread between seeds; read them as provisional until they have more seeds. The "
            "yardstick comes from the cpu profile's short runs; longer runs may vary less between seeds.")


def other_profile_rows(rows: list[dict], source_of, runs_of_profile=recorded_runs) -> list[dict]:
    """The AlexNet effects a second profile has recorded on both sides, beside the book's own
    row (``rows`` of :func:`scorecard`): the same claims at other sizes."""
    others = []
    by_claim: dict[str, dict] = {}
    for row in rows:
        by_claim.setdefault(row["claim"], row)
    for exp in EXPERIMENTS.values():
        if exp.family != "alexnet" or not exp.effects:
            continue
        for other in [p for p in ("cpu", "gpu") if p != source_of(exp.name)]:
            groups = A.by_variant(runs_of_profile(exp.name, other))
            base = PROFILES[other].base(exp.family)
            for eff in exp.effects:
                if not (groups.get(eff.reference) and groups.get(eff.ablated)):
                    continue
                r = A.effect_row(eff, groups, False)
                main = by_claim.get(r["claim"])
                others.append({"claim": r["claim"], "paper": paper_cell(r["paper"]),
                               "book's profile": f"{main['ours']} ({main['verdict']})" if main else "-",
                               "other profile": other, "setting": f"{exp.epochs.get(other, base['epochs'])} epochs",
                               "ours there": A.format_ours(r), "verdict there": r["verdict"]})
    return others
