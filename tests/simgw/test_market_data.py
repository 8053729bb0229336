"""Market data like IB's, through the real ib_async client: entitlement, data types, outages.

Each test turns a reality on, asserts what the client sees, turns it off and asserts the
recovery. "No tick" is asserted after a round trip (``barrier``): a tick sent before the
answer would have arrived first, since one connection's messages keep their order.
"""

from __future__ import annotations

import math

from ib_async import IB, Ticker

from .helpers import LogGuard, barrier, connect, error_codes, gateway, qualified, until

NOT_SUBSCRIBED = r"Error (354|10089), reqId \d+: Requested market data"


def tick_types(ticker: Ticker) -> set[int]:
    return {t.tickType for t in ticker.ticks}


async def test_live_data_says_it_is_live() -> None:
    async with gateway() as gw, connect(gw) as ib:
        ticker = ib.reqMktData(await qualified(ib))
        await until(ib, lambda: ticker.last == 180.0)
        assert ticker.marketDataType == 1 and {1, 2, 4} <= tick_types(ticker)
        gw.set_price("AAPL", 180.5)
        await until(ib, lambda: ticker.last == 180.5)


async def test_delayed_account_refuses_live_and_serves_delayed_after_req_market_data_type(
        log_guard: LogGuard) -> None:
    log_guard.expect(NOT_SUBSCRIBED)
    async with gateway(market_data="delayed") as gw, connect(gw) as ib:
        seen = error_codes(ib)
        aapl = await qualified(ib)
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: 354 in seen)
        gw.set_price("AAPL", 181.0)
        await barrier(ib)
        assert math.isnan(ticker.last) and not ticker.ticks  # no data at all
        ib.cancelMktData(aapl)

        ib.reqMarketDataType(3)
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: ticker.last == 181.0)
        assert 10167 in seen and ticker.marketDataType == 3
        assert tick_types(ticker) >= {66, 67, 68} and not tick_types(ticker) & {1, 2, 4}
        gw.set_price("AAPL", 181.5)
        await until(ib, lambda: ticker.last == 181.5)

        gw.feed.set_entitlement("live")  # the account subscribes: IB serves live data where it can
        await until(ib, lambda: ticker.marketDataType == 1)
        ticker.ticks.clear()
        gw.set_price("AAPL", 182.0)
        await until(ib, lambda: ticker.last == 182.0)
        assert {1, 2, 4} <= tick_types(ticker)


async def test_no_entitlement_refuses_live_and_delayed_requests(log_guard: LogGuard) -> None:
    log_guard.expect(NOT_SUBSCRIBED)
    async with gateway(market_data="none") as gw, connect(gw) as ib:
        seen = error_codes(ib)
        aapl = await qualified(ib)
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: 10089 in seen)
        ib.cancelMktData(aapl)
        ib.reqMarketDataType(3)
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: 354 in seen)
        gw.set_price("AAPL", 181.0)
        await barrier(ib)
        assert not ticker.ticks and 10167 not in seen
        ib.cancelMktData(aapl)

        gw.feed.set_entitlement("live")
        ib.reqMarketDataType(1)
        ticker = ib.reqMktData(aapl)  # a refused request is gone at IB: ask again
        await until(ib, lambda: ticker.last == 181.0 and ticker.marketDataType == 1)


async def test_entitlement_per_symbol_and_a_lost_entitlement_mid_stream(log_guard: LogGuard) -> None:
    log_guard.expect(NOT_SUBSCRIBED)
    async with gateway() as gw, connect(gw) as ib:
        seen = error_codes(ib)
        aapl, msft = await qualified(ib, "AAPL"), await qualified(ib, "MSFT")
        a, m = ib.reqMktData(aapl), ib.reqMktData(msft)
        await until(ib, lambda: a.last == 180.0 and m.last == 420.0)
        gw.feed.set_entitlement("none", symbol="AAPL")
        await until(ib, lambda: 10089 in seen)
        gw.set_price("AAPL", 181.0)
        gw.set_price("MSFT", 421.0)
        await until(ib, lambda: m.last == 421.0)
        await barrier(ib)
        assert a.last == 180.0
        gw.feed.set_entitlement("live", symbol="AAPL")
        a = ib.reqMktData(aapl)
        await until(ib, lambda: a.last == 181.0)


async def test_competing_session_silences_live_data_until_the_next_entitlement_change(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 10197, reqId \d+: No market data during competing live session")
    async with gateway() as gw, connect(gw) as ib:
        seen = error_codes(ib)
        ticker = ib.reqMktData(await qualified(ib))
        await until(ib, lambda: ticker.last == 180.0)
        gw.feed.competing_session()
        await until(ib, lambda: 10197 in seen)
        gw.set_price("AAPL", 183.0)
        await barrier(ib)
        assert ticker.last == 180.0
        gw.feed.set_entitlement("live")  # the other session logs out
        await until(ib, lambda: ticker.last == 183.0)
        gw.set_price("AAPL", 183.5)
        await until(ib, lambda: ticker.last == 183.5)


async def test_data_farm_drops_and_comes_back() -> None:
    async with gateway() as gw, connect(gw) as ib:
        seen = error_codes(ib)
        aapl = await qualified(ib)
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: ticker.last == 180.0)
        gw.feed.set_farm(False)
        await until(ib, lambda: 2103 in seen)
        gw.set_price("AAPL", 179.0)
        await barrier(ib)
        assert ticker.last == 180.0
        late = IB()  # a client connecting now hears that the farm is down
        late_codes = error_codes(late)
        await late.connectAsync("127.0.0.1", gw.port, clientId=2, timeout=3)
        late.disconnect()
        assert 2103 in late_codes and 2104 not in late_codes and 2106 in late_codes
        gw.feed.set_farm(True)
        await until(ib, lambda: 2104 in seen and ticker.last == 179.0)


async def test_one_symbol_stalls_while_others_go_on() -> None:
    async with gateway() as gw, connect(gw) as ib:
        a = ib.reqMktData(await qualified(ib, "AAPL"))
        m = ib.reqMktData(await qualified(ib, "MSFT"))
        await until(ib, lambda: a.last == 180.0 and m.last == 420.0)
        gw.feed.stall("AAPL")
        gw.set_price("AAPL", 185.0)
        gw.set_price("MSFT", 425.0)
        await until(ib, lambda: m.last == 425.0)
        await barrier(ib)
        assert a.last == 180.0 and gw.price("AAPL") == 185.0  # the market moved; the ticks did not
        gw.feed.stall("AAPL", False)
        await until(ib, lambda: a.last == 185.0)


async def test_no_quote_is_minus_one_bid_and_ask() -> None:
    async with gateway() as gw, connect(gw) as ib:
        ticker = ib.reqMktData(await qualified(ib))
        await until(ib, lambda: ticker.bid == 179.99)
        gw.feed.set_no_quote("AAPL")
        await until(ib, lambda: ticker.bid == -1 and ticker.ask == -1)
        assert ticker.bidSize == 0 and not ticker.hasBidAsk() and ticker.last == 180.0
        gw.feed.set_no_quote("AAPL", False)
        await until(ib, lambda: ticker.bid == 179.99 and ticker.ask == 180.01)


async def test_snapshot_follows_the_entitlement(log_guard: LogGuard) -> None:
    log_guard.expect(NOT_SUBSCRIBED)
    async with gateway(market_data="delayed") as gw, connect(gw) as ib:
        tsla = await qualified(ib, "TSLA")
        (refused,) = await ib.reqTickersAsync(tsla)
        assert math.isnan(refused.last)
        ib.reqMarketDataType(3)
        (snap,) = await ib.reqTickersAsync(tsla)
        assert snap.last == 250.0 and snap.marketDataType == 3
        assert gw.feed.to_json()["entitlement"] == {"default": "delayed", "by_symbol": {}}
