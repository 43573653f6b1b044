"""The LRN page's sentence on the paper's CIFAR-10 pair (section 3.3), from small records."""
from __future__ import annotations

import math

from alexnet_core.book.engine.measures import by_variant
from alexnet_core.book.engine.plan import get_experiment
from alexnet_core.book.engine.records import Record
from alexnet_core.book.pages import lrn as L
from alexnet_core.book.pages.chapter import Ablation

PAIR = get_experiment("lrn_convlocal")


def run(variant: str, seed: int, ten_patch: float | None, epochs: int = 30) -> Record:
    metrics = dict(val_top1=ten_patch or 25.0) | ({} if ten_patch is None else dict(val10_top1=ten_patch))
    return Record.from_dict(dict(config=dict(dataset="cifar10", epochs=30, drop_by=20, seed=seed),
                                 history=[dict(epoch=i + 1, val_top1=30.0, train_top1=20.0) for i in range(epochs)],
                                 metrics=metrics, provenance=dict(variant=variant, seed=seed)))


def ablation(records: list[Record]) -> Ablation:
    return Ablation(PAIR, records, by_variant(records), None)


def every_run(epochs: int = 30) -> list[Record]:
    """One record for each run the cpu profile expects, ten-patch errors 20 + seed (lrn), 22 + seed."""
    return [run(spec.variant, spec.seed, (20.0 if spec.variant == "lrn" else 22.0) + spec.seed,
                epochs if spec.seed == 0 else 30) for spec in PAIR.runs("cpu")]


def test_ten_patch_error_is_the_mean_over_the_runs_that_have_one():
    ab = ablation([run("lrn", 0, 20.0), run("lrn", 1, 21.0), run("lrn", 2, None), run("no-lrn", 0, None)])
    assert L.ten_patch(ab, "lrn") == 20.5
    assert math.isnan(L.ten_patch(ab, "no-lrn"))
    assert math.isnan(L.ten_patch(ab, "no such variant"))


def test_the_epoch_span_is_one_number_when_every_run_trained_as_long():
    assert L.epoch_span([30, 30, 30]) == "30"
    assert L.epoch_span([30, 25, 28]) == "25-30"


def test_a_pair_still_being_recorded_is_not_compared_with_the_source():
    ab = ablation(every_run()[:4])
    assert len(PAIR.runs("cpu")) == 6
    assert L.pair_absolute(ab, "cpu") == ("The pair's runs are still being recorded (4 of 6 so far), so the absolute "
                                          "errors are not compared with 13% and 11% yet")


def test_a_whole_pair_is_compared_with_the_sources_errors_and_epochs():
    text = L.pair_absolute(ablation(every_run(epochs=26)), "cpu")
    assert text == ("With normalisation the net ends at 21.0% ten-patch test error and without it at 23.0% "
                    "(means over seeds), against the source's 11% and 13%. The runs here stop after 26-30 epochs "
                    "(at most 30, the rate divided on a plateau and after epoch 20 at the latest) of the source's "
                    f"about {PAIR.paper['source_epochs']}")
    assert "after 30 epochs" in L.pair_absolute(ablation(every_run()), "cpu")
    assert L.pair_absolute(ablation(every_run()[:2]), "smoke").startswith("With normalisation")  # smoke: 2 runs
