"""Open every page of the built book in headless Chromium and check it really works, for readers.

Every page is opened at desktop width (1280x900) and at phone width (390x844, Chrome's mobile
emulation), served from ``_build/html`` over a local HTTP server. A page fails, with a line
naming the page, the width and the offending thing, when:

- it does not load (no title), an image on it did not load, or the console holds an error;
- it shows a notebook's stderr (myst-nb's ``.output.stderr`` block);
- its text shows an absolute filesystem path of the machine that built it (``/work/...``,
  ``/home/...``, ``site-packages``, ``C:\\...``); URLs and repository-relative paths are fine;
- an image in the article is not in a ``<figure>`` with a non-empty ``<figcaption>``;
- a table's cells run together (under 6px of padding and border between two columns), or a
  table cell, code block or figure is cut by a box that clips it without scrolling;
- at phone width, the page scrolls sideways, or an element reaches past the screen's right
  edge without an ancestor that scrolls sideways (a table or code block scrolling in its own
  box is fine), or a figure is shrunk so far that its smallest text is under 8px;
- on the page holding the glossary, a term of it is first used above its definition without a
  link to it (the introduction holds the glossary, so no page before it can use a term);
- two pages count one thing differently in their text ("5 learning rates", "four learning
  rates"): every count a page states, computed ones included, as the reader sees it.

The search page is also opened from disk (``file://``), as a reader who opens the book without
a server would: it must find a word surely in the book, show snippets of page text (not the
theme's toolbar) and log no error. Full-page screenshots of a few pages at both widths are
saved under ``_build/browser-screenshots/`` for review. Uses Debian's ``chromium`` and
``chromium-driver`` through Selenium; nothing is downloaded.

    python .ci/browser_check.py _build/html
"""
from __future__ import annotations

import base64
import functools
import http.server
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

#: Window sizes (CSS pixels) every page is checked at; the phone one uses mobile emulation.
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
PIXEL_RATIO = {"desktop": 1.0, "phone": 2.0}
PHONE_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/120.0 Mobile Safari/537.36")
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars"]
#: Pages photographed at both widths for a reviewer.
SCREENSHOT_PAGES = ("book/generated/scorecard.html", "book/generated/lrn.html", "book/generated/dropout.html")
MAX_SHOT_HEIGHT = 16000
#: A word surely in the book, searched for over file://.
SEARCH_WORD = "dropout"
SEARCH_TIMEOUT_S = 20.0
PAGE_TIMEOUT_S = 10.0
#: How long snippets may take to come once the results are listed.
SNIPPET_TIMEOUT_S = 5.0

_ROOTS = "work|home|tmp|root|Users|mnt|scratch|private|opt|srv"
#: An absolute path of the building machine: under a root like /home, in an installed package,
#: a file:// URL or a Windows drive. A root preceded by a word character, a dot, a slash, a colon
#: or a dash is part of a URL or of a relative path (``https://host/home/x``, ``runs/tmp/x``).
ABSOLUTE_PATH = re.compile(rf"""
    (?<![\w.:/~-]) /(?:{_ROOTS})/[^\s'"<>),;]*
  | file:///[^\s'"<>),;]+
  | [^\s'"<>(]*(?:site|dist)-packages[^\s'"<>),;]*
  | (?<![\w]) [A-Za-z]:\\[^\s'"<>),;]*
""", re.VERBOSE)
#: Text of the theme's article toolbar and printed table of contents, which a search snippet
#: must not start with (the snippet of the page text is meant).
TOOLBAR_TEXT = (".ipynb", ".md", ".pdf", "Contents", "Download", "Print to PDF", "Fullscreen",
                "Color mode", "Toggle")

#: The smallest text of a book figure in the image (alexnet_core.book.pages.style: SMALLEST_FONT
#: 10 pt at DPI 120), and the least a reader should be shown (#38).
FIGURE_TEXT_PX = 10 * 120 / 72
LEGIBLE_PX = 8
#: Everything one page is checked for, read in the browser. ``viewport`` is the layout width the
#: page was given (``clientWidth``: under mobile emulation ``innerWidth`` grows with a page that
#: is too wide, hiding the very fault); ``wide`` lists the outermost elements past its right edge.
PROBE_JS = r"""
if (!document.body) return null;  // a redirecting page (index.html) between two documents
const article = document.querySelector("article.bd-article") || document.body;
const say = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
  + [...el.classList].slice(0, 3).map(c => "." + c).join("")
  + ' "' + (el.innerText || el.getAttribute("src") || "").trim().replace(/\s+/g, " ").slice(0, 60) + '"';
const images = [...document.images];
const captioned = (img) => {
  const caption = img.closest("figure") && img.closest("figure").querySelector("figcaption");
  return Boolean(caption && caption.textContent.trim());
};
const texts = [];
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  if (!walker.currentNode.parentElement.closest("script, style, noscript")) texts.push(walker.currentNode.data);
}
const viewport = Math.min(window.innerWidth, document.documentElement.clientWidth);
// How far right a box starting at `el` is seen: cut by ancestors that clip it; none if one scrolls.
const seenRight = (el, right) => {
  for (let a = el; a && a !== document.body; a = a.parentElement) {
    const overflow = getComputedStyle(a).overflowX;
    if (overflow === "auto" || overflow === "scroll") return -Infinity;
    if (overflow !== "visible") right = Math.min(right, a.getBoundingClientRect().right);
  }
  return right;
};
const shown = (el) => el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
const wide = new Map();  // element -> how far right it is seen
for (const el of document.body.querySelectorAll("*")) {
  const box = el.getBoundingClientRect();
  const right = box.width > 0 && box.height > 0 ? seenRight(el.parentElement, box.right) : 0;
  if (right > viewport + 1 && shown(el)) wide.set(el, right);
}
const lines = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (lines.nextNode()) {  // text running out of its box (a long word, a path): its element is named
  const range = document.createRange();
  range.selectNodeContents(lines.currentNode);
  const parent = lines.currentNode.parentElement;
  const right = seenRight(parent, range.getBoundingClientRect().right);
  if (right > viewport + 1 && shown(parent)) wide.set(parent, Math.max(right, wide.get(parent) || 0));
}
// Table cells run together: two columns whose cells have under 6px of padding and border between them.
const side = (cs) => parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight)
  + parseFloat(cs.borderLeftWidth) + parseFloat(cs.borderRightWidth);
const cramped = [...article.querySelectorAll("table:not(.indextable)")].filter(t => {  // not Sphinx's index layout
  const row = [...t.rows].find(r => r.cells.length > 1);
  return row && [...row.cells].some(c => side(getComputedStyle(c)) < 6);
}).map(t => say(t.rows[0].cells[0]));
// Cut: a cell, code block or figure image whose right edge passes a box that clips it, with no
// box between them that scrolls (at any width; past the screen is the phone check's).
const cutAt = (el) => {
  const right = el.getBoundingClientRect().right;
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    const overflow = getComputedStyle(a).overflowX;
    if (overflow === "auto" || overflow === "scroll") return false;
    if (overflow !== "visible" && right > a.getBoundingClientRect().right + 1) return true;
  }
  return false;
};
const cut = [...article.querySelectorAll("td, th, pre, figure img, .cell_output img")].filter(
  el => shown(el) && cutAt(el)).slice(0, 20).map(say);
// Figure images as shown: [src, shown width, natural width], for the text size they show.
const figures = [...article.querySelectorAll("figure img, .cell_output img")].filter(
  i => i.naturalWidth > 0 && shown(i)).map(i => [i.getAttribute("src").slice(0, 60), i.clientWidth, i.naturalWidth]);
// A glossary term first used before its definition on the glossary's page without a link to it.
const glossary = article.querySelector("dl.glossary");
const unlinked = [];
if (glossary) {
  const terms = [...glossary.querySelectorAll("dt")].map(
    dt => dt.textContent.replace(/[#\u00b6]/g, "").trim().toLowerCase()).filter(Boolean);
  const pattern = (t) => new RegExp("(^|[^\\w-])" + t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "s?($|[^\\w-])");
  const first = new Map();  // term -> whether its first use links to the glossary
  const before = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  while (before.nextNode()) {
    const node = before.currentNode;
    if (!(node.compareDocumentPosition(glossary) & Node.DOCUMENT_POSITION_FOLLOWING)) break;
    if (node.parentElement.closest("script, style, h1, .headerlink")) continue;
    const linked = Boolean(node.parentElement.closest('a[href*="#term-"]'));
    for (const term of terms) {
      if (!first.has(term) && pattern(term).test(node.data.toLowerCase())) first.set(term, linked);
    }
  }
  for (const [term, linked] of first) if (!linked) unlinked.push(term);
}
const seen = [...wide.keys()].slice(0, 300);
const outermost = seen.filter(el => !seen.some(o => o !== el && o.contains(el)));
return {
  title: document.title,
  images: images.length,
  broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  stderr: [...document.querySelectorAll(".output.stderr")].map(e => e.textContent.trim().slice(0, 120)),
  uncaptioned: [...article.querySelectorAll("img")].filter(i => !captioned(i)).map(
    i => i.getAttribute("src") + (i.closest("section[id]") ? " in section #" + i.closest("section[id]").id : "")),
  text: document.body.innerText + "\n" + texts.join(" "),
  viewport: viewport,
  scroll_width: document.documentElement.scrollWidth,
  wide: outermost.map(el => say(el) + " reaches " + Math.round(wide.get(el)) + "px"),
  cramped: cramped,
  cut: cut,
  figures: figures,
  unlinked: unlinked,
  article: article.innerText,
};
"""
#: The file:// search page's state: whether it finished, its results and their snippets.
SEARCH_JS = r"""
const status = document.querySelector("#search-results .search-summary, #search-results p");
const items = [...document.querySelectorAll("#search-results ul.search li")];
return {
  finished: Boolean(status && status.innerText.startsWith("Search finished")),
  results: items.length,
  snippets: items.map(li => li.querySelector("p.context")).filter(Boolean).map(p => p.innerText),
};
"""


def absolute_paths(text: str) -> list[str]:
    """The absolute filesystem paths in ``text``, each once, in order of appearance."""
    return list(dict.fromkeys(m.group(0).strip() for m in ABSOLUTE_PATH.finditer(text)))


def toolbar_snippets(snippets: list[str]) -> list[str]:
    """The search snippets that start with the theme's toolbar text instead of page text."""
    starts = [(s[3:] if s.startswith("...") else s).lstrip() for s in snippets]
    return [s for s, start in zip(snippets, starts) if start.startswith(TOOLBAR_TEXT)
            or ".ipynb .pdf" in s or ".md .pdf" in s]


def page_failures(page: str, width: str, probe: dict[str, Any], errors: list[str]) -> list[str]:
    """Every fault of one page at one width, read from ``PROBE_JS``'s result and the console."""
    where = f"{page} [{width}]"
    found = [f"{where}: no title (did it load?)"] if not probe["title"] else []
    found += [f"{where}: image did not load: {src}" for src in probe["broken"]]
    found += [f"{where}: console error: {e}" for e in errors]
    found += [f"{where}: stderr output shown: {text!r}" for text in probe["stderr"]]
    found += [f"{where}: absolute path in the text: {p}" for p in absolute_paths(probe["text"])]
    found += [f"{where}: image without a figure caption: {src}" for src in probe["uncaptioned"]]
    found += [f"{where}: table cells without separation (under 6px between columns): {t}" for t in probe.get("cramped", [])]
    found += [f"{where}: cut by its box, which does not scroll: {el}" for el in probe.get("cut", [])]
    found += [f"{where}: glossary term used before its definition without a link to it: {t!r}"
              for t in probe.get("unlinked", [])]
    if width == "phone":
        found += overflow_failures(where, probe)
        found += [f"{where}: figure text under {LEGIBLE_PX}px ({px:.1f}px): {src}"
                  for src, px in figure_text_px(probe.get("figures", [])) if px < LEGIBLE_PX]
    return found


def figure_text_px(figures: list[list]) -> list[tuple[str, float]]:
    """Per figure image ([src, shown width, natural width]), the size its smallest text is shown at:
    the book's figures set no text under ``FIGURE_TEXT_PX`` pixels of the image (10 pt at 120 dpi)."""
    return [(src, FIGURE_TEXT_PX * shown / natural) for src, shown, natural in figures if natural]


def overflow_failures(where: str, probe: dict[str, Any]) -> list[str]:
    """The phone-width faults: a page that scrolls sideways, elements past the right edge."""
    found = []
    if probe["viewport"] != WIDTHS["phone"][0]:
        found.append(f"{where}: the phone viewport is {probe['viewport']}px, not {WIDTHS['phone'][0]}px")
    if probe["scroll_width"] > probe["viewport"]:
        found.append(f"{where}: the page scrolls sideways ({probe['scroll_width']}px wide in a "
                     f"{probe['viewport']}px screen)")
    found += [f"{where}: element past the screen's right edge, outside a scrolling box: {w}" for w in probe["wide"]]
    return found


def search_failures(width: str, result: dict[str, Any], errors: list[str]) -> list[str]:
    """The faults of the file:// search page for ``SEARCH_WORD``."""
    where = f"search.html?q={SEARCH_WORD} over file:// [{width}]"
    found = [f"{where}: console error: {e}" for e in errors]
    if not result["finished"]:
        found.append(f"{where}: the search did not finish within {SEARCH_TIMEOUT_S:.0f} s")
    if not result["results"]:
        found.append(f"{where}: no result")
    elif len(result["snippets"]) < result["results"]:
        found.append(f"{where}: {result['results'] - len(result['snippets'])} of {result['results']} "
                     "results have no snippet")
    found += [f"{where}: snippet starts with the theme's toolbar: {s[:80]!r}" for s in toolbar_snippets(result["snippets"])]
    return found


#: Number words a page may count in.
NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
#: What the book counts in its prose: a count before one of these is compared across pages (#38).
COUNTED = ("learning rates", "seeds a side", "seeds per side", "runs per side", "pairs per side",
           "profiles", "chapters", "variants")
#: A count that a conditional follows ("about 7 seeds per side would give 80% power") is what it
#: would take, not what the book has: not compared.
COUNT = re.compile(r"\b(\d+|" + "|".join(NUMBER_WORDS) + r")\s+(" + "|".join(map(re.escape, COUNTED))
                   + r")\b(?!\s+(?:would|could|might)\b)", re.I)


def stated_counts(pages: dict[str, str]) -> dict[str, dict[str, set[int]]]:
    """Per thing counted (:data:`COUNTED`), per page, the counts it states."""
    found: dict[str, dict[str, set[int]]] = {}
    for page, text in pages.items():
        for number, thing in COUNT.findall(text):
            value = int(number) if number.isdigit() else NUMBER_WORDS[number.lower()]
            found.setdefault(thing.lower(), {}).setdefault(page, set()).add(value)
    return found


def contradictions(pages: dict[str, str]) -> list[str]:
    """Things two pages count with no count in common ('5 learning rates' here, 'four learning
    rates' there): one of them is stale. A page may state several counts of a thing ('one run per
    side or two'); it agrees with a page stating any of them."""
    out = []
    for thing, per_page in stated_counts(pages).items():
        clashes = sorted((a, b) for a in per_page for b in per_page if a < b and not per_page[a] & per_page[b])
        out += [f"{thing}: {sorted(per_page[a])} on {a}, {sorted(per_page[b])} on {b}" for a, b in clashes]
    return out


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``folder`` over HTTP on a free local port; returns the server and its base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            pass  # a browser that hangs up early (favicon.ico, a page left) is no fault of the book

    handler = functools.partial(Quiet, directory=str(folder))
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def book_pages(root: Path) -> list[str]:
    """The book's pages under ``root``, as paths relative to it (Sphinx's own folders left out)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                  if not p.relative_to(root).parts[0].startswith(("_", ".")))


def browser(width: str, chromium: str, chromedriver: str) -> WebDriver:
    """A headless Chromium at ``width`` (a key of ``WIDTHS``); the phone is a mobile emulation."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    w, h = WIDTHS[width]
    if width == "phone":
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": w, "height": h, "pixelRatio": PIXEL_RATIO[width], "touch": True},
            "userAgent": PHONE_USER_AGENT})
    else:
        options.add_argument(f"--window-size={w},{h}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def console_errors(driver: WebDriver) -> list[str]:
    """The console's errors since the last call (reading the log empties it). A 404 for
    ``/favicon.ico`` is left out: jupyter-book's root ``index.html`` is a bare redirect with no
    favicon link, so Chromium asks the server root for one, or not, depending on how fast the
    redirect runs (it failed CI once); every book page names its favicon itself."""
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and not is_root_favicon_miss(e["message"])]


def is_root_favicon_miss(message: str) -> bool:
    """Whether a console error is only the browser's own guess at ``/favicon.ico`` missing."""
    return "/favicon.ico " in message and "404" in message


def screenshot(driver: WebDriver, width: str, path: Path) -> None:
    """Save a screenshot of the whole page to ``path``: the window is made as tall as the page
    (so the theme's sticky sidebars are drawn once, in place), then given back its height."""
    w, h = WIDTHS[width]
    metrics = {"width": w, "deviceScaleFactor": PIXEL_RATIO[width], "mobile": width == "phone"}
    full = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", dict(metrics, height=min(full, MAX_SHOT_HEIGHT)))
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", dict(metrics, height=h))


def check_page(driver: WebDriver, base: str, page: str, width: str, shots: Path,
               texts: dict[str, str] | None = None) -> list[str]:
    """Open one page at one width, print its summary line and return its faults (its article's
    text goes into ``texts`` where given)."""
    driver.get(f"{base}/{page}")
    probe = wait_for(driver, PROBE_JS, lambda result: result is not None, PAGE_TIMEOUT_S)
    if probe is None:
        print(f"FAIL {width:7} {page}  (no document body)", flush=True)
        return [f"{page} [{width}]: the page never showed a document body"]
    failures = page_failures(page, width, probe, console_errors(driver))
    if texts is not None:
        texts[page] = probe.get("article", "")
    if page in SCREENSHOT_PAGES:
        screenshot(driver, width, shots / f"{page.replace('/', '_')[:-5]}-{width}.png")
    status = "ok" if not failures else "FAIL"
    print(f"{status:4} {width:7} {page}  ({probe['images']} images) {probe['title']!r}", flush=True)
    return failures


def wait_for(driver: WebDriver, script: str, done: Callable[[dict], bool], timeout_s: float) -> dict:
    """``script``'s result once ``done`` says so, or when ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    result = driver.execute_script(script)
    while not done(result) and time.monotonic() < deadline:
        time.sleep(0.25)
        result = driver.execute_script(script)
    return result


def check_search(driver: WebDriver, root: Path, width: str) -> list[str]:
    """Search the book for ``SEARCH_WORD`` from disk (file://) and return the faults."""
    driver.get(f"{root.resolve().as_uri()}/search.html?q={SEARCH_WORD}")
    wait_for(driver, SEARCH_JS, lambda r: r["finished"], SEARCH_TIMEOUT_S)
    result = wait_for(driver, SEARCH_JS, lambda r: len(r["snippets"]) >= r["results"], SNIPPET_TIMEOUT_S)
    failures = search_failures(width, result, console_errors(driver))
    status = "ok" if not failures else "FAIL"
    print(f"{status:4} {width:7} file://.../search.html?q={SEARCH_WORD}  ({result['results']} results)", flush=True)
    return failures


def check_width(width: str, root: Path, base: str, tools: tuple[str, str]) -> list[str]:
    """Every page, then the file:// search, at one width; returns all their faults."""
    shots = root.parent / "browser-screenshots"
    shots.mkdir(exist_ok=True)
    driver = browser(width, *tools)
    try:
        texts: dict[str, str] = {}
        failures = [f for page in book_pages(root) for f in check_page(driver, base, page, width, shots, texts)]
        if width == "desktop":  # the words are the same at both widths
            failures += [f"a count stated differently on two pages: {c}" for c in contradictions(texts)]
        return failures + check_search(driver, root, width)
    finally:
        driver.quit()


def main(folder: str = "_build/html") -> int:
    """Check every page of the book built in ``folder`` at every width; 1 if anything fails."""
    root = Path(folder)
    pages = book_pages(root)
    if not pages:
        print(f"no pages under {root}: build the book first (make book)")
        return 1
    tools = (shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver"))
    if not all(tools):
        print("Debian's chromium and chromium-driver are needed: apt-get install -y chromium chromium-driver")
        return 1
    server, base = serve(root)
    try:
        failures = [f for width in WIDTHS for f in check_width(width, root, base, tools)]
    finally:
        server.shutdown()
    for f in failures:
        print("FAIL", f)
    bad = {f.split(" [")[0] for f in failures}
    print(f"browser check: {len(pages) - len(bad & set(pages))} of {len(pages)} pages clean at "
          f"{' and '.join(WIDTHS)} width; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
