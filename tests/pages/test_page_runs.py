"""The recorded-runs page: every committed run record as a table (none when nothing is recorded),
from small hand-made records."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("pandas")

from alexnet_core.book.pages import runs as R  # noqa: E402


def record(path, seconds=None, copied_from=None):
    provenance = dict(device="EPYC", precision="bf16", commit="0123456789ab", date="2026-12-01T10:00:00")
    if seconds is not None:
        provenance["wall_seconds"] = seconds
    if copied_from:
        provenance["copied_from"] = copied_from
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(config={}, history=[{}, {}], metrics=dict(val_top1=None), provenance=provenance)))


def test_runs_table_shows_every_committed_run_and_marks_shared_minutes(tmp_path):
    record(tmp_path / "cpu" / "lrn_alexnet" / "lrn-s0.json", seconds=600.0)
    record(tmp_path / "cpu" / "final_model" / "final-s0.json", copied_from="lrn_alexnet/lrn-s0")
    record(tmp_path / "smoke" / "lrn_alexnet" / "lrn-s0.json", seconds=6.0)
    table = R.runs_table(tmp_path)
    assert list(table.data.columns) == list(R.SHOWN)
    assert list(table.data["experiment"]) == ["final_model", "lrn_alexnet"]  # the smoke record left out
    html = table.to_html()
    assert ">(shared)<" in html and ">10.0<" in html


def test_runs_table_is_none_when_nothing_is_recorded(tmp_path):
    assert R.runs_table(tmp_path) is None
    record(tmp_path / "smoke" / "lrn_alexnet" / "lrn-s0.json", seconds=6.0)
    assert R.runs_table(tmp_path) is None
