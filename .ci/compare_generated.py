"""Compare two builds of the book's executed notebooks, output by output.

    python .ci/compare_generated.py OLD_DIR NEW_DIR   (each a book/generated/ folder)

Every glued value and every displayed output (tables, printed text, figures) of every
notebook is compared, in order, after removing what differs between two executions of the
same code on the same records: pandas Styler's random table ids and object addresses. Exit 1
with each difference named, 0 when the two books show the same numbers. Used to show that a
refactor left the book's output unchanged (issue 19).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

VOLATILE = [(re.compile(r"T_[0-9a-f]{5}(_[0-9a-f]{5})?"), "T_id"), (re.compile(r" at 0x[0-9a-f]+"), " at 0x..")]


def normalise(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def outputs(path: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The glued values by name (their order on the page is the roles', not the cells'), and
    every displayed output (tables, printed text, figures) in order, each with where it is."""
    notebook = json.loads(path.read_text())
    glued: dict[str, str] = {}
    shown: list[tuple[str, str]] = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                shown.append((f"{path.name} cell {index} {output['name']}", normalise("".join(output["text"]))))
                continue
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            for mime, value in sorted(output.get("data", {}).items()):
                text = value if isinstance(value, str) else "".join(value) if isinstance(value, list) else json.dumps(value)
                if name:
                    glued[f"{name} {mime}"] = normalise(text)
                else:
                    shown.append((f"{path.name} cell {index} {mime}", normalise(text)))
    return glued, shown


def compare(old_dir: Path, new_dir: Path) -> list[str]:
    problems = []
    old_names = sorted(p.name for p in old_dir.glob("*.ipynb"))
    new_names = sorted(p.name for p in new_dir.glob("*.ipynb"))
    if old_names != new_names:
        problems.append(f"notebooks differ: {sorted(set(old_names) ^ set(new_names))}")
    for name in sorted(set(old_names) & set(new_names)):
        old_glued, old_shown = outputs(old_dir / name)
        new_glued, new_shown = outputs(new_dir / name)
        for key in sorted(set(old_glued) | set(new_glued)):
            if old_glued.get(key) != new_glued.get(key):
                problems.append(f"{name}: glued {key} differs ({'missing' if key not in new_glued else 'new' if key not in old_glued else 'changed'})")
        if [c for _, c in old_shown] != [c for _, c in new_shown]:
            new_contents = [c for _, c in new_shown]
            changed = [where for where, content in old_shown if content not in new_contents]
            problems.append(f"{name}: displayed outputs differ"
                            + (f" (first changed: {changed[0]})" if changed else " (order or count)"))
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = compare(Path(argv[0]), Path(argv[1]))
    for line in problems:
        print(line)
    print(f"{len(problems)} difference(s)" if problems else "no difference in any glued value, table, text or figure")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
