"""state.db files for the console tests, written by the real Store and plan machine.

``build_store`` writes plans in several states through ``apply_event`` (so journal, fills,
outbox and plan rows are what the daemon writes), order intents as the executor records them,
and optionally the daemon's ``meta`` status document (CONTRACTS.md §1). Hostile strings (markup
in a plan id, a symbol, a reason, a blocked-symbol reason) test escaping everywhere.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import machines
from machines import PlanMachine
from orchestrator.engine.step import apply_event
from orchestrator.store import Store
from orchestrator.store.prices import iso

from ..orchestrator.factories import T0, at, lifecycle_events, spec

EVIL_ID = '<script>alert("id")</script>&\'"'
EVIL_SYMBOL = "<b>EV</b>"
EVIL_REASON = "<img src=x onerror=alert(1)> & more"
EVIL_BLOCK = "<script>alert('blocked')</script>"
TOKEN = "test-token-0123456789abcdef"


@dataclass(frozen=True)
class Built:
    url: str
    path: Path


def _run(store: Store, machine: PlanMachine, plan: Any, events: list[Any]) -> None:
    for event in events:
        apply_event(machine, store, plan, event, now=event.at)


def _bracket(store: Store, plan_id: str, qty: int, stop: str, target: str, when: datetime) -> None:
    store.record_intents([
        {"order_ref": f"{plan_id}:entry", "plan_id": plan_id, "leg": "entry", "order_id": 10, "action": "BUY",
         "order_type": "MKT", "quantity": qty},
        {"order_ref": f"{plan_id}:target", "plan_id": plan_id, "leg": "target", "order_id": 11, "action": "SELL",
         "order_type": "LMT", "quantity": qty, "lmt_price": D(target), "parent_ref": f"{plan_id}:entry"},
        {"order_ref": f"{plan_id}:stop", "plan_id": plan_id, "leg": "stop", "order_id": 12, "action": "SELL",
         "order_type": "STP", "quantity": qty, "aux_price": D(stop), "parent_ref": f"{plan_id}:entry"},
    ], at=when)


def daemon_doc(now: datetime, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "pid": 4242, "host": "trader-box", "started_at": iso(now - timedelta(hours=1)),
        "heartbeat_at": iso(now - timedelta(seconds=2)), "stopped_at": None, "connected": True,
        "ib_host": "127.0.0.1", "ib_port": 4002, "account": "DU123456", "client_id": 7,
        "base_currency": "USD", "market_data": {"AAPL": "live", "MSFT": "delayed", EVIL_SYMBOL: "none"},
        "entries_paused": False, "paused_symbols": ["TSLA"], "blocked_symbols": {"SPY": EVIL_BLOCK},
        "open_risk": "2000.00", "open_risk_cap": "10000.00", "account_value": "100000.00",
    }
    doc.update(changes)
    return doc


def build_store(folder: Path, *, daemon: dict[str, Any] | None = None) -> Built:
    path = folder / "state.db"
    url = f"sqlite:///{path}"
    store = Store(url)
    machine = PlanMachine()
    try:
        closed = machine.bind(store.insert_plan(spec("AAPL-TRAIL", trail=("1", "2.00")), at=at(0)))
        _bracket(store, "AAPL-TRAIL", 500, "176.00", "188.00", at(1))
        _run(store, machine, closed, lifecycle_events())

        live = machine.bind(store.insert_plan(spec("MSFT-LIVE", symbol="MSFT", entry="400.00", stop="390.00",
                                                   target="420.00", trail=("1", "5.00")), at=at(10)))
        _bracket(store, "MSFT-LIVE", 200, "390.00", "420.00", at(11))
        _run(store, machine, live, [
            machines.Activate(at(11), D(100000), D(200000), D(0), market_price=D("400.00")),
            machines.EntryAccepted(at(12), 20, 2000),
            machines.EntryFilled(at(13), "m-1", 200, D("400.00")),
            machines.ProtectionStatus(at(14), 200, 200, D("390.00"), D("420.00")),
            machines.PriceUpdate(at(15), D("412.00")),  # 1.2R: the trail wants the stop at 407
        ])

        store.insert_plan(spec("TSLA-WAIT", symbol="TSLA", entry="250.00", stop="240.00", target="270.00"), at=at(20))

        rejected = machine.bind(store.insert_plan(spec("SPY-BIG", symbol="SPY", entry="590.00", stop="560.00",
                                                       target="650.00"), at=at(21)))
        _run(store, machine, rejected,
             [machines.Activate(at(22), D(100000), D(200000), D(9900), market_price=D("590.00"))])

        evil = machine.bind(store.insert_plan(spec(EVIL_ID, symbol=EVIL_SYMBOL), at=at(30)))
        _run(store, machine, evil, [machines.CancelRequested(at(31), reason=EVIL_REASON)])
        if daemon is not None:
            store.set_meta("daemon", json.dumps(daemon))
    finally:
        store.close()
    return Built(url, path)


def write(path: Path, sql: str, args: tuple[Any, ...] = ()) -> None:
    """One committed write from another connection, as the daemon would make it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(sql, args)
    finally:
        conn.close()


def _command_columns(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[1] for r in conn.execute("PRAGMA table_info(commands)")}
    finally:
        conn.close()


def add_contract_command_columns(path: Path) -> None:
    """The ``commands`` columns of schema 2 (CONTRACTS.md §2), where the store has not got them."""
    for name in {"args", "origin"} - _command_columns(path):
        write(path, f"ALTER TABLE commands ADD COLUMN {name} TEXT")


def drop_contract_command_columns(path: Path) -> None:
    """A ``commands`` table as schema 1 made it (no ``args``/``origin``), whatever made this store."""
    for name in {"args", "origin"} & _command_columns(path):
        write(path, f"ALTER TABLE commands DROP COLUMN {name}")


__all__ = ["T0", "TOKEN", "Built", "build_store", "daemon_doc", "write"]
