"""The plan of seeds (engine.queue, issue #36): claims judged over the runs under the book's recipe,
each claim's start of three pairs first, then the runs that narrow open intervals most per minute,
and record --plan training that queue one run at a time within a budget."""
import json
import math

import pytest

from alexnet_core.book.engine import queue as Q
from alexnet_core.book.engine import record_all
from alexnet_core.book.engine.plan import get_experiment
from alexnet_core.book.engine.records import config_hash, record_path


def _write(results_dir, experiment, variant, seed, val_top1, minutes=20.0, profile="cpu", precision=None):
    """A record of ``experiment``'s run of ``variant`` and ``seed`` under the book's recipe."""
    spec = next(s for s in get_experiment(experiment).planned_runs(profile) if s.variant == variant and s.seed == seed)
    history = [dict(epoch=e, val_top1=80 - (80 - val_top1) * e / 4, train_top1=40.0, train_loss=1.0, val_top5=10.0,
                    lr=0.003) for e in range(1, 5)]
    record = dict(config=spec.config.to_dict(), history=history,
                  metrics=dict(val_top1=val_top1, val_top5=10.0 + (val_top1 - 40) / 4, val_images=3925,
                               final_train_top1=40.0, final_train_eval_top1=35.0, best_val_top1=val_top1),
                  provenance=dict(wall_seconds=minutes * 60, experiment=experiment, run=spec.name,
                                  variant=variant, seed=seed, config_hash=config_hash(spec.config.to_dict()))
                  | ({"precision": precision} if precision else {}))
    path = record_path(results_dir, profile, experiment, spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return spec


def test_with_nothing_recorded_every_claim_starts_and_the_reference_is_paid_for_once(tmp_path):
    claims, queued = Q.queue("cpu", tmp_path)
    assert all(c.pairs == 0 and c.row["verdict"] == "not measured yet" and not c.settled for c in claims)
    names = [(r.spec.experiment, r.spec.name) for r in queued]
    hashes = [config_hash(r.spec.config.to_dict()) for r in queued]
    assert len(hashes) == len(set(hashes))  # a run shared by experiments is queued once
    assert ("lrn_alexnet", "no-lrn-s2") in names and ("overlap_pool", "no-overlap-s2") in names
    seeds = [r.spec.seed for r in queued]
    assert max(i for i, s in enumerate(seeds) if s < 3) < min(i for i, s in enumerate(seeds) if s >= 3)  # starts first
    assert all(r.minutes > 0 for r in queued)


def test_a_settled_claim_gets_no_more_runs_and_an_open_one_grows_to_its_cap(tmp_path):
    for seed in range(3):  # LRN on AlexNet: -4 points, beyond 0 and holding -1.4
        _write(tmp_path, "lrn_alexnet", "lrn", seed, 40.0 + 0.1 * seed)
        _write(tmp_path, "lrn_alexnet", "no-lrn", seed, 44.0 - 0.1 * seed)
        _write(tmp_path, "overlap_pool", "no-overlap", seed, 40.0 + (1.5 if seed == 1 else -1.0))
    claims, queued = Q.queue("cpu", tmp_path)
    by_label = {c.effect.label: c for c in claims}
    lrn = by_label["LRN on AlexNet: top-1 error (points)"]
    assert lrn.pairs == 3 and lrn.row["verdict"] == "reproduced" and lrn.settled
    overlap = by_label["Overlapping pooling: top-1 error (points)"]
    assert overlap.pairs == 3 and not overlap.settled and math.isfinite(overlap.sd)
    assert 0 < overlap.gain_at(3) < 1 and overlap.gain_at(9) < overlap.gain_at(3)  # each pair narrows less
    lrn_runs = [r for r in queued if r.spec.experiment == "lrn_alexnet"]
    overlap_runs = [r.spec.seed for r in queued if r.spec.experiment == "overlap_pool" and r.spec.variant == "no-overlap"]
    assert lrn_runs and all(r.claims == ("LRN on AlexNet: top-5 error (points)",) for r in lrn_runs)  # top-1 is settled
    text = Q.plan_text("cpu", claims, queued)
    assert f"alexnet, val_top1, same shapes, 8 epochs: {overlap.sd:.2f} points on {overlap.dof:g} degrees of freedom" in text
    assert sorted(overlap_runs) == list(range(3, 10))  # up to overlapping pooling's cap of ten


def test_the_plan_prints_claims_and_queue(tmp_path):
    text = Q.plan_text("cpu", *Q.queue("cpu", tmp_path), shown=3)
    assert "LRN on AlexNet: top-1 error" in text and "not measured yet (open)" in text
    assert "Queue:" in text and " 1. " in text and "more runs" in text


def test_expected_minutes_come_from_this_profiles_records(tmp_path):
    _write(tmp_path, "lrn_alexnet", "no-lrn", 0, 45.0, minutes=17.0)
    _, queued = Q.queue("cpu", tmp_path)
    no_lrn = next(r for r in queued if r.spec.experiment == "lrn_alexnet" and r.spec.variant == "no-lrn")
    assert no_lrn.minutes == pytest.approx(17.0)



def test_without_a_record_of_its_configuration_a_run_takes_its_networks_minutes_per_epoch(tmp_path):
    """A record set aside (an earlier recipe's, say) still says how long its network takes an epoch."""
    spec = _write(tmp_path, "lrn_alexnet", "no-lrn", 0, 45.0, minutes=12.0)  # 4 epochs: 3 minutes each
    path = record_path(tmp_path, "cpu", "lrn_alexnet", spec.name)
    record = json.loads(path.read_text())
    record["config"]["lr"] = 0.002
    aside = path.parent / "superseded" / path.name
    aside.parent.mkdir()
    aside.write_text(json.dumps(record))
    path.unlink()
    durations = Q.recorded_durations(tmp_path, "cpu")
    assert Q.expected_minutes(spec, durations, "alexnet") == pytest.approx(3.0 * spec.config.epochs)
    assert Q.expected_minutes(spec, {}, "alexnet") == Q.DEFAULT_MINUTES["alexnet"]

def test_a_pair_is_trained_in_one_precision(tmp_path):
    """A seed whose one side ran in bf16 (a CPU with AVX512-BF16) is no pair with an fp32 run of a
    CPU without it: the arithmetic would sit inside the difference. Such a side is judged unpaired,
    and a machine training in fp32 passes the seed over and pairs a fresh seed instead."""
    for seed in range(3):
        _write(tmp_path, "lrn_alexnet", "lrn", seed, 40.0, precision="bf16")
        _write(tmp_path, "lrn_alexnet", "no-lrn", seed, 41.0 + 0.2 * seed, precision="bf16" if seed < 2 else "fp32")
    _write(tmp_path, "lrn_alexnet", "lrn", 3, 40.0, precision="bf16")
    lrn = next(c for c in Q.claims("cpu", tmp_path) if c.effect.label == "LRN on AlexNet: top-1 error (points)")
    assert lrn.pairs == 2  # seed 2's sides ran in different precisions
    anywhere = [r.spec.name for r in Q.queue("cpu", tmp_path)[1] if r.spec.experiment == "lrn_alexnet"]
    here = [r.spec.name for r in Q.queue("cpu", tmp_path, precision="fp32")[1] if r.spec.experiment == "lrn_alexnet"]
    assert anywhere[0] == "no-lrn-s3"  # completes seed 3's pair, on a bf16 machine
    assert "no-lrn-s3" not in here and here[:2] == ["lrn-s4", "no-lrn-s4"]
    assert "in fp32 (this machine's precision" in Q.plan_text("cpu", *Q.queue("cpu", tmp_path, precision="fp32"),
                                                                precision="fp32")


def test_expected_minutes_ask_the_runs_of_this_machines_precision_first(tmp_path):
    spec = _write(tmp_path, "lrn_alexnet", "no-lrn", 0, 45.0, minutes=12.0, precision="bf16")
    _write(tmp_path, "lrn_alexnet", "no-lrn", 1, 45.0, minutes=60.0, precision="fp32")
    durations = Q.recorded_durations(tmp_path, "cpu")
    assert Q.expected_minutes(spec, durations, "alexnet", "fp32") == pytest.approx(60.0)
    assert Q.expected_minutes(spec, durations, "alexnet", "bf16") == pytest.approx(12.0)
    assert Q.expected_minutes(spec, durations, "alexnet") == pytest.approx(36.0)  # any precision: the median
    assert Q.slowdown(durations, "fp32") == pytest.approx(5.0) and Q.slowdown(durations, None) == 1.0
    # a network never recorded in fp32 (CIFAR-10's): its bf16 minutes, scaled by how much slower fp32
    # ran the networks recorded in both
    cifar = next(s for s in get_experiment("lrn_cifar").planned_runs("cpu"))
    durations["model:cifarnet"] = durations["bf16|model:cifarnet"] = [0.5]
    assert Q.expected_minutes(cifar, durations, "cifar", "fp32") == pytest.approx(2.5 * cifar.config.epochs)


def test_record_plan_trains_the_queue_within_its_hours_and_commits_each_record(tmp_path, monkeypatch):
    monkeypatch.setattr(record_all, "queue", lambda profile, limit=None, precision=None: Q.queue(profile, tmp_path, limit, precision))
    trained, commits = [], []

    def runner(spec, log):
        trained.append(spec.name)
        _write(tmp_path, spec.experiment, spec.variant, spec.seed, 40.0, minutes=1.0)
        return 0

    failed = record_all.record_plan("cpu", hours=0.5, logs=tmp_path / "logs", commit=True, runner=runner,
                                    committer=lambda spec, message: commits.append(message))
    assert failed == [] and 1 <= len(trained) and len(commits) == len(trained)
    assert "plan of seeds" in commits[0]


def test_record_plan_trains_a_shorter_run_that_fits_where_the_first_does_not(tmp_path, monkeypatch):
    monkeypatch.setattr(record_all, "queue", lambda profile, limit=None, precision=None: Q.queue(profile, tmp_path, limit, precision))
    monkeypatch.setattr(Q, "expected_minutes",
                        lambda spec, durations, family, precision=None: 5.0 if (spec.variant, spec.seed) == ("no-overlap", 3) else 30.0)
    _write(tmp_path, "overlap_pool", "overlap", 3, 40.0)  # its other side: the short run adds a pair by itself
    _, queued = Q.queue("cpu", tmp_path)
    short = min(queued, key=lambda r: r.minutes)
    assert queued[0].minutes > short.minutes and short.completes
    trained = []

    def runner(spec, log):
        trained.append(spec)
        _write(tmp_path, spec.experiment, spec.variant, spec.seed, 40.0, minutes=1.0)
        return 0

    hours = (short.minutes + 0.5) / 60
    assert record_all.record_plan("cpu", hours=hours, logs=tmp_path / "logs", runner=runner) == []
    assert trained and trained[0].name == short.spec.name  # the first that fits, in the queue's order


def test_record_plan_trains_no_run_ahead_of_its_turn_whose_other_side_is_not_recorded(tmp_path, monkeypatch):
    """A short run deep in the queue whose pair's other side is not recorded would add no pair (a
    session's last minutes once went on such a run); it waits for its turn."""
    monkeypatch.setattr(record_all, "queue", lambda profile, limit=None, precision=None: Q.queue(profile, tmp_path, limit, precision))
    monkeypatch.setattr(Q, "expected_minutes", lambda spec, durations, family, precision=None: 5.0 if spec.variant == "no-lrn" else 30.0)
    _, queued = Q.queue("cpu", tmp_path)
    short = min(queued, key=lambda r: r.minutes)
    assert queued[0].minutes > short.minutes and not short.completes
    trained = []
    assert record_all.record_plan("cpu", hours=(short.minutes + 0.5) / 60, logs=tmp_path / "logs",
                                  runner=lambda spec, log: trained.append(spec) or 0) == []
    assert trained == []


def test_a_plan_commit_says_what_was_measured_where(tmp_path):
    spec = _write(tmp_path, "lrn_alexnet", "no-lrn", 0, 41.25, minutes=18.0)
    record = json.loads(record_path(tmp_path, "cpu", "lrn_alexnet", "no-lrn-s0").read_text())
    record["provenance"] |= dict(commit="abcdef0123", dirty=False, cpu_isa="AVX512-BF16", precision="bf16", threads=2,
                                  machine_load_15min=3.96)
    record_path(tmp_path, "cpu", "lrn_alexnet", "no-lrn-s0").write_text(json.dumps(record))
    message = record_all.commit_message(spec, "cpu", "start: pair 1 of 3", tmp_path)
    assert message.startswith("plan of seeds: lrn_alexnet/no-lrn-s0 recorded (start: pair 1 of 3)")
    assert "val top-1 41.25%" in message and "commit abcdef0; AVX512-BF16, bf16, 2 threads; 18.0 minutes" in message
    assert "15-minute load 4.0 at the end" in message  # what ran beside it shows in the history


def test_record_plan_stops_at_a_failed_run_and_refuses_a_bad_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(record_all, "queue", lambda profile, limit=None, precision=None: Q.queue(profile, tmp_path, limit, precision))
    failed = record_all.record_plan("cpu", hours=100, logs=tmp_path / "logs", runner=lambda spec, log: 1)
    assert len(failed) == 1
    with pytest.raises(ValueError, match="--hours"):
        record_all.record_plan("cpu", hours=0, logs=tmp_path / "logs")
    again = record_all.record_plan("cpu", hours=100, logs=tmp_path / "logs", runner=lambda spec, log: 0)
    assert again and "no record" in again[0]  # finished without a record: not trained twice


def test_the_command_line_pairs_plan_with_hours(capsys):
    from alexnet_core.__main__ import main
    assert main(["record", "--profile", "cpu", "--plan"]) == 2
    assert "--plan and --hours go together" in capsys.readouterr().err
    assert main(["record", "--profile", "cpu", "--commit"]) == 2
    assert main(["plan", "--profile", "nope"]) == 2


def test_the_book_shows_a_further_seeds_recorded_pairs_once_every_declared_run_is_recorded(tmp_path):
    from alexnet_core.book.engine.records import book_runs

    def shown(name):
        return [s.name for s in book_runs(name, "cpu", tmp_path)]

    assert shown("lrn_alexnet") == ["lrn-s0", "lrn-s1", "no-lrn-s0", "no-lrn-s1"]
    _write(tmp_path, "lrn_alexnet", "lrn", 2, 40.0)
    _write(tmp_path, "lrn_alexnet", "no-lrn", 2, 41.0)
    assert "lrn-s2" not in shown("lrn_alexnet")  # seeds 0 and 1 not yet under the book's recipe
    for seed in (0, 1):
        _write(tmp_path, "lrn_alexnet", "lrn", seed, 40.0)
        _write(tmp_path, "lrn_alexnet", "no-lrn", seed, 41.0)
    assert shown("lrn_alexnet")[-2:] == ["lrn-s2", "no-lrn-s2"]
    _write(tmp_path, "lrn_alexnet", "lrn", 3, 40.0)
    assert "lrn-s3" not in shown("lrn_alexnet")  # seed 3 still lacks its no-LRN run: no pair
    assert shown("final_model") == ["paper-s0"]  # no claim: the reference's further seeds stay out


def test_a_further_seed_joins_with_the_pairs_it_has(tmp_path):
    from alexnet_core.book.engine.records import book_runs
    for variant in ("reference", "bias-zero", "no-weight-decay", "paper-lr-0.01"):
        _write(tmp_path, "learning_details", variant, 0, 40.0)
    _write(tmp_path, "learning_details", "reference", 1, 40.0)
    _write(tmp_path, "learning_details", "bias-zero", 1, 42.0)  # weight decay's claim gets no seed 1
    names = [s.name for s in book_runs("learning_details", "cpu", tmp_path)]
    assert "reference-s1" in names and "bias-zero-s1" in names and "no-weight-decay-s1" not in names


def test_a_claim_its_runs_cannot_test_gets_no_start(tmp_path):
    """Weight decay's runs, unpaired so far, had ten steps or so: too few for the decay to act."""
    for variant, seed in (("reference", 0), ("no-weight-decay", 1)):
        spec = _write(tmp_path, "learning_details", variant, seed, 40.0)
        path = record_path(tmp_path, "cpu", "learning_details", spec.name)
        record = json.loads(path.read_text())
        for h in record["history"]:
            h.update(images_per_s=100.0, train_seconds=10.0)
        path.write_text(json.dumps(record))
    claims, queued = Q.queue("cpu", tmp_path)
    decay = next(c for c in claims if c.effect.power_check == "decay_shrinkage")
    assert decay.pairs == 0 and not decay.seeds_help and not decay.settled
    assert not any(r.spec.variant == "no-weight-decay" for r in queued)  # no start
    assert any(r.spec.variant == "bias-zero" for r in queued)  # the experiment's other claim still starts
    assert "more seeds cannot settle it" in Q.plan_text("cpu", claims, queued)


def test_a_run_serves_only_the_claims_whose_pair_it_completes(tmp_path):
    _write(tmp_path, "depth", "all-layers", 0, 40.0)
    _write(tmp_path, "depth", "no-conv3", 0, 42.0)  # conv3's first pair is in, conv4's is not
    _, queued = Q.queue("cpu", tmp_path)
    first = next(r for r in queued if r.spec.experiment == "depth")
    assert first.spec.name == "no-conv4-s0"
    assert first.claims == ("conv4 kept minus removed: top-1 error (points)",)
    conv3 = [r.spec.seed for r in queued if r.spec.variant == "no-conv3"]
    assert conv3[:2] == [1, 2]  # conv3 still gets its second and third pairs


def test_the_24_epoch_check_trains_longer_and_starts_at_its_cap_of_two_pairs(tmp_path):
    runs = get_experiment("long_training").runs("cpu")
    assert {(r.config.epochs, r.config.patience, r.config.drop_by) for r in runs} == {(24, 3, 18)}
    assert {r.seed for r in runs} == {0, 1}
    _, queued = Q.queue("cpu", tmp_path)
    mine = [r for r in queued if r.spec.experiment == "long_training"]
    assert sorted({r.spec.seed for r in mine}) == [0, 1] and len(mine) == 8
    assert all(r.reason.startswith("start: pair") and " of 2 " in r.reason for r in mine)


def test_a_qualitative_claim_within_noise_stays_open_and_a_sized_one_settles():
    from alexnet_core.book.engine.plan import Effect
    sized = Effect("sized", "a", "b", "val_top1", -1.0)
    qualitative = Effect("qualitative", "a", "b", "overfit_gap")
    assert Q.Claim("x", sized, dict(verdict="within noise"), 3).settled
    assert not Q.Claim("x", qualitative, dict(verdict="within noise"), 3).settled
    assert Q.Claim("x", qualitative, dict(verdict="reproduced"), 3).settled
    assert not Q.Claim("x", sized, dict(verdict="reproduced"), 2).settled  # its start first


