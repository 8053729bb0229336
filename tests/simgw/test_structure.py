"""The simulated gateway's module graph: no import cycle, nothing imported from the orchestrator.

Every import counts, wherever it is written: at the top, inside a function, or under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import orchestrator.simgw

PACKAGE = Path(orchestrator.simgw.__file__).parent
MAX_LINES = 300


def _imports(path: Path) -> set[str]:
    """The sibling modules (of ``simgw``) a module imports; raises on an import from outside it."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert not (node.module or "").startswith(("orchestrator", "machines")), (
                    f"{path.name} imports {node.module}: simgw must import nothing from the orchestrator")
                continue
            assert node.level == 1, f"{path.name} imports from outside simgw (level {node.level})"
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith(("orchestrator", "machines")), (
                    f"{path.name} imports {alias.name}: simgw must import nothing from the orchestrator")
    return out


def _graph() -> dict[str, set[str]]:
    return {p.stem: _imports(p) for p in PACKAGE.glob("*.py")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_among_the_gateway_modules() -> None:
    graph = {name: deps for name, deps in _graph().items() if name not in ("__init__", "__main__")}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"gateway": {"handlers"}, "handlers": {"ports"}, "ports": {"gateway"}}) == [
        "gateway", "handlers", "ports", "gateway"]


def test_every_module_is_under_300_lines() -> None:
    long = {p.name: n for p in PACKAGE.glob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= {"book.py"}, f"modules over {MAX_LINES} lines: {long}"
