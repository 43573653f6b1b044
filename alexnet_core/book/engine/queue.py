"""The plan of seeds: where each claim stands, and which runs would settle the open ones soonest.

Every claim starts at :data:`START_PAIRS` pairs (seed k of the reference and of the ablation,
sharing their random streams: alexnet_core.streams). A claim is *open* while its verdict
(engine.judge, BOOK.md's rule) leaves both 0 and the paper's effect possible ("underpowered") or
it has no verdict yet; reproduced, not reproduced, direction only and within noise are settled,
except a qualitative claim within noise, which has no paper size for its interval to exclude.
The queue then adds pairs to open claims, one seed of one experiment at a time, up to the
profile's cap (``Profile.seed_cap``, or the experiment's), in order of how much the runs narrow
open claims' intervals per minute of compute:

    gain = sum over the experiment's open claims of 1 - h(n + 1) / h(n),
    h(n) = t(nu) * sqrt(sd^2 / n + images^2),

with sd the spread of one paired difference, images the validation images' part of the error
(more seeds cannot remove it), and nu growing by one with each pair where the spread is the
claims' own. A run shared by several experiments (the reference) is paid for once. Claims whose
verdict more seeds cannot change (a run that did not learn, a censored epoch count) get their start
and no more; a claim whose runs cannot test it at all (weight decay with too few steps to act,
judged on its own runs) gets no start. Nothing here trains: :func:`record_plan` does, one run at a
time, within a budget of hours.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from alexnet_core.paths import RESULTS_DIR
from alexnet_core.book.engine.judge import (Spreads, difference_estimate, effect_row, family_noise, pool_of,
                                            paired_spreads, power_override)
from alexnet_core.book.engine.measures import by_variant, paired_seeds, trained_in
from alexnet_core.book.engine.plan import EXPERIMENTS, Effect, Experiment, RunSpec, get_profile, profile_for
from alexnet_core.book.engine.records import (config_hash, load_record, network_key, planned_records,
                                             recorded_index, run_record_paths)
from alexnet_core.book.engine.student import two_sided

#: The pairs every claim starts with before the queue weighs it against the others.
START_PAIRS = 3
#: Verdicts that settle a claim (a lower bound's verdict counts as its word).
SETTLED = ("reproduced", "not reproduced", "direction only", "within noise")
#: Minutes a run is expected to take where the profile has recorded nothing like it.
DEFAULT_MINUTES = dict(alexnet=25.0, cifar=20.0)


@dataclass
class Claim:
    """One effect of one experiment as the plan sees it: its row (E, interval, verdict) over the
    pairs recorded under the book's recipe, and whether more seeds can change its verdict."""

    experiment: str
    effect: Effect
    row: dict
    pairs: int
    sd: float = float("nan")
    images: float = 0.0
    dof: float = 0.0
    own_spread: bool = False
    seeds_help: bool = True
    pool: tuple[str, int] = ("", 0)  # layer shapes alike or not, and run length (engine.judge.pool_of)

    @property
    def settled(self) -> bool:
        """Three pairs or more and a verdict that decides it; a qualitative claim (no paper size to
        exclude) "within noise" is not decided: more pairs may still move its interval off 0."""
        word = self.row["verdict"]
        undecided = self.effect.paper is None and word.startswith("within noise")
        return self.pairs >= START_PAIRS and ((word.startswith(SETTLED) and not undecided) or not self.seeds_help)

    def half_width(self, pairs: int) -> float:
        """h(n): the interval's half width with ``pairs`` pairs, the spreads as measured now."""
        if not math.isfinite(self.sd) or pairs < 1:
            return math.nan
        dof = self.dof + (pairs - self.pairs if self.own_spread else 0)
        return two_sided(max(dof, 1)) * math.sqrt(self.sd ** 2 / pairs + self.images ** 2)

    def gain_at(self, pairs: int) -> float:
        """How much one more pair narrows the interval once the claim has ``pairs``, as a share of
        its width then (1 where there is no interval yet: a claim's first pairs)."""
        now, then = self.half_width(pairs), self.half_width(pairs + 1)
        if not (math.isfinite(now) and math.isfinite(then)) or now <= 0:
            return 1.0
        return max(0.0, 1.0 - then / now)


@dataclass
class QueuedRun:
    """One run of the queue: which, its expected minutes and what it is for."""

    spec: RunSpec
    minutes: float
    reason: str
    claims: tuple[str, ...] = field(default_factory=tuple)
    #: whether each of its claims' other side at its seed is recorded already, so it adds a pair on
    #: its own: only such a run may be trained ahead of its turn (record_plan's fill-in of the time left)
    completes: bool = True


def planned_experiments(profile: str) -> list[Experiment]:
    """The experiments with claims whose runs ``profile`` makes itself."""
    prof = get_profile(profile)
    return [e for e in EXPERIMENTS.values() if e.effects and profile_for(e, prof).name == prof.name]


def claims(profile: str, results_dir: Path | None = None, index: dict | None = None) -> list[Claim]:
    """Every claim ``profile`` records, judged over its runs under the book's recipe (every
    planned seed), with the spreads those runs measure."""
    results_dir = results_dir or RESULTS_DIR
    index = recorded_index(results_dir, get_profile(profile).name) if index is None else index
    experiments = planned_experiments(profile)
    records = {e.name: planned_records(e.name, profile, results_dir, index) for e in experiments}
    out = []
    for family in {e.family for e in experiments}:
        mine = [e for e in experiments if e.family == family]
        every = [r for e in mine for r in records[e.name]]
        metrics = {eff.metric for e in mine for eff in e.effects}
        noise = Spreads(family_noise(every, metrics), paired_spreads({e.name: by_variant(records[e.name]) for e in mine}))
        for exp in mine:
            groups = by_variant(records[exp.name])
            out += [_claim(exp, effect, groups, noise) for effect in exp.effects]
    order = {e.name: i for i, e in enumerate(experiments)}
    return sorted(out, key=lambda c: order[c.experiment])


def _claim(exp: Experiment, effect: Effect, groups: dict, noise: Spreads) -> Claim:
    ref, abl = groups.get(effect.reference, []), groups.get(effect.ablated, [])
    pairs = len(paired_seeds(ref, abl))
    if not pairs:  # unpaired runs may still show they cannot test it (weight decay with too few steps)
        row = dict(claim=effect.label, paper=effect.paper, ours=math.nan, low=math.nan, high=math.nan, runs=0,
                   verdict="not measured yet", note="no pair recorded under the book's recipe")
        untestable = effect.power_check and power_override(effect, ref, abl) is not None
        return Claim(exp.name, effect, row, 0, seeds_help=not untestable)
    row = effect_row(effect, groups, noise=noise)
    claim = Claim(exp.name, effect, row, pairs, seeds_help=power_override(effect, ref, abl) is None)
    if effect.metric != "speedup":
        est = difference_estimate(effect, ref, abl, noise)
        claim.sd, claim.images, claim.dof = est.sd, est.images, est.dof
        claim.own_spread = est.source == "paired"
        claim.pool = pool_of(ref[0].config, abl[0].config)
    return claim


def expected_minutes(spec: RunSpec, durations: dict[str, list[float]], family: str,
                     precision: str | None = None) -> float:
    """A run's expected minutes: the median of this profile's recorded runs of its configuration
    (any seed), else the median minutes per epoch of its network times its epochs, else a default
    for its family. With ``precision``, runs recorded in that precision are asked first (fp32 on a
    CPU without fast bf16 trains several times slower than bf16), and where there are none the
    others' minutes are scaled by :func:`slowdown`."""
    for prefix, factor in ([(f"{precision}|", 1.0)] if precision else []) + [("", slowdown(durations, precision))]:
        seen = durations.get(prefix + network_key(spec.config.to_dict()))
        if seen:
            return statistics.median(seen) * factor
        per_epoch = durations.get(f"{prefix}model:{spec.config.model}")
        if per_epoch:
            return statistics.median(per_epoch) * spec.config.epochs * factor
    return DEFAULT_MINUTES.get(family, 25.0)


def slowdown(durations: dict[str, list[float]], precision: str | None) -> float:
    """How much longer an epoch takes in ``precision`` than in the profile's other precisions, as
    far as the records show it: the median over networks recorded in both of the ratio of their
    median minutes per epoch (fp32 on a CPU without fast bf16 against bf16 on one with it); 1 where
    no network is recorded in both. A rough scale for a run never recorded in ``precision``."""
    if not precision:
        return 1.0
    mine = f"{precision}|"
    ratios = [statistics.median(minutes) / statistics.median(other)
              for key, minutes in durations.items() if key.startswith(mine + "model:")
              for other_key, other in durations.items()
              if "|" in other_key and not other_key.startswith(mine) and other_key.split("|", 1)[1] == key[len(mine):]]
    return statistics.median(ratios) if ratios else 1.0


def recorded_durations(results_dir: Path, profile: str) -> dict[str, list[float]]:
    """Minutes of every recorded run of ``profile`` (set-aside records included), by its config
    with the seed left out; and minutes per epoch by network (``model:<name>``); each also under
    its precision (``bf16|<key>``)."""
    paths = run_record_paths(results_dir, profile) + sorted(Path(results_dir).glob(f"{profile}/*/superseded/*.json"))
    out: dict[str, list[float]] = {}
    for path in paths:
        record = load_record(path)
        seconds = record.provenance.get("wall_seconds")
        if not seconds or record.provenance.get("copied_from") or record.found.copied_from:
            continue
        precision = record.provenance.get("precision")
        for prefix in [""] + ([f"{precision}|"] if precision else []):
            out.setdefault(prefix + network_key(record.config), []).append(seconds / 60)
            if record.history:
                out.setdefault(f"{prefix}model:{record.config.get('model', 'alexnet')}", []).append(
                    seconds / 60 / len(record.history))
    return out


def queue(profile: str, results_dir: Path | None = None, limit: int | None = None,
          precision: str | None = None) -> tuple[list[Claim], list[QueuedRun]]:
    """The claims of ``profile`` and the queue of runs that would settle the open ones soonest
    (see the module docstring); ``limit`` stops the queue after that many runs. With ``precision``
    (what this machine trains in), the queue is this machine's: a seed whose recorded side ran in
    another precision is passed over, as it could not make a pair here (measures.pairable), and
    the minutes are those of runs recorded in that precision where there are any."""
    results_dir = results_dir or RESULTS_DIR
    prof = get_profile(profile)
    index = recorded_index(results_dir, prof.name)
    now = claims(profile, results_dir, index)
    durations = recorded_durations(results_dir, prof.name)
    foreign = set() if precision is None else {
        digest for digest, paths in index.items()
        if not all(trained_in(load_record(p), precision) for p in paths)}
    recorded, already = set(index), set(index)
    queued: list[QueuedRun] = []
    pending = {id(c): c.pairs for c in now}  # pairs each claim will have once the queue so far is run
    while limit is None or len(queued) < limit:
        best = _best_unit(now, pending, prof, recorded, durations, foreign, precision)
        if best is None:
            break
        exp, seed, runs, gain, start, served = best
        names = ", ".join(sorted({c.effect.label for c in served}))
        unmeasured = any(not math.isfinite(c.half_width(pending[id(c)])) for c in served)
        for spec, minutes in runs:
            recorded.add(config_hash(spec.config.to_dict()))
            reason = (f"start: pair {pending[id(served[0])] + 1} of {start}" if start
                      else f"pair {pending[id(served[0])] + 1}, " + ("an interval not measured yet" if unmeasured else
                                                                     f"narrows the open intervals by {100 * gain:.0f}% "
                                                                     "of a width, summed"))
            partners = [p for p in EXPERIMENTS[exp].runs(prof, (seed,)) for c in served
                        if spec.variant in (c.effect.reference, c.effect.ablated)
                        and p.variant in (c.effect.reference, c.effect.ablated) and p.variant != spec.variant]
            completes = all(config_hash(p.config.to_dict()) in already for p in partners)
            queued.append(QueuedRun(spec, minutes, f"{reason} ({names})", tuple(c.effect.label for c in served),
                                    completes))
        for c in served:
            pending[id(c)] += 1
    return now, queued


def _best_unit(now: list[Claim], pending: dict, prof, recorded: set, durations: dict,
               foreign: frozenset | set = frozenset(), precision: str | None = None):
    """The next (experiment, seed) to add: a claim's start (cheapest first), then the largest
    narrowing of open claims per minute; seeds with a run recorded in another precision
    (``foreign``) are passed over. Returns (experiment, seed, [(spec, minutes)], gain, the
    pairs of the start it serves or 0, claims served), or None when every claim is settled or at its cap."""
    by_exp: dict[str, list[Claim]] = {}
    for c in now:
        by_exp.setdefault(c.experiment, []).append(c)
    best, best_key = None, None
    for name, its in by_exp.items():
        exp = EXPERIMENTS[name]
        cap = len(exp.planned_seeds(prof))
        start = min(START_PAIRS, cap)  # an experiment capped below the start (long_training's two pairs)
        starting = [c for c in its if pending[id(c)] < start
                    and (c.seeds_help or (c.pairs and not c.effect.power_check))]
        open_ = starting or [c for c in its if not c.settled and c.seeds_help and pending[id(c)] < cap]
        if not open_:
            continue
        variants = {v for c in open_ for v in (c.effect.reference, c.effect.ablated)}
        for seed in exp.planned_seeds(prof):
            specs = [s for s in exp.runs(prof, (seed,)) if s.variant in variants]
            hashes = [config_hash(s.config.to_dict()) for s in specs]
            todo = [s for s, digest in zip(specs, hashes) if digest not in recorded]
            if todo and not foreign.intersection(hashes):
                break
        else:
            continue
        missing = {s.variant for s in todo}
        served = [c for c in open_ if {c.effect.reference, c.effect.ablated} & missing]  # their pair at this seed
        runs = [(s, expected_minutes(s, durations, exp.family, precision)) for s in todo]
        minutes = sum(m for _, m in runs)
        gain = sum(c.gain_at(pending[id(c)]) for c in served)
        key = (2, -minutes) if starting else (0, gain / max(minutes, 1.0))
        if best_key is None or key > best_key:
            best, best_key = (name, seed, runs, gain, start if starting else 0, served), key
    return best


# --------------------------------------------------------------------------- the printout

def _interval(row: dict) -> str:
    if row.get("ours") is None or (isinstance(row["ours"], float) and math.isnan(row["ours"])):
        return "-"
    low, high = row.get("low", math.nan), row.get("high", math.nan)
    if row.get("bound") is not None:
        return f">= {row['bound']:.2f} (a lower bound)"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{row['ours']:+.2f} (no interval)"
    return f"{row['ours']:+.2f} [{low:+.2f}, {high:+.2f}]"


def plan_text(profile: str, now: list[Claim], queued: list[QueuedRun], shown: int = 40,
              precision: str | None = None) -> str:
    """The plan as ``python -m alexnet_core plan`` prints it: each claim with its pairs, E and 95%
    interval, verdict and state; then the queue (a machine training in ``precision``'s, where
    given) with each run's expected minutes and its reason."""
    prof = get_profile(profile)
    lines = [f"Claims of the {prof.name} profile, over the runs recorded under the book's recipe "
             f"(every claim starts at {START_PAIRS} pairs; cap {prof.seed_cap} pairs unless an experiment says more):",
             f"  {'experiment':<20} {'claim':<58} {'pairs':>5}  {'paper':>6}  {'E [95% interval]':<26} verdict"]
    for c in now:
        paper = "-" if c.effect.paper is None else f"{c.effect.paper:+.1f}"
        state = "settled" if c.settled else ("open" if c.seeds_help else "more seeds cannot settle it")
        lines.append(f"  {c.experiment:<20} {c.effect.label[:58]:<58} {c.pairs:>5}  {paper:>6}  "
                     f"{_interval(c.row):<26} {c.row['verdict']} ({state})")
    spreads = {(EXPERIMENTS[c.experiment].family, c.effect.metric, *c.pool): (c.sd, c.dof) for c in now if c.own_spread}
    if spreads:
        lines += ["", "Spread of one paired difference between seeds, pooled over the claims of a kind and run length:"]
        lines += [f"  {family}, {metric}, {kind}, {epochs} epochs: {sd:.2f} points on {dof:g} degrees of freedom"
                  for (family, metric, kind, epochs), (sd, dof) in sorted(spreads.items())]
    total = sum(r.minutes for r in queued)
    where = (f"in {precision} (this machine's precision; seeds whose recorded side ran in another are passed over)"
             if precision else "on the machine that recorded this profile")
    lines += ["", f"Queue: {len(queued)} runs, about {total:.0f} minutes ({total / 60:.1f} hours) {where}; "
                  "a claim's start first, then the most narrowing per minute:"]
    clock = 0.0
    for i, run in enumerate(queued[:shown], 1):
        clock += run.minutes
        lines.append(f"  {i:>3}. {run.spec.experiment + '/' + run.spec.name:<36} {run.minutes:5.0f} min "
                     f"(at {clock / 60:4.1f} h)  {run.reason}")
    if len(queued) > shown:
        lines.append(f"  ... and {len(queued) - shown} more runs")
    return "\n".join(lines)


__all__ = ["Claim", "QueuedRun", "START_PAIRS", "SETTLED", "claims", "queue", "expected_minutes", "slowdown",
           "recorded_durations", "planned_experiments", "plan_text"]
