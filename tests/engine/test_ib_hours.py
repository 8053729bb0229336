"""IB's own hours end to end: the real engine and ib_async client over TCP to the simulated gateway,
whose contract details carry the trading and liquid hours. A stock's day IB reports as closed
holds a market entry although XNYS opens it (and the disagreement is said once); a future trails
on CME's hours, not on XNYS's, and rests in CME's daily break. Verdicts are the gateway's."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

from orchestrator.clock import FixedClock
from orchestrator.config import SessionsConfig
from orchestrator.engine.work import ActivateRequest, ReconcileRequest, TrailTick

from .harness import World, plan_toml

WEDNESDAY = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)      # 10:00 New York: XNYS is open
THURSDAY_OPEN = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
ES = 'sec_type = "FUT"\nexchange = "CME"\ncontract_month = "202612"\n'


def _hours(w: World) -> World:
    w.config = w.config.model_copy(update={"sessions": SessionsConfig(market_hours=True)})
    return w


def _sim(at: datetime) -> dict[str, Any]:
    return {"clock": at, "speed": 0, "calendar": "XNYS"}


async def _handled(w: World, item: Any) -> None:
    w.engine.enqueue(item)
    await asyncio.wait_for(w.engine.queue.join(), 10)


def _notices(w: World, kind: str) -> list[str]:
    assert w.rt is not None
    rows = w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind=?", (kind,))
    return [json.loads(r[0])["facts"]["message"] for r in rows]


async def test_a_day_ib_reports_closed_holds_a_market_entry_that_xnys_would_open(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(WEDNESDAY)
    world = _hours(World(tmp_path, plan_toml("C"), clock=clock, sim=_sim(WEDNESDAY)))
    world.gw.set_hours("AAPL", date(2026, 12, 2), "CLOSED")   # IB knows a closure the calendar does not
    async with world as w:
        assert w.gw.market_clock.is_open()   # the gateway itself would fill a market order now
        await w.until(lambda: "C" in w.engine.plans and (w.plan("C").reason or "").startswith("the market"), "held")
        assert w.plan("C").reason == ("the market is closed until 2026-12-03 14:30 UTC: a market entry waits for "
                                      "the open")
        await _handled(w, ActivateRequest("C"))
        assert w.plan("C").state == "pending" and w.gw.orders == []
        said = _notices(w, "hours_disagree")
        assert said == ["AAPL: IB's liquid hours and the exchange calendar disagree on 2026-12-02: XNYS says "
                        "09:30-16:00 America/New_York (14:30-21:00 UTC); IB says closed; IB's hours are traded on "
                        "for that day"]
        clock.set(THURSDAY_OPEN)
        w.gw.set_time(THURSDAY_OPEN)
        w.engine.enqueue(ActivateRequest("C"))
        plan = await w.state("C", "protected")
        assert w.gw.positions["AAPL"].qty == plan.quantity
        assert len(_notices(w, "hours_disagree")) == 1   # said once


async def test_a_future_trails_on_cme_hours_not_xnys(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """ES: XNYS is closed on Wednesday evening in New York, CME Globex is open and the stop trails;
    in CME's daily break (16:00-17:00 Chicago) it rests; at 17:00 it trails again."""
    start = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)         # 14:00 Chicago, both open
    clock = FixedClock(start)
    text = plan_toml("E", "ES", entry_price=5010.0, stop=4990.0, target=5100.0) + ES + \
        "[plans.trail]\ntrigger_r = 0.5\ndistance = 5.0\n"
    world = _hours(World(tmp_path, text, clock=clock, sim=_sim(start), prices=[("AAPL", 180.0), ("ES", 5010.0)],
                         gateway={"sim_date": date(2026, 12, 1)}))
    async with world as w:
        plan = await w.state("E", "protected")
        key = plan.key

        def stop() -> float | None:
            return w.gw.orders_by_ref("E:stop")[-1].aux_price

        async def trade(at: datetime, price: float) -> None:
            clock.set(at)
            w.gw.set_time(at)
            w.gw.set_price("ES", price)
            await w.until(lambda: w.engine.market.trail_price(key) == price, f"ES at {price}")
            await _handled(w, TrailTick())

        assert stop() == 4990.0
        await trade(datetime(2026, 12, 3, 0, 30, tzinfo=UTC), 5040.0)    # 19:30 New York, 18:30 Chicago
        await w.gw.wait_until(lambda: stop() == 5035.0)
        await trade(datetime(2026, 12, 3, 22, 30, tzinfo=UTC), 5060.0)   # 16:30 Chicago: the daily break
        assert stop() == 5035.0 and w.plan("E").stop_price == 5035     # no modification while CME is closed
        await trade(datetime(2026, 12, 3, 23, 0, tzinfo=UTC), 5060.0)    # 17:00 Chicago: Globex reopens
        await w.gw.wait_until(lambda: stop() == 5055.0)
        assert _notices(w, "hours_unknown") == [] and _notices(w, "hours_disagree") == []


async def test_a_futures_hours_are_read_again_when_ibs_week_has_passed(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB's hours reach a week ahead here. Past them a future's hours are not known: its stop rests
    and a notice says why (never read as open). Twelve hours after they were read the details are
    read again at a reconciliation, and the stop trails on the new week's hours."""
    start = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    clock = FixedClock(start)
    text = plan_toml("W", "ES", entry_price=5010.0, stop=4990.0, target=5100.0) + ES + \
        "[plans.trail]\ntrigger_r = 0.5\ndistance = 5.0\n"
    world = _hours(World(tmp_path, text, clock=clock, sim=_sim(start), prices=[("AAPL", 180.0), ("ES", 5010.0)],
                         gateway={"sim_date": date(2026, 12, 1)}))
    async with world as w:
        plan = await w.state("W", "protected")
        key = plan.key
        later = datetime(2026, 12, 10, 0, 30, tzinfo=UTC)        # Wednesday 18:30 Chicago, a week on
        clock.set(later)
        w.gw.set_time(later)
        w.gw.set_price("ES", 5040.0)
        await w.until(lambda: w.engine.market.trail_price(key) == 5040.0, "ES at 5040")
        await _handled(w, TrailTick())
        clock.set(datetime(2026, 12, 10, 0, 31, tzinfo=UTC))
        await _handled(w, TrailTick())                              # a minute on: still unknown, said once
        assert w.gw.orders_by_ref("W:stop")[-1].aux_price == 4990.0
        [unknown] = _notices(w, "hours_unknown")
        assert unknown == ("ES: the market's hours are not known (IB sessions cover 2026-12-01 23:00 UTC to "
                           "2026-12-08 22:00 UTC only): market entries and trailing wait until they are")
        assert w.rt is not None
        read = w.rt.broker.contracts.monotonic
        w.rt.broker.contracts.monotonic = lambda: read() + 12 * 3600   # half a day on: the details are read again
        await _handled(w, ReconcileRequest("periodic"))
        await _handled(w, TrailTick())
        await w.gw.wait_until(lambda: w.gw.orders_by_ref("W:stop")[-1].aux_price == 5035.0)


async def test_an_early_close_ib_knows_moves_flatten_at_of_a_plan_loaded_later(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB's details say AAPL closes at 13:00 New York today (XNYS: 16:00). Once the engine has them (a
    first plan activated), a plan loaded later anchors ``close-10m`` to IB's close: 17:50 UTC, not 20:50."""
    clock = FixedClock(WEDNESDAY)
    world = _hours(World(tmp_path, plan_toml("A"), clock=clock, sim=_sim(WEDNESDAY)))
    world.gw.set_hours("AAPL", date(2026, 12, 2), "0930-1300")
    async with world as w:
        await w.state("A", "protected")
        [said] = _notices(w, "hours_disagree")
        assert "IB says 09:30-13:00 America/New_York (14:30-18:00 UTC)" in said
        (tmp_path / "plans" / "later.toml").write_text(plan_toml("B") + 'flatten_at = "close-10m"\n')
        await w.until(lambda: "B" in w.engine.plans, "the later plan loaded")
        assert w.plan("B").spec.flatten_due == datetime(2026, 12, 2, 17, 50, tzinfo=UTC)
        await w.state("B", "protected")
        clock.set(datetime(2026, 12, 2, 18, 30, tzinfo=UTC))   # after IB's close: a new market entry would wait
        assert w.engine.hours.closed_until(w.plan("B").spec, clock.now()) == (
            THURSDAY_OPEN, "the market is closed until 2026-12-03 14:30 UTC")


async def test_a_futures_anchors_wait_for_ibs_hours_then_use_them(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """A new ES plan with ``flatten_at = "close-10m"``: its hours are IB's, so it is not loaded until
    the engine has read ES's details (once, before the next scan); then close-10m is 15:50 Chicago
    (21:50 UTC) of Wednesday's Globex session, not XNYS's 15:50 New York."""
    start = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    clock = FixedClock(start)
    text = plan_toml("F", "ES", entry="limit", entry_price=5000.0, stop=4990.0, target=5100.0) + ES + \
        'flatten_at = "close-10m"\n'
    world = _hours(World(tmp_path, text, clock=clock, sim=_sim(start), prices=[("AAPL", 180.0), ("ES", 5010.0)],
                         gateway={"sim_date": date(2026, 12, 1)}))
    async with world as w:
        await w.until(lambda: "F" in w.engine.plans, "the ES plan loaded")
        assert w.plan("F").spec.flatten_due == datetime(2026, 12, 2, 21, 50, tzinfo=UTC)
        [waited] = _notices(w, "plan_skipped")
        assert waited.startswith("plan F is not loaded: IB's trading hours of ES are not known yet")
        await w.state("F", "submitted")
