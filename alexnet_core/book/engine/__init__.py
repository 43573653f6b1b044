"""The engine: the experiment plan, run records, training runs, diagnostics studies and the verdict rule.

Nothing here knows a page; the pages import from here, never the other way."""
