"""The paper-and-its-code page: the differences table, the authors' runs table and their own
effects as the page words them (cited numbers, checked against the notes' values)."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")

from alexnet_core.book.pages import paper_code as PC  # noqa: E402


def test_authors_pair_gives_top1_and_top5_with_signs():
    assert PC.authors_pair("#145", "#148") == "-1.37 / -1.15"  # 40.66 - 42.03, 18.21 - 19.36: the paper's -1.4 / -1.2
    assert PC.authors_pair("#145-2010", "#145-half") == "-1.70 / -1.23"
    assert PC.authors_pair("#167", "#145") == "-0.17 / -0.09"
    assert PC.authors_pair(PC.MULTIVIEW_145, "#147") == "-0.81 / -0.52"


def test_the_multiview_line_is_one_of_the_authors_runs():
    assert PC.MULTIVIEW_145 in {r.run for r in PC.AUTHORS_RUNS}


def test_differences_table_has_a_row_per_difference_and_a_switch_or_a_dash():
    table = PC.differences_table().data
    assert list(table.columns) == ["topic", "paper", "2012 code", "where", "this book", "switch"]
    assert len(table) == len(PC.DIFFERENCES)
    switches = dict(zip(table["topic"], table["switch"]))
    assert switches["LRN's alpha"] == "--lrn-alpha"
    assert switches["Crops and flips"] == "-"


def test_authors_runs_table_shows_each_run_with_two_decimals():
    styler = PC.authors_runs_table()
    assert list(styler.data["run"]) == [r.run for r in PC.AUTHORS_RUNS]
    assert list(styler.data.columns) == ["run", "change from #145", "top-1 error (%)", "top-5 error (%)",
                                         "evaluated on", "where"]
    html = styler.to_html()
    assert ">17.00<" in html and ">40.66<" in html
