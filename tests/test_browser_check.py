"""The browser check's rules (.ci/browser_check.py): what it calls a fault, without a browser
where the rule is plain text, and in headless Chromium (skipped where it is absent) for the
rules the browser measures: stderr blocks, captions, images, and width at phone size."""
from __future__ import annotations

import ast
import importlib.util
import shutil
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "browser_check.py"
_spec = importlib.util.spec_from_file_location("browser_check", SCRIPT)
browser_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser_check)

CLEAN = {"title": "Dropout", "images": 1, "broken": [], "stderr": [], "uncaptioned": [],
         "text": "Runs are in results/cpu/dropout.json; see https://github.com/home/tmp/x.",
         "viewport": 390, "scroll_width": 390, "wide": []}


@pytest.mark.parametrize("text, path", [
    ("saved to /work/shared/results/x.json.", "/work/shared/results/x.json."),
    ("cache in /home/ann/.cache/alexnet", "/home/ann/.cache/alexnet"),
    ("(/tmp/tmpr6y9jiee.json)", "/tmp/tmpr6y9jiee.json"),
    ("ALEXNET_DATA=/root/data", "/root/data"),
    ("'/Users/bob/book'", "/Users/bob/book"),
    ("File /usr/lib/python3/dist-packages/torch/nn.py, line 3", "/usr/lib/python3/dist-packages/torch/nn.py"),
    ("  .venv/lib/python3.11/site-packages/papermill/x.py:12: Warning", ".venv/lib/python3.11/site-packages/papermill/x.py:12:"),
    ("open file:///work/wtA/_build/html/index.html", "file:///work/wtA/_build/html/index.html"),
    (r"at C:\Users\ann\book", r"C:\Users\ann\book"),
])
def test_an_absolute_path_of_the_building_machine_is_found(text, path):
    assert browser_check.absolute_paths(text) == [path]


@pytest.mark.parametrize("text", [
    "results/cpu/relu_vs_tanh/seed0.json and runs/home/x",
    "https://github.com/alexnet-replication/alexnet-replication/tree/main/tmp/x",
    "http://localhost:8000/home/index.html, www.example.org/work/",
    "and/or 1/2, 3/4 of the runs; km/h; the 5/3 ratio",
    "python -m alexnet_core reproduce --profile cpu",
    "~/alexnet/results is a relative home path, a:b and C: drive letters alone",
])
def test_urls_relative_paths_and_plain_slashes_are_no_absolute_path(text):
    assert browser_check.absolute_paths(text) == []


def test_a_path_is_named_once():
    assert browser_check.absolute_paths("/tmp/a and /tmp/a again, /tmp/b") == ["/tmp/a", "/tmp/b"]


def test_a_snippet_starting_with_the_toolbar_is_caught():
    snippets = ["....pdf Dropout (section 4.2) Contents...", ".ipynb .pdf Scorecard",
                "...the paper's dropout, the learning rule...", "Dropout (section 4.2) Profile: gpu"]
    assert browser_check.toolbar_snippets(snippets) == snippets[:2]


def test_a_clean_page_has_no_fault_at_either_width():
    for width in browser_check.WIDTHS:
        assert browser_check.page_failures("book/x.html", width, CLEAN, []) == []


def test_each_fault_names_the_page_the_width_and_the_thing():
    probe = dict(CLEAN, title="", broken=["http://h/_images/a.png"], stderr=["UserWarning: x"],
                 uncaptioned=["../_images/b.png in section #the-measurement"], text="see /work/shared/data")
    found = browser_check.page_failures("book/x.html", "desktop", probe, ["boom"])
    assert len(found) == 6 and all(f.startswith("book/x.html [desktop]: ") for f in found)
    for thing in ["no title", "a.png", "boom", "UserWarning: x", "/work/shared/data", "#the-measurement"]:
        assert any(thing in f for f in found), thing


def test_width_is_judged_at_phone_width_only():
    probe = dict(CLEAN, viewport=1280, scroll_width=1400, wide=['div#t "x" reaches 1400px'])
    assert browser_check.page_failures("p.html", "desktop", probe, []) == []
    phone = dict(probe, viewport=390)
    found = browser_check.page_failures("p.html", "phone", phone, [])
    assert len(found) == 2 and "scrolls sideways (1400px wide in a 390px screen)" in found[0]
    assert 'div#t "x" reaches 1400px' in found[1]


def test_a_phone_that_is_not_phone_sized_is_a_fault():
    found = browser_check.page_failures("p.html", "phone", dict(CLEAN, viewport=980, scroll_width=980), [])
    assert found == ["p.html [phone]: the phone viewport is 980px, not 390px"]


def test_the_file_search_needs_results_snippets_of_text_and_no_error():
    good = {"finished": True, "results": 2, "snippets": ["Dropout (section 4.2) ...", "...dropout..."]}
    assert browser_check.search_failures("phone", good, []) == []
    bad = {"finished": True, "results": 2, "snippets": ["....pdf Dropout (section 4.2) Contents..."]}
    found = browser_check.search_failures("phone", bad, ["Access to fetch at 'file:///x' blocked by CORS policy"])
    assert len(found) == 3 and all("search.html?q=dropout over file:// [phone]" in f for f in found)
    assert browser_check.search_failures("desktop", {"finished": False, "results": 0, "snippets": []}, [])[1].endswith("no result")


def test_book_pages_leave_out_sphinx_folders(tmp_path):
    for name in ["index.html", "book/a.html", "_static/x.html", "_sources/y.html", ".doctrees/z.html"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<title>t</title>")
    assert browser_check.book_pages(tmp_path) == ["book/a.html", "index.html"]


def test_the_script_keeps_the_package_rules():
    """Functions of at most 60 lines (tests/test_architecture.py); public ones documented and typed."""
    tree = ast.parse(SCRIPT.read_text())
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert not [f.name for f in functions if f.end_lineno - f.lineno + 1 > 60]
    public = [f for f in tree.body if isinstance(f, ast.FunctionDef) and not f.name.startswith("_")]
    assert not [f.name for f in public if not ast.get_docstring(f)]
    assert not [f.name for f in public if f.returns is None or any(a.annotation is None for a in f.args.args)]


BAD_PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bad</title><style>.output.text_html {overflow-x: auto}</style></head><body><article class="bd-article">
<section id="s1"><p>Saved to /work/shared/results/x.json (see results/cpu/x.json)</p>
<div class="cell_output"><div class="output stderr"><pre>UserWarning: something</pre></div></div>
<img src="a.png"><figure><img src="a.png"><figcaption>Fig. 1 fine</figcaption></figure>
<div class="output text_html"><table><tr><td style="white-space: nowrap">{long}</td></tr></table></div>
<div id="wide" style="width: 900px">too wide</div>
<div style="overflow: hidden; width: 100px"><span style="display: inline-block; width: 600px">clipped</span></div>
<table><tr><td style="padding: 0">21.5</td><td style="padding: 0">0.31</td></tr></table>
<div style="overflow: hidden; width: 100px"><pre style="width: 600px">a code line cut on the right</pre></div>
<figure><img src="a.png" style="width: 10px"><figcaption>Fig. 2 shrunk</figcaption></figure>
<p>Each run has a Profile; <a href="#term-verdict">verdicts</a> follow.</p>
<dl class="glossary"><dt id="term-profile">profile<a class="headerlink" href="#term-profile">#</a></dt><dd>x</dd>
<dt id="term-verdict">verdict</dt><dd>y</dd></dl>
</section></article></body></html>"""
GOOD_PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">
<title>good</title><style>.output.text_html {overflow-x: auto}</style></head><body><article class="bd-article">
<p>See https://example.org/tmp/x</p><figure><img src="a.png"><figcaption>Fig. 1 fine</figcaption></figure>
<div class="output text_html"><table><tr><td style="white-space: nowrap">{long}</td></tr></table></div>
<table class="indextable"><tr><td style="padding: 0">a</td><td style="padding: 0">b</td></tr></table>
<table><tr><td style="padding: 0.3em 0.75em">21.5</td><td style="padding: 0.3em 0.75em">0.31</td></tr></table>
</article></body></html>"""


@pytest.fixture
def phone():
    """A headless Chromium at phone width, or a skip where Chromium or its driver is absent."""
    pytest.importorskip("selenium")
    tools = (shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver"))
    if not all(tools):
        pytest.skip("chromium and chromedriver are not installed")
    driver = browser_check.browser("phone", *tools)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_chromium_at_phone_width_finds_every_fault_and_passes_a_wide_table_in_its_box(tmp_path, phone):
    from PIL import Image

    Image.new("RGB", (40, 30), "blue").save(tmp_path / "a.png")
    (tmp_path / "bad.html").write_text(BAD_PAGE.replace("{long}", "w" * 200))
    (tmp_path / "good.html").write_text(GOOD_PAGE.replace("{long}", "w" * 200))
    server, base = browser_check.serve(tmp_path)
    try:
        faults = {}
        for page in ["bad.html", "good.html"]:
            phone.get(f"{base}/{page}")
            faults[page] = browser_check.page_failures(page, "phone", phone.execute_script(browser_check.PROBE_JS), [])
    finally:
        server.shutdown()
    assert faults["good.html"] == []
    bad = "\n".join(faults["bad.html"])
    for thing in ["stderr output shown: 'UserWarning: something'", "absolute path in the text: /work/shared/results/x.json",
                  "image without a figure caption: a.png in section #s1", "scrolls sideways (9", "div#wide",
                  'table cells without separation (under 6px between columns): td "21.5"',
                  'cut by its box, which does not scroll: pre "a code line cut on the right"',
                  "figure text under 8px (4.2px): a.png",
                  "glossary term used before its definition without a link to it: 'profile'"]:
        assert thing in bad, thing
    assert len(faults["bad.html"]) == 9, bad  # 'verdict' is linked where it is first used


def test_the_figure_text_size_follows_the_books_figure_style():
    from alexnet_core.book.pages import style

    assert browser_check.FIGURE_TEXT_PX == style.SMALLEST_FONT * style.DPI / 72
    assert browser_check.figure_text_px([["a.png", 336, 672], ["b.png", 0, 0]]) == [("a.png", pytest.approx(8.33, abs=0.01))]


def test_the_search_pages_script_holds_each_article_without_the_toolbar(tmp_path):
    """book/_ext/offline_assets.py answers the search page's fetches from the articles it wrote."""
    pytest.importorskip("bs4")
    import json
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("offline_assets", SCRIPT.parents[1] / "book" / "_ext" / "offline_assets.py")
    offline_assets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(offline_assets)
    (tmp_path / "_static").mkdir()
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.html").write_text(
        '<main role="main"><div class="bd-header-article">.ipynb .pdf</div><article class="bd-article">'
        '<h1 id="a">Dropout</h1><script>var x;</script></article></main>')
    (tmp_path / "_static" / "skip.html").write_text('<article class="bd-article">no</article>')
    app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    offline_assets._write_search_pages(app, None)
    script = (tmp_path / "_static" / offline_assets.SEARCH_PAGES).read_text()
    pages = json.loads(script.split("const PAGES = ", 1)[1].split(";\n", 1)[0])
    assert pages == {"book/a.html": '<article class="bd-article"><h1 id="a">Dropout</h1></article>'}
    assert "window.fetch" in script


def test_only_the_root_favicon_guess_is_forgiven():
    """CI once failed on Chromium's own guess at /favicon.ico from the root redirect page; that
    miss is forgiven, and any other 404 (an image of the book, say) is still a fault."""
    miss = "http://127.0.0.1:45519/favicon.ico - Failed to load resource: the server responded with a status of 404 (File not found)"
    image = "http://127.0.0.1:45519/_images/fig.png - Failed to load resource: the server responded with a status of 404 (File not found)"
    assert browser_check.is_root_favicon_miss(miss)
    assert not browser_check.is_root_favicon_miss(image)


def test_a_count_two_pages_state_differently_is_found():
    pages = {"relu.html": "a sweep of 5 learning rates", "intro.html": "the four learning rates of the sweep",
             "a.html": "one run per side or two runs per side", "b.html": "two runs per side"}
    assert browser_check.contradictions(pages) == ["learning rates: [4] on intro.html, [5] on relu.html"]
    assert browser_check.stated_counts({"x.html": "Twelve variants"}) == {"variants": {"x.html": {12}}}


def test_a_count_of_what_would_settle_a_claim_is_not_a_stated_count():
    """The judge's caveat ("about 7 seeds per side would give 80% power") says what it would take;
    CI once failed on it against a page's "3 seeds per side so far"."""
    pages = {"lrn.html": "underpowered (about 7 seeds per side would give 80% power)",
             "intro.html": "3 seeds per side so far"}
    assert browser_check.contradictions(pages) == []
    assert browser_check.stated_counts(pages) == {"seeds per side": {"intro.html": {3}}}
