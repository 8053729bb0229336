"""state.db files with many live plans, built fast: a few hundred plans through the real store
API and machine (``Store.insert_plan`` + ``apply_event``, one transaction), then copied row by
row in SQL (new ids, the same figures, their fills too) up to the size wanted.

* ``mixed``: live plans in every live state (pending with a start in 2099, sized, submitted,
  filled, protected, trailing), half with an ``expire_at``, all trailing: the restart and memory
  worlds (P3, P4).
* ``pending``: plans waiting for a start in 2099: the live plans a P1 world carries besides the
  few it fills.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import machines
from orchestrator.clock import SystemClock
from orchestrator.engine.step import apply_event
from orchestrator.store import Store

from .common import FAR_FUTURE, spec

SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "SPY")
STATES = ("pending", "sized", "submitted", "filled", "protected", "trailing")
BASE = 600  # plans built through the API; the rest are copies


def _events(now: object, i: int) -> list[object]:
    return [
        machines.Activate(now, D(100_000), D(100_000), D(0)),  # type: ignore[arg-type]
        machines.EntryAccepted(now, 10 + i, 1000 + i),  # type: ignore[arg-type]
        machines.EntryFilled(now, f"e{i}", 40, D("100.00")),  # type: ignore[arg-type]
        machines.EntryFilled(now, f"f{i}", 60, D("100.00")),  # type: ignore[arg-type]
        machines.ProtectionStatus(now, 100, 100, D("90.00"), D("130.00")),  # type: ignore[arg-type]
        machines.PriceUpdate(now, D("111.00")),  # type: ignore[arg-type]
    ]


STEPS = {"pending": 0, "sized": 1, "submitted": 2, "filled": 4, "protected": 5, "trailing": 6}


def mixed(path: Path, plans: int) -> None:
    store = Store(f"sqlite:///{path}")
    machine = machines.PlanMachine()
    now = SystemClock().now()
    with store.batch():
        for i in range(min(plans, BASE)):
            state = STATES[i % len(STATES)]
            s = spec(f"R{i:05d}", symbol=SYMBOLS[i % len(SYMBOLS)], stop="90.00", target="130.00",
                     trail=("1.0", "1.00"), start_at=FAR_FUTURE if state == "pending" else None,
                     expire_at=FAR_FUTURE + timedelta(hours=1) if i % 2 else None)
            plan = machine.bind(store.insert_plan(s, at=now))
            for event in _events(now, i)[:STEPS[state]]:
                apply_event(machine, store, plan, event, now=now)
            assert plan.state == state, (plan.id, plan.state)
    store.close()
    _copy(path, plans)


def pending(path: Path, plans: int, *, symbol: str = "AAPL") -> None:
    if plans <= 0:
        Store(f"sqlite:///{path}").close()
        return
    store = Store(f"sqlite:///{path}")
    now = SystemClock().now()
    with store.batch():
        for i in range(min(plans, BASE)):
            store.insert_plan(spec(f"W{i:05d}", symbol=symbol, stop="50.00", target="200.00", start_at=FAR_FUTURE),
                              at=now)
    store.close()
    _copy(path, plans)


def _copy(path: Path, plans: int) -> None:
    """Copy the stored plans (and their fills) under new ids until there are ``plans``."""
    db = sqlite3.connect(path, isolation_level=None)
    base = db.execute("SELECT count(*) FROM plans").fetchone()[0]
    cols = [r[1] for r in db.execute("PRAGMA table_info(plans)")]
    fill_cols = [r[1] for r in db.execute("PRAGMA table_info(fills)")]
    select = ", ".join("id || ?" if c == "id" else c for c in cols)
    fill_select = ", ".join("exec_id || ?" if c == "exec_id" else "plan_id || ?" if c == "plan_id" else c
                            for c in fill_cols)
    db.execute("BEGIN IMMEDIATE")
    copy, left = 0, plans - base
    while left > 0:
        copy += 1
        n = min(left, base)
        suffix = f"-{copy}"
        db.execute(f"INSERT INTO plans({', '.join(cols)}) SELECT {select} FROM plans "
                   f"WHERE id NOT LIKE '%-%' ORDER BY id LIMIT ?", (suffix, n))
        ordered = [suffix for c in fill_cols if c in ("exec_id", "plan_id")]   # the ? of fill_select, in order
        db.execute(f"INSERT INTO fills({', '.join(fill_cols)}) SELECT {fill_select} FROM fills "
                   f"WHERE plan_id IN (SELECT id FROM plans WHERE id NOT LIKE '%-%' ORDER BY id LIMIT ?)",
                   (*ordered, n))
        left -= n
    db.execute("COMMIT")
    db.close()
