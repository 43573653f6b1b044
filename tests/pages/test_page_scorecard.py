"""The scorecard page: the scorecard of a chapter's runs, the claims counted, the seed spread of each
family in words (none under smoke), and the same claims at another size shown or said missing,
from a stand-in chapter and small hand-made records."""
from __future__ import annotations

import math

import pytest

pytest.importorskip("pandas")

from alexnet_core.book.engine import judge as V  # noqa: E402
from alexnet_core.book.engine.plan import EXPERIMENTS  # noqa: E402
from alexnet_core.book.engine.records import Record  # noqa: E402
from alexnet_core.book.pages import scorecard as S  # noqa: E402


def run(variant: str, val_top1: float, seed: int = 0) -> Record:
    history = [dict(epoch=e, val_top1=60 - (60 - val_top1) * e / 3, train_top1=50.0, val_top5=10.0, lr=0.003)
               for e in (1, 2, 3)]
    return Record.from_dict(dict(config=dict(lr=0.003, dataset="imagenette"), history=history,
                                 metrics=dict(val_top1=val_top1, val_top5=10.0, val_top1_se=0.8, final_train_top1=50.0),
                                 provenance=dict(variant=variant, seed=seed)))


class FakeChapter:
    """The parts of a chapter the scorecard page uses: its runs, their profile, smoke or not, the seed noise."""

    def __init__(self, smoke: bool = False, profile: str = "cpu", noise: dict | None = None):
        self.smoke, self.profile, self._noise = smoke, profile, noise or {}
        self.asked: list[tuple[str, bool]] = []

    def runs(self, name: str, note: bool = True) -> list[Record]:
        self.asked.append((name, note))
        return []

    def source(self, name: str) -> str:
        return self.profile

    def noise(self, family: str) -> dict:
        return self._noise.get(family, {})


def test_chapter_scorecard_asks_every_experiment_without_a_provenance_note():
    ch = FakeChapter()
    rows = S.chapter_scorecard(ch)
    assert len(rows) == sum(len(e.effects) for e in EXPERIMENTS.values())
    assert {name for name, _ in ch.asked} == {e.name for e in EXPERIMENTS.values() if e.effects}
    assert {note for _, note in ch.asked} == {False}
    assert {row["word"] for row in rows} == {"not measured yet"}
    assert S.claims_count(rows) == str(len(rows))


def test_claims_count_is_the_number_of_rows_as_text():
    assert S.claims_count([{}, {}, {}]) == "3"
    assert S.claims_count([]) == "0"


def spread_records() -> list[Record]:
    return [run("lrn", 30.0, seed=0), run("lrn", 33.0, seed=1)]


def test_seed_spread_under_smoke_draws_no_verdict_and_reads_no_record():
    def never(family, profile):
        raise AssertionError("read records under smoke")
    assert S.seed_spread(FakeChapter(smoke=True), never) == "No verdicts under the smoke profile."
    assert S.cifar_spread(FakeChapter(smoke=True), never) == ""


def test_seed_spread_words_the_alexnet_and_cifar_spreads_of_the_chapters_profile():
    noise = V.family_noise(spread_records(), ["val_top1"])
    asked = []

    def records_of(family, profile):
        asked.append((family, profile))
        return spread_records()
    ch = FakeChapter(profile="gpu", noise={"alexnet": noise, "cifar": noise})
    alexnet = S.seed_spread(ch, records_of)
    cifar = S.cifar_spread(ch, records_of)
    assert alexnet.startswith("How far one AlexNet run moves by chance: 1 configurations")
    assert f"standard deviation of {math.sqrt(4.5):.1f} points" in alexnet
    assert cifar.startswith("How far one CIFAR-10 run moves by chance")
    assert asked == [("alexnet", "gpu"), ("cifar", "gpu")]
    assert "has not been measured yet" in S.seed_spread(FakeChapter(), records_of)  # no noise for the family


ROWS = [dict(claim="LRN on AlexNet: top-1 error (points)", ours="-1.0 ± 0.5", verdict="within noise")]


def recorded_elsewhere(name: str, profile: str) -> list[Record]:
    return [run("lrn", 30.0), run("no-lrn", 31.0)] if name == "lrn_alexnet" else []


def test_other_profile_table_shows_the_claims_another_profile_recorded():
    table = S.other_profile_table(ROWS, FakeChapter(profile="gpu"), lambda p: {}, recorded_elsewhere)
    assert list(table.data["claim"]) == ["LRN on AlexNet: top-1 error (points)", "LRN on AlexNet: top-5 error (points)"]
    assert list(table.data["other profile"]) == ["cpu", "cpu"]


def test_other_profile_table_says_why_there_is_none():
    assert (S.other_profile_table(ROWS, FakeChapter(smoke=True), lambda p: {}, recorded_elsewhere)
            == "No comparison under the smoke profile.")
    assert (S.other_profile_table(ROWS, FakeChapter(), lambda p: {}, lambda name, profile: [])
            == "No AlexNet effect is recorded on both sides by a second profile yet.")


def test_show_other_profiles_prints_the_sentence_or_displays_the_table(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    monkeypatch.setattr(S, "other_profile_table", lambda rows, ch: "No comparison under the smoke profile.")
    S.show_other_profiles(ROWS, FakeChapter(smoke=True))
    assert capsys.readouterr().out == "No comparison under the smoke profile.\n" and shown == []
    monkeypatch.setattr(S, "other_profile_table", lambda rows, ch: ["a table"])
    S.show_other_profiles(ROWS, FakeChapter())
    assert capsys.readouterr().out == "" and shown == [["a table"]]


def test_the_forest_plot_draws_every_claim_in_points_with_its_interval_and_says_when_there_is_none():
    import matplotlib
    matplotlib.use("Agg")
    from alexnet_core.book.pages import scorecard as S

    def row(metric, effect, low, high, paper, word="underpowered"):
        return dict(section="3.3", claim=f"a claim on {metric} (points)", metric=metric, effect=effect, low=low,
                    high=high, paper_effect=paper, word=word)
    rows = [row("val_top1", 2.5, -2.5, 7.5, -1.4), row("speedup", 5.0, 4.0, 6.0, 6.0),
            row("overfit_gap", 0.6, -33.0, 34.0, None, "within noise"), row("val_top5", float("nan"), 0, 0, -1.2),
            dict(section="5", claim="smoke", metric="val_top1", effect=1.0, low=None, high=None, paper_effect=None,
                 word="no verdict (smoke)")]
    assert [r["metric"] for r in S.forest_rows(rows)] == ["val_top1", "overfit_gap"]  # points, with an interval
    assert S.forest_edge(S.forest_rows(rows)) == 2.5 + 6.0
    fig = S.forest_figure(rows)
    ax = fig.axes[0]
    assert ax.get_xlim() == (-8.5, 8.5) and len(ax.get_yticks()) == 2
    arrows = [line for line in ax.get_lines() if line.get_marker() in ("<", ">")]
    assert len(arrows) == 2  # the gap's interval runs past both edges
    assert S._short("§3.3 LRN on AlexNet: top-1 error (points)") == "§3.3 LRN on AlexNet: top-1\nerror"
    note = S.forest_figure(rows[-1:])
    assert "No claim has an interval yet" in note.axes[0].texts[0].get_text()
