"""The package's import graph, read with `ast` (nothing is imported): no circles among module-level
imports, the core never imports the benchmarks, the CLI or the UI, and an import of the package's
own module inside a function says why (it defers a heavy optional dependency for start-up time).

The core is `rag` less `rag.bench` and `rag.cli`: those two, like `ui`, are edges that load the core
on demand so that `rag --help` starts fast, and may import anything."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDGES = ("rag.bench", "rag.cli", "ui")
# core modules that import a heavy optional dependency at module level: importing one inside a
# function defers it (torch for the reader network, the MCP SDK for the server)
HEAVY = {"rag.answer.reader_torch": "torch", "rag.integrations.mcp": "mcp"}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for folder in ("rag", "ui") for p in sorted((ROOT / folder).rglob("*.py"))}


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        source = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    found = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
    return [t for t in found if t in MODULES]


def _imports() -> list[tuple[str, str, bool, int, str]]:
    """(importer, imported, inside a function, line, the line's text and the one above it) of every
    import of the package's own modules, `if TYPE_CHECKING:` blocks left out."""
    found = []
    for module, path in MODULES.items():
        source = path.read_text()
        found.extend(_walk(ast.parse(source), module, path, source.splitlines(), False))
    return found


def _walk(node: ast.AST, module: str, path: Path, lines: list[str], in_function: bool):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            text = "\n".join(lines[max(0, child.lineno - 2): child.end_lineno])
            yield from ((module, t, in_function, child.lineno, text) for t in _targets(module, path, child))
        nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk(child, module, path, lines, nested)


IMPORTS = _imports()


def _core(module: str) -> bool:
    return module.startswith("rag") and not module.startswith(EDGES)


def test_the_graph_is_read():
    assert "rag.pipeline" in MODULES and "rag.store.backend" in MODULES
    assert ("rag.pipeline", "rag.store.backend") in {(a, b) for a, b, *_ in IMPORTS}


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Each circle a depth-first walk meets, as "a -> b -> a"."""
    found: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph.get(module, ())):
            if state.get(nxt) == 1:
                found.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_circles_among_module_level_imports():
    graph: dict[str, set[str]] = {}
    for importer, imported, in_function, *_ in IMPORTS:
        if not in_function and importer != imported:
            graph.setdefault(importer, set()).add(imported)
    assert circles(graph) == []


def test_a_circle_is_found():
    assert circles({"rag.a": {"rag.b"}, "rag.b": {"rag.c"}, "rag.c": {"rag.a"}, "rag.d": {"rag.a"}}) == [
        "rag.a -> rag.b -> rag.c -> rag.a"]


def test_the_core_never_imports_the_benchmarks_the_cli_or_the_ui():
    outward = [f"{a} -> {b} (line {line})" for a, b, _, line, _ in IMPORTS if _core(a) and b.startswith(EDGES)]
    assert outward == []


def test_an_import_inside_a_function_says_why():
    unexplained = [f"{a}:{line} imports {b}" for a, b, in_function, line, text in IMPORTS
                   if in_function and _core(a) and b not in HEAVY and "#" not in text]
    assert unexplained == []
