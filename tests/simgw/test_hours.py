"""The trading and liquid hours of the simulator's contract details, through the real ib_async client:
a stock's follow the gateway's calendar (Thanksgiving CLOSED, the half day to 13:00), a day can be reported
otherwise (``set_hours``, also from the control port), and a future's are CME Globex's near-24-hour
sessions with the daily break; the gateway's clock keeps the same hours for futures (a stop triggers at
night, not in the break; an order placed in the break waits for 17:00 Chicago with warning 399)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from ib_async import Future, MarketOrder, StopOrder

from orchestrator.simgw import PricePath
from orchestrator.simgw.control import CommandError, execute
from orchestrator.simgw.hours import cme_open, next_cme_open

from .helpers import barrier, connect, error_codes, gateway, qualified, until

THANKSGIVING_EVE = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
ROWS = [("AAPL", 180.0), ("ES", 5000.0)]


def _sim(at: datetime) -> dict[str, object]:
    return {"clock": at, "speed": 0, "calendar": "XNYS", "sim_date": date(2026, 11, 27)}


async def test_a_stocks_hours_follow_the_calendar_and_can_be_reported_otherwise() -> None:
    async with gateway(PricePath.from_rows(ROWS), **_sim(THANKSGIVING_EVE)) as gw, connect(gw) as ib:
        (details,) = await ib.reqContractDetailsAsync(await qualified(ib))
        assert details.timeZoneId == "US/Eastern"
        assert details.liquidHours.split(";")[:4] == [
            "20261125:0930-20261125:1600", "20261126:CLOSED", "20261127:0930-20261127:1300", "20261128:CLOSED"]
        assert details.tradingHours.split(";")[:3] == [
            "20261125:0400-20261125:2000", "20261126:CLOSED", "20261127:0400-20261127:1700"]
        gw.set_hours("AAPL", date(2026, 11, 30), "CLOSED")
        assert await execute(gw, {"cmd": "set_hours", "symbol": "AAPL", "date": "2026-12-01",
                                  "hours": "0930-1300"}) == {"ok": True}
        (details,) = await ib.reqContractDetailsAsync(await qualified(ib))
        assert details.liquidHours.split(";")[5:7] == ["20261130:CLOSED", "20261201:0930-20261201:1300"]
        assert details.tradingHours.split(";")[5:7] == ["20261130:CLOSED", "20261201:0930-20261201:1300"]
        with pytest.raises(CommandError, match=r"hours for a day are CLOSED or HHMM-HHMM, e.g. 0930-1300 \(got '9-5'"):
            await execute(gw, {"cmd": "set_hours", "symbol": "AAPL", "date": "2026-12-01", "hours": "9-5"})
        with pytest.raises(CommandError, match="'date' must be a date YYYY-MM-DD"):
            await execute(gw, {"cmd": "set_hours", "symbol": "AAPL", "date": "Monday", "hours": "CLOSED"})
        with pytest.raises(KeyError):
            gw.set_hours("ZZZZ", date(2026, 12, 1), "CLOSED")


async def test_a_futures_hours_are_globex_with_the_daily_break() -> None:
    async with gateway(PricePath.from_rows(ROWS), **_sim(THANKSGIVING_EVE)) as gw, connect(gw) as ib:
        (details,) = await ib.reqContractDetailsAsync(Future("ES", "202612", "CME"))
        assert details.timeZoneId == "US/Central"
        assert details.tradingHours.split(";")[:6] == [
            "20261124:1700-20261125:1600", "20261125:1700-20261126:1600", "20261126:1700-20261127:1600",
            "20261128:CLOSED", "20261129:CLOSED", "20261129:1700-20261130:1600"]
        assert details.liquidHours.split(";")[:2] == ["20261125:0830-20261125:1500", "20261126:0830-20261126:1500"]


def test_the_globex_clock() -> None:
    """Chicago is UTC-6 in December: 17:00 CST is 23:00 UTC."""
    opened = [datetime(2026, 12, 2, 23, 0, tzinfo=UTC), datetime(2026, 12, 2, 21, 59, tzinfo=UTC),
              datetime(2026, 12, 6, 23, 0, tzinfo=UTC), datetime(2026, 12, 2, 8, 0, tzinfo=UTC)]
    assert [cme_open(t) for t in opened] == [True, True, True, True]   # reopened, before the break, Sunday, night
    closed = [datetime(2026, 12, 2, 22, 0, tzinfo=UTC), datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
              datetime(2026, 12, 4, 22, 0, tzinfo=UTC), datetime(2026, 12, 6, 22, 59, tzinfo=UTC)]
    assert [cme_open(t) for t in closed] == [False, False, False, False]   # break, Saturday, Friday 16:00, Sunday
    assert next_cme_open(datetime(2026, 12, 4, 22, 0, tzinfo=UTC)) == datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    assert next_cme_open(datetime(2026, 12, 2, 22, 0, tzinfo=UTC)) == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)


async def test_futures_trade_on_globex_hours_at_the_gateway() -> None:
    night = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)   # Wednesday 19:00 Chicago: XNYS closed, Globex open
    async with gateway(PricePath.from_rows(ROWS), **_sim(night)) as gw, connect(gw) as ib:
        codes = error_codes(ib)
        (found,) = await ib.qualifyContractsAsync(Future("ES", "202612", "CME"))
        assert isinstance(found, Future)
        es = found
        aapl = await qualified(ib)
        buy = ib.placeOrder(es, MarketOrder("BUY", 2, tif="GTC"))
        await until(ib, lambda: buy.orderStatus.status == "Filled")
        es_stop = ib.placeOrder(es, StopOrder("SELL", 2, 4990.0, tif="GTC"))
        ib.placeOrder(aapl, StopOrder("SELL", 10, 170.0, tif="GTC"))
        await barrier(ib)
        gw.set_price("ES", 4980.0)                     # through the stop at night: Globex is open
        gw.set_price("AAPL", 168.0)                    # XNYS is closed: the stock's stop waits
        await until(ib, lambda: es_stop.orderStatus.status == "Filled")
        assert [o.status for o in gw.orders if o.symbol == "AAPL"] == ["PreSubmitted"]   # held for the open (399)
        assert all(e.errorCode != 399 for t in (buy, es_stop) for e in t.log)
        gw.set_time(datetime(2026, 12, 3, 22, 30, tzinfo=UTC))   # Thursday 16:30 Chicago: the daily break
        before = codes.count(399)
        held = ib.placeOrder(es, MarketOrder("BUY", 1, tif="GTC"))
        await until(ib, lambda: codes.count(399) > before)
        assert [o.status for o in gw.orders if o.order_id == held.order.orderId] == ["PreSubmitted"]
        assert any("until 2026-12-03 17:00:00 US/Central" in e.message for e in held.log)
        gw.set_time(datetime(2026, 12, 3, 23, 0, tzinfo=UTC))    # 17:00 Chicago: Globex reopens
        await until(ib, lambda: held.orderStatus.status == "Filled")


def test_without_a_calendar_the_hours_are_nominal_and_load_no_pandas() -> None:
    code = ("import sys\nfrom datetime import datetime, UTC\nfrom orchestrator.simgw.hours import contract_hours\n"
            "print(contract_hours(datetime(2026, 11, 25, 15, tzinfo=UTC), 'US/Eastern', True, None).split(';')[1])\n"
            "print('pandas' in sys.modules, 'exchange_calendars' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.splitlines() == ["20261126:0930-20261126:1600", "False False"]   # Thanksgiving: nominal hours
