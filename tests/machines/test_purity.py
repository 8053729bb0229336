"""machines/ is pure: it imports only the standard library and transitions, reads no clock,
no environment and no randomness, and does no I/O. Checked on the source (AST), file by file,
so a new module is covered the day it is added. Plus the package's public names, pinned."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import machines

MACHINES_DIR = Path(machines.__file__).parent
SOURCES = sorted(MACHINES_DIR.rglob("*.py"))

# Standard-library modules that are I/O, clocks, randomness, processes or the environment.
FORBIDDEN_STDLIB = {
    "asyncio", "concurrent", "ctypes", "glob", "http", "importlib", "io", "logging", "multiprocessing",
    "os", "pathlib", "pickle", "platform", "random", "secrets", "select", "selectors", "shelve", "shutil",
    "signal", "socket", "sqlite3", "ssl", "subprocess", "sys", "tempfile", "threading", "time", "urllib",
    "uuid", "warnings", "zoneinfo",
}
THIRD_PARTY_ALLOWED = {"transitions"}

# Calls and attributes that read the clock, the environment or randomness, whatever the import.
FORBIDDEN_ATTRIBUTES = {
    "now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp",   # datetime / date
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "process_time",  # time
    "environ", "getenv", "putenv", "urandom",                          # os
}
FORBIDDEN_NAMES = {"open", "print", "input", "exec", "eval", "compile", "__import__", "breakpoint"}


def _module_of(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:            # relative: inside machines/
        return []
    return [node.module or ""]


def test_there_is_something_to_check() -> None:
    names = {p.name for p in SOURCES}
    assert {"__init__.py", "values.py", "events.py", "effects.py", "plan.py", "rules.py", "table.py",
            "machine.py", "instruments.py", "money.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_imports_only_stdlib_and_transitions(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for module in _module_of(node):
                top = module.split(".")[0]
                if top in THIRD_PARTY_ALLOWED or top == "__future__":
                    continue
                if top not in sys.stdlib_module_names or top in FORBIDDEN_STDLIB:
                    bad.append(f"{path.name}:{node.lineno}: import {module}")
    assert bad == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_reads_no_clock_environment_or_randomness(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            bad.append(f"{path.name}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES | FORBIDDEN_ATTRIBUTES:
            bad.append(f"{path.name}:{node.lineno}: {node.id}")
        elif isinstance(node, ast.ImportFrom) and not node.level:
            for alias in node.names:
                if alias.name in FORBIDDEN_ATTRIBUTES or alias.name in FORBIDDEN_NAMES:
                    bad.append(f"{path.name}:{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bad.append(f"{path.name}:{node.lineno}: {type(node).__name__.lower()} state")
    assert bad == []


def test_the_checks_catch_what_they_claim() -> None:
    """The checker itself, on a small impure sample (so a broken checker cannot pass silently)."""
    sample = (
        "import os\nimport time\nimport ib_async\nfrom datetime import datetime\n"
        "x = datetime.now()\ny = os.environ['X']\nz = time.time()\nimport random\n"
        "from os import getenv\nopen('f')\n"
    )
    tree = ast.parse(sample)
    imports = [m.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
               for m in _module_of(n)]
    flagged = [m for m in imports if m not in THIRD_PARTY_ALLOWED
               and (m not in sys.stdlib_module_names or m in FORBIDDEN_STDLIB)]
    assert flagged == ["os", "time", "ib_async", "random", "os"]
    attrs = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in FORBIDDEN_ATTRIBUTES]
    assert sorted(attrs) == ["environ", "now", "time"]
    assert any(isinstance(n, ast.Name) and n.id == "open" for n in ast.walk(tree))


def test_importing_machines_pulls_in_nothing_impure() -> None:
    """At run time too: a fresh interpreter importing machines loads no I/O client library."""
    import subprocess
    code = ("import sys, machines; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'ib_async', 'ib_insync', 'httpx', 'sqlalchemy', 'sqlmodel', 'apscheduler', 'orchestrator', "
            "'pydantic', 'rich', 'tenacity'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=MACHINES_DIR.parent)
    assert out.stdout.strip() == "[]"


EXPECTED_ALL = [
    "Activate", "Adopt", "CancelEntry", "CancelExits", "CancelRequested", "CommissionCharged", "EFFECT_TYPES",
    "EVENT_BY_TRIGGER", "EVENT_TYPES", "Effect", "EntryAccepted", "EntryCancelled", "EntryFilled", "EntryPrice",
    "EntryRejected", "EntryType", "EntryUnseen", "Event", "ExitFilled", "Expire", "FIGURES", "Fault", "Flatten",
    "FlattenFailed",
    "Hold", "InvalidEvent", "LIVE_POSITION", "LIVE_STATES", "Leg", "ModifyStop", "Notify", "NotifyKind",
    "PlaceBracket", "Plan", "PlanError", "PlanMachine", "PlanSpec", "PositionShortfall", "PriceUpdate", "Protect",
    "ProtectionFailed", "ProtectionStatus", "RiskCategory", "RiskLimits", "Side", "SizedAgain", "SizingDecision",
    "SizingError",
    "State", "StopModified", "StopModifyRejected", "TERMINAL_STATES", "TRANSITIONS", "TraderExits", "TrailRetry",
    "UNFILLED_WORKING", "US_STOCK_TICK", "Unprotected", "build_machine", "decide_size", "entry_reference",
    "guard_names",
    "next_trailing_stop", "open_risk", "order_ref", "parse_order_ref", "plan_risk", "position_size",
    "risk_per_share", "round_to_tick", "sent_a_stop_back", "triggers", "validate_plan_fields",
]
# instruments and money (machines/instruments.py, machines/money.py)
EXPECTED_ALL = sorted(EXPECTED_ALL + [
    "CONTINUOUS_FUTURE", "Instrument", "InstrumentPlanSpec", "MarketRule", "PriceLevel", "PriceRole", "SecType",
    "US_STOCK", "US_STOCK_RULE", "contract_key", "fx_rate", "known_rule", "pair_rate", "parse_contract_key",
    "pnl_in_base", "risk_budget", "risk_in_base",
    "round_price", "size_in_base", "value_in_base",
    "SESSION_FIELDS",  # exchange sessions: the spec's session fields and their defaults
    "EntryRefused", "cap_refusal", "entry_cap", "past_cap",  # a market entry's price cap (machines/entrycap.py)
])


def test_public_names_are_pinned() -> None:
    assert machines.__all__ == sorted(machines.__all__)
    assert machines.__all__ == EXPECTED_ALL
    for name in machines.__all__:
        assert hasattr(machines, name), name
    namespace: dict[str, object] = {}
    exec("from machines import *", namespace)  # noqa: S102 - checking the star-import surface
    assert sorted(k for k in namespace if k != "__builtins__") == EXPECTED_ALL


def test_event_and_effect_types_are_frozen_value_objects() -> None:
    import dataclasses
    for cls in (*machines.EVENT_TYPES, *machines.EFFECT_TYPES, machines.PlanSpec, machines.RiskLimits):
        assert dataclasses.is_dataclass(cls), cls
        assert cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
    triggers = [cls.TRIGGER for cls in machines.EVENT_TYPES]
    assert len(triggers) == len(set(triggers))
    for cls in machines.EVENT_TYPES:
        assert [f.name for f in dataclasses.fields(cls)][0] == "at", cls
