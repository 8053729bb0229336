"""The pure translation layer (ib_async objects → the port's views → machine events), on ib_async
objects built by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from ib_async import Execution, Fill, Order, OrderStatus, Stock, Trade, TradeLogEntry
from ib_async.objects import CommissionReport

import machines
from orchestrator.broker import evidence, translate
from orchestrator.broker.port import PlanEvent as Routed
from orchestrator.broker.port import Verify
from orchestrator.engine.protection import protection_status as _protection_status

T = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
AAPL = Stock("AAPL", "SMART", "USD", conId=265598)


def trade(ref: str, status: str, *, log: list[tuple[str, int, str]] | None = None, order_type: str = "STP",
          qty: float = 100, filled: float = 0, parent_id: int = 0, aux: float = 171.0, lmt: float = 189.0) -> Trade:
    order = Order(orderId=8, action="SELL", totalQuantity=qty, orderType=order_type, orderRef=ref,
                  auxPrice=aux, lmtPrice=lmt, parentId=parent_id, permId=555)
    st = OrderStatus(orderId=8, status=status, filled=filled, remaining=qty - filled, permId=555)
    entries = [TradeLogEntry(T, s, m, c) for s, c, m in (log or [(status, 0, "")])]
    return Trade(AAPL, order, st, [], entries)


def entry_status(t: Trade, at: datetime) -> object:
    view = translate.order_view(t)
    return None if view is None else evidence.entry_status(view, at)


def protective_failure(t: Trade, at: datetime) -> object:
    view = translate.order_view(t)
    return None if view is None else evidence.protective_failure(view, at)


def fill_event(f: Fill) -> object:
    view = translate.fill_view(f)
    return None if view is None else evidence.fill_event(view, own_client=7)


def protection_status(trades: list[Trade], plan_id: str, at: datetime, entry_filled: bool = False) -> object:
    views = [v for v in map(translate.order_view, trades) if v is not None and v.plan_id == plan_id]
    return _protection_status(views, at, entry_filled=entry_filled)


def test_entry_working_status_is_acceptance() -> None:
    out = entry_status(trade("P1:entry", "Submitted", order_type="MKT"), T)
    assert out == Routed("P1", machines.EntryAccepted(T, 8, 555))


def test_entry_cancel_confirmed_by_ib() -> None:
    t = trade("P1:entry", "Cancelled", log=[("PendingSubmit", 0, ""), ("Cancelled", 202, "Order Canceled")])
    out = entry_status(t, T)
    assert isinstance(out, Routed) and isinstance(out.event, machines.EntryCancelled)


def test_entry_rejected_before_acceptance() -> None:
    t = trade("P1:entry", "Cancelled", log=[("PendingSubmit", 0, ""), ("Cancelled", 201, "Order rejected - reason:x")])
    out = entry_status(t, T)
    assert out == Routed("P1", machines.EntryRejected(T, 201, "Order rejected - reason:x"))


def test_local_cancel_after_an_error_on_a_working_order_is_verified_not_believed() -> None:
    # ib_async marks a live order Cancelled on a rejected modify; IB still has it working
    t = trade("P1:stop", "Cancelled", log=[("PendingSubmit", 0, ""), ("Submitted", 0, ""),
                                           ("Cancelled", 201, "Order rejected - reason:stop price")])
    assert protective_failure(t, T) == Verify("P1", machines.Leg.STOP, 201,
                                                                   "Order rejected - reason:stop price")
    t = trade("P1:entry", "Cancelled", log=[("Submitted", 0, ""), ("Cancelled", 10148, "cannot be cancelled")])
    assert isinstance(entry_status(t, T), Verify)


def test_new_protective_order_rejected_is_a_failure() -> None:
    t = trade("P1:stop:2", "Cancelled", log=[("PendingSubmit", 0, ""), ("Cancelled", 201, "rejected")])
    assert protective_failure(t, T) == Routed(
        "P1", machines.ProtectionFailed(T, machines.Leg.STOP, 201, "rejected"))


def test_flatten_rejected_is_flatten_failed() -> None:
    t = trade("P1:flatten", "Inactive", order_type="MKT", log=[("PendingSubmit", 0, ""), ("Inactive", 201, "no")])
    out = protective_failure(t, T)
    assert isinstance(out, Routed) and isinstance(out.event, machines.FlattenFailed)


def test_foreign_orders_are_ignored() -> None:
    assert entry_status(trade("", "Submitted"), T) is None
    assert entry_status(trade("someone-else", "Submitted"), T) is None


def test_fill_translation_uses_ib_time_exact_prices_and_legs() -> None:
    ex = Execution(execId="0001.01", time=datetime(2026, 11, 27, 15, 1, tzinfo=UTC), shares=100.0,
                   price=180.55, orderRef="P1:entry", side="BOT", clientId=7)
    out = fill_event(Fill(AAPL, ex, CommissionReport(), ex.time))
    assert out == Routed("P1", machines.EntryFilled(ex.time, "0001.01", 100, D("180.55")))
    ex2 = Execution(execId="0001.02", time=ex.time, shares=100.0, price=171.0, orderRef="P1:stop:2", side="SLD",
                    clientId=7)
    out2 = fill_event(Fill(AAPL, ex2, CommissionReport(), ex.time))
    assert out2 == Routed("P1", machines.ExitFilled(ex.time, "0001.02", machines.Leg.STOP, 100, D("171.0")))


def test_an_exit_of_another_clients_order_with_our_ref_is_marked_theirs() -> None:
    """The trader's copy of the plan's stop in TWS (client 0) carries the plan's orderRef."""
    ex = Execution(execId="0002.01", time=datetime(2026, 11, 27, 15, 1, tzinfo=UTC), shares=100.0,
                   price=171.0, orderRef="P1:stop", side="SLD", clientId=0)
    out = fill_event(Fill(AAPL, ex, CommissionReport(), ex.time))
    assert out == Routed("P1", machines.ExitFilled(ex.time, "0002.01", machines.Leg.STOP, 100, D("171.0"),
                                                   theirs=True))


def test_protection_counts_working_children_of_a_filled_entry_only() -> None:
    entry = trade("P1:entry", "Submitted", order_type="MKT", qty=200, filled=0)
    stop = trade("P1:stop", "PreSubmitted", qty=200, parent_id=7)
    target = trade("P1:target", "PreSubmitted", order_type="LMT", qty=200, parent_id=7)
    held = protection_status([entry, stop, target], "P1", T)
    assert (held.stop_quantity, held.target_quantity) == (0, 0)  # held for the parent: protects nothing
    entry.orderStatus.filled = 120
    live = protection_status([entry, stop, target], "P1", T)
    assert (live.stop_quantity, live.target_quantity) == (200, 200)
    assert live.stop_price == D("171.0") and live.target_price == D("189.0")
    restored = protection_status([stop, target], "P1", T, entry_filled=True)
    assert restored.stop_quantity == 200
    done = trade("P1:stop", "Cancelled", qty=200)
    assert protection_status([done], "P1", T, entry_filled=True).stop_quantity == 0


def test_decimal_of_a_float_is_its_shortest_repr() -> None:
    assert translate.decimal(180.55) == D("180.55")
    assert translate.decimal(0.1 + 0.2) == D("0.30000000000000004")


def test_a_warning_on_a_working_stop_still_protects() -> None:
    entry = trade("P1:entry", "Filled", order_type="MKT", qty=100, filled=100)
    stop = trade("P1:stop", "ValidationError", qty=100, parent_id=7)  # e.g. IB warning 399
    target = trade("P1:target", "Submitted", order_type="LMT", qty=100, parent_id=7)
    status = protection_status([entry, stop, target], "P1", T)
    assert (status.stop_quantity, status.target_quantity) == (100, 100)


def test_a_short_sale_waiting_for_a_locate_is_not_rejected() -> None:
    t = trade("P1:entry", "Inactive", order_type="MKT")
    t.orderStatus.whyHeld = "locate"
    assert entry_status(t, T) is None


def test_a_flatten_cancelled_by_ib_is_a_failed_flatten() -> None:
    t = trade("P1:flatten", "Cancelled", order_type="MKT", log=[("PendingSubmit", 0, ""), ("Cancelled", 202, "x")])
    out = protective_failure(t, T)
    assert isinstance(out, Routed) and isinstance(out.event, machines.FlattenFailed)
