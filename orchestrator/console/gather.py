"""The page contexts, read on the store thread: ``fn(conn, …)`` → a dict for a template or the API.

Each function issues a handful of bounded queries (no query per row of a long list; the live
plans' last prices are one indexed lookup each) and leaves the arithmetic to :mod:`views`,
:mod:`chart` and :mod:`orchestrator.report`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from machines import State

from ..render import history_record, status_record
from ..report import build_report
from . import data
from .chart import chart_data
from .diagram import machine_svg, plan_path
from .views import daemon_view, order_checks, plan_line, timeline

RECENT_ENDED = 50
PAGE_SIZE = 200
STATE_ORDER = [s.value for s in State]


def _lines(conn: sqlite3.Connection, plans: list[Any], with_prices: bool) -> list[dict[str, Any]]:
    costs = data.commissions(conn, [p.id for p in plans if int(p.filled_qty or 0) > 0])
    out = []
    for p in plans:
        open_qty = data.open_qty(p)
        last = data.last_price(conn, p.id) if with_prices and open_qty else None
        out.append(plan_line(p, last, costs.get(p.id)))
    return out


def overview(conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
    live = data.live_plans(conn)
    counts = data.state_counts(conn)
    groups: dict[str, list[dict[str, Any]]] = {}
    for line in _lines(conn, live, with_prices=True):
        groups.setdefault(line["row"].state, []).append(line)
    return {
        "daemon": daemon_view(data.meta_json(conn, "daemon"), now),
        "live_groups": [(s, groups[s]) for s in STATE_ORDER if s in groups],
        "recent": _lines(conn, data.recent_ended(conn, RECENT_ENDED), with_prices=False),
        "counts": [(s, counts[s]) for s in STATE_ORDER if s in counts],
        "total": sum(counts.values()),
        "outbox": data.outbox_counts(conn),
        "commands": data.commands(conn, limit=10),
    }


def plans_list(conn: sqlite3.Connection, state: str | None, page: int) -> dict[str, Any]:
    counts = data.state_counts(conn)
    total = counts.get(state, 0) if state else sum(counts.values())
    rows = data.plans_in_state(conn, state, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return {"lines": _lines(conn, rows, with_prices=False), "state": state, "page": page, "total": total,
            "pages": max(1, -(-total // PAGE_SIZE)), "counts": [(s, counts[s]) for s in STATE_ORDER if s in counts]}


def plan_detail(conn: sqlite3.Connection, plan_id: str) -> dict[str, Any] | None:
    row = data.plan(conn, plan_id)
    if row is None:
        return None
    journal = data.journal(conn, plan_id)
    fills = data.fills(conn, plan_id)
    end = row.updated_at if row.state in data.TERMINAL else "9999-12-31T23:59:59+00:00"
    series = data.price_series(conn, row.symbol, row.created_at, end)
    line = _lines(conn, [row], with_prices=True)[0]
    return {
        "plan": row, "line": line, "record": status_record(row),
        "timeline": timeline([history_record(j) for j in journal]),
        "orders": order_checks(row, data.orders(conn, plan_id)),
        "fills": fills,
        "chart": chart_data(row, journal, fills, series),
        "diagram": machine_svg(row.state, plan_path((j.from_state, j.to_state) for j in journal)),
        "commands": data.commands(conn, plan_id=plan_id, limit=20),
    }


def api_plan(conn: sqlite3.Connection, plan_id: str) -> dict[str, Any] | None:
    row = data.plan(conn, plan_id)
    if row is None:
        return None
    record = status_record(row)
    record["journal"] = [history_record(j) for j in data.journal(conn, plan_id)]
    record["orders"] = [dict(vars(o)) for o in data.orders(conn, plan_id)]
    record["commands"] = data.commands(conn, plan_id=plan_id, limit=50)
    return record


def report(conn: sqlite3.Connection, since: datetime | None) -> Any:
    plans, fills = data.report_inputs(conn)
    return build_report(plans, fills, since)


def status(conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
    """``/api/status``: the daemon document (with ``running`` judged), plan counts, notifications."""
    view = daemon_view(data.meta_json(conn, "daemon"), now)
    counts = data.outbox_counts(conn)
    return {"daemon": {**view["doc"], "known": view["known"], "running": view["running"]},
            "plans": data.state_counts(conn),
            "notifications": {"pending": counts.pending, "dead": counts.dead, "sent": counts.sent}}
