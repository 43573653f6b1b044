"""The package's shape (ARCHITECTURE.md): no import cycle, the core never imports the book's
machinery, and imports inside functions only for optional heavy dependencies."""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "alexnet_core"

#: Third-party packages a function may import where it needs them: the book's and notebooks'
#: dependencies (not installed with the core) and platform-specific modules.
OPTIONAL_HEAVY = {"matplotlib", "pandas", "IPython", "myst_nb", "papermill", "jupytext", "nbformat", "cycler"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def internal_imports() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in the file)."""
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, tree in mods.items():
        is_package = (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = resolve(name, node, is_package)
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    graph[name].add(candidate if candidate in mods else target)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names)
        graph[name] = {t for t in graph[name] if t in mods and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    assert find_cycle(internal_imports()) is None, find_cycle(internal_imports())


def test_a_cycle_would_be_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_core_never_imports_the_book_machinery():
    graph = internal_imports()
    core = [m for m in graph if not m.startswith("alexnet_core.book") and m != "alexnet_core.__main__"]
    offenders = {m: sorted(t for t in graph[m] if t.startswith("alexnet_core.book")) for m in core}
    assert not {m: t for m, t in offenders.items() if t}


def test_the_engine_never_imports_a_page_and_no_page_imports_the_build():
    """Floors of the book (ARCHITECTURE.md): engine < pages < reproduce; a page may use the engine,
    the engine never knows a page, and only the build (``book.reproduce``) sees every page."""
    graph = internal_imports()
    engine = [m for m in graph if m.startswith("alexnet_core.book.engine")]
    pages = [m for m in graph if m.startswith("alexnet_core.book.pages")]
    up = {m: sorted(t for t in graph[m] if t.startswith(("alexnet_core.book.pages", "alexnet_core.book.reproduce")))
          for m in engine}
    build = {m: sorted(t for t in graph[m] if t == "alexnet_core.book.reproduce") for m in pages}
    assert not {m: t for m, t in (up | build).items() if t}
    assert engine and pages


def test_imports_inside_functions_are_only_optional_heavy_dependencies():
    found = []
    for name, tree in modules().items():
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom):
                    top = (node.module or "").split(".")[0] if not node.level else "<relative>"
                elif isinstance(node, ast.Import):
                    top = node.names[0].name.split(".")[0]
                else:
                    continue
                if top not in OPTIONAL_HEAVY:
                    found.append(f"{name}.{func.name}: {top}")
    assert not found, found


def test_no_function_in_the_package_is_over_sixty_lines():
    long = [f"{name}.{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for name, tree in modules().items() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60]
    assert not long, long


NOTEBOOKS = PACKAGE.parent / "notebooks"
#: A notebook narrates: it calls the package and glues what the package computes (ARCHITECTURE.md).
MOST_CODE_LINES = 40
COMPUTING = re.compile(r"^\s*(def |class |if |elif |else\b|for |while |try\b|with )|\blambda\b| for .+ in ")


def notebook_code_lines(path: Path) -> list[str]:
    """The code lines of a MyST notebook's code cells, blank lines, comments and cell options left out."""
    lines, inside = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```{code-cell}"):
            inside = True
        elif line.startswith("```"):
            inside = False
        elif inside and line.strip() and not line.lstrip().startswith(("#", ":tags:")):
            lines.append(line)
    return lines


def test_notebooks_narrate_without_functions_or_branches_in_at_most_forty_lines():
    found = {}
    for path in sorted(NOTEBOOKS.glob("*.md")):
        code = notebook_code_lines(path)
        computing = [line.strip() for line in code if COMPUTING.search(line)]
        if computing or len(code) > MOST_CODE_LINES:
            found[path.name] = (len(code), computing)
    assert not found, found


def test_a_computing_notebook_cell_would_be_found(tmp_path):
    cell = "```{code-cell} ipython3\nrows = [r for r in runs]\nif rows:\n    x = 1\n```\n"
    assert [bool(COMPUTING.search(line)) for line in notebook_code_lines(_write(tmp_path, cell))] == [True, True, False]


def _write(folder: Path, text: str) -> Path:
    path = folder / "page.md"
    path.write_text(text)
    return path
