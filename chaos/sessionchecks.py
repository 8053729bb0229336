"""Session mode's invariants, from broker truth only: the gateway's journal (every client's order
events, each stamped with the session clock's ``sim_ts``) and its orders (``state``: ``tif``,
``outside_rth``). Ours are the orders of an orchestrator (not the trader's client 0) with a plan's
orderRef.

* ``no_fill_while_closed``: none of our orders fills while its contract's market is closed (XNYS
  for stocks, CME Globex's hours for futures) unless it may work outside regular hours
  (``outsideRth``, and not a market order).
* ``no_entry_in_maintenance``: none of our entries is placed inside the maintenance window.
* ``day_orders_end_at_close``: none of our DAY orders fills, triggers or is modified after the
  close that ended its day, and none is working once a close has passed.

Slack, in simulated seconds: a journal line is stamped a moment after the book decided (at 360x
a few real milliseconds are a second or two). The engine's clock follows IB's by polling, so it
may lag IB's by up to about a real second (``[clock] source = "broker"``: a fresh process runs at
rate 1 until two polls agree on the gateway's rate); an entry it activated just before the window
by its clock can reach the gateway just inside it. ``MAINTENANCE_SLACK`` real seconds at each
edge of the window are therefore not judged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from machines import Leg

from .hand import TRADER_CLIENT
from .invariants import WORKING, Violation, leg_of
from .sessiontime import Hours, Timeline

FILL_SLACK = 0.05          # real seconds between the book's decision and the journal's stamp
MAINTENANCE_SLACK = 1.0    # real seconds of the engine's clock lagging IB's
ACTIVITY = ("filled", "triggered", "activated", "modified")


def ours(e: dict[str, Any]) -> bool:
    return e.get("client_id") != TRADER_CLIENT and leg_of(e.get("order_ref") or "") is not None


def _at(e: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(e["sim_ts"]) if e.get("sim_ts") else None


def _describe(e: dict[str, Any], t: datetime) -> str:
    return f"{e.get('order_ref')} {e.get('order_type')} {e['event']} at {t:%Y-%m-%d %H:%M:%S} UTC"


def no_fill_while_closed(journal: Iterable[dict[str, Any]], orders: list[dict[str, Any]], hours: Hours,
                         futures: set[str], speed: float) -> list[Violation]:
    may = {o["perm_id"]: bool(o.get("outside_rth")) and o.get("order_type") != "MKT" for o in orders}
    slack = timedelta(seconds=FILL_SLACK * speed)
    out = []
    for e in journal:
        t = _at(e)
        if e.get("event") != "filled" or t is None or not ours(e) or may.get(e.get("perm_id"), False):
            continue
        future = e.get("symbol") in futures
        if not hours.is_open(t, future=future) and not hours.is_open(t - slack, future=future):
            out.append(Violation("no_fill_while_closed", _plan(e), f"{_describe(e, t)} @ {e.get('fill_price')}: "
                                 "the market was closed and the order had no outsideRth"))
    return out


def no_entry_in_maintenance(journal: Iterable[dict[str, Any]], timeline: Timeline) -> list[Violation]:
    margin = MAINTENANCE_SLACK * timeline.speed
    seen: set[object] = set()
    out = []
    for e in journal:
        t = _at(e)
        if e.get("event") != "placed" or t is None or not ours(e) or leg_of(e.get("order_ref") or "") is not Leg.ENTRY:
            continue
        if e.get("perm_id") in seen:
            continue
        seen.add(e.get("perm_id"))
        if timeline.in_window(t, margin):
            a, b = timeline.window
            out.append(Violation("no_entry_in_maintenance", _plan(e), f"{_describe(e, t)}: inside the maintenance "
                                 f"window {a:%H:%M}-{b:%H:%M} UTC"))
    return out


def day_orders_end_at_close(journal: list[dict[str, Any]], orders: list[dict[str, Any]], timeline: Timeline,
                            now: datetime) -> list[Violation]:
    """``now``: the gateway's time when the orders were read."""
    day = {o["perm_id"] for o in orders if o.get("tif") == "DAY"}
    slack = timedelta(seconds=FILL_SLACK * timeline.speed)
    ends: dict[object, datetime] = {}
    out = []
    for e in journal:
        t, perm = _at(e), e.get("perm_id")
        if t is None or perm not in day or not ours(e):
            continue
        if perm not in ends:
            ends[perm] = timeline.close_after(t)
        elif e.get("event") in ACTIVITY and t > ends[perm] + slack:
            out.append(Violation("day_orders_end_at_close", _plan(e), f"{_describe(e, t)}: a DAY order, after the "
                                 f"close at {ends[perm]:%Y-%m-%d %H:%M} UTC"))
    for o in orders:
        end = ends.get(o["perm_id"])
        if o["perm_id"] in day and end is not None and end < now and o["status"] in WORKING and ours(o):
            out.append(Violation("day_orders_end_at_close", _plan(o), f"{o.get('order_ref')} {o.get('order_type')} "
                                 f"DAY still {o['status']} at {now:%Y-%m-%d %H:%M} UTC, after the close at "
                                 f"{end:%Y-%m-%d %H:%M} UTC"))
    return out


def fills_at_open(journal: Iterable[dict[str, Any]], timeline: Timeline) -> int:
    """Fills of ours in the first simulated minute of a session after the first (the open's
    price: a gap through a stop or a target, an order held for the open)."""
    opens = (timeline.open2, *(o for o, _c in timeline.later))
    minute = timedelta(minutes=1)
    return sum(1 for e in journal if e.get("event") == "filled" and ours(e) and (t := _at(e)) is not None
               and any(o <= t < o + minute for o in opens))


def _plan(e: dict[str, Any]) -> str | None:
    ref = str(e.get("order_ref") or "")
    return ref.split(":", 1)[0] if ":" in ref else None
