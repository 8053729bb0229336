"""What the pages show, computed from rows (pure; no I/O, no HTML).

- :func:`daemon_view`: the ``meta`` ``daemon`` document (CONTRACTS.md §1) read with "unknown"
  for every missing field, and *running* judged as the contract says (not stopped, heartbeat at
  most 15 s old).
- :func:`plan_line`: one plan's figures for the tables: position, confirmed stop, unrealised
  P&L at the last journaled price, realised P&L net of the commissions the store has.
- :func:`order_checks`: the plan's orders as the ``orders`` table records them, next to what the
  plan expects of each leg now, with every difference named.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from machines import TERMINAL_STATES

from ..store.read import daemon_running, heartbeat_age
from . import data

UNKNOWN = "unknown"
WORKING = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted"})
Row = Any


def daemon_view(doc: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    if doc is None:
        return {"known": False, "running": None, "doc": {}}
    age = heartbeat_age(doc, now)
    running = daemon_running(doc, now)
    risk, cap = doc.get("open_risk"), doc.get("open_risk_cap")
    try:
        share = float(Decimal(str(risk)) / Decimal(str(cap)) * 100) if risk is not None and cap else None
    except ArithmeticError:
        share = None
    market = doc.get("market_data")
    blocked = doc.get("blocked_symbols")
    paused = doc.get("paused_symbols")
    return {
        "known": True, "running": running, "heartbeat_age": age, "doc": doc,
        "started_at": doc.get("started_at") or UNKNOWN, "stopped_at": doc.get("stopped_at"),
        "connected": doc.get("connected"), "account": doc.get("account") or UNKNOWN,
        "ib": f"{doc['ib_host']}:{doc['ib_port']}" if doc.get("ib_host") and doc.get("ib_port") else UNKNOWN,
        "market_data": market if isinstance(market, dict) else {},
        "open_risk": risk if risk is not None else UNKNOWN, "open_risk_cap": cap if cap is not None else UNKNOWN,
        "risk_share": share, "entries_paused": doc.get("entries_paused"),
        "paused_symbols": paused if isinstance(paused, list) else [],
        "blocked_symbols": blocked if isinstance(blocked, dict) else {},
        "base_currency": doc.get("base_currency") or "",
    }


def _dec(text: Any) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def plan_line(r: Row, last: Decimal | None, costs: tuple[Decimal, bool] | None) -> dict[str, Any]:
    """The figures of one plan row for the overview and list tables."""
    sign = 1 if r.side == "long" else -1
    open_qty = data.open_qty(r)
    entry = _dec(r.avg_entry_price)
    unrealised = (last - entry) * open_qty * sign if last is not None and entry is not None and open_qty else None
    paid, complete = costs or (Decimal(0), True)
    pnl = _dec(r.realized_pnl)
    realised = pnl - paid if pnl is not None and int(r.exited_qty or 0) > 0 else None
    return {"row": r, "open_qty": open_qty, "last": last, "unrealised": unrealised, "realised": realised,
            "commissions": paid, "commissions_complete": complete,
            "stop": r.confirmed_stop_price, "wanted_stop": r.stop_price, "terminal": r.state in TERMINAL_STATES}


def _expected(plan: Row) -> dict[str, dict[str, Any]]:
    long = plan.side == "long"
    entry_action, exit_action = ("BUY", "SELL") if long else ("SELL", "BUY")
    open_qty = data.open_qty(plan)
    exit_qty = open_qty if int(plan.filled_qty or 0) else int(plan.quantity or 0)
    etype = {"market": "MKT", "limit": "LMT", "stop": "STP"}.get(plan.entry_type, plan.entry_type)
    entry: dict[str, Any] = {"action": entry_action, "order_type": etype, "quantity": int(plan.quantity or 0)}
    if etype == "LMT":
        entry["lmt_price"] = plan.entry_price
    if etype == "STP":
        entry["aux_price"] = plan.entry_price
    return {"entry": entry,
            "stop": {"action": exit_action, "order_type": "STP", "quantity": exit_qty, "aux_price": plan.stop_price},
            "target": {"action": exit_action, "order_type": "LMT", "quantity": exit_qty,
                       "lmt_price": plan.target_price}}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except ArithmeticError:
        return str(a) == str(b)


def order_checks(plan: Row, orders: Sequence[Row]) -> list[dict[str, Any]]:
    """Each recorded order with the plan's expectation for its leg and the differences found.

    Only the latest attempt of a leg is compared with the plan (earlier ones are history); any
    order still working at IB on an ended plan is a difference whatever its leg.
    """
    expected = _expected(plan)
    latest: dict[str, int] = {}
    for o in orders:
        latest[o.leg] = max(latest.get(o.leg, 0), int(o.attempt or 1))
    ended = plan.state in TERMINAL_STATES
    out = []
    for o in orders:
        want = expected.get(o.leg) if int(o.attempt or 1) == latest[o.leg] else None
        problems = []
        if ended and o.status in WORKING:
            problems.append(f"still {o.status} at IB although the plan is {plan.state}")
        if want is not None and not ended:
            for key, value in want.items():
                if not _same(getattr(o, key, None), value):
                    problems.append(f"{key} {getattr(o, key, None)} but the plan expects {value}")
        out.append({"order": o, "expected": want, "problems": problems})
    return out


def timeline(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal newest first: each state change on its own, each run of internal events
    (same state before and after: prices, protection checks) folded into one entry."""
    out: list[dict[str, Any]] = []
    for rec in reversed(list(records)):
        if rec["from"] != rec["to"] or rec["from"] is None:
            out.append({"change": True, "entry": rec})
        elif out and not out[-1]["change"]:
            out[-1]["events"].append(rec)
        else:
            out.append({"change": False, "events": [rec]})
    for item in out:
        if not item["change"]:
            counts: dict[str, int] = {}
            for rec in item["events"]:
                counts[rec["event"]] = counts.get(rec["event"], 0) + 1
            item["summary"] = ", ".join(f"{name} ×{n}" for name, n in counts.items())
    return out
