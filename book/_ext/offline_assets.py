"""Sphinx fixes so the built book works offline and without console errors.

- MathJax is served from the ``django-static-mathjax`` package (a book extra) instead of
  a CDN: the book must render math where there is no network.
- sphinx-thebe registers its configuration script once per environment read, which can
  declare ``THEBE_JS_URL`` twice on a page (a JavaScript error); duplicates are dropped.
- Search works from ``file://``: Sphinx's search page fetches each result's page to cut a
  snippet from it, which a browser refuses over ``file://`` (a CORS error per result). Every
  page's article is written into ``_static/search_pages.js``, loaded by the search page only,
  which answers those fetches from memory. The snippet is cut from the article alone, so it no
  longer starts with the theme's toolbar (".ipynb .pdf") and the printed table of contents,
  which sit inside ``[role=main]`` with the article in this theme.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

MATHJAX_TARGET = "_static/mathjax"
SEARCH_PAGES = "search_pages.js"

#: Answers searchtools' ``fetch(page)`` from PAGES (defined in front of it) with the page's
#: article inside ``[role=main]``, where searchtools looks for the text; other fetches pass.
SEARCH_FETCH_JS = """
  const root = new URL(document.documentElement.dataset.content_root || "./", document.baseURI).href;
  const fetchFromNetwork = window.fetch.bind(window);
  window.fetch = (resource, init) => {
    const url = new URL(resource.url || String(resource), document.baseURI).href.split(/[?#]/)[0];
    const key = url.startsWith(root) ? decodeURI(url.slice(root.length)) : null;
    if (key === null || !Object.prototype.hasOwnProperty.call(PAGES, key))
      return fetchFromNetwork(resource, init);
    const html = `<!doctype html><div role="main">${PAGES[key]}</div>`;
    return Promise.resolve(new Response(html, {headers: {"Content-Type": "text/html"}}));
  };
"""


def _mathjax_source() -> Path | None:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    return es5 if (es5 / "tex-mml-chtml.js").exists() else None


def _use_local_mathjax(app) -> None:
    source = _mathjax_source()
    if source is None:
        raise RuntimeError("MathJax for offline pages is missing: install the book extras "
                           "(pip install -e '.[book]', which brings django-static-mathjax)")
    app.config.mathjax_path = "mathjax/tex-mml-chtml.js"


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / MATHJAX_TARGET
    if not (target / "tex-mml-chtml.js").exists():
        shutil.copytree(_mathjax_source(), target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("sre", "*-full*", "*-svg*", "node-main.js"))


def _dedupe_inline_scripts(app, exception) -> None:
    """Drop repeated identical inline ``<script>`` lines from every page (see the module docstring)."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
        seen, kept = set(), []
        for line in lines:
            text = line.strip()
            if text.startswith("<script>") and text.endswith("</script>"):
                if text in seen:
                    continue
                seen.add(text)
            kept.append(line)
        if len(kept) != len(lines):
            page.write_text("".join(kept), encoding="utf-8")


def _article(html: str) -> str | None:
    """The page's ``<article class="bd-article">`` without its scripts and styles, or None."""
    from bs4 import BeautifulSoup  # the theme's own dependency

    article = BeautifulSoup(html, "html.parser").select_one("article.bd-article")
    if article is None:
        return None
    for element in article.select("script, style, noscript"):
        element.decompose()
    return str(article)


def _write_search_pages(app, exception) -> None:
    """Write ``_static/search_pages.js``: every page's article, and the fetch that serves them."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    pages = {}
    for page in sorted(outdir.rglob("*.html")):
        relative = page.relative_to(outdir)
        if relative.parts[0].startswith(("_", ".")):
            continue
        article = _article(page.read_text(encoding="utf-8"))
        if article is not None:
            pages[relative.as_posix()] = article
    script = f"(() => {{\n  const PAGES = {json.dumps(pages, ensure_ascii=False)};{SEARCH_FETCH_JS}}})();\n"
    (outdir / "_static" / SEARCH_PAGES).write_text(script, encoding="utf-8")


def _add_search_pages(app, pagename, templatename, context, doctree) -> None:
    """Load ``search_pages.js`` on the search page only."""
    if pagename == "search":
        app.add_js_file(SEARCH_PAGES)


def setup(app):
    app.connect("builder-inited", _use_local_mathjax)
    app.connect("html-page-context", _add_search_pages)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _dedupe_inline_scripts)
    app.connect("build-finished", _write_search_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
