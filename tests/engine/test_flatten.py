"""Flattening a position (the trader's cancel, an emergency exit), end to end against the
simulated gateway: the exit is the bracket's take-profit repriced to the working stop when IB
has one, a market order otherwise, and never both (cases from a review of that design)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.engine import ReconcileRequest

from .harness import World, plan_toml

WORKING = ("PreSubmitted", "Submitted")


def _exits(w: World, plan_id: str) -> list[tuple[str, float, float]]:
    return [(x.order_ref, x.shares, x.price) for x in w.gw.executions
            if x.order_ref.startswith(plan_id + ":") and not x.order_ref.endswith(":entry")]


async def _reconcile(w: World) -> None:
    """One full reconciliation (ensure_exit runs in it), handled to the end."""
    w.engine.enqueue(ReconcileRequest("test"))
    await asyncio.wait_for(w.engine.queue.join(), 10)


async def _flatten_refused_twice(w: World, plan_id: str) -> None:
    """The trader cancels a protected plan; IB refuses the repricing, then the market order:
    the plan is in error, holding its position."""
    await w.state(plan_id, "protected")
    w.gw.faults.reject_next_modify(1, "price constraint")
    w.gw.faults.reject_next(1, "no trading permissions")
    w.rt.store.add_command(plan_id, "cancel", at=datetime.now(UTC))
    await w.state(plan_id, "error")


async def test_an_emergency_flatten_without_a_working_stop_is_a_market_order(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The stop is cancelled at IB with the market already under it; IB refuses the new stop (it
    would be above the market), so the plan flattens. A take-profit repriced to 171 would never
    fill at 168: the exit must be a market order."""
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("M")) as w:
        await w.state("M", "protected")
        w.gw.cancel_in_tws("M:stop")
        w.gw.set_price("AAPL", 168.0)
        plan = await w.state("M", "closed")
        assert plan.exit_reason == "flatten"
        assert _exits(w, "M") == [("M:flatten", 221, 168.0)]
        [target] = w.gw.orders_by_ref("M:target")
        assert target.lmt_price == 189.0   # never repriced


async def test_a_flatten_after_a_refused_trail_uses_the_stop_ib_has(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB refused a trail to 184, so its stop stays at 171 while the plan wants 184. The price
    dips to 183 and the trader cancels: the take-profit goes to 171 (marketable), not 184."""
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("T", stop=171.0, target=200.0, trail=(0.5, 2.0))) as w:
        await w.state("T", "protected")
        w.gw.faults.reject_next_modify(1, "simulated")
        w.gw.set_price("AAPL", 186.0)
        await w.until(lambda: "StopModifyRejected" in [e for *_x, e in w.history("T")], "the refused trail")
        [stop] = [o for o in w.working("T") if o.order_ref == "T:stop"]
        assert (w.plan("T").stop_price, stop.aux_price) == (184, 171.0)
        w.gw.set_price("AAPL", 183.0)
        w.rt.store.add_command("T", "cancel", at=datetime.now(UTC))
        plan = await w.state("T", "closed")
        assert plan.exit_reason == "flatten"
        assert _exits(w, "T") == [("T:target", 221, 183.0)]


async def test_a_plan_in_error_is_left_to_the_human(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """Both the repricing and the market flatten are refused: the plan goes to error for a human,
    who sells by hand in TWS. The orchestrator must not send a flatten of its own after that; it
    sees the position closed outside, ends the plan and takes its stop away (a stop left working
    on no shares would open a short when it triggers)."""
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("E")) as w:
        await _flatten_refused_twice(w, "E")
        assert w.plan("E").state == "error"
        w.gw.trade_in_tws("AAPL", "SELL", 221)
        await _reconcile(w)
        await _reconcile(w)
        plan = w.plan("E")
        assert (plan.state, plan.exit_reason, plan.outside_qty) == ("closed", "outside", 221)
        assert [o.order_ref for o in w.gw.orders if ":flatten" in o.order_ref] == ["E:flatten"]   # the refused one
        assert w.gw.positions.get("AAPL") is None or w.gw.positions["AAPL"].qty == 0
        assert not [o for o in w.gw.orders if o.order_ref.startswith("E:") and o.status in WORKING]


async def test_a_repricing_lost_with_the_connection_is_sent_again(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The take-profit's repricing never reaches IB and the connection drops: after the reconnect
    the plan is still flattening with no exit at IB. The reconciliation sends the repricing again
    (harmless if the first one was only late), not a market order that could sell twice."""
    log_guard.expect(r"Error 201", r"Error 1100", r"Peer closed connection")
    async with World(tmp_path, plan_toml("D")) as w:
        await w.state("D", "protected")
        w.gw.faults.ignore_next(3, 1)   # the next placeOrder (the repricing) is lost at IB
        w.rt.store.add_command("D", "cancel", at=datetime.now(UTC))
        await w.until(lambda: w.plan("D").flattening, "flattening")
        await w.until(lambda: not w.rt.store.pending_effects(), "the flatten carried out")
        w.gw.faults.drop_connections()
        plan = await w.state("D", "closed")
        assert _exits(w, "D") == [("D:target", 221, 180.0)]
        assert not [o for o in w.gw.orders if ":flatten" in o.order_ref]
        assert plan.exit_reason == "flatten"


async def test_a_refused_repricing_makes_the_retried_flatten_of_a_plan_in_error_a_market_order(
        tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB refuses the repricing and the market order: the plan is in error. When the trader
    cancels again, the flatten must not try the refused repricing once more, but sell at market."""
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("R")) as w:
        await _flatten_refused_twice(w, "R")
        w.rt.store.add_command("R", "cancel", at=datetime.now(UTC))
        plan = await w.state("R", "closed")
        assert _exits(w, "R") == [("R:flatten:2", 221, 180.0)]
        assert plan.exit_reason == "flatten"


@pytest.mark.parametrize("fill_first", [True, False], ids=["fill-heard-first", "10148-heard-first"])
async def test_a_market_flatten_never_works_beside_our_stop(tmp_path: Path, log_guard,  # type: ignore[no-untyped-def]
                                                            fill_first: bool) -> None:
    """IB refuses the repricing, so the flatten is a market order. Before it the take-profit is
    cancelled, and that cancel loses the race against the take-profit's fill (IB cannot promise
    a cancel reaches the exchange first): the position is already gone when the market order
    would arrive. A market order sent beside our own working exits sold the shares a second time
    and left the account short (chaos R1201-E4: the stop filled under a flatten in flight). It
    goes out only once IB confirms no exit of ours can execute any more."""
    log_guard.expect(r"Error 201", r"Error 10148")
    async with World(tmp_path, plan_toml("F")) as w:
        await w.state("F", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")
        w.gw.faults.race_next_cancel(1, fill_first=fill_first)
        w.rt.store.add_command("F", "cancel", at=datetime.now(UTC))
        plan = await w.state("F", "closed", "error")
        await _reconcile(w)
        position = w.gw.positions.get("AAPL")
        assert position is None or position.qty == 0, f"IB holds {position.qty} AAPL: the position was reversed"
        assert [ref for ref, *_x in _exits(w, "F")] == ["F:target"]
        assert not [o for o in w.gw.orders if ":flatten" in (o.order_ref or "")]
        assert (w.plan("F").state, plan.exit_reason) == ("closed", "flatten")


def _working_exits(w: World, symbol: str) -> list[tuple[str, str, float, float | None]]:
    """Every exit order the gateway holds working in ``symbol``, across all clients."""
    return [(o.order_ref, o.order_type, o.remaining, o.aux_price) for o in w.gw.orders
            if o.symbol == symbol and o.status in WORKING and not (o.order_ref or "").endswith(":entry")]


async def test_a_refused_market_flatten_puts_the_stop_back_at_once(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB refuses the repricing, so the flatten is a market order, sent once IB confirmed the stop
    and take-profit cancelled; then IB refuses the market order too. The position must not stay
    without a stop while a human looks: a stop for the whole position goes back at once at the
    plan's stop, the trader is told once, and the trader's next cancel flattens it (the stop
    cancelled first again) without ever selling more than is held."""
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("N")) as w:
        await w.state("N", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")
        w.gw.faults.reject_next(1, "no trading permissions")
        w.rt.store.add_command("N", "cancel", at=datetime.now(UTC))
        await w.state("N", "error")
        [refused] = [o for o in w.gw.orders if o.order_ref.startswith("N:flatten")]
        assert refused.status == "Inactive"
        assert [o.status for o in w.gw.orders_by_ref("N:stop")] == ["Cancelled"]   # cancelled before the market order
        await w.until(lambda: [r[:3] for r in _working_exits(w, "AAPL")] == [("N:stop:2", "STP", 221)],
                      "a stop for the whole position back at IB")
        placed = w.placed_refs("N")
        await _reconcile(w)
        await _reconcile(w)
        assert w.placed_refs("N") == placed   # no retry of its own: no cancel → refuse → put back loop
        [(_ref, _type, _qty, price)] = _working_exits(w, "AAPL")   # the stop alone: no market order beside it
        assert price == float(w.plan("N").stop_price)
        told = [r[0] for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE plan_id='N' AND kind='error'")]
        assert len(told) == 1 and "stop" in told[0] and "cancel" in told[0], told
        w.rt.store.add_command("N", "cancel", at=datetime.now(UTC))
        plan = await w.state("N", "closed")
        await _reconcile(w)
        assert [(ref, shares) for ref, shares, _p in _exits(w, "N")] == [("N:flatten:2", 221)]
        position = w.gw.positions.get("AAPL")
        assert position is None or position.qty == 0, f"IB holds {position.qty} AAPL"
        assert _working_exits(w, "AAPL") == []
        assert (plan.exit_reason, w.plan("N").state) == ("flatten", "closed")


async def test_a_read_only_api_refusing_the_stop_put_back_too_is_told(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The API turns read-only after the stop was cancelled for a market flatten: IB refuses the
    market order and the stop put back alike (321). The trader must not be told a stop is back:
    the plan says nothing protects the position, and once the API accepts orders again the
    trader's cancel flattens it."""
    log_guard.expect(r"Error 201", r"Error 321")
    async with World(tmp_path, plan_toml("Q")) as w:
        await w.state("Q", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")
        w.gw.policy.read_only = True   # cancels still pass; every new order is refused
        w.rt.store.add_command("Q", "cancel", at=datetime.now(UTC))
        await w.until(lambda: "IB refused the stop sent back too" in (w.plan("Q").reason or ""),
                      "the refused stop told")
        assert w.plan("Q").state == "error" and _working_exits(w, "AAPL") == []
        assert "nothing protects its 221 shares" in (w.plan("Q").reason or "")
        w.gw.policy.read_only = False
        w.rt.store.add_command("Q", "cancel", at=datetime.now(UTC))
        plan = await w.state("Q", "closed")
        assert [(ref, shares) for ref, shares, _p in _exits(w, "Q")] == [("Q:flatten:2", 221)]
        assert w.gw.positions.get("AAPL") is None or w.gw.positions["AAPL"].qty == 0
        assert plan.exit_reason == "flatten"


async def test_a_market_flatten_lost_with_the_connection_is_sent_after_the_reconnect(  # type: ignore[no-untyped-def]
        tmp_path: Path, log_guard) -> None:
    """The stop is gone and the market is under it: the flatten cancels the take-profit, and the
    market order that follows IB's confirmation never reaches IB; the connection drops. No
    refusal came, so nothing is put back: after the reconnect the flatten is sent again and the
    position ends flat, sold once."""
    log_guard.expect(r"Error 201", r"Error 1100", r"Peer closed connection")
    async with World(tmp_path, plan_toml("L")) as w:
        await w.state("L", "protected")
        w.gw.cancel_in_tws("L:stop")
        w.gw.set_price("AAPL", 168.0)
        await w.until(lambda: w.plan("L").flattening, "flattening")
        w.gw.faults.ignore_next(3, 1)   # the market order, sent once the take-profit's cancel is confirmed, is lost
        await w.until(lambda: [o.status for o in w.gw.orders_by_ref("L:target")] == ["Cancelled"], "target cancelled")
        await w.until(lambda: not any(w.gw.faults.to_json()["ignore_next"].values()), "the market order lost")
        w.gw.faults.drop_connections()
        plan = await w.state("L", "closed")
        assert [(ref, shares) for ref, shares, _p in _exits(w, "L")] == [("L:flatten:2", 221)]
        assert w.gw.positions.get("AAPL") is None or w.gw.positions["AAPL"].qty == 0
        assert plan.exit_reason == "flatten"
