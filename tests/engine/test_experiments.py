"""The experiment registry, run records and their cache (the spine of the book)."""
import dataclasses
import json

import pytest

from alexnet_core.book.engine import plan as X
from alexnet_core.book.engine import records as R
from alexnet_core.book.engine import run as RUN
from alexnet_core.provenance import git_state
from alexnet_core.train import check_config, train
from alexnet_core.book.engine.records import Record


def test_every_experiment_has_runs_in_every_profile():
    for exp in X.EXPERIMENTS.values():
        for profile in X.PROFILES:
            runs = exp.runs(profile)
            assert runs, (exp.name, profile)
            assert len({r.name for r in runs}) == len(runs)
            for run in runs:
                check_config(run.config)
                assert run.config.seed == run.seed


def test_variants_change_what_they_say_and_nothing_else():
    exp = X.get_experiment("overlap_pool")
    a, b = (r.config.to_dict() for r in exp.runs("cpu") if r.seed == 0)
    assert {k for k in a if a[k] != b[k]} == {"overlap_pool"}


def test_profiles_seed_counts_and_unknown_names():
    assert len(X.PROFILES["cpu"].cifar_seeds) >= 3
    assert X.profile_for("lrn_cifar", "gpu").name == "cpu"  # the gpu profile takes CIFAR-10 from cpu
    assert X.profile_for("lrn_alexnet", "gpu").name == "gpu"
    assert X.profile_for("lrn_cifar", "smoke").name == "smoke"
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        X.get_profile("laptop")
    with pytest.raises(ValueError, match="unknown experiment"):
        X.get_experiment("batchnorm")


def test_an_experiment_can_take_more_seeds_than_its_profile():
    names = [r.name for r in X.get_experiment("lrn_alexnet").runs("cpu")]
    assert names == ["lrn-s0", "lrn-s1", "no-lrn-s0", "no-lrn-s1"]
    assert [r.name for r in X.get_experiment("lrn_alexnet").runs("gpu")] == ["lrn-s0", "no-lrn-s0"]
    assert [r.seed for r in X.get_experiment("augmentation").runs("cpu")] == list(X.PROFILES["cpu"].seeds) * 3


def test_reference_alexnet_runs_are_shared_across_experiments():
    digests = {R.config_hash(X.get_experiment(name).runs("cpu")[0].config.to_dict())
               for name in ("lrn_alexnet", "overlap_pool", "two_columns", "dropout", "final_model")}
    assert len(digests) == 1


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("ALEXNET_DATA", raising=False)
    return dict(results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")


def test_record_round_trip_and_cache_hit(dirs, monkeypatch):
    records = RUN.run_experiment("lrn_cifar", "smoke", progress=False, **dirs)
    assert [r.provenance["run"] for r in records] == ["lrn-s0", "no-lrn-s0"]
    path = dirs["results_dir"] / "smoke" / "lrn_cifar" / "lrn-s0.json"
    on_disk = json.loads(path.read_text())
    assert list(on_disk) == sorted(R.RECORD_KEYS + R.NEWER_RECORD_KEYS) and on_disk["config"]["lrn"] is True
    assert on_disk["predictions"]["images"] == on_disk["metrics"]["val_images"]  # per image, every new record
    prov = on_disk["provenance"]
    assert prov["config_hash"] == R.config_hash(on_disk["config"]) and prov["precision"] in ("bf16", "fp32")
    assert prov["commit"] and "wall_seconds" in prov and prov["device"]

    again = RUN.run_experiment("lrn_cifar", "smoke", progress=False, **dirs,
                             trainer=lambda *a, **k: pytest.fail("a recorded run was retrained"))
    assert again == records


def test_changed_config_or_retrain_trains_again(dirs, monkeypatch):
    RUN.run_experiment("lrn_cifar", "smoke", progress=False, only=["lrn"], **dirs)
    calls = []
    counting = lambda *a, **k: calls.append(1) or train(*a, **k)  # noqa: E731
    RUN.run_experiment("lrn_cifar", "smoke", progress=False, only=["lrn"], retrain=True, trainer=counting, **dirs)
    assert calls == [1]
    path = dirs["results_dir"] / "smoke" / "lrn_cifar" / "lrn-s0.json"
    record = json.loads(path.read_text())
    record["config"]["lr"] = 0.5  # recorded with other settings
    path.write_text(json.dumps(record))
    RUN.run_experiment("lrn_cifar", "smoke", progress=False, only=["lrn"], trainer=counting, **dirs)
    assert calls == [1, 1]


def test_a_setting_added_later_does_not_invalidate_records(dirs, monkeypatch):
    RUN.run_experiment("lrn_cifar", "smoke", progress=False, only=["lrn"], **dirs)
    path = dirs["results_dir"] / "smoke" / "lrn_cifar" / "lrn-s0.json"
    record = json.loads(path.read_text())
    del record["config"]["stats_sample"]  # as if recorded before the setting existed
    path.write_text(json.dumps(record))
    (again,) = RUN.run_experiment("lrn_cifar", "smoke", progress=False, only=["lrn"], **dirs,
                                trainer=lambda *a, **k: pytest.fail("retrained a run recorded before a new setting"))
    assert again.config == record["config"] and "stats_sample" not in again.config  # the old record, as it was


def test_identical_config_in_another_experiment_is_copied_not_retrained(dirs, monkeypatch):
    RUN.run_experiment("lrn_alexnet", "smoke", progress=False, only=["lrn"], **dirs)
    (record,) = RUN.run_experiment("overlap_pool", "smoke", progress=False, only=["overlap"], **dirs,
                                 trainer=lambda *a, **k: pytest.fail("retrained a run recorded elsewhere"))
    assert record.copied_from == "smoke/lrn_alexnet/lrn-s0.json"
    assert record.variant == "overlap" and record.found.run == "overlap-s0"
    on_disk = json.loads((dirs["results_dir"] / "smoke" / "overlap_pool" / "overlap-s0.json").read_text())
    assert on_disk["found"]["copied_from"] == "smoke/lrn_alexnet/lrn-s0.json"  # how it was found, apart from
    assert on_disk["provenance"]["experiment"] == "lrn_alexnet"  # where its numbers came from
    assert R.load_record(dirs["results_dir"] / "smoke" / "overlap_pool" / "overlap-s0.json").copied_from == record.copied_from


def test_unreadable_record_is_a_clear_error(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="r.json is corrupt.*delete it and the run is trained again"):
        R.load_record(bad)


def test_smoke_runs_drop_their_checkpoints_once_recorded_and_others_keep_them(dirs, monkeypatch):
    RUN.run_experiment("lrn_cifar", "smoke", progress=False, only=["lrn"], **dirs)
    work = dirs["runs_dir"] / "smoke" / "lrn_cifar" / "lrn-s0"
    assert not (work / "checkpoint.pt").exists()  # CI's disk: ~450 MB per smoke AlexNet run otherwise
    assert (work / "history.jsonl").exists() and (work / "result.json").exists()
    monkeypatch.setitem(X.PROFILES, "smoke", dataclasses.replace(X.PROFILES["smoke"], keep_checkpoints=True))
    RUN.run_experiment("lrn_cifar", "smoke", progress=False, only=["lrn"], retrain=True, **dirs)
    assert (work / "checkpoint.pt").exists()
    assert X.PROFILES["cpu"].keep_checkpoints and X.PROFILES["gpu"].keep_checkpoints


def test_final_model_records_figure_arrays_from_the_shared_checkpoint(dirs, monkeypatch):
    monkeypatch.setitem(X.PROFILES, "smoke", dataclasses.replace(X.PROFILES["smoke"], keep_checkpoints=True))
    RUN.run_experiment("lrn_alexnet", "smoke", progress=False, only=["lrn"], **dirs)
    (record,) = RUN.run_experiment("final_model", "smoke", progress=False, **dirs,
                                 trainer=lambda *a, **k: pytest.fail("retrained instead of reusing the checkpoint"))
    arrays = R.load_artifacts(dirs["results_dir"], "smoke", "final_model", "paper-s0")
    assert arrays["conv1_shape"] == [96, 3, 11, 11] and len(arrays["colour_specificity"]) == 96
    q = arrays["queries"]
    assert len(q["val_index"]) == 8 and len(q["top5_class"][0]) == 4  # the synthetic set has 4 classes
    assert len(q["neighbour_train_index"][0]) == 6


def test_colour_specificity():
    import torch
    from alexnet_core.book.engine.artifacts import colour_specificity
    grey = torch.ones(1, 3, 2, 2)
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1
    assert colour_specificity(grey).item() == pytest.approx(0.0)
    assert colour_specificity(red).item() == pytest.approx(2 / 3)


def test_speedup_lower_bound_when_the_slow_net_never_reaches_the_target():
    from alexnet_core.book.engine import measures as A
    from alexnet_core.book.engine import judge as V
    from alexnet_core.book.pages import tables as T

    def run(seed, errors):
        return Record.from_dict(dict(provenance=dict(seed=seed, variant="x"), metrics={},
                    history=[dict(epoch=i + 1, train_top1=e) for i, e in enumerate(errors)]))
    relu = [run(0, [40, 30, 24, 20])]
    tanh = [run(0, [50, 45, 40, 35])]
    eff = X.get_experiment("relu_vs_tanh").effects[0]
    row = V.effect_row(eff, {"relu": relu, "tanh": tanh})
    assert row["bound"] == pytest.approx(4 / 3) and row["verdict"] == "underpowered (lower bound)"  # one seed: no spread
    assert T.format_ours(row).startswith("≥ 1.33")
    # every seed counts: one that reached the target and two censored ones give a bound on the mean
    relus = [run(s, [40, 30, 24, 20]) for s in range(3)]
    tanhs = [run(0, [50, 45, 40, 30, 28, 24]), run(1, [50, 45, 40, 35]), run(2, [50, 45, 40, 35, 30])]
    row = V.effect_row(eff, {"relu": relus, "tanh": tanhs})
    assert row["censored"] == 2 and row["bound"] == pytest.approx((6 / 3 + 4 / 3 + 5 / 3) / 3)
    # bound - 1 = 0.67 with standard error 0.19 on 2 degrees of freedom: its 95% interval (t = 4.30) holds 0
    assert row["verdict"] == "within noise (lower bound)" and "in 2 of the 3 seed(s)" in T.format_ours(row)
    assert row["low"] < 1.0 < row["high"]
    assert A.common_target(relus, tanhs, (50.0, 40.0, 30.0)) == 40.0  # the lowest every run reached
    # a seed whose fast net never reached the target either has no ratio: counted, and unresolved
    stuck = [run(s, [40, 30, 24, 20]) for s in range(2)] + [run(2, [40, 35, 30, 28])]
    row = V.effect_row(eff, {"relu": stuck, "tanh": tanhs})
    assert row["runs"] == 3 and row["unresolved"] == 1 and row["verdict"] == "underpowered (lower bound)"
    assert "in 1 of 3 seeds neither net reached the target" in row["note"]
    tanh_fast = [run(0, [50, 40, 30, 20, 10, 5])]
    row = V.effect_row(eff, {"relu": relu, "tanh": [run(0, [50, 45, 40, 35, 30, 24])]})
    assert row["bound"] is None and row["ours"] == pytest.approx(2.0)
    assert tanh_fast


def test_an_ablation_whose_run_stayed_at_chance_gets_no_verdict():
    from alexnet_core.book.engine import measures as A
    from alexnet_core.book.engine import judge as V

    def run(variant, val, train):
        return Record.from_dict(dict(config=dict(dataset="imagenette"), provenance=dict(variant=variant, seed=0),
                    metrics=dict(val_top1=val, final_train_top1=train, val_images=3925), history=[]))
    eff = X.get_experiment("dropout").effects[1]  # top-1 error, dropout against none
    learned = V.effect_row(eff, {"dropout": [run("dropout", 25.0, 24.5)], "no-dropout": [run("no-dropout", 30.0, 5.0)]})
    assert learned["verdict"] != "inconclusive (a run did not learn)"
    stuck = V.effect_row(eff, {"dropout": [run("dropout", 25.0, 24.5)], "no-dropout": [run("no-dropout", 90.9, 89.5)]})
    assert stuck["verdict"] == "inconclusive (a run did not learn)"
    assert not A.did_not_learn(Record.from_dict(dict(config=dict(dataset="synthetic"), metrics=dict(val_top1=99.0))))


def test_seed_spread_pools_variants_with_two_runs_and_ignores_single_ones():
    from alexnet_core.book.engine import measures as A

    def run(val):
        return Record.from_dict(dict(metrics=dict(val_top1=val), history=[]))
    sd, dof = A.seed_spread({"a": [run(50.0), run(52.0)], "b": [run(40.0), run(44.0)], "c": [run(70.0)]})
    assert dof == 2 and sd == pytest.approx(((2 + 8) / 2) ** 0.5)  # squares 1+1 and 4+4 over 2 dof
    sd, dof = A.seed_spread({"c": [run(70.0)]})
    assert dof == 0 and sd != sd  # nan: nothing to pool


def test_records_of_one_network_group_by_config_once_per_seed():
    from alexnet_core.book.engine import measures as A

    def run(seed, lrn, variant):
        return Record.from_dict(dict(config=dict(lrn=lrn, seed=seed), provenance=dict(seed=seed, variant=variant)))
    groups = A.by_config([run(0, True, "lrn"), run(1, True, "lrn"), run(0, True, "overlap"), run(0, False, "no-lrn")])
    assert sorted(len(g) for g in groups.values()) == [1, 2]  # the shared reference's seed 0 counts once


def test_epochs_at_chance_count_a_late_start_on_each_side():
    from alexnet_core.book.engine import measures as A
    from alexnet_core.book.pages import tables as T

    def run(curve):
        return Record.from_dict(dict(config=dict(dataset="imagenette"), history=[dict(val_top1=v) for v in curve]))
    assert A.epochs_near_chance(run([90.5, 88.0, 80.0, 89.0])) == 2  # 87% and above is chance; later ones ignored
    assert A.epochs_near_chance(run([86.9, 90.0])) == 0
    assert A.epochs_near_chance(Record.from_dict(dict(config=dict(dataset="synthetic"), history=[]))) is None
    eff = X.get_experiment("overlap_pool").effects[0]
    groups = {eff.reference: [run([86.0, 70.0])], eff.ablated: [run([90.0, 90.0, 80.0]), run([90.0, 70.0])]}
    assert T.late_start(eff, groups) == "0 / 1.5"
    assert T.late_start(eff, {eff.reference: [run([86.0])]}) == "0 / -"


def test_local_file_finds_a_recorded_image_under_this_machines_data_root(tmp_path):
    from alexnet_core.book.engine.artifacts import local_file
    from alexnet_core.data import DataError

    image = tmp_path / "imagenette-224" / "val" / "n01" / "a.JPEG"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"x")
    assert local_file("/tmp/elsewhere/imagenette-224/val/n01/a.JPEG", str(tmp_path)) == image
    with pytest.raises(DataError, match="not under the data root"):
        local_file("/tmp/elsewhere/imagenette-224/val/n01/missing.JPEG", str(tmp_path))


def test_recorded_runs_reads_what_is_there_and_never_trains(tmp_path):
    import json

    spec = X.get_experiment("overlap_pool").runs("cpu")[0]  # the reference, shared with lrn_alexnet
    path = tmp_path / "cpu" / "lrn_alexnet" / "lrn-s0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(dict(config=spec.config.to_dict(), provenance=dict(variant="lrn", seed=0),
                                    metrics=dict(val_top1=None), history=[])))
    runs = R.recorded_runs("overlap_pool", "cpu", tmp_path)
    assert [r.variant for r in runs] == ["overlap"]  # no-overlap is not recorded: left out
    assert R.recorded_runs("lrn_cifar", "gpu", tmp_path) == []  # the gpu profile runs no CIFAR-10


def test_git_state_prefers_the_commit_the_copier_names(monkeypatch):
    monkeypatch.setenv("ALEXNET_COMMIT", "a" * 40)
    monkeypatch.setenv("ALEXNET_DIRTY", "0")
    assert git_state() == dict(commit="a" * 40, dirty=False)
    monkeypatch.delenv("ALEXNET_COMMIT")
    assert git_state()["commit"] != "a" * 40


def test_git_state_is_dirty_for_changed_code_not_for_a_landed_record(tmp_path, monkeypatch):
    import subprocess
    monkeypatch.delenv("ALEXNET_COMMIT", raising=False)
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "run.json").write_text("{}")
    (tmp_path / "model.py").write_text("x = 1\n")
    git("init", "-q"); git("add", "."); git("commit", "-q", "-m", "start")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "results" / "run.json").write_text('{"metrics": {}}')  # a record lands between runs
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "model.py").write_text("x = 2\n")  # the code itself changed
    assert git_state(tmp_path)["dirty"] is True


def test_an_overfitting_gap_from_the_running_training_error_alone_gets_no_verdict():
    from alexnet_core.book.engine import judge as V

    def run(variant, val, train):
        return Record.from_dict(dict(config=dict(dataset="imagenette"), provenance=dict(variant=variant, seed=0),
                    metrics=dict(val_top1=val, final_train_top1=train, val_images=3925), history=[]))
    eff = X.get_experiment("overlap_pool").effects[2]  # the overfitting gap
    row = V.effect_row(eff, {"overlap": [run("overlap", 51.0, 53.0)], "no-overlap": [run("no-overlap", 58.0, 61.0)]})
    assert row["verdict"] == "not measured" and "train mode" in row["note"] and row["ours"] != row["ours"]  # nan


def _recipe_moves_on(monkeypatch, profile: str) -> None:
    """The book's AlexNet recipe changes (lr 0.002): every config recorded so far becomes an old one."""
    monkeypatch.setitem(X.PROFILES, profile, dataclasses.replace(
        X.PROFILES[profile], alexnet=X.PROFILES[profile].alexnet | dict(recipe="coded", lr=0.002)))


def test_a_run_recorded_under_an_earlier_recipe_is_retrained_and_its_old_record_set_aside(dirs, monkeypatch):
    RUN.run_experiment("lrn_alexnet", "smoke", progress=False, **dirs)  # both sides recorded under today's recipe
    old = dict(X.ALEXNET_RECIPE)
    _recipe_moves_on(monkeypatch, "smoke")
    calls = []
    (fresh,) = RUN.run_experiment("lrn_alexnet", "smoke", progress=False, only=["lrn"], **dirs,
                                trainer=lambda *a, **k: calls.append(1) or train(*a, **k))
    assert calls == [1] and fresh.config["lr"] == 0.002
    aside = dirs["results_dir"] / "smoke" / "lrn_alexnet" / "superseded" / "lrn-s0.json"  # kept, not lost
    assert json.loads(aside.read_text())["config"]["lr"] == old["lr"]
    assert R.recorded_hash(R.load_record(R.record_path(dirs["results_dir"], "smoke", "lrn_alexnet", "lrn-s0"))) == \
        R.config_hash(fresh.config)


def _arrays(results_dir, profile, spec, digest=None):
    """The figure arrays of ``spec`` where its experiment records them, from the model of ``digest``
    (its own config's by default)."""
    if X.EXPERIMENTS[spec.experiment].records_artifacts(spec.variant):
        path = R.artifacts_path(results_dir, profile, spec.experiment, spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(provenance=dict(config_hash=digest or R.config_hash(spec.config.to_dict())))))


def test_a_run_whose_figures_need_arrays_counts_as_recorded_only_with_its_own(tmp_path):
    """final_model's figures read arrays computed from its trained weights: a record without them,
    or with arrays of another configuration's model, would have the book train the run again."""
    from alexnet_core.book.engine import records as P
    (spec,) = X.EXPERIMENTS["final_model"].runs("cpu")
    path = R.record_path(tmp_path, "cpu", spec.experiment, spec.name)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(dict(config=spec.config.to_dict(), history=[], metrics=dict(val_top1=None), provenance={})))
    assert P.run_states("cpu", tmp_path)["final_model"] == {spec.name: P.MISSING}
    # the same network under LRN's experiment (its reference) needs no arrays: recorded, shared
    assert P.run_states("cpu", tmp_path)["lrn_alexnet"]["lrn-s0"] == P.RECORDED
    _arrays(tmp_path, "cpu", spec, digest="0123456789abcdef")
    assert P.run_states("cpu", tmp_path)["final_model"] == {spec.name: P.MISSING}
    _arrays(tmp_path, "cpu", spec)
    assert P.run_states("cpu", tmp_path)["final_model"] == {spec.name: P.RECORDED}


def test_a_profile_recorded_under_an_earlier_recipe_counts_as_missing(tmp_path, monkeypatch):
    from alexnet_core.book.engine import records as P
    for exp in X.EXPERIMENTS.values():
        for spec in exp.runs("cpu"):
            path = R.record_path(tmp_path, "cpu", spec.experiment, spec.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(dict(config=spec.config.to_dict(), history=[], metrics=dict(val_top1=None),
                                            provenance={})))
            _arrays(tmp_path, "cpu", spec)
    assert P.recorded_fraction("cpu", tmp_path) == 1.0
    _recipe_moves_on(monkeypatch, "cpu")
    assert P.recorded_fraction("cpu", tmp_path) < 1.0
    states = P.run_states("cpu", tmp_path)
    assert set(states["dropout"].values()) == {P.MISSING} and set(states["relu_vs_tanh"].values()) == {P.RECORDED}


def test_list_says_which_runs_are_recorded_or_missing():
    from alexnet_core.__main__ import run_state_summary
    from alexnet_core.book.engine import records as P
    states = {"lrn-s0": P.RECORDED, "lrn-s1": P.RECORDED, "no-lrn-s0": P.MISSING, "no-lrn-s1": P.MISSING}
    assert run_state_summary(states) == "2 of 4 recorded; missing: no-lrn-s0, no-lrn-s1"
    assert run_state_summary({"a": P.RECORDED}, pending=True).endswith("(pending: shown as recorded so far)")


def test_the_scorecard_names_the_recipe_of_each_effects_runs():
    from alexnet_core.book.pages.scorecard import recipe_cell
    exp = X.get_experiment("lrn_alexnet")
    eff = exp.effects[0]
    new = Record.from_dict(dict(config=dict(recipe="coded"), provenance={}))
    old = Record.from_dict(dict(config=dict(recipe="printed"), provenance={}))
    assert recipe_cell(exp, {"lrn": [new], "no-lrn": [new]}, eff) == "coded"
    assert recipe_cell(exp, {"lrn": [new], "no-lrn": [old]}, eff) == "coded, printed"
    assert recipe_cell(X.get_experiment("lrn_cifar"), {}, X.get_experiment("lrn_cifar").effects[0]) == "-"


def test_a_sweep_records_a_diverging_run_and_goes_on(dirs, monkeypatch):
    """activation_lr: a learning rate too high for a net is a result of the sweep, not a crash."""
    from alexnet_core.train import TrainingDiverged

    def trainer(cfg, out, **kw):
        if cfg.lr >= 0.04:
            raise TrainingDiverged("loss NaN", epoch=1, step=3)
        return train(cfg, out, **kw)

    records = RUN.run_experiment("activation_lr", "smoke", progress=False, trainer=trainer, **dirs)
    diverged = [r for r in records if r.metrics.get("diverged")]
    assert {r.provenance["variant"] for r in diverged} == {"relu-lr0.04", "tanh-lr0.04"}
    assert all(r.metrics["diverged_step"] == 3 and r.metrics["val_top1"] is None for r in diverged)
    assert (dirs["results_dir"] / "smoke" / "activation_lr" / "tanh-lr0.04-s0.json").exists()
    with pytest.raises(TrainingDiverged):  # elsewhere a diverging run still stops the experiment
        RUN.run_experiment("lrn_cifar", "smoke", progress=False, **dirs, retrain=True,
                         trainer=lambda *a, **k: (_ for _ in ()).throw(TrainingDiverged("NaN", 1, 1)))


def test_fastest_learning_rate_per_activation_skips_diverged_runs_and_breaks_ties_low():
    from alexnet_core.book.engine.measures import fastest_learning_rates

    def run(act, lr, err, diverged=False):
        return Record.from_dict(dict(config=dict(activation=act, lr=lr), history=[dict(train_top1=err)],
                    metrics=dict(diverged=diverged)))
    runs = [run("relu", 0.01, 30.0), run("relu", 0.02, 20.0), run("relu", 0.04, 5.0, diverged=True),
            run("tanh", 0.01, 40.0), run("tanh", 0.003, 40.0)]
    assert fastest_learning_rates(runs) == dict(relu=0.02, tanh=0.003)


def test_figure1_learning_rates_are_the_recorded_sweeps_choice():
    """The constants relu_vs_tanh trains with are what the cpu sweep measured (once it is recorded)."""
    from alexnet_core.book.engine.measures import fastest_learning_rates

    runs = R.recorded_runs("activation_lr", "cpu")
    if len(runs) < len(X.get_experiment("activation_lr").variants):
        pytest.skip("the cpu learning-rate sweep is not fully recorded yet")
    assert fastest_learning_rates(runs) == X.FIGURE1_LRS


def test_pending_experiments_do_not_hold_back_a_profile_and_are_never_trained(monkeypatch):
    """An experiment whose runs are still being recorded is shown as far as it goes."""
    from alexnet_core.book.pages import chapter as C

    pending = [e for e in X.EXPERIMENTS.values() if e.pending]
    assert pending
    monkeypatch.setattr(C, "run_experiment", lambda *a, **k: pytest.fail("a pending experiment was trained"))
    ch = C.setup("cpu")
    for e in pending:  # whatever is recorded of them (a run they share with another experiment, say)
        hashes = {R.config_hash(spec.config.to_dict()) for spec in e.runs("cpu")}
        assert all(R.recorded_hash(r) in hashes for r in ch.runs(e.name))
    # one still missing runs (a pending experiment whose runs are all in should stop being pending)
    unfinished = [e for e in pending if len(R.recorded_runs(e.name, "cpu")) < len(e.runs("cpu"))]
    assert unfinished == pending, "every run recorded: drop its pending flag"
    before = R.recorded_fraction("cpu")
    monkeypatch.setitem(X.EXPERIMENTS, unfinished[0].name, dataclasses.replace(unfinished[0], pending=False))
    assert R.recorded_fraction("cpu") < before  # once not pending, its unrecorded runs count


def test_the_plan_of_seeds_goes_from_the_declared_seeds_up_to_the_cap():
    lrn, overlap, cifar = (X.get_experiment(n) for n in ("lrn_alexnet", "overlap_pool", "lrn_cifar"))
    assert lrn.planned_seeds("cpu") == (0, 1, 2, 3, 4, 5)
    assert overlap.planned_seeds("cpu") == tuple(range(10))  # the smallest effect gets the most pairs
    assert cifar.planned_seeds("cpu") == (0, 1, 2, 3, 4, 5)
    assert X.get_experiment("dropout").planned_seeds("smoke") == (0,)  # smoke plans nothing more
    assert [s.name for s in lrn.planned_runs("cpu")][:7] == ["lrn-s0", "lrn-s1", "lrn-s2", "lrn-s3", "lrn-s4",
                                                             "lrn-s5", "no-lrn-s0"]


def test_only_may_name_a_run_the_plan_of_seeds_adds(dirs):
    class Stop(Exception):
        pass

    seen = []

    def trainer(cfg, *args, **kwargs):
        seen.append(cfg.seed)
        raise Stop

    with pytest.raises(Stop):
        RUN.run_experiment("lrn_alexnet", "cpu", progress=False, only=["no-lrn-s2"], trainer=trainer, **dirs)
    assert seen == [2]
    with pytest.raises(ValueError, match="no-lrn-s9"):
        RUN.run_experiment("lrn_alexnet", "cpu", progress=False, only=["no-lrn-s9"], trainer=trainer, **dirs)


def test_setting_a_record_aside_keeps_the_one_set_aside_before(tmp_path):
    from alexnet_core.book.engine.records import keep_superseded, recorded_hash
    from alexnet_core.config import TrainConfig
    folder = tmp_path / "cpu" / "lrn_alexnet"
    folder.mkdir(parents=True)
    path, aside = folder / "lrn-s0.json", folder / "superseded" / "lrn-s0.json"
    older, newer = (dict(config=TrainConfig(recipe=recipe).to_dict(), metrics=dict(val_top1=40.0), history=[],
                         provenance={})
                    for recipe in ("printed", "coded"))
    for record in (older, newer):  # the printed recipe's record set aside, then the coded one's
        path.write_text(json.dumps(record))
        keep_superseded(path, aside)
    assert json.loads(aside.read_text())["config"]["recipe"] == "coded"
    digest = recorded_hash(older)
    assert json.loads((folder / "superseded" / f"lrn-s0.{digest}.json").read_text()) == older


def test_a_record_of_another_config_at_a_runs_path_is_set_aside_and_one_of_its_own_is_not(tmp_path):
    spec = X.get_experiment("lrn_alexnet").runs("cpu")[0]
    path = R.record_path(tmp_path, "cpu", spec.experiment, spec.name)
    path.parent.mkdir(parents=True)
    own = dict(config=spec.config.to_dict(), metrics=dict(val_top1=40.0), history=[], provenance={})
    path.write_text(json.dumps(own))
    R.set_aside_superseded(spec, path, tmp_path, "cpu")  # the same config: a retrain replaces it in place
    assert path.exists() and not R.superseded_path(tmp_path, "cpu", spec.experiment, spec.name).exists()
    other = own | dict(config=spec.config.to_dict() | dict(lr=0.002))
    path.write_text(json.dumps(other))
    R.set_aside_superseded(spec, path, tmp_path, "cpu")
    assert not path.exists()
    assert json.loads(R.superseded_path(tmp_path, "cpu", spec.experiment, spec.name).read_text()) == other
