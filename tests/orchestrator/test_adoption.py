"""Adopting a plan from IB's evidence: what the Adopt event says, from hand-built views."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal as D

from machines import Leg
from orchestrator.adoption import adopt_event
from orchestrator.broker.port import BrokerFill
from orchestrator.ownership import Trace

from ..fakes import order

T = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def _filled(o: object, qty: int, price: str) -> object:
    return dataclasses.replace(o, filled=qty, remaining=o.total - qty, avg_fill_price=D(price))  # type: ignore[type-var]


def _fill(leg: Leg, qty: int, price: str, exec_id: str) -> BrokerFill:
    return BrokerFill(exec_id, f"P:{leg.value}", "P", leg, qty, D(price), T)


def test_an_entry_filled_on_an_earlier_day_is_adopted_from_the_orders_own_fill_count() -> None:
    entry = _filled(order("P:entry", "MKT", "Filled", 222, action="BUY"), 222, "180.00")
    stop = order("P:stop", "STP", "PreSubmitted", 222, stop=171.0)
    e = adopt_event(Trace("P", working=[stop], completed=[entry]), T)
    assert (e.quantity, e.entry_qty, e.entry_price, e.exit_qty, e.entry_done) == (222, 222, D("180.00"), 0, True)


def test_todays_executions_are_left_to_reconciliation_and_only_the_rest_is_adopted() -> None:
    entry = _filled(order("P:entry", "LMT", "Submitted", 300, action="BUY"), 200, "99.50")
    trace = Trace("P", working=[entry], fills=[_fill(Leg.ENTRY, 150, "99.50", "x1")])
    e = adopt_event(trace, T)
    assert (e.quantity, e.entry_qty, e.entry_done) == (300, 50, False)   # 200 filled, 150 of it seen today
    trace.fills.append(_fill(Leg.ENTRY, 50, "99.50", "x2"))
    e = adopt_event(trace, T)
    assert e.entry_qty == 0 and e.entry_price is None                      # all of it is in today's executions


def test_with_no_entry_order_left_the_working_exits_say_what_is_held() -> None:
    stop = order("P:stop", "STP", "PreSubmitted", 100, stop=95.0)
    target = _filled(order("P:target", "LMT", "Submitted", 140, limit=110.0), 40, "110.00")
    e = adopt_event(Trace("P", working=[stop, target]), T)
    assert (e.quantity, e.entry_qty, e.entry_price) == (140, 140, None)    # 100 still held + 40 sold
    assert (e.exit_qty, e.exit_price) == (40, D("110.00"))
