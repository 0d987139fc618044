"""The simulator's code stays easy to follow: imports run one way, functions stay short."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIMULATOR = Path(__file__).resolve().parents[1] / "simulator"
LONGEST_FUNCTION = 50  # lines


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text()) for p in sorted(SIMULATOR.glob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    """Sibling modules a module imports (`from . import x`, `from .x import y`)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(alias.name for alias in node.names)
    return out


def test_imports_run_one_way() -> None:
    """No module imports, directly or not, a module that imports it."""
    graph = {name: _imports(tree) for name, tree in _modules().items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [name for name in graph if reaches(name, name, {name})]
    assert cycles == []


@pytest.mark.parametrize("name", sorted(p.stem for p in SIMULATOR.glob("*.py")))
def test_no_imports_inside_functions(name: str) -> None:
    tree = _modules()[name]
    hidden = [
        (func.name, inner.lineno)
        for func in ast.walk(tree)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(func)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]
    assert hidden == []


def test_functions_are_short() -> None:
    long = [
        f"{name}.{func.name}: {func.end_lineno - func.lineno + 1} lines"
        for name, tree in _modules().items()
        for func in ast.walk(tree)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        and func.end_lineno is not None
        and func.end_lineno - func.lineno + 1 > LONGEST_FUNCTION
    ]
    assert long == []
