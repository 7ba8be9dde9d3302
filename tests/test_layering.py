"""The layout is the architecture: no import cycles, and nothing imports upward (the CLI and the pages
adapt the operations; gui and jobs never import the CLI; operations never import a front end)."""

from __future__ import annotations

import ast
from pathlib import Path

import simages

PACKAGE = Path(simages.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Each module of simages and the simages modules it imports (anywhere in it, lazy imports too)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module in modules:
                    found.add(node.module)
                submodules = (f"{node.module}.{alias.name}" for alias in node.names)
                found.update(name for name in submodules if name in modules)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
        graph[name] = found - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(_imports()) == []


def test_a_cycle_is_found_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_imports_upward():
    forbidden = {
        # package: the packages above it that it must never import (jobs may run operations: the
        # join runner runs operations.join in the background for the app)
        "simages.gui": ("simages.cli",),
        "simages.jobs": ("simages.cli", "simages.gui"),
        "simages.operations": ("simages.cli", "simages.gui"),
        "simages.nearest": ("simages.cli", "simages.gui", "simages.operations", "simages.jobs"),
        "simages.store": ("simages.cli", "simages.gui", "simages.operations", "simages.nearest"),
    }
    wrong = [
        (module, imported)
        for module, imports in _imports().items()
        for package, above in forbidden.items()
        if module == package or module.startswith(package + ".")
        for imported in imports
        if any(imported == a or imported.startswith(a + ".") for a in above)
    ]
    assert wrong == []


def test_the_layers_of_nearest_import_only_those_below_them():
    # The order of README's "How it is built": each sub-package builds on those before it.
    layers = ["core", "sets", "ann", "joins", "duplicates", "pivots", "teaching"]
    rank = {f"simages.nearest.{name}": i for i, name in enumerate(layers)}

    def layer(module: str) -> int | None:
        parts = module.split(".")
        return rank.get(".".join(parts[:3])) if len(parts) >= 3 else None

    wrong = [
        (module, imported)
        for module, imports in _imports().items()
        if layer(module) is not None
        for imported in imports
        if layer(imported) is not None and layer(imported) > layer(module)
    ]
    assert wrong == []
