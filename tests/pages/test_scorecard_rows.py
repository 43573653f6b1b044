"""The scorecard page: its rows, the seed spread in words, the headline, the other profiles and
the authors' column, on records the tests build."""
import math

import pytest

from alexnet_core.book.pages import scorecard as S
from alexnet_core.book.engine import judge as V
from alexnet_core.book.engine.plan import EXPERIMENTS
from conftest import learned_run as run

def test_the_spread_in_words_names_the_runs_and_what_it_means():
    records = [run("lrn", v, seed=i) for i, v in enumerate((30.0, 33.0))]
    noise = V.family_noise(records, ["val_top1"])
    assert noise["val_top1"].dof == 1 and noise["val_top1"].sd == pytest.approx(math.sqrt(4.5))
    text = S.spread_text(noise, records)
    assert "lrn: 30.0%, 33.0%" in text and "1 degrees of freedom" in text and "3.0 points" in text
    assert "has not been measured yet" in S.spread_text(V.family_noise(records[:1], ["val_top1"]), records[:1])
    assert "no spread of paired differences is measured" in text  # a plain mapping holds no paired spreads
    paired = V.Spreads(noise, {("val_top1", V.SAME, 8): V.Noise(0.6, 2, 2), ("val_top1", V.DIFFERENT, 8): V.Noise(0, 0),
                                ("val_top1", V.SAME, 24): V.Noise(1.3, 1, 1)})
    text = S.spread_text(paired, records)
    assert ("0.6 points between 8-epoch networks with the same parameter shapes (2 claims, 2 degrees of freedom); "
            "1.3 points between 24-epoch networks with the same parameter shapes (1 claim, 1 degrees") in text
    assert "different parameter shapes" not in text  # not measured


def test_the_scorecard_has_a_row_per_effect_and_counts_verdicts():
    def runs_of(name):
        exp = EXPERIMENTS[name]
        return [run(v, 30.0 + i, seed=0) for i, v in enumerate(exp.variants)]
    rows = S.scorecard(runs_of, lambda name: "cpu", False, lambda family: {})
    assert len(rows) == sum(len(e.effects) for e in EXPERIMENTS.values())
    assert {row["setting"].split(" (")[-1] for row in rows} == {"cpu)"}
    assert S.verdict_counts([dict(verdict="a (x)", word="a"), dict(verdict="b", word="b"),
                             dict(verdict="b (y)", word="b")]) == "b: 2; a: 1"


def test_the_scorecard_rows_follow_the_papers_sections_and_name_each_nets_model():
    rows = S.scorecard(lambda name: [], lambda name: "cpu", False, lambda family: {})
    keys = [S.section_key(row["section"]) for row in rows]
    assert keys == sorted(keys) and S.section_key("3.10") > S.section_key("3.4")
    pair = next(row for row in rows if "conv-local pair (r540 draft)" in row["claim"])
    assert "convlocal" in pair["setting"] and pair["word"] == "not measured yet"
    assert pair["caveat"] == f"0 of {len(EXPERIMENTS['lrn_convlocal'].runs('cpu'))} runs recorded"
    longer = next(row for row in rows if row["claim"] == "LRN on AlexNet after 24 epochs: top-1 error (points)")
    assert longer["section"] == "3.3"  # beside its 8-epoch claim, not under long_training's section 5


def test_the_scorecard_at_a_glance_shows_five_columns_a_badge_and_the_details_behind_the_claim():
    row = dict(section="3.3", claim="LRN <on> AlexNet", paper="-1.4", ours="+2.60 ± 0.96", word="underpowered",
               verdict="underpowered (one run per side)", caveat="one run per side", setting="imagenette, 8 epochs")
    page = S.scorecard_html([row, dict(row, word="reproduced", caveat="", ours="≥ 3.08 (a lower bound: why)")])
    assert "<td data-label=\"ours\">≥ 3.08</td>" in page and "<li><b>ours in full</b>: ≥ 3.08 (a lower bound: why)</li>" in page
    assert page.count("<th>") == 5 and page.count("<tr>") == 3
    assert '<span class="verdict-badge verdict-underpowered">underpowered</span>' in page
    assert '<div class="verdict-caveat">one run per side</div>' in page
    assert "LRN &lt;on&gt; AlexNet" in page and "<li><b>setting</b>: imagenette, 8 epochs</li>" in page
    assert page.count("verdict-caveat") == 1  # no empty caveat under the second badge
    assert [S.badge_class(w) for w in ("not reproduced", "direction only", "inconclusive", "not measured yet")] == \
        ["verdict-not-reproduced", "verdict-direction-only", "verdict-none", "verdict-none"]


def test_the_headline_sorts_claims_into_findings_and_links_the_scorecard(tmp_path):
    rows = [dict(section="3.1", claim="ReLU's speed-up (x)", word="direction only (lower bound)"),
            dict(section="3.3", claim="LRN (points)", word="not reproduced"),
            dict(section="4.1", claim="PCA (points)", word="reproduced"),
            dict(section="4.2", claim="Dropout (points)", word="underpowered"),
            dict(section="3.4", claim="Pooling (points)", word="within noise"),
            dict(section="5", claim="Bias (points)", word="not measured yet"),
            dict(section="7", claim="Depth (points)", word="reproduced")]
    text = S.headline(rows, setting="**Setting.** here")
    lines = text.splitlines()
    assert lines[0] == "**Setting.** here" and len(lines) == 8
    assert lines[1] == "- **Holds** (2 of the 7 claims judged here): PCA (§4.1); Depth (§7)."
    assert "ReLU's speed-up (§3.1)" in lines[2] and "Pooling (§3.4)" in lines[3] and "LRN (§3.3)" in lines[4]
    assert lines[5] == "- **These runs cannot tell yet** (2: 1 underpowered, 1 awaiting their runs)."
    assert "{doc}`the scorecard <generated/scorecard>`" in lines[7]
    draft = [dict(section="3.3", claim="LRN, the conv-local pair (r540 draft): error (points)", word="reproduced")]
    assert "the conv-local pair ({term}`r540 draft`)" in S.headline(draft)  # linked: used above the glossary
    assert all(f"\n{term}\n" in (S.REPO_ROOT / "book" / "intro.md").read_text() for term in S.GLOSSARY_TERMS_IN_CLAIMS)
    assert "no claim beyond the seed noise" in S.headline(rows[:1])
    assert "smoke {term}`profile` draws no verdicts" in S.headline(rows, smoke=True)
    path = S.write_headline(rows, False, tmp_path)
    assert path == tmp_path / "book" / "generated" / "headline.md" and path.read_text() == S.headline(rows)


def test_the_setting_line_names_datasets_epochs_seeds_and_the_machine():
    rows = [dict(setting="imagenette, alexnet, 8 epochs (cpu)", **{"runs per side": 3}),
            dict(setting="imagenette, alexnet, 24 epochs (cpu)", **{"runs per side": 0}),
            dict(setting="cifar10, cifarnet, 40 epochs (cpu)", **{"runs per side": 1})]
    epyc = dict(device="AMD EPYC (2 logical cores, 2 threads)", cpu_isa="AVX512-BF16", config_hash="a", date="d")
    records = [run("lrn", 30.0, seed=s) for s in (0, 1)] + [run("x", 30.0)]
    for r, prov in zip(records, (epyc | dict(seed=0), epyc | dict(seed=1), dict(device="H100", seed=0))):
        r.provenance.update(prov)
    line = S.setting_line(records + records[:1], rows)  # a reference shown twice counts once
    assert line.startswith("**Setting.** AlexNet on Imagenette (10 of ImageNet's classes) for 8 epochs and "
                           "the paper's small nets on CIFAR-10 for 40 epochs")  # no 24-epoch run yet: not said
    rows[1]["runs per side"] = 2
    assert "for 8/24 epochs" in S.setting_line(records, rows)
    assert "1-3 seeds per side so far" in line
    assert line.endswith("trained on AMD EPYC (2 logical cores, 2 threads), AVX512-BF16 (2 of the 3 runs behind "
                         "these verdicts).")


def test_other_profiles_rows_only_where_both_sides_are_recorded():
    rows = [dict(claim="LRN on AlexNet: top-1 error (points)", ours="-1.0 ± 0.5", verdict="within noise")]
    recorded = {"lrn_alexnet": [run("lrn", 30.0), run("no-lrn", 31.0)]}
    others = S.other_profile_rows(rows, lambda name: "gpu", lambda name, profile: recorded.get(name, []))
    assert {o["claim"] for o in others} == {"LRN on AlexNet: top-1 error (points)",
                                            "LRN on AlexNet: top-5 error (points)"}
    assert others[0]["book's profile"] == "-1.0 ± 0.5, within noise" and others[0]["other profile"] == "cpu"
    assert others[1]["book's profile"] == "-"


def test_the_authors_column_gives_their_own_ablation_where_they_ran_one():
    from alexnet_core.book.pages.paper_code import AUTHORS_EFFECTS, authors_cell, authors_effect
    assert authors_effect("#145", "#148", "top1") == pytest.approx(-1.37)  # 40.66 - 42.03: the paper's -1.4
    assert authors_cell("LRN on AlexNet: top-5 error (points)") == "-1.15 (#145 vs #148)"
    assert authors_cell("Dropout: top-1 error (points)") == "-"
    labels = {e.label for exp in EXPERIMENTS.values() for e in exp.effects}
    assert set(AUTHORS_EFFECTS) <= labels  # every mapped claim is a scorecard row


def test_the_setting_cell_reads_the_epochs_an_experiment_trains():
    """long_training stretches the cpu profile's 8 AlexNet epochs to 24 by its own settings."""
    assert S.setting_of(EXPERIMENTS["long_training"], "cpu") == "imagenette, alexnet, 24 epochs (cpu)"
    assert S.setting_of(EXPERIMENTS["lrn_alexnet"], "cpu") == "imagenette, alexnet, 8 epochs (cpu)"
    assert S.setting_of(EXPERIMENTS["lrn_alexnet"], "smoke") == "imagenette, alexnet, 1 epoch (smoke)"


