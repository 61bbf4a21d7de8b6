"""The package's modules import each other without a cycle (checked from the source, statically).

An import cycle makes the import order matter and usually means two modules share a job. Every
import counts: those inside functions (a lazy import only hides a cycle) and those under
`if TYPE_CHECKING:` (they never run, but a module that names another's types for its
signatures depends on it as much). The local server is covered like the rest.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "outeai_cli"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(
    tree: ast.Module, name: str, is_package: bool, known: set[str], *, type_checking: bool = True
) -> set[str]:
    """Modules of the package this module imports anywhere (`type_checking=False`: leaving
    out those under `if TYPE_CHECKING:`, which are never imported at run time)."""
    never_run: set[int] = set()
    for node in ast.walk(tree):
        if (
            not type_checking
            and isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test)
        ):
            never_run.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in never_run:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                anchor = parts[: len(parts) - node.level + is_package]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in known and module != name}


def import_graph(*, type_checking: bool = True) -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    names = {module_name(p): p for p in paths}
    graph = {}
    for name, path in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[name] = imported_modules(
            tree, name, is_package, set(names), type_checking=type_checking
        )
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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
            connect(node)
    return found


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "outeai_cli.synthesis.run" in graph["outeai_cli.synthesis.synthesize"]
    assert "outeai_cli.errors" in graph["outeai_cli.synthesis.scheduler"]
    # Imported under TYPE_CHECKING only: part of the graph, not of what runs.
    assert "outeai_cli.http.client" in graph["outeai_cli.synthesis.synthesize"]
    runtime = import_graph(type_checking=False)
    assert "outeai_cli.http.client" not in runtime["outeai_cli.synthesis.synthesize"]
    assert "outeai_cli.synthesis.cache" in graph["outeai_cli.cli.say"]  # imported inside a function
    assert "outeai_cli.server.common" in graph["outeai_cli.server.routes_tts"]
    assert "outeai_cli.server.app" in graph["outeai_cli.server.runner"]  # inside a function
    assert "outeai_cli.server.app" not in graph["outeai_cli.server.routes_stream"]


def test_no_module_imports_itself_back() -> None:
    assert cycles(import_graph()) == []


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
