"""The simulator's session clock, seen through the real ib_async client: reqCurrentTime answers
the simulated time; outside regular hours orders wait for the open (warning 399, PreSubmitted)
and stops do not trigger unless ``outsideRth``; a gap at the open fills at the open price; DAY
orders end at the close, GTD orders at their time. The clock stands still (speed 0): only
``set_time``/``advance_time`` move it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ib_async import LimitOrder, MarketOrder, StopOrder

from orchestrator.simgw.control import execute

from .helpers import LogGuard, barrier, connect, error_codes, gateway, qualified, until

NIGHT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)        # Tuesday 22:00 New York
OPEN = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
CLOSE = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)


def _clock(at: datetime = NIGHT) -> dict[str, object]:
    return {"clock": at, "speed": 0, "calendar": "XNYS"}


async def test_req_current_time_answers_the_simulated_time() -> None:
    async with gateway(**_clock()) as gw, connect(gw) as ib:
        assert await ib.reqCurrentTimeAsync() == NIGHT
        gw.advance_time(90)
        assert (await ib.reqCurrentTimeAsync()).isoformat() == "2026-12-02T03:01:30+00:00"
        reply = await execute(gw, {"cmd": "set_time", "at": "2026-12-02T14:30:00Z"})
        assert reply == {"ok": True, "time": "2026-12-02T14:30:00+00:00", "open": True}
        assert await ib.reqCurrentTimeAsync() == OPEN


async def test_a_market_order_at_night_waits_for_the_open_and_fills_at_the_opening_gap() -> None:
    async with gateway(**_clock()) as gw, connect(gw) as ib:
        codes = error_codes(ib)
        trade = ib.placeOrder(await qualified(ib), MarketOrder("BUY", 10, tif="DAY"))
        await until(ib, lambda: 399 in codes)   # a warning: ib_async marks the trade ValidationError
        [held] = gw.orders
        assert held.status == "PreSubmitted" and held.filled == 0   # IB holds it for the open
        gw.set_price("AAPL", 175.0)                  # overnight news: the market opens lower
        await barrier(ib)
        assert gw.executions == []
        gw.set_time(OPEN)
        await until(ib, lambda: trade.orderStatus.status == "Filled")
        assert [(x.shares, x.price) for x in gw.executions] == [(10, 175.0)]


async def test_a_stop_does_not_trigger_while_closed_unless_outside_rth() -> None:
    async with gateway(**_clock(OPEN)) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        ib.placeOrder(aapl, MarketOrder("BUY", 20, tif="DAY"))
        await until(ib, lambda: len(gw.executions) == 1)
        rth = ib.placeOrder(aapl, StopOrder("SELL", 10, 170.0, tif="GTC"))
        ext = ib.placeOrder(aapl, StopOrder("SELL", 10, 170.0, tif="GTC", outsideRth=True))
        await until(ib, lambda: rth.orderStatus.status == ext.orderStatus.status == "PreSubmitted")
        gw.set_time(CLOSE)
        gw.set_price("AAPL", 168.0)                  # after hours, through both stops
        await until(ib, lambda: ext.orderStatus.status == "Filled")
        assert rth.orderStatus.status == "PreSubmitted"
        gw.set_price("AAPL", 166.0)
        gw.set_time(datetime(2026, 12, 3, 14, 30, tzinfo=UTC))   # it gapped further: filled at the open
        await until(ib, lambda: rth.orderStatus.status == "Filled")
        assert [(x.shares, x.price) for x in gw.executions][1:] == [(10, 168.0), (10, 166.0)]


async def test_day_orders_end_at_the_close_and_gtd_orders_at_their_time(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 202")
    async with gateway(**_clock(OPEN)) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        day = ib.placeOrder(aapl, LimitOrder("BUY", 10, 150.0, tif="DAY"))
        gtc = ib.placeOrder(aapl, LimitOrder("BUY", 10, 150.0, tif="GTC"))
        gtd = ib.placeOrder(aapl, LimitOrder("BUY", 10, 150.0, tif="GTD", goodTillDate="20261202-18:00:00"))
        await until(ib, lambda: {t.orderStatus.status for t in (day, gtc, gtd)} == {"Submitted"})
        gw.advance_time(3.5 * 3600 - 1)
        await barrier(ib)
        assert gtd.orderStatus.status == "Submitted"
        gw.advance_time(1)                           # 18:00 UTC: IB cancels the GTD order
        await until(ib, lambda: gtd.orderStatus.status == "Cancelled")
        assert day.orderStatus.status == "Submitted"
        gw.set_time(CLOSE)
        await until(ib, lambda: day.orderStatus.status == "Cancelled")
        assert gtc.orderStatus.status == "Submitted"


async def test_a_held_gateway_neither_ticks_nor_moves_its_clock_until_released() -> None:
    """An embedded gateway is held while the orchestrator starts: IB's time stands at the start
    and the path waits; released, the path ticks and the clock runs at its speed from there."""
    async with gateway(clock=NIGHT, speed=600, calendar="XNYS", tick_seconds=0.01, held=True) as gw, \
            connect(gw) as ib:
        assert await ib.reqCurrentTimeAsync() == NIGHT and gw.tick == 0
        assert gw.market_clock.now() == NIGHT
        gw.release()
        for _ in range(1000):   # bounded: ticks every 0.01 s once released
            if gw.tick >= 3:
                break
            await asyncio.sleep(0.01)
        assert gw.tick >= 3 and gw.market_clock.now() > NIGHT
        assert await ib.reqCurrentTimeAsync() > NIGHT
