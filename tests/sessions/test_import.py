"""Importing orchestrator.sessions stays cheap and pure: no calendar library, no clock, no broker client."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "orchestrator" / "sessions"
HEAVY = ("exchange_calendars", "pandas", "numpy", "ib_async")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.split()


def test_import_loads_no_calendar_library_pandas_or_ib_async() -> None:
    assert loaded_after("import orchestrator.sessions") == []


def test_import_opens_no_file_but_python_modules() -> None:
    """Not even a time zone file: zones are loaded when first used."""
    code = ("def hook(event, args):\n"
            "    if event == 'open' and isinstance(args[0], str) and not args[0].endswith(('.py', '.pyc')):\n"
            "        print('opened', args[0])\n"
            "sys.addaudithook(hook)\n"
            "import orchestrator.sessions")
    assert loaded_after(code) == []


def test_the_first_calendar_use_loads_it() -> None:
    code = ("import datetime, orchestrator.sessions as s\n"
            "s.sessions_from_calendar('XNYS', datetime.date(2026, 1, 1), datetime.date(2026, 1, 31))")
    assert loaded_after(code) == ["exchange_calendars", "pandas", "numpy"]


def test_no_clock_reads_no_io_no_broker_in_the_package() -> None:
    """Every time comes in as an argument: no now()/today(), no open(), no time/os/io/socket, no ib_async."""
    forbidden_modules = ("ib_async", "time", "os", "io", "pathlib", "socket", "subprocess", "sqlite3")
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute) and node.func.attr in {"now", "today", "utcnow"}:
                    found.append(f"{path.name}:{node.lineno}: {node.func.attr}()")
                if isinstance(node.func, ast.Name) and node.func.id == "open":
                    found.append(f"{path.name}:{node.lineno}: open()")
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                found += [f"{path.name}:{node.lineno}: import {m}" for m in modules
                          if m.split(".")[0] in forbidden_modules]
    assert found == []
