"""The shape of the code: imports run one way, functions stay short, no aliased probatio."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    "custom_components.openai_api": REPO / "custom_components" / "openai_api",
    "simulator": REPO / "simulator",
}
MAX_FUNCTION_LINES = 50


def _modules(package: str, root: Path) -> dict[str, Path]:
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join([package, *parts])] = path
    return modules


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the same package `module` imports, wherever the import stands.

    Imports inside functions and under TYPE_CHECKING count too: hiding a cycle is not
    removing it.
    """
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join([*anchor, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            # `from . import x` names module x when there is one, else a name in the package.
            candidates = [
                f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target
                for alias in node.names
            ]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # `from .a import b` names module a (b is a name in it).
            name = candidate
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_run_one_way(package: str) -> None:
    modules = _modules(package, PACKAGES[package])
    known = set(modules)
    # A package's __init__ importing its own submodules is not a cycle by itself; a submodule
    # importing its package's __init__ back is.
    graph = {m: _imports(m, p, known) for m, p in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_functions_are_short() -> None:
    long = []
    for path in PACKAGES["custom_components.openai_api"].rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length})")
    assert long == []


def test_probatio_is_imported_as_itself() -> None:
    """As HA core writes it: `import probatio`, not `import probatio as vol`."""
    aliased = [
        str(path.relative_to(REPO))
        for path in PACKAGES["custom_components.openai_api"].rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name in ("probatio", "voluptuous") and alias.asname
    ]
    assert aliased == []


_TOP_LEVEL = {"simulator", "devtools", "blueprints", "benchmarks", "scripts", "tests"}


def _readme_layout() -> str:
    """The code block under the README's `### Layout` heading of the development section."""
    readme = (REPO / "README.md").read_text()
    section = readme.rsplit("### Layout", 1)[1]
    return section.split("```", 2)[1]


def test_readme_layout_names_every_module_of_the_integration() -> None:
    """Each module and package of the integration is in the README's layout, and nothing else."""
    root = PACKAGES["custom_components.openai_api"]
    layout = _readme_layout()
    listed = {
        word.rstrip("/")
        for line in layout.splitlines()
        if (word := line.strip().split(" ", 1)[0]).endswith((".py", "/"))
    }
    present = {
        path.name
        for path in root.iterdir()
        if (path.suffix == ".py" or (path.is_dir() and path.name != "__pycache__"))
    }
    for package in ("realtime", "pipeline", "schema"):
        present |= {p.name for p in (root / package).glob("*.py") if p.name != "__init__.py"}
    listed -= {"custom_components/openai_api", *_TOP_LEVEL}
    assert present - listed == set(), "modules the layout does not name"
    assert listed - present == set(), "names in the layout that are not modules"
