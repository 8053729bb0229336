"""What the executor sends, on hand-built ib_async trades (the simulated gateway ignores the
fields checked here, so a small recording broker stands in for it)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal as D
from typing import Any

import pytest
from ib_async import Order, OrderStatus, Stock, Trade

import machines
from machines import Plan, State
from machines import effects as fx
from orchestrator.clock import FixedClock
from orchestrator.errors import BrokerUnavailable
from orchestrator.executor import Executor

from ..orchestrator.factories import spec

T = datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)
AAPL = Stock("AAPL", "SMART", "USD", conId=265598)


class RecordingBroker:
    """Holds ib_async trades and records every placeOrder/cancelOrder."""

    def __init__(self, trades: list[Trade], connected: bool = True) -> None:
        self.trades, self.connected = trades, connected
        self.placed: list[Order] = []
        self.cancelled: list[Order] = []

    def is_connected(self) -> bool:
        return self.connected

    async def contract(self, symbol: str) -> Stock:
        return AAPL

    def trades_of(self, plan_id: str) -> list[Trade]:
        return [t for t in self.trades if t.order.orderRef.startswith(plan_id + ":")]

    def fills_of(self, plan_id: str) -> list[Any]:
        return []

    def place(self, contract: Any, order: Order) -> None:
        self.placed.append(order)

    def cancel(self, order: Order) -> None:
        self.cancelled.append(order)


def _trade(ref: str, order_type: str, status: str, qty: float, filled: float = 0, parent: int = 0,
           aux: float = 0.0, transmit: bool = True) -> Trade:
    order = Order(orderId=len(ref), action="SELL", totalQuantity=qty, orderType=order_type, orderRef=ref,
                  auxPrice=aux, parentId=parent, transmit=transmit)
    return Trade(AAPL, order, OrderStatus(status=status, filled=filled, remaining=qty - filled), [], [])


def _executor(broker: RecordingBroker) -> Executor:
    return Executor(broker, store=None, clock=FixedClock(T), emit=lambda *a: None)  # type: ignore[arg-type]


def _plan(state: State, **figures: Any) -> Plan:
    base: dict[str, Any] = {"quantity": 100, "filled_qty": 100, "avg_entry_price": D("180")}
    return Plan(spec("P1"), state=state, **{**base, **figures})


def test_a_trail_modification_drops_the_filled_parent_and_leaves_the_trade_as_ib_confirmed() -> None:
    entry = _trade("P1:entry", "MKT", "Filled", 100, 100)
    stop = _trade("P1:stop", "STP", "Submitted", 100, parent=6, aux=176.0, transmit=True)
    broker = RecordingBroker([entry, stop])
    plan = _plan(State.TRAILING, stop_price=D("178.00"))
    result = asyncio.run(_executor(broker).run(fx.ModifyStop("P1", D("178.00"), 100), plan))
    (sent,) = broker.placed
    assert result.startswith("modified stop")
    assert sent.orderId == stop.order.orderId and sent.auxPrice == 178.0
    assert sent.parentId == 0 and sent.transmit  # no stale parent (IB error 135), not held
    assert stop.order.auxPrice == 176.0 and stop.order.parentId == 6  # IB's word until it confirms


def test_stale_effects_are_skipped() -> None:
    broker = RecordingBroker([_trade("P1:entry", "MKT", "Filled", 100, 100)])
    ex = _executor(broker)
    closed = _plan(State.CLOSED, exited_qty=100)
    for effect in (fx.Protect("P1", "AAPL", machines.Side.LONG, 100, D("176"), D("188")),
                   fx.Flatten("P1", "AAPL", machines.Side.LONG, 100, "x"),
                   fx.ModifyStop("P1", D("178"), 100)):
        assert asyncio.run(ex.run(effect, closed)).startswith("skipped: stale")
    cancelled = _plan(State.SIZED, filled_qty=0, cancel_requested=True)
    bracket = fx.PlaceBracket("P1", "AAPL", machines.Side.LONG, 100, machines.EntryType.MARKET, D("180"),
                              D("176"), D("188"))
    assert asyncio.run(ex.run(bracket, cancelled)).startswith("skipped: stale")
    assert broker.placed == []


def test_nothing_is_sent_while_disconnected() -> None:
    broker = RecordingBroker([_trade("P1:entry", "LMT", "Submitted", 100)], connected=False)
    with pytest.raises(BrokerUnavailable):
        asyncio.run(_executor(broker).run(fx.CancelEntry("P1", "x"), _plan(State.SUBMITTED, filled_qty=0)))
    assert broker.cancelled == []


def test_protect_sizes_from_what_ib_already_filled() -> None:
    # the stop filled 60 at IB; the plan has not applied that execution yet
    entry = _trade("P1:entry", "MKT", "Filled", 100, 100)
    stop = _trade("P1:stop", "STP", "Submitted", 100, 60, parent=6, aux=176.0)
    target = _trade("P1:target", "LMT", "Submitted", 100, 0, parent=6)
    broker = RecordingBroker([entry, stop, target])
    plan = _plan(State.FILLED)
    asyncio.run(_executor(broker).run(fx.Protect("P1", "AAPL", machines.Side.LONG, 100, D("176"), D("188")), plan))
    (resized,) = broker.placed  # only the target: the stop's remaining 40 is already right
    assert resized.orderRef == "P1:target" and resized.totalQuantity == 40


def _target(lmt: float, qty: float = 100, status: str = "Submitted") -> Trade:
    order = Order(orderId=2, action="SELL", totalQuantity=qty, orderType="LMT", orderRef="P1:target", lmtPrice=lmt)
    return Trade(AAPL, order, OrderStatus(status=status, filled=0, remaining=qty), [], [])


def test_a_flatten_reprices_the_take_profit_to_the_stop_ib_has() -> None:
    """The plan wants its stop at 184 (a trail IB refused); IB's stop is at 171: the take-profit
    goes to 171, where the working stop makes it marketable (184 might be above the market)."""
    target = _target(189.0)
    broker = RecordingBroker([_trade("P1:stop", "STP", "Submitted", 100, aux=171.0), target])
    ex = _executor(broker)
    plan = _plan(State.PROTECTED, flattening=True, stop_price=D("184"))
    effect = fx.Flatten("P1", "AAPL", machines.Side.LONG, 100, "cancelled by user", D("184"))
    result = asyncio.run(ex.run(effect, plan))
    [sent] = broker.placed
    assert (sent.orderId, sent.orderType, sent.lmtPrice, sent.totalQuantity) == (2, "LMT", 171.0, 100)
    assert "repriced to 171" in result


def test_a_repriced_take_profit_counts_as_the_exit_only_with_the_stop_working_and_while_echo_is_due() -> None:
    clock = FixedClock(T)
    target = _target(189.0)
    stop = _trade("P1:stop", "STP", "Submitted", 100, aux=171.0)
    broker = RecordingBroker([stop, target])
    ex = Executor(broker, store=None, clock=clock, emit=lambda *a: None)  # type: ignore[arg-type]
    plan = _plan(State.PROTECTED, flattening=True, stop_price=D("171"))
    assert not ex.exit_in_flight(plan)                      # nothing repriced yet
    asyncio.run(ex.run(fx.Flatten("P1", "AAPL", machines.Side.LONG, 100, "x", D("171")), plan))
    assert ex.exit_in_flight(plan)                          # sent, IB has not echoed it yet
    clock.advance(11)
    assert not ex.exit_in_flight(plan)                      # never echoed: lost
    target.order.lmtPrice = 171.0                           # IB's echo
    assert ex.exit_in_flight(plan)
    stop.orderStatus.status = "Cancelled"                   # without the stop 171 may be above the market
    assert not ex.exit_in_flight(plan)


def test_a_take_profit_past_the_stop_counts_on_either_side_and_a_warned_stop_still_works() -> None:
    """A trail modification may land after the repricing: the take-profit is then past the stop
    (still marketable) and counts. ``ValidationError`` (IB warned) is a stop that works."""
    stop = _trade("P1:stop", "STP", "ValidationError", 100, aux=173.0)
    broker = RecordingBroker([stop, _target(171.0)])
    ex = _executor(broker)
    assert ex.exit_in_flight(_plan(State.PROTECTED, flattening=True))
    short_stop = Order(orderId=5, action="BUY", totalQuantity=100, orderType="STP", orderRef="P1:stop", auxPrice=190.0)
    short_target = Order(orderId=6, action="BUY", totalQuantity=100, orderType="LMT", orderRef="P1:target",
                         lmtPrice=191.0)
    broker.trades = [Trade(AAPL, o, OrderStatus(status="Submitted", remaining=100), [], [])
                     for o in (short_stop, short_target)]
    assert ex.exit_in_flight(_plan(State.PROTECTED, flattening=True))
    short_target.lmtPrice = 185.0   # a BUY limit below a short's stop is not marketable
    assert not ex.exit_in_flight(_plan(State.PROTECTED, flattening=True))
