"""The layers keep their direction and no module imports itself in a circle.

Read from the source with `ast`, so a new import that breaks a rule fails here before anyone
has to notice it in review: the domain depends on nothing of its service but itself, the
service layer never on the entrypoints, adapters never on the entrypoints, no service on
another, shared on no service, and no module-level import cycle anywhere.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("shared", "services")
SERVICES = ("orders", "inventory", "dispatch")
# layer -> layers of the same service it must not import
FORBIDDEN = {
    "domain": ("adapters", "entrypoints", "service_layer"),
    "service_layer": ("entrypoints",),
    "adapters": ("entrypoints", "service_layer"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, *, module_level_only: bool) -> Iterator[str]:
    """The modules `path` imports; with `module_level_only`, only those run at import time."""
    tree = ast.parse(path.read_text())
    nodes: list[ast.AST] = list(tree.body) if module_level_only else list(ast.walk(tree))
    while nodes:
        node = nodes.pop()
        if module_level_only and isinstance(node, ast.If) and not _is_type_checking(node):
            nodes.extend(node.body + node.orelse)
        elif module_level_only and isinstance(node, ast.Try):
            nodes.extend(node.body + node.orelse + node.finalbody)
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def graph(*, module_level_only: bool) -> dict[str, set[str]]:
    known = modules()
    return {
        name: {imp for imp in imports(path, module_level_only=module_level_only) if imp in known and imp != name}
        for name, path in known.items()
    }


def test_each_layer_imports_only_what_it_may() -> None:
    broken = []
    for name, deps in graph(module_level_only=False).items():
        parts = name.split(".")
        if parts[0] == "shared":
            broken += [f"{name} -> {d}" for d in deps if d.startswith("services")]
            continue
        if len(parts) < 3:
            continue
        service, layer = parts[1], parts[2]
        for dep in deps:
            dep_parts = dep.split(".")
            if dep_parts[0] != "services" or len(dep_parts) < 2:
                continue
            if dep_parts[1] != service:
                broken.append(f"{name} -> {dep} (another service)")
            elif len(dep_parts) > 2 and dep_parts[2] in FORBIDDEN.get(layer, ()):
                broken.append(f"{name} -> {dep} ({layer} must not import {dep_parts[2]})")
    assert broken == []


def test_no_module_imports_itself_in_a_circle() -> None:
    deps = graph(module_level_only=True)
    # A package's __init__ importing its own submodules is how packages work, not a cycle.
    for name in deps:
        deps[name] = {d for d in deps[name] if not d.startswith(f"{name}.")}
    cycles = _cycles(deps)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _cycles(deps: dict[str, set[str]]) -> list[list[str]]:
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
        for w in sorted(deps.get(v, ())):
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

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_the_check_sees_each_service(service: str) -> None:
    """Guard the guard: the graph really contains every service's layers."""
    names = modules()
    for layer in ("domain", "service_layer", "adapters", "entrypoints"):
        assert any(n.startswith(f"services.{service}.{layer}.") for n in names), (service, layer)


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
