"""Sphinx fixes so the built book works offline and without console errors.

- MathJax is served from the ``django-static-mathjax`` package (a book extra) instead of
  a CDN: the book must render math where there is no network.
- sphinx-thebe registers its configuration script once per environment read, which can
  declare ``THEBE_JS_URL`` twice on a page (a JavaScript error); duplicates are dropped.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

MATHJAX_TARGET = "_static/mathjax"


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


def setup(app):
    app.connect("builder-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _dedupe_inline_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
