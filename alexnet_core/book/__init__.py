"""The book's machinery: the engine (plan, records, run, judge) and one module per page."""
