"""The scorecard: every measured claim, the paper's number, ours, and the verdict with its caveat,
in one table; how far one run, and one paired difference, moves between seeds (the spreads the
verdicts are judged by); the same claims at other sizes."""
from __future__ import annotations

import html
import math
from collections import Counter
import textwrap
from pathlib import Path
from typing import Callable

from alexnet_core.book.engine import measures as A
from alexnet_core.book.pages import tables as T
from alexnet_core.book.engine import judge as V
from alexnet_core.book.engine.plan import EXPERIMENTS, PROFILES, Experiment
from alexnet_core.book.engine.records import book_runs, family_records, recorded_runs
from alexnet_core.files import atomic_write_text
from alexnet_core.paths import GENERATED, REPO_ROOT
from alexnet_core.book.pages.chapter import Chapter
from alexnet_core.book.pages.paper_code import authors_cell
from alexnet_core.book.pages.style import PALETTE, SMALLEST_FONT, WIDTH, legend_above, note_figure


def setting_of(experiment: Experiment, profile: str) -> str:
    """Dataset, model and epochs of an experiment's runs under ``profile``, for a table cell: read
    from the configurations its runs train (an experiment's own schedule, long_training's 24 epochs
    say, included)."""
    prof = PROFILES[profile]
    configs = [spec.config for spec in experiment.runs(prof)]
    models = {c.model for c in configs}
    model = models.pop() if len(models) == 1 else prof.base(experiment.family)["model"]
    epochs = sorted({c.epochs for c in configs})
    span = f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"
    return f"{configs[0].dataset}, {model}, {span} epoch{'s' * (span != '1')} ({prof.name})"


def claim_section(experiment: Experiment, effect) -> str:
    """The paper's section a claim belongs to: its experiment's, or, for a longer run of another
    experiment's claim (``Effect.longer_run_of``), that experiment's."""
    return EXPERIMENTS[effect.longer_run_of[0]].section if effect.longer_run_of else experiment.section


def section_key(section: str) -> tuple[int, ...]:
    """'3.10' after '3.4': a section number as the tuple of its parts."""
    return tuple(int(part) for part in section.split("."))


def scorecard(runs_of, source_of, smoke: bool, noise_of: Callable[[str], dict]) -> list[dict]:
    """One row per effect of every experiment, in the paper's section order. ``runs_of(name)``
    gives an experiment's records, ``source_of(name)`` the profile they come from and
    ``noise_of(family)`` the seed spread per metric (a chapter's ``runs``, ``source`` and ``noise``)."""
    rows = []
    for exp in sorted(EXPERIMENTS.values(), key=lambda e: section_key(e.section)):
        if not exp.effects:
            continue
        groups = A.by_variant(runs_of(exp.name))
        setting = setting_of(exp, source_of(exp.name))
        noise = noise_of(exp.family)
        expected = len(book_runs(exp.name, source_of(exp.name)))
        for eff in exp.effects:
            r = V.effect_row(eff, groups, smoke, exp.paper.get("target_train_error", 25.0), noise, expected)
            rows.append({"section": claim_section(exp, eff), "claim": r["claim"], "paper": paper_cell(r["paper"]),
                         "authors' run": authors_cell(r["claim"]), "ours": T.format_ours(r),
                         "runs per side": r["runs"], "setting": setting, T.LATE_START: T.late_start(eff, groups),
                         "verdict": r["label"], "word": r["verdict"], "caveat": r["note"],
                         RECIPE: recipe_cell(exp, groups, eff),
                         "metric": eff.metric, "effect": r["ours"],
                         "low": r.get("low"), "high": r.get("high"), "paper_effect": r["paper"]})
    return sorted(rows, key=lambda row: section_key(row["section"]))  # a longer run beside its claim


def chapter_scorecard(ch: Chapter) -> list[dict]:
    """:func:`scorecard` of every claim of sections 3-7 over the runs the chapter ``ch`` shows (trained
    where missing, with no note per experiment on the profile its runs come from: the setting column says it)."""
    return scorecard(lambda name: ch.runs(name, note=False), ch.source, ch.smoke, ch.noise)


def claims_count(rows: list[dict]) -> str:
    """How many claims the scorecard measures, as the page glues it."""
    return str(len(rows))


#: The scorecard's columns behind each claim's "details" (the glance shows section, claim,
#: paper, ours and the verdict).
DETAILS = ("authors' run", "runs per side", "setting", T.LATE_START, "AlexNet recipe of the runs")


def badge_class(word: str) -> str:
    """The CSS class of a verdict word's badge (book/_static/scorecard.css): one colour per word."""
    for known in ("not reproduced", "reproduced", "direction only", "within noise", "underpowered"):
        if word.startswith(known):
            return "verdict-" + known.replace(" ", "-")
    return "verdict-none"  # inconclusive, not measured (yet), no verdict (smoke)


def scorecard_html(rows: list[dict]) -> str:
    """The scorecard as a reader takes it in at a glance: section, claim, the paper's number,
    ours and the verdict as a coloured badge with its caveat beneath; the rest of a row behind
    the claim's "details". A phone shows each row as a card (book/_static/scorecard.css)."""
    head = "".join(f"<th>{name}</th>" for name in ("§", "claim", "paper", "ours", "verdict"))
    return (f'<div class="scorecard-wrap"><table class="scorecard"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(_scorecard_row(row) for row in rows) + "</tbody></table></div>")


def _scorecard_row(row: dict) -> str:
    e = html.escape
    ours = str(row["ours"]).split(" (")[0]  # the number; its explanation, if any, goes to the details
    shown = {"ours in full": row["ours"]} if ours != row["ours"] else {}
    shown |= {name: row[name] for name in DETAILS if name in row}
    details = "".join(f"<li><b>{e(name)}</b>: {e(str(value))}</li>" for name, value in shown.items())
    caveat = f'<div class="verdict-caveat">{e(row["caveat"])}</div>' if row.get("caveat") else ""
    word = row.get("word", row["verdict"])
    cells = [("§", e(row["section"])),
             ("claim", f'{e(row["claim"])}<details><summary>details</summary><ul>{details}</ul></details>'),
             ("paper", e(row["paper"])), ("ours", e(ours)),
             ("verdict", f'<span class="verdict-badge {badge_class(word)}">{e(word)}</span>{caveat}')]
    return "<tr>" + "".join(f'<td data-label="{name}">{body}</td>' for name, body in cells) + "</tr>"


RECIPE = "AlexNet recipe of the runs"


def effect_runs(groups: dict[str, list], effect) -> list:
    """The runs behind ``effect``: its reference's and its ablated variant's."""
    return groups.get(effect.reference, []) + groups.get(effect.ablated, [])


def recipe_cell(experiment: Experiment, groups: dict[str, list[dict]], effect) -> str:
    """The recipe an effect's AlexNet runs trained under ('-' for CIFAR-10)."""
    if experiment.family != "alexnet":
        return "-"
    runs = effect_runs(groups, effect)
    recipes = sorted({r.config.get("recipe", "printed") for r in runs})
    return ", ".join(recipes) or "-"


def paper_cell(paper: float | None) -> str:
    return "qualitative" if paper is None else f"{paper:+.1f}"


def verdict_counts(rows: list[dict]) -> str:
    """'reproduced: 3; within noise: 2; ...' over the rows' verdict words (caveats aside), most
    frequent first (pandas' ``value_counts`` order)."""
    import pandas as pd

    words = [row.get("word", row["verdict"]) for row in rows]
    return "; ".join(f"{v}: {n}" for v, n in pd.Series(words).value_counts().items())


def spread_text(noise: dict[str, V.Noise], records: list[dict], family: str = "AlexNet") -> str:
    """The seed spread in words: the configurations it comes from, the pooled spread of top-1
    error against a run's binomial error, what it means for an unpaired effect, and the spreads of
    paired differences by kind where ``noise`` holds them (:func:`judge.seed_noise`)."""
    top1 = noise.get("val_top1")
    if top1 is None or not top1.measured:
        return (f"The spread between {family} seeds has not been measured yet, so its verdicts rest on a "
                "binomial error alone and are provisional.")
    several = [runs for runs in A.by_config(records).values() if len(runs) >= 2]
    seen = "; ".join(f"{runs[0].variant}: "
                     + ", ".join(f"{v:.1f}%" for v in (A.value(r, "val_top1") for r in runs) if v is not None)
                     for runs in several)
    binomial = [r.metrics["val_top1_se"] for runs in several for r in runs if r.metrics.get("val_top1_se")]
    binomial_text = (f", against a binomial standard error of {sum(binomial) / len(binomial):.1f} points for one "
                     "run" if binomial else "")
    return (f"How far one {family} run moves by chance: {len(several)} configurations were trained under more "
            f"than one seed ({seen} validation top-1 error). Pooled, seeds of the same network differ by a "
            f"standard deviation of {top1.sd:.1f} points ({top1.dof} degrees of freedom, itself a rough figure)"
            f"{binomial_text}. A difference of two unpaired runs then carries {math.sqrt(2) * top1.sd:.1f} points "
            "of standard error from the seeds alone: the yardstick of a claim whose sides share no seed, and of a "
            "paired claim whose kind and run length have no paired spread measured. " + paired_text(noise))


def paired_text(noise: dict) -> str:
    """The pooled spreads of paired top-1 differences (:class:`judge.Spreads`), by kind and run
    length, in words."""
    paired = getattr(noise, "paired", {})
    order = {V.SAME: 0, V.DIFFERENT: 1}
    pools = sorted(((kind, epochs, spread) for (metric, kind, epochs), spread in paired.items()
                    if metric == "val_top1" and spread.measured), key=lambda p: (p[1], order.get(p[0], 2)))
    if not pools:
        return ("No claim here has two seeds of both its networks yet, so no spread of paired differences is "
                "measured; the unpaired spread stands in, and the validation images' own error is added to it.")
    shapes = {V.SAME: "the same parameter shapes", V.DIFFERENT: "different parameter shapes"}
    said = "; ".join(f"{spread.sd:.1f} points between {epochs}-epoch networks with {shapes[kind]} ({spread.configs} "
                     f"claim{'s' * (spread.configs != 1)}, {spread.dof} degrees of freedom)"
                     for kind, epochs, spread in pools)
    return (f"Paired by seed, the top-1 differences themselves move by a standard deviation of {said}; a "
            "paired verdict is judged by the spread of its own kind and run length, with the validation images' "
            "own error added.")


def seed_spread(ch: Chapter, records_of: Callable[[str, str], list] = family_records) -> str:
    """:func:`spread_text` of AlexNet's seed spread in the profile the chapter ``ch`` shows (none
    under the smoke profile). ``records_of(family, profile)``: the family's recorded runs."""
    if ch.smoke:
        return "No verdicts under the smoke profile."
    return spread_text(ch.noise("alexnet"), records_of("alexnet", ch.source("lrn_alexnet")))


def cifar_spread(ch: Chapter, records_of: Callable[[str, str], list] = family_records) -> str:
    """:func:`spread_text` of CIFAR-10's seed spread in the profile the chapter ``ch`` shows (empty under smoke)."""
    if ch.smoke:
        return ""
    return spread_text(ch.noise("cifar"), records_of("cifar", ch.source("lrn_cifar")), "CIFAR-10")


def other_profile_rows(rows: list[dict], source_of, runs_of_profile=recorded_runs,
                       noise_of: Callable[[str], dict] = lambda profile: {}) -> list[dict]:
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
                r = V.effect_row(eff, groups, False, noise=noise_of(other))
                main = by_claim.get(r["claim"])
                others.append({"claim": r["claim"], "paper": paper_cell(r["paper"]),
                               "book's profile": f"{main['ours']}, {main['verdict']}" if main else "-",
                               "other profile": other, "setting": f"{exp.epochs.get(other, base['epochs'])} epochs",
                               "ours there": T.format_ours(r), "verdict there": r["label"]})
    return others


def other_profile_table(rows: list[dict], ch: Chapter, noise_of: Callable[[str], dict] | None = None,
                        runs_of_profile=recorded_runs):
    """:func:`other_profile_rows` (the AlexNet claims of sections 3-5 at another size) beside the
    chapter's scorecard ``rows`` as a styled table, or the sentence saying why there is none (the
    smoke profile, or no second profile yet)."""
    import pandas as pd

    noise_of = noise_of or (lambda p: V.seed_noise("alexnet", p))
    others = other_profile_rows(rows, ch.source, runs_of_profile, noise_of=noise_of)
    if ch.smoke:
        return "No comparison under the smoke profile."
    if not others:
        return "No AlexNet effect is recorded on both sides by a second profile yet."
    return pd.DataFrame(others).style.hide(axis="index")


def show_other_profiles(rows: list[dict], ch: Chapter) -> None:
    """Display :func:`other_profile_table`, or print why there is none."""
    from IPython.display import display

    table = other_profile_table(rows, ch)
    if isinstance(table, str):
        print(table)
    else:
        display(table)


HEADLINE_FILE = "headline.md"  # under book/generated/, included by the introduction


#: Glossary terms (book/intro.md) that claims' names use: the first screen, above the glossary,
#: links them to it.
GLOSSARY_TERMS_IN_CLAIMS = ("r540 draft",)


def _claims(rows: list[dict]) -> str:
    names = [row["claim"].removesuffix(" (points)").removesuffix(" (x)") for row in rows]
    for term in GLOSSARY_TERMS_IN_CLAIMS:
        names = [name.replace(term, f"{{term}}`{term}`") for name in names]
    return "; ".join(f"{name} (§{row['section']})" for name, row in zip(names, rows))


def setting_line(records: list, rows: list[dict]) -> str:
    """One line on where the verdicts come from, read from the scorecard's ``rows`` (the datasets,
    networks and epochs of their setting cells, the runs per side) and the ``records`` behind them
    (the machine that trained most of them)."""
    settings = {}
    for row in rows:
        if not row["runs per side"]:
            continue  # no run yet: its setting is a plan, not where a verdict comes from
        dataset, model, epochs = row["setting"].split(" (")[0].split(", ")
        settings.setdefault((dataset, model == "alexnet"), set()).add(int(epochs.split()[0].split("-")[0]))
    parts = []
    for (dataset, alexnet), epochs in sorted(settings.items(), key=lambda item: not item[0][1]):
        length = "/".join(map(str, sorted(epochs)))
        name = ("AlexNet on Imagenette (10 of ImageNet's classes)" if dataset == "imagenette" and alexnet
                else f"the paper's small nets on {'CIFAR-10' if dataset == 'cifar10' else dataset}")
        parts.append(f"{name} for {length} epochs")
    measured = [row["runs per side"] for row in rows if row["runs per side"]]
    seeds = (f"{min(measured)}-{max(measured)}" if measured and min(measured) != max(measured)
             else str(measured[0]) if measured else "no")
    distinct = {(r.provenance.get("config_hash"), r.provenance.get("seed"), r.provenance.get("date")): r
                for r in records}  # a reference shown by several experiments counts once
    machines = Counter(f"{r.provenance.get('device', '?')}" + (f", {r.provenance['cpu_isa']}"
                                                              if r.provenance.get("cpu_isa") else "")
                       for r in distinct.values())
    trained = ""
    if machines:
        (machine, count), = machines.most_common(1)
        others = len(machines) - 1
        trained = f"; trained on {machine}" + (f" ({count} of the {sum(machines.values())} runs behind these verdicts)"
                                               if others else "")
    return (f"**Setting.** {' and '.join(parts)}, against the paper's roughly 90 epochs on ImageNet's 1000 "
            f"classes; {seeds} seeds per side so far{trained}.")


def chapter_setting(ch: Chapter, rows: list[dict]) -> str:
    """:func:`setting_line` over the records the chapter ``ch`` shows for every claim (empty for smoke)."""
    if ch.smoke:
        return ""
    records = [r for exp in EXPERIMENTS.values() if exp.effects for r in ch.runs(exp.name, note=False)]
    return setting_line(records, rows)


def headline(rows: list[dict], smoke: bool = False, setting: str = "") -> str:
    """The introduction's first screen: the setting in a line (``setting``, :func:`setting_line`), then
    what held, what came out at another size, where an effect of the paper's size did not show, what
    went the other way and what these runs cannot tell yet, from the scorecard's verdict words
    (``rows`` of :func:`scorecard`), linking the scorecard."""
    link = "{doc}`the scorecard <generated/scorecard>`"
    if smoke:
        return f"The smoke {{term}}`profile` draws no verdicts; build the book from recorded runs to see {link}.\n"

    def words(*starts: str) -> list[dict]:
        return [r for r in rows if r["word"].startswith(starts)]
    held, direction, none_, failed = (words("reproduced"), words("direction only"), words("within noise"),
                                      words("not reproduced"))
    open_ = [r for r in rows if r not in held + direction + none_ + failed]
    why = open_reasons(open_)
    lines = [setting] * bool(setting) + [
        f"- **Holds** ({len(held)} of the {len(rows)} claims judged here): " + (_claims(held) if held else "no claim yet") + ".",
        f"- **In the paper's direction, at another size** (off by more than a factor of two; {len(direction)}): "
        + (_claims(direction) if direction else "none") + ".",
        f"- **No {{term}}`effect` shown** (the interval holds 0, and excludes the paper's size where it gives one; {len(none_)}): "
        + (_claims(none_) if none_ else "none") + ".",
        f"- **Goes the other way** ({len(failed)}): "
        + (_claims(failed) if failed else "no claim beyond the seed noise") + ".",
        f"- **These runs cannot tell yet** ({len(open_)}{': ' + why if why else ''})."]
    lines.append(f"\nEvery verdict with its caveat: {link}.")
    return "\n".join(lines) + "\n"


def open_reasons(rows: list[dict]) -> str:
    """'5 underpowered, 3 awaiting their runs': why the open claims are open."""
    names = {"underpowered": "underpowered", "inconclusive": "inconclusive", "not measured yet": "awaiting their runs"}
    counts = {}
    for row in rows:
        key = next((name for word, name in names.items() if row["word"].startswith(word)), row["word"])
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {key}" for key, n in sorted(counts.items(), key=lambda item: -item[1]))


def write_headline(rows: list[dict], smoke: bool, root: Path = REPO_ROOT, setting: str = "") -> Path:
    """Write :func:`headline` where the introduction includes it (``book/generated/headline.md``)."""
    path = root / GENERATED / HEADLINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, headline(rows, smoke, setting))
    return path


# --------------------------------------------------------------------------- the claims at a glance

#: Each verdict word's colour, as its badge has it (book/_static/scorecard.css).
VERDICT_COLOURS = {"verdict-reproduced": "#009E73", "verdict-direction-only": "#56B4E9",
                   "verdict-within-noise": "#999999", "verdict-underpowered": "#E69F00",
                   "verdict-not-reproduced": "#D55E00", "verdict-none": "#BBBBBB"}
#: Metrics measured in points of error, the forest plot's one scale (a speed-up is a ratio and
#: epochs to converge are epochs: their rows stay in the table).
POINTS = ("val_top1", "val_top5", "val10_top1", "val10_top5", "overfit_gap", "early_train_top1", "final_train_top1")


def forest_rows(rows: list[dict]) -> list[dict]:
    """The scorecard rows the forest plot draws: measured in points, with an interval (BOOK.md, "Verdicts")."""
    return [r for r in rows if r.get("metric") in POINTS and r.get("low") is not None
            and all(math.isfinite(r[k]) for k in ("effect", "low", "high"))]


def forest_figure(rows: list[dict]):
    """Every claim measured in points as BOOK.md draws it: our effect with its 95% interval in the
    verdict's colour, the paper's effect as a hollow marker, 0 dashed; a claim above 0 goes against a
    design that lowers error. Intervals wider than the plot end in an arrow at its edge. A note
    stands in when no claim has an interval yet (the smoke profile)."""
    import matplotlib.pyplot as plt

    shown = forest_rows(rows)
    if not shown:
        return note_figure("No claim has an interval yet (the smoke profile judges nothing).")
    edge = forest_edge(shown)
    fig, ax = plt.subplots(figsize=(WIDTH, 1.5 + 0.5 * len(shown)), layout="constrained")
    for y, row in enumerate(reversed(shown)):
        colour = VERDICT_COLOURS[badge_class(row["word"])]
        low, high = max(row["low"], -edge), min(row["high"], edge)
        ax.plot([low, high], [y, y], color=colour, linewidth=2.4, solid_capstyle="butt")
        for end, clipped, marker in ((low, row["low"] < -edge, "<"), (high, row["high"] > edge, ">")):
            if clipped:
                ax.plot(end, y, marker, color=colour, markersize=6)
        ax.plot(row["effect"], y, "o", color=colour, markersize=6)
        if row["paper_effect"] is not None:
            ax.plot(row["paper_effect"], y, "D", markerfacecolor="white", markeredgecolor="black", markersize=6)
    ax.plot([], [], color=PALETTE[7], marker="o", linewidth=2.4, label="ours, 95% interval")
    ax.plot([], [], "D", markerfacecolor="white", markeredgecolor="black", label="paper")
    ax.axvline(0.0, color="#555555", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(shown)), [_short(f"§{r['section']} {r['claim']}") for r in reversed(shown)],
                  fontsize=SMALLEST_FONT)
    ax.set(xlim=(-edge, edge), ylim=(-0.7, len(shown) - 0.3),
           xlabel="with the design minus without (points)")
    legend_above(fig, ax, ncols=2)
    return fig


def forest_edge(shown: list[dict]) -> float:
    """Half the forest plot's width: every effect and paper value with room to spare, intervals
    beyond it cut (a two-seed interval on one degree of freedom can span 60 points)."""
    values = [abs(v) for r in shown for v in (r["effect"], r["paper_effect"]) if v is not None]
    return max(values) + 6.0


def _short(claim: str, width: int = 28) -> str:
    """A claim's name on at most two lines beside the plot, its unit left to the axis."""
    lines = textwrap.wrap(claim.removesuffix(" (points)"), width)
    return "\n".join(lines[:2]) + ("…" if len(lines) > 2 else "")
