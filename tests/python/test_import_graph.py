"""The platform's Python module graph: nothing outside tests/ imports from tests/, and no two modules import each
other, directly or through others — imports inside functions count (they couple the modules as much)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = ["local", "contract", "checklist", "cluster", "bench", "scripts", "local_settings"]


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(files: list[Path], root: Path = REPO) -> dict[str, set[str]]:
    """module → the repository modules it imports anywhere in its body (absolute imports; `from a import b` counts
    `a.b` when that is a module, else `a`)."""
    modules = {module_name(f, root): f for f in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name} | {t for t in targets if t.startswith("tests")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _files() -> list[Path]:
    return [f for root in ROOTS for f in sorted((REPO / root).rglob("*.py")) if "__pycache__" not in f.parts]


def test_nothing_outside_tests_imports_tests() -> None:
    graph = import_graph(_files())
    assert len(graph) > 50
    assert {m: sorted(t for t in targets if t.startswith("tests")) for m, targets in graph.items() if any(t.startswith("tests") for t in targets)} == {}


def test_no_import_cycles() -> None:
    graph = import_graph(_files())
    assert "local.connections" in graph["local.services.vault"], "the graph sees function-level imports"
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg import c\n")
    (tmp_path / "pkg" / "c.py").write_text("import pkg.a\n")
    (tmp_path / "pkg" / "d.py").write_text("from pkg import a\n")
    files = sorted((tmp_path / "pkg").glob("*.py"))
    assert cycles(import_graph(files, tmp_path)) == [["pkg.a", "pkg.b", "pkg.c"]]
