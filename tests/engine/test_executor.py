"""What the executor asks of the broker port, on hand-built views of IB's orders (the simulated
gateway ignores the fields checked here, so a fake broker stands in for it), and how the
adapter turns a modification into IB's order object."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from ib_async import Order

import machines
from machines import Plan, State
from machines import effects as fx
from orchestrator.broker import orders
from orchestrator.broker.port import OrderState, PlanEvent, Quote
from orchestrator.clock import FixedClock
from orchestrator.engine.executor import Executor
from orchestrator.engine.fills import FillsInFlight
from orchestrator.engine.flatten import Flattener
from orchestrator.engine.work import WorkQueue
from orchestrator.errors import BrokerUnavailable
from orchestrator.store import Store

from ..fakes import FakeBroker, order
from ..orchestrator.factories import spec

T = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def _executor(broker: FakeBroker, clock: FixedClock | None = None) -> Executor:
    clock = clock or FixedClock(T)
    fills = FillsInFlight(broker, WorkQueue())
    flatten = Flattener(broker, store=None, clock=clock, emit=lambda *a: None, fills=fills,  # type: ignore[arg-type]
                        holdings=None)  # type: ignore[arg-type]
    return Executor(broker, store=None, clock=clock, emit=lambda *a: None, fills=fills,  # type: ignore[arg-type]
                    flatten=flatten)


def _plan(state: State, **figures: Any) -> Plan:
    base: dict[str, Any] = {"quantity": 100, "filled_qty": 100, "avg_entry_price": D("180")}
    return Plan(spec("P1"), state=state, **{**base, **figures})


def test_a_trail_modification_drops_the_filled_parent_and_leaves_the_trade_as_ib_confirmed() -> None:
    broker = FakeBroker([order("P1:entry", "MKT", "Filled", 100, 100),
                         order("P1:stop", "STP", "Submitted", 100, parent_id=6, stop=176.0)])
    plan = _plan(State.TRAILING, stop_price=D("178.00"))
    result = asyncio.run(_executor(broker).run(fx.ModifyStop("P1", D("178.00"), 100), plan))
    (sent,) = broker.modified
    assert result.startswith("modified stop")
    assert sent.order.ref == "P1:stop" and sent.stop_price == D("178.00") and sent.parent_filled
    # the adapter's amended copy: no stale parent (IB error 135), not held; IB's word kept until it confirms
    confirmed = Order(orderId=8, action="SELL", totalQuantity=100, orderType="STP", orderRef="P1:stop",
                      auxPrice=176.0, parentId=6, transmit=False)
    copy = orders.amended(confirmed, filled=0, parent_filled=True, stop_price=D("178.00"))
    assert copy.orderId == 8 and copy.auxPrice == 178.0
    assert copy.parentId == 0 and copy.transmit
    assert confirmed.auxPrice == 176.0 and confirmed.parentId == 6


def test_stale_effects_are_skipped() -> None:
    broker = FakeBroker([order("P1:entry", "MKT", "Filled", 100, 100)])
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
    assert broker.placed == [] and broker.modified == []


def test_nothing_is_sent_while_disconnected() -> None:
    broker = FakeBroker([order("P1:entry", "LMT", "Submitted", 100)], connected=False)
    with pytest.raises(BrokerUnavailable):
        asyncio.run(_executor(broker).run(fx.CancelEntry("P1", "x"), _plan(State.SUBMITTED, filled_qty=0)))
    assert broker.cancelled == []


def test_protect_sizes_from_what_ib_already_filled() -> None:
    # the stop filled 60 at IB; the plan has not applied that execution yet
    broker = FakeBroker([order("P1:entry", "MKT", "Filled", 100, 100),
                         order("P1:stop", "STP", "Submitted", 100, 60, parent_id=6, stop=176.0),
                         order("P1:target", "LMT", "Submitted", 100, 0, parent_id=6, limit=188.0)])
    plan = _plan(State.FILLED)
    asyncio.run(_executor(broker).run(fx.Protect("P1", "AAPL", machines.Side.LONG, 100, D("176"), D("188")), plan))
    (resized,) = broker.modified  # only the target: the stop's remaining 40 is already right
    assert resized.order.ref == "P1:target" and resized.quantity == 40 and broker.placed == []
    assert orders.amended(Order(totalQuantity=100), filled=0, parent_filled=True, quantity=40).totalQuantity == 40


def _target(lmt: float, qty: int = 100, state: str = "Submitted") -> Any:
    return order("P1:target", "LMT", state, qty, limit=lmt, order_id=2)


def test_a_flatten_reprices_the_take_profit_to_the_stop_ib_has() -> None:
    """The plan wants its stop at 184 (a trail IB refused); IB's stop is at 171: the take-profit
    goes to 171, where the working stop makes it marketable (184 might be above the market)."""
    broker = FakeBroker([order("P1:stop", "STP", "Submitted", 100, stop=171.0), _target(189.0)])
    ex = _executor(broker)
    plan = _plan(State.PROTECTED, flattening=True, stop_price=D("184"))
    effect = fx.Flatten("P1", "AAPL", machines.Side.LONG, 100, "cancelled by user", D("184"))
    result = asyncio.run(ex.run(effect, plan))
    [sent] = broker.modified
    assert (sent.order.order_id, sent.order.order_type, sent.limit_price, sent.quantity) == (2, "LMT", D("171.0"), 100)
    assert "repriced to 171" in result and broker.placed == []


def test_a_repriced_take_profit_counts_as_the_exit_only_with_the_stop_working_and_while_echo_is_due() -> None:
    clock = FixedClock(T)
    broker = FakeBroker([order("P1:stop", "STP", "Submitted", 100, stop=171.0), _target(189.0)])
    ex = _executor(broker, clock)
    plan = _plan(State.PROTECTED, flattening=True, stop_price=D("171"))
    assert not ex.flatten.exit_in_flight(plan)              # nothing repriced yet
    asyncio.run(ex.run(fx.Flatten("P1", "AAPL", machines.Side.LONG, 100, "x", D("171")), plan))
    assert ex.flatten.exit_in_flight(plan)                  # sent, IB has not echoed it yet
    clock.advance(11)
    assert not ex.flatten.exit_in_flight(plan)              # never echoed: lost
    broker.update("P1:target", limit_price=D("171.0"))      # IB's echo
    assert ex.flatten.exit_in_flight(plan)
    broker.update("P1:stop", state=OrderState.CANCELLED)  # without the stop 171 may be above the market
    assert not ex.flatten.exit_in_flight(plan)


def test_a_take_profit_past_the_stop_counts_on_either_side_and_a_warned_stop_still_works() -> None:
    """A trail modification may land after the repricing: the take-profit is then past the stop
    (still marketable) and counts. ``ValidationError`` (IB warned) is a stop that works."""
    broker = FakeBroker([order("P1:stop", "STP", "ValidationError", 100, stop=173.0), _target(171.0)])
    ex = _executor(broker)
    assert ex.flatten.exit_in_flight(_plan(State.PROTECTED, flattening=True))
    broker.orders = [order("P1:stop", "STP", "Submitted", 100, stop=190.0, action="BUY", order_id=5),
                     order("P1:target", "LMT", "Submitted", 100, limit=191.0, action="BUY", order_id=6)]
    assert ex.flatten.exit_in_flight(_plan(State.PROTECTED, flattening=True))
    broker.update("P1:target", limit_price=D("185.0"))   # a BUY limit below a short's stop is not marketable
    assert not ex.flatten.exit_in_flight(_plan(State.PROTECTED, flattening=True))


def test_an_order_another_client_holds_is_never_changed_and_the_plan_asks_for_a_human() -> None:
    """IB lets only the placing client modify or cancel an order: a stop with our orderRef that
    client 0 (TWS) holds is neither trailed nor cancelled; the plan goes to error naming it."""
    broker = FakeBroker([order("P1:entry", "MKT", "Filled", 100, 100),
                         dataclasses.replace(order("P1:stop", "STP", "Submitted", 100, stop=176.0), client_id=0)])
    emitted: list[Any] = []
    clock = FixedClock(T)
    fills = FillsInFlight(broker, WorkQueue())
    flatten = Flattener(broker, store=None, clock=clock, emit=lambda *a: emitted.append(a), fills=fills,  # type: ignore[arg-type]
                        holdings=None)  # type: ignore[arg-type]
    ex = Executor(broker, store=None, clock=clock, emit=lambda *a: emitted.append(a), fills=fills,  # type: ignore[arg-type]
                  flatten=flatten)
    result = asyncio.run(ex.run(fx.ModifyStop("P1", D("178.00"), 100), _plan(State.TRAILING, stop_price=D("178.00"))))
    assert result.startswith("refused") and broker.modified == [] and broker.cancelled == []
    [(plan_id, fault)] = emitted
    assert plan_id == "P1" and isinstance(fault, machines.Fault) and "held by IB client 0" in fault.reason


def _capped_world(tmp_path: Any, quote: Any = None) -> tuple[FakeBroker, Executor, list[Any], Plan]:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    market = spec("P1", entry_type=machines.EntryType.MARKET)
    store.insert_plan(market, at=T)
    broker = FakeBroker(quotes={"AAPL": quote or Quote()})
    emitted: list[Any] = []
    clock = FixedClock(T)
    fills = FillsInFlight(broker, WorkQueue())
    flatten = Flattener(broker, store, clock, lambda *a: None, fills, holdings=None)  # type: ignore[arg-type]
    ex = Executor(broker, store, clock, lambda _pid, e: emitted.append(e), fills, flatten)
    return broker, ex, emitted, Plan(market, state=State.SIZED, quantity=221)


def _market_bracket(cap: str | None) -> fx.PlaceBracket:
    return fx.PlaceBracket("P1", "AAPL", machines.Side.LONG, 221, machines.EntryType.MARKET, D("180"), D("171"),
                           D("189"), None if cap is None else D(cap))


def test_a_market_entry_goes_out_as_a_limit_at_its_cap_with_the_bracket_as_before(tmp_path: Any) -> None:
    broker, ex, emitted, plan = _capped_world(tmp_path, Quote(bid=D("184.56"), ask=D("184.57"), source="live"))
    result = asyncio.run(ex.run(_market_bracket("184.57"), plan))   # the ask at the cap: marketable, sent
    entry, target, stop = broker.placed
    assert result.startswith("placed bracket") and emitted == []
    assert (entry.order_type, entry.limit_price, entry.quantity, entry.transmit) == ("LMT", D("184.57"), 221, False)
    assert (target.order_type, target.limit_price, target.parent_id) == ("LMT", D("189"), entry.order_id)
    assert (stop.order_type, stop.stop_price, stop.parent_id, stop.transmit) == ("STP", D("171"), entry.order_id, True)


def test_a_market_entry_past_its_cap_or_without_one_is_not_sent(tmp_path: Any) -> None:
    broker, ex, emitted, plan = _capped_world(tmp_path, Quote(bid=D("184.57"), ask=D("184.58"), source="live"))
    result = asyncio.run(ex.run(_market_bracket("184.57"), plan))
    (refused,) = emitted
    assert isinstance(refused, machines.EntryRefused) and "the market 184.58 is already past" in refused.reason
    assert result.startswith("refused: the market 184.58") and broker.placed == []
    emitted.clear()
    result = asyncio.run(ex.run(_market_bracket(None), plan))   # an effect stored before entries were capped
    (again,) = emitted
    assert isinstance(again, machines.SizedAgain) and "without a price cap" in again.why
    assert result == "not sent: no price cap (sized again)" and broker.placed == []


def test_a_refused_entry_is_counted_until_the_plan_hears_of_it() -> None:
    """Between the executor's refusal and the plan's step a reconciliation may run: it must not
    take the unsent entry for one IB lost (``EntryUnseen``, error)."""
    queue = WorkQueue()
    refused = PlanEvent("P1", machines.EntryRefused(T, "the market 186.01 is already past the entry's price cap"))
    queue.put(refused)
    queue.put(PlanEvent("P2", machines.EntryAccepted(T)))
    assert queue.verdict_waiting("P1") and not queue.verdict_waiting("P2")
    queue.taken(refused)
    assert not queue.verdict_waiting("P1")
