"""Exchange sessions end to end: the real engine and ib_async client over TCP to the simulated
gateway, the engine's clock set by hand to the market's hours (XNYS). Verdicts are the
gateway's: which orders it holds, with which TIF and outsideRth, and the positions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.broker.brokerclock import BrokerClock
from orchestrator.clock import FixedClock
from orchestrator.config import SessionsConfig
from orchestrator.engine.work import ActivateRequest, ExpireRequest, FlattenAtRequest, TrailTick

from .harness import World, plan_toml

NIGHT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)             # Tuesday 22:00 New York
OPEN = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)            # Wednesday's open, 09:30 New York
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def _hours(w: World) -> World:
    w.config = w.config.model_copy(update={"sessions": SessionsConfig(market_hours=True)})
    return w


async def _handled(w: World, item: Any) -> None:
    """``item`` and everything queued before it, handled to the end."""
    w.engine.enqueue(item)
    await asyncio.wait_for(w.engine.queue.join(), 10)


def _at_gateway(w: World, plan_id: str) -> list[Any]:
    return [o for o in w.gw.orders if (o.order_ref or "").startswith(plan_id + ":")]


async def test_a_market_entry_written_at_night_waits_for_the_open(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(NIGHT)
    async with _hours(World(tmp_path, plan_toml("N"), clock=clock)) as w:
        await w.until(lambda: "N" in w.engine.plans and (w.plan("N").reason or "").startswith("the market"), "held")
        assert w.plan("N").reason == ("the market is closed until 2026-12-02 14:30 UTC: a market entry waits for "
                                      "the open")
        await _handled(w, ActivateRequest("N"))   # still closed: nothing is sent
        assert w.plan("N").state == "pending" and _at_gateway(w, "N") == []
        clock.set(OPEN)
        w.engine.enqueue(ActivateRequest("N"))
        plan = await w.state("N", "protected")
        assert plan.reason is None and w.gw.positions["AAPL"].qty == plan.quantity


async def test_a_saturday_plan_with_on_closed_day_next_starts_monday_open_plus_5m(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(SATURDAY)
    text = plan_toml("S", entry="limit", entry_price=180.5) + (
        'start = "open+5m"\non_closed_day = "next"\nexpire = "close-15m"\ntif = "DAY"\n')
    async with _hours(World(tmp_path, text, clock=clock)) as w:
        await w.until(lambda: "S" in w.engine.plans, "loaded")
        spec = w.plan("S").spec
        assert (spec.start_at, spec.expire_at) == (datetime(2026, 11, 30, 14, 35, tzinfo=UTC),
                                                   datetime(2026, 11, 30, 20, 45, tzinfo=UTC))
        await _handled(w, ActivateRequest("S"))
        assert w.plan("S").state == "pending" and _at_gateway(w, "S") == []
        clock.set(datetime(2026, 11, 30, 14, 35, tzinfo=UTC))
        w.engine.enqueue(ActivateRequest("S"))
        await w.state("S", "protected")
        legs = {o.order_ref: (o.tif, o.outside_rth) for o in _at_gateway(w, "S")}
        assert legs == {"S:entry": ("DAY", False), "S:target": ("GTC", False), "S:stop": ("GTC", False)}


async def test_an_early_close_moves_close_minus_15m(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The day after Thanksgiving NYSE closes at 13:00 New York: close-15m is 17:45 UTC, not 20:45."""
    clock = FixedClock(datetime(2026, 11, 27, 14, 0, tzinfo=UTC))
    text = plan_toml("E", entry="limit", entry_price=178.0) + 'expire = "close-15m"\noutside_rth = true\n'
    async with _hours(World(tmp_path, text, clock=clock)) as w:
        await w.state("E", "submitted", "protected")
        assert w.plan("E").spec.expire_at == datetime(2026, 11, 27, 17, 45, tzinfo=UTC)
        assert {o.outside_rth for o in _at_gateway(w, "E")} == {True}   # outsideRth on every leg
        await _handled(w, ExpireRequest("E"))     # early: the entry keeps working
        assert w.plan("E").state in ("submitted", "protected")
        clock.set(datetime(2026, 11, 27, 17, 45, tzinfo=UTC))
        w.engine.enqueue(ExpireRequest("E"))
        await w.state("E", "cancelled")
        assert [o for o in _at_gateway(w, "E") if not o.is_done] == []


async def test_flatten_at_flattens_and_leaves_no_working_order(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    text = plan_toml("F") + 'flatten_at = "close-10m"\n'
    async with _hours(World(tmp_path, text, clock=clock)) as w:
        plan = await w.state("F", "protected")
        due = datetime(2026, 12, 2, 20, 50, tzinfo=UTC)
        assert plan.spec.flatten_due == due
        await _handled(w, FlattenAtRequest("F"))   # early: nothing happens
        assert w.plan("F").state == "protected"
        clock.set(due + timedelta(seconds=1))
        w.engine.enqueue(FlattenAtRequest("F"))
        plan = await w.state("F", "closed", "cancelled")
        assert plan.exit_reason == "flatten" and plan.open_qty == 0
        assert w.working("F") == [] and "AAPL" not in w.gw.positions
        exits = [x for x in w.gw.executions if x.order_ref.startswith("F:") and not x.order_ref.endswith(":entry")]
        assert sum(x.shares for x in exits) == plan.quantity   # one exit: never doubled with the stop


async def test_trailing_rests_while_the_market_is_closed(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(datetime(2026, 12, 2, 20, 0, tzinfo=UTC))
    async with _hours(World(tmp_path, plan_toml("T", target=200.0, trail=(0.5, 2.0)), clock=clock)) as w:
        await w.state("T", "protected")
        def stop() -> float:
            return float(w.gw.orders_by_ref("T:stop")[-1].aux_price)
        clock.set(datetime(2026, 12, 2, 21, 30, tzinfo=UTC))     # after the close
        w.gw.set_price("AAPL", 190.0)
        await w.until(lambda: w.engine.market.trail_price("AAPL") == 190, "the after-hours price")
        await _handled(w, TrailTick())
        assert stop() == 171.0 and w.plan("T").stop_price == 171   # no modification while closed
        clock.set(datetime(2026, 12, 3, 14, 30, tzinfo=UTC))     # the next open, and its first trade
        w.gw.set_price("AAPL", 190.0)
        await w.until(lambda: w.engine.market.trail_price("AAPL") == 190, "the opening price")
        await _handled(w, TrailTick())
        await w.gw.wait_until(lambda: stop() == 188.0)


async def test_the_simulators_clock_drives_the_engine_through_ib_current_time(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """``[clock] source = "broker"``: the engine's time is the gateway's. At the simulated night a
    market entry holds; the simulated open sends it, and it fills at the opening price."""
    clock = BrokerClock()
    sim = {"clock": NIGHT, "speed": 0, "calendar": "XNYS"}
    async with _hours(World(tmp_path, plan_toml("B"), clock=clock, sim=sim)) as w:
        await w.until(lambda: "B" in w.engine.plans and (w.plan("B").reason or "").startswith("the market"), "held")
        assert abs(clock.now() - NIGHT) < timedelta(seconds=2) and w.gw.orders == []
        w.gw.set_time(OPEN)
        w.gw.set_price("AAPL", 181.0)
        await clock.sync(w.rt.broker.ib.reqCurrentTimeAsync)   # what the poll does every few seconds
        assert abs(clock.now() - OPEN) < timedelta(seconds=2)
        w.engine.enqueue(ActivateRequest("B"))
        plan = await w.state("B", "protected")
        assert [(x.order_ref, x.price) for x in w.gw.executions] == [("B:entry", 181.0)]
        assert plan.reason is None


async def test_a_gtd_entry_expires_at_ib_while_the_orchestrator_is_stopped(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    clock = FixedClock(start)
    sim = {"clock": start, "speed": 0, "calendar": "XNYS"}
    text = plan_toml("G", entry="limit", entry_price=175.0) + 'expire = "close-15m"\ntif = "GTD"\n'
    async with _hours(World(tmp_path, text, clock=clock, sim=sim)) as w:
        await w.state("G", "submitted")
        [entry] = w.gw.orders_by_ref("G:entry")
        assert (entry.tif, entry.good_till) == ("GTD", datetime(2026, 12, 2, 20, 45, tzinfo=UTC))
        await w.stop()
        w.gw.set_time(datetime(2026, 12, 2, 20, 45, tzinfo=UTC))   # IB cancels it: nobody is connected
        assert {o.order_ref: o.status for o in _at_gateway(w, "G")} == {
            "G:entry": "Cancelled", "G:target": "Cancelled", "G:stop": "Cancelled"}
        clock.set(datetime(2026, 12, 2, 20, 46, tzinfo=UTC))
        await w.start()
        plan = await w.state("G", "cancelled")
        assert plan.filled_qty == 0 and w.working("G") == []
