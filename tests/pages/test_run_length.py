"""The 8- and 24-epoch effects side by side (issue #37): which effects the long runs measure again,
and the table a chapter shows, on records the tests build."""
import pytest

from alexnet_core.book.engine.measures import by_variant
from alexnet_core.book.engine.plan import EXPERIMENTS, get_experiment
from alexnet_core.book.pages import run_length as L
from alexnet_core.book.pages import tables as T
from alexnet_core.book.pages.chapter import Ablation, Chapter
from conftest import learned_run as run


def ablation(name: str, records) -> Ablation:
    return Ablation(get_experiment(name), records, by_variant(records),
                    T.effect_table(get_experiment(name), records, expected=len(get_experiment(name).runs("cpu"))))


def test_every_longer_effect_names_an_effect_that_exists():
    pairs = [e.longer_run_of for e in EXPERIMENTS[L.LONGER].effects]
    assert pairs and all(p is not None for p in pairs)
    for experiment, label in pairs:
        assert label in [e.label for e in EXPERIMENTS[experiment].effects], (experiment, label)
    assert L.longer_effects("lrn_alexnet") == [("LRN on AlexNet: top-1 error (points)",
                                                "LRN on AlexNet after 24 epochs: top-1 error (points)")]
    assert L.longer_effects("relu_vs_tanh") == []


def test_the_table_sets_both_run_lengths_side_by_side():
    ch = Chapter("cpu", None, "auto", False)
    short = ablation("lrn_alexnet", [run(v, 30.0 + (v == "no-lrn") + s / 10, seed=s)
                                     for s in (0, 1, 2) for v in ("lrn", "no-lrn")])
    longer = ablation(L.LONGER, [run("reference", 25.0, seed=0), run("no-lrn", 26.0, seed=0)])
    table = L.run_length_table(ch, short, longer).data
    assert list(table.columns.get_level_values(0)) == ["", "", *["after 8 epochs"] * 3, *["after 24 epochs"] * 3]
    row = table.iloc[0]
    assert row[("", "claim")] == "LRN on AlexNet: top-1 error" and row[("", "paper")] == "-1.4"
    assert row[("after 8 epochs", "ours")].startswith("-1.00") and row[("after 8 epochs", "pairs")] == 3
    assert row[("after 24 epochs", "pairs")] == 1
    assert row[("after 24 epochs", "verdict")].startswith("not measured yet")  # 2 of 8 runs recorded
    with pytest.raises(ValueError, match="no effect of relu_vs_tanh"):
        L.run_length_table(ch, ablation("relu_vs_tanh", []), longer)


def test_a_profile_whose_runs_are_already_as_long_says_so_instead():
    short, longer = ablation("lrn_alexnet", []), ablation(L.LONGER, [])
    note = L.run_length_table(Chapter("gpu", None, "auto", False), short, longer)
    assert "already train for 24 epochs" in note.data
