"""The console's only way into state.db: read-only queries over one plain sqlite3 connection.

Opening goes through the CLI's read side (``open_readonly``: ``mode=ro``, schema and damage
checks, rows with columns as attributes) and plan rows become API objects through
``render.status_record``, so the console and ``status --json`` cannot drift apart. When the
read side moves, only the import below changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections import namedtuple
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from machines import LIVE_STATES, TERMINAL_STATES

from ..errors import StoreMissing
from ..render import status_record
from ..store import read as readside
from ..store.prices import PriceSeries, read_series

Row = readside.Row
open_readonly = readside.open_readonly
TERMINAL = tuple(sorted(s.value for s in TERMINAL_STATES))
_TERMINAL_SQL = "(" + ",".join(f"'{s}'" for s in TERMINAL) + ")"
_LIVE_SQL = "(" + ",".join(f"'{s.value}'" for s in sorted(LIVE_STATES)) + ")"  # IN, not NOT IN: the state index
PLAN_COLUMNS = ("id, symbol, side, state, entry_type, quantity, filled_qty, exited_qty, outside_qty, entry_price, "
                "avg_entry_price, stop_loss, stop_price, confirmed_stop_price, take_profit, target_price, "
                "avg_exit_price, realized_pnl, risk_amount, exit_reason, reason, created_at, updated_at")


def open_qty(plan: Row) -> int:
    """Shares the plan holds now: entry fills less exit fills and what left outside the orchestrator."""
    return int(plan.filled_qty or 0) - int(plan.exited_qty or 0) - int(getattr(plan, "outside_qty", 0) or 0)


def rows(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> list[Row]:
    return conn.execute(sql, tuple(args)).fetchall()


@lru_cache(maxsize=64)
def _record(names: tuple[str, ...]) -> Any:
    return namedtuple("Record", names)


def records(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> list[Any]:
    """Like :func:`rows` (columns as attributes) for long lists: named tuples cost a fraction of
    the read side's per-row namespace."""
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute(sql, tuple(args))
    make = _record(tuple(d[0] for d in cur.description))._make
    return [make(r) for r in cur.fetchall()]


def api_plans(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every plan as the ``status --json`` object."""
    return [status_record(r) for r in readside.plan_rows(conn)]


def plan(conn: sqlite3.Connection, plan_id: str) -> Row | None:
    return readside.plan_row(conn, plan_id)


def journal(conn: sqlite3.Connection, plan_id: str) -> list[Row]:
    return readside.journal_rows(conn, plan_id)


def orders(conn: sqlite3.Connection, plan_id: str) -> list[Row]:
    return rows(conn, "SELECT * FROM orders WHERE plan_id=? ORDER BY created_at, leg, attempt", (plan_id,))


def fills(conn: sqlite3.Connection, plan_id: str | None = None) -> list[Row]:
    if plan_id is None:
        return rows(conn, "SELECT * FROM fills ORDER BY at, exec_id")
    return rows(conn, "SELECT * FROM fills WHERE plan_id=? ORDER BY at, exec_id", (plan_id,))


def report_inputs(conn: sqlite3.Connection) -> tuple[list[Row], list[Row]]:
    """The plans that filled and every fill: what ``orchestrator.report.build_report`` needs."""
    return rows(conn, "SELECT * FROM plans WHERE filled_qty > 0 ORDER BY created_at, id"), fills(conn)


def read_report_inputs(url: str) -> tuple[list[Row], list[Row]]:
    """:func:`report_inputs` of the store at ``url`` (nothing before it exists), for the CLI."""
    try:
        conn = open_readonly(url)
    except StoreMissing:
        return [], []
    try:
        return report_inputs(conn)
    finally:
        conn.close()


def live_plans(conn: sqlite3.Connection) -> list[Row]:
    return records(conn, f"SELECT {PLAN_COLUMNS} FROM plans WHERE state IN {_LIVE_SQL} ORDER BY created_at, id")


def recent_ended(conn: sqlite3.Connection, limit: int) -> list[Row]:
    return records(conn, f"SELECT {PLAN_COLUMNS} FROM plans WHERE state IN {_TERMINAL_SQL} "
                         "ORDER BY updated_at DESC, id LIMIT ?", (limit,))


def plans_in_state(conn: sqlite3.Connection, state: str | None, limit: int, offset: int) -> list[Row]:
    where, args = ("WHERE state=?", [state]) if state else ("", [])
    return records(conn, f"SELECT {PLAN_COLUMNS} FROM plans {where} ORDER BY updated_at DESC, id LIMIT ? OFFSET ?",
                   [*args, limit, offset])


def state_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {r.state: int(r.n) for r in rows(conn, "SELECT state, count(*) AS n FROM plans GROUP BY state")}


def commissions(conn: sqlite3.Connection, plan_ids: Sequence[str]) -> dict[str, tuple[Decimal, bool]]:
    """plan id → (sum of recorded commissions, whether every fill has one), for plans with fills."""
    out: dict[str, tuple[Decimal, bool]] = {}
    ids = list(plan_ids)
    for i in range(0, len(ids), 900):  # under SQLite's bound-parameter limit
        chunk = ids[i:i + 900]
        marks = ",".join("?" * len(chunk))
        for r in rows(conn, "SELECT plan_id, count(*) AS n, count(commission) AS known, "
                            f"group_concat(commission, ' ') AS parts FROM fills WHERE plan_id IN ({marks}) "
                            "GROUP BY plan_id", chunk):
            total = sum((Decimal(p) for p in (r.parts or "").split()), Decimal(0))
            out[r.plan_id] = (total, r.n == r.known)
    return out


def last_price(conn: sqlite3.Connection, plan_id: str) -> Decimal | None:
    """The last price the daemon journaled for the plan (a PriceUpdate), or None."""
    found = rows(conn, "SELECT payload FROM journal WHERE plan_id=? AND event='PriceUpdate' "
                       "ORDER BY seq DESC LIMIT 1", (plan_id,))
    if not found:
        return None
    price = json.loads(found[0].payload).get("price")
    return None if price is None else Decimal(str(price))


def outbox_counts(conn: sqlite3.Connection) -> readside.OutboxCounts:
    return readside.outbox_counts(conn)


def meta_json(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    """A JSON object stored in ``meta`` (e.g. the daemon's status, CONTRACTS.md §1), or None."""
    found = rows(conn, "SELECT value FROM meta WHERE key=?", (key,))
    if not found:
        return None
    try:
        value = json.loads(found[0].value)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def command_columns(conn: sqlite3.Connection) -> set[str]:
    return {r.name for r in rows(conn, "PRAGMA table_info(commands)")}


def commands(conn: sqlite3.Connection, plan_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest trader commands, newest first (``args``/``origin`` where the schema has them)."""
    where, args = ("WHERE plan_id=?", [plan_id]) if plan_id is not None else ("", [])
    out = []
    for r in rows(conn, f"SELECT * FROM commands {where} ORDER BY id DESC LIMIT ?", [*args, limit]):
        d = dict(vars(r))
        d.setdefault("args", None)
        d.setdefault("origin", None)
        out.append(d)
    return out


def command(conn: sqlite3.Connection, command_id: int) -> dict[str, Any] | None:
    found = rows(conn, "SELECT * FROM commands WHERE id=?", (command_id,))
    if not found:
        return None
    d = dict(vars(found[0]))
    d.setdefault("args", None)
    d.setdefault("origin", None)
    return d


def price_series(conn: sqlite3.Connection, symbol: str, start: str, end: str) -> PriceSeries:
    return read_series(conn, symbol, start, end)


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits (``PRAGMA data_version``): the cheap change signal."""
    cur = conn.cursor()
    cur.row_factory = None
    return int(cur.execute("PRAGMA data_version").fetchone()[0])
