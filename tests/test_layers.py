"""The import graph of ``machines/`` and ``orchestrator/``: no cycles, and every import points
down the documented direction (README, "Design"):

    machines  ←  orchestrator core  ←  adapters  ←  entry points (composition root, CLI, console)

``orchestrator/simgw/`` stands apart: it imports nothing of the orchestrator outside itself, and
nothing but the entry points imports it. Every import counts — at module level, inside functions
(lazy) and under ``TYPE_CHECKING`` — because each one is a dependency a reader must follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("machines", "orchestrator")

# The layer of each module, by the longest matching prefix. Lower numbers are lower layers.
LAYERS: dict[str, int] = {
    "machines": 0,
    "orchestrator": 1,               # the package itself, errors, clock, config, plan files …
    "orchestrator.store": 1,
    "orchestrator.engine": 1,
    "orchestrator.broker.port": 1,
    "orchestrator.broker.codes": 1,
    "orchestrator.broker.evidence": 1,
    "orchestrator.broker": 2,        # the ib_async adapter
    "orchestrator.notify": 2,
    "orchestrator.bootstrap": 3,
    "orchestrator.startup": 3,
    "orchestrator.cli": 3,
    "orchestrator.__main__": 3,
    "orchestrator.demo": 3,
    "orchestrator.demoplans": 3,
    "orchestrator.render": 3,
    "orchestrator.console": 3,
    "orchestrator.report": 3,
}
SIMGW = "orchestrator.simgw"
# ib_async is the adapter's: no other module of the orchestrator may import it
IB_ASYNC_ALLOWED = ("orchestrator.broker.ib", "orchestrator.broker.orders", "orchestrator.broker.contracts",
                    "orchestrator.broker.pairquote")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, target] if target else base)


def imports_of(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """Every module of ours (and ib_async, as the name ``ib_async``) that ``module`` imports."""
    known = set(known)
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            # `from pkg import sub` depends on the submodule; `from pkg import name` on pkg
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for name in names:
            if name.split(".")[0] == "ib_async":
                out.add("ib_async")
                continue
            while name and name not in known:  # `import a.b.c` of a module we know as a.b
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    mods = modules(root)
    return {name: imports_of(name, path, mods) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in edges:
                continue
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def wrong_way(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for src, targets in sorted(edges.items()):
        for dst in sorted(targets):
            if dst == "ib_async":
                if src.startswith("orchestrator") and not src.startswith(SIMGW) and src not in IB_ASYNC_ALLOWED:
                    problems.append(f"{src} imports ib_async (only {', '.join(IB_ASYNC_ALLOWED)} may)")
                continue
            if src.startswith(SIMGW) or dst.startswith(SIMGW):
                inside = src.startswith(SIMGW) and dst.startswith(SIMGW)
                if not inside and (src.startswith(SIMGW) or layer(src) < 3):
                    problems.append(f"{src} imports {dst} (the simulated gateway stands apart)")
                continue
            if layer(dst) > layer(src):
                problems.append(f"{src} (layer {layer(src)}) imports {dst} (layer {layer(dst)})")
    return problems


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    assert len(edges) > 60  # the walk found the code base
    assert cycles(edges) == []


def test_every_import_points_down_the_layers() -> None:
    assert wrong_way(graph()) == []


def test_the_checks_see_lazy_and_type_checking_imports_and_would_fail(tmp_path: Path) -> None:
    """A cycle hidden in a function and one behind TYPE_CHECKING are both found; so is an
    import against the direction."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "orchestrator" / "a.py").write_text("def f():\n    from . import b\n")
    (tmp_path / "orchestrator" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n")
    (tmp_path / "orchestrator" / "cli.py").write_text("")
    (tmp_path / "machines" / "core.py").write_text("def g():\n    import orchestrator.cli\n")
    edges = graph(tmp_path)
    assert cycles(edges) == [["orchestrator.a", "orchestrator.b"]]
    assert wrong_way(edges) == ["machines.core (layer 0) imports orchestrator.cli (layer 3)"]


@pytest.mark.parametrize("module", sorted(n for n in modules() if n.startswith("orchestrator.engine")))
def test_engine_modules_stay_small(module: str) -> None:
    lines = len(modules()[module].read_text().splitlines())
    assert lines <= 300, f"{module} has {lines} lines"
