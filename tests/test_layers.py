"""The package's import graph, read from the code: imports only point down the flow.

Each top-level module or package of ``digest`` has a rank; a module may import from its own
package or from a lower rank, never from a higher one, and never from a sibling of the same
rank (``schedule`` and ``web`` both sit on the pipeline and know nothing of each other). Every
import counts, including the ones inside functions (the CLI's lazy imports) — a lazy import is
still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "digest"

#: Bottom to top. One set per rank; members of a set may not import each other.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors"}),
    frozenset({"status"}),
    frozenset({"models"}),
    frozenset({"config"}),
    frozenset({"period"}),
    frozenset({"state"}),
    frozenset({"collect"}),
    frozenset({"select"}),
    frozenset({"render"}),
    frozenset({"deliver"}),
    frozenset({"inbound"}),
    frozenset({"pipeline"}),
    frozenset({"schedule", "web"}),
    frozenset({"cli"}),
    frozenset({"__main__"}),
)
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def unit_of(path: Path) -> str:
    """``digest/state/ledger.py`` → ``state``; ``digest/select.py`` → ``select``."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_units(path: Path) -> set[tuple[str, int]]:
    """Each (top-level unit of digest, line) that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative imports are not used in digest; treat them as a finding
                found.add((f"<relative {node.module}>", node.lineno))
            elif node.module == "digest":
                found.update((alias.name, node.lineno) for alias in node.names)
            elif node.module.startswith("digest."):
                found.add((node.module.split(".")[1], node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("digest."):
                    found.add((alias.name.split(".")[1], node.lineno))
    return found


def modules() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE
    )


def test_every_unit_of_the_package_has_a_rank() -> None:
    units = {unit_of(p) for p in modules()}
    assert units - RANK.keys() == set(), "give the new module or package a place in LAYERS"


def test_imports_only_point_down_the_flow() -> None:
    upward = []
    for path in modules():
        here = unit_of(path)
        for target, line in imported_units(path):
            if target == here:
                continue
            if target not in RANK or RANK[target] >= RANK[here]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {here} imports {target}")
    assert upward == []


def test_no_cycle_between_modules() -> None:
    """Inside a package too, the module graph has no cycle (lazy imports included)."""
    graph: dict[str, set[str]] = {}
    for path in modules():
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("digest")
            ):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
    known = set(graph)
    for name in graph:
        graph[name] = {d for d in graph[name] if d in known and d != name}
    # A package's __init__ re-exporting its own modules is not a cycle of the flow.
    for name, deps in graph.items():
        graph[name] = {
            d for d in deps if not name.startswith(d + ".") and not d.startswith(name + ".")
        }

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule is not vacuous: an import of the CLI from the state would be reported."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f():\n    from digest.cli import commands\n    from digest import pipeline\n"
    )
    assert imported_units(bad) == {("cli", 2), ("pipeline", 3)}
    assert RANK["cli"] > RANK["state"] and RANK["pipeline"] > RANK["state"]
