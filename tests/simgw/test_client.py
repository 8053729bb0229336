"""The real ib_async client against the simulated gateway, over loopback."""

from __future__ import annotations

import time
from pathlib import Path

from ib_async import IB, LimitOrder, MarketOrder, Order, Stock, StopOrder

from orchestrator.simgw import PricePath

from .helpers import WAIT, LogGuard, barrier, connect, events, gateway, qualified, read_journal, until


async def test_connect_is_fast_and_every_startup_request_is_answered(journal_file: Path) -> None:
    async with gateway(journal_path=journal_file) as gw:
        ib = IB()
        started = time.perf_counter()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=7, timeout=2, raiseSyncErrors=True)
        elapsed = time.perf_counter() - started
        try:
            assert elapsed < 1.0, f"connect took {elapsed:.3f} s"
            assert ib.client.serverVersion() == 157
            assert ib.wrapper.accounts == ["DU1234567"]
            tags = {(v.tag, v.currency) for v in ib.accountValues()}
            for tag in ("NetLiquidation", "TotalCashValue", "AvailableFunds", "BuyingPower", "ExcessLiquidity",
                        "GrossPositionValue", "UnrealizedPnL", "RealizedPnL"):
                assert (tag, "USD") in tags
            assert ("CashBalance", "BASE") in tags and ("AccountType", "") in tags
            values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
            assert float(values["NetLiquidation"]) == 100_000
            assert ib.positions() == [] and ib.openTrades() == [] and ib.fills() == []
            assert gw.clients == [7]
            now = await ib.reqCurrentTimeAsync()
            assert abs(now.timestamp() - time.time()) < 5
            summary = {v.tag: v.value for v in await ib.accountSummaryAsync()}
            assert float(summary["NetLiquidation"]) == 100_000 and summary["AccountType"] == "INDIVIDUAL"
        finally:
            ib.disconnect()
    assert not journal_file.exists() or read_journal(journal_file) == []


async def test_qualify_good_and_unknown_symbols(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 200, reqId \d+: No security definition")
    async with gateway() as gw, connect(gw) as ib:
        good, bad = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"), Stock("ZZZZ", "SMART", "USD"))
        assert bad is None
        assert (good.conId, good.primaryExchange, good.currency, good.secType) == (272093, "NASDAQ", "USD", "STK")
        (details,) = await ib.reqContractDetailsAsync(Stock(conId=756733))
        assert details.contract.symbol == "SPY" and details.minTick == 0.01
        assert details.contract.primaryExchange in ("NASDAQ", "NYSE")
        again = await qualified(ib, "MSFT")
        assert again.conId == good.conId


async def test_quotes_follow_the_price_path_and_snapshots_end(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 200, reqId \d+")
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: ticker.last == 180.0)
        assert (ticker.bid, ticker.ask) == (179.99, 180.01) and ticker.bidSize > 0 and ticker.askSize > 0
        await gw.advance(6)  # AAPL trades at 180.10 on row 6
        await until(ib, lambda: ticker.last == 180.1)
        assert ticker.volume > 0 and ticker.lastSize > 0 and ticker.close == 180.0
        (snap,) = await ib.reqTickersAsync(await qualified(ib, "TSLA"))
        assert snap.last == 250.0 and snap.bid == 249.99
        ib.cancelMktData(aapl)
        bogus = Stock("ZZZZ", "SMART", "USD")
        bogus.conId = 1
        errors = []
        ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
        ib.reqMktData(bogus)
        await until(ib, lambda: 200 in errors)


async def test_five_second_bars_from_simulated_time() -> None:
    rows = [("AAPL", 100.0 + i / 10) for i in range(30)]
    async with gateway(PricePath.from_rows(rows)) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        bars = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
        await barrier(ib)
        await gw.advance(12)  # manual ticking: one simulated second per tick
        await until(ib, lambda: len(bars) >= 2)
        for bar in bars:
            assert bar.low <= min(bar.open_, bar.close) <= max(bar.open_, bar.close) <= bar.high
        assert bars[1].time.timestamp() - bars[0].time.timestamp() == 5
        assert bars[1].volume > 0 and bars[1].close > bars[0].close
        ib.cancelRealTimeBars(bars)


async def test_market_order_fill_commission_positions_account(journal_file: Path) -> None:
    async with gateway(journal_path=journal_file, account_push_seconds=0.05) as gw, connect(gw, 3) as ib:
        aapl = await qualified(ib)
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 100, orderRef="plan1:entry", tif="DAY"))
        await until(ib, lambda: trade.orderStatus.status == "Filled" and trade.fills
                    and trade.fills[0].commissionReport.commission > 0)
        fill = trade.fills[0]
        assert (fill.execution.side, fill.execution.shares, fill.execution.price) == ("BOT", 100, 180.0)
        assert fill.execution.orderRef == "plan1:entry" and fill.execution.permId == trade.order.permId
        assert fill.commissionReport.commission == 1.0
        assert trade.orderStatus.avgFillPrice == 180.0 and trade.orderStatus.remaining == 0
        await until(ib, lambda: ib.positions() != [] and ib.portfolio() != [])
        (pos,) = ib.positions()
        assert (pos.position, pos.avgCost) == (100, 180.01)
        gw.set_price("AAPL", 182.0)
        await until(ib, lambda: ib.portfolio()[0].marketPrice == 182.0)
        item = ib.portfolio()[0]
        assert item.unrealizedPNL == round(100 * (182.0 - 180.01), 4)
        values = {v.tag: float(v.value) for v in ib.accountValues() if v.currency == "USD" and v.tag != "Currency"}
        assert values["GrossPositionValue"] == 18_200.0
        assert values["NetLiquidation"] == round(100_000 - 18_001 + 18_200, 2)
        sell = ib.placeOrder(aapl, MarketOrder("SELL", 40, tif="DAY"))
        await until(ib, lambda: sell.isDone() and ib.positions()[0].position == 60)
        await until(ib, lambda: float(next(v.value for v in ib.accountValues() if v.tag == "RealizedPnL")) != 0)
        assert gw.positions["AAPL"].qty == 60
        assert len(read_journal(journal_file)) == 4  # flushed line by line, readable while running
    assert events(journal_file) == [("placed", trade.order.orderId, "Submitted"),
                                    ("filled", trade.order.orderId, "Filled"),
                                    ("placed", sell.order.orderId, "Submitted"),
                                    ("filled", sell.order.orderId, "Filled")]
    entry = read_journal(journal_file)[1]
    assert (entry["exec_id"], entry["fill_qty"], entry["fill_price"], entry["cum_qty"]) == (
        fill.execution.execId, 100.0, 180.0, 100.0)
    assert entry["order_ref"] == "plan1:entry" and entry["perm_id"] == trade.order.permId


async def test_limit_order_modify_then_cancel(journal_file: Path, log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 202, reqId \d+: Order Canceled")
    async with gateway(journal_path=journal_file) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, orderRef="p2:entry", tif="DAY"))
        await until(ib, lambda: trade.orderStatus.status == "Submitted")
        perm = trade.order.permId
        trade.order.lmtPrice = 171.0
        ib.placeOrder(aapl, trade.order)
        await until(ib, lambda: trade.log[-1].message == "Modified")  # ib_async: unchanged Submitted ack
        assert gw.order(1, trade.order.orderId).lmt_price == 171.0
        trade.order.totalQuantity = 20
        ib.placeOrder(aapl, trade.order)
        await until(ib, lambda: trade.orderStatus.remaining == 20)
        assert gw.order(1, trade.order.orderId).total_qty == 20
        ib.cancelOrder(trade.order)
        await until(ib, lambda: trade.orderStatus.status == "Cancelled")
        assert trade.order.permId == perm
        assert [(e.status, e.message) for e in trade.log] == [
            ("PendingSubmit", ""), ("Submitted", ""), ("Submitted", "Modify"), ("Submitted", "Modified"),
            ("Submitted", "Modify"), ("Submitted", ""), ("PendingCancel", ""), ("Cancelled", "")]
    oid = trade.order.orderId
    assert events(journal_file) == [("placed", oid, "Submitted"), ("modified", oid, "Submitted"),
                                    ("modified", oid, "Submitted"), ("cancelled", oid, "Cancelled")]
    first, second = read_journal(journal_file)[1:3]
    assert (first["lmt_price"], first["quantity"], first["perm_id"]) == (171.0, 10.0, perm)
    assert (second["lmt_price"], second["quantity"], second["perm_id"]) == (171.0, 20.0, perm)


async def test_bracket_entry_fill_then_target_cancels_stop(journal_file: Path) -> None:
    async with gateway(journal_path=journal_file) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        gw.set_price("AAPL", 181.0)
        parent, take, stop = ib.bracketOrder("BUY", 100, 180.0, 185.0, 178.0, tif="DAY")
        parent.orderRef, take.orderRef, stop.orderRef = "b:entry", "b:target", "b:stop"
        trades = [ib.placeOrder(aapl, o) for o in (parent, take, stop)]
        await until(ib, lambda: [t.orderStatus.status for t in trades] == ["Submitted", "PreSubmitted", "PreSubmitted"])
        assert trades[1].orderStatus.parentId == parent.orderId
        gw.set_price("AAPL", 179.9)
        await until(ib, lambda: [t.orderStatus.status for t in trades] == ["Filled", "Submitted", "PreSubmitted"])
        assert trades[0].fills[0].execution.price == 179.9
        gw.set_price("AAPL", 185.3)
        await until(ib, lambda: [t.orderStatus.status for t in trades] == ["Filled", "Filled", "Cancelled"])
        assert trades[1].fills[0].execution.price == 185.3
        await until(ib, lambda: ib.positions() == [])
    p, t, s = parent.orderId, take.orderId, stop.orderId
    assert events(journal_file) == [
        ("placed", p, "Held"), ("placed", t, "Held"),
        ("transmitted", p, "Submitted"), ("transmitted", t, "PreSubmitted"), ("placed", s, "PreSubmitted"),
        ("filled", p, "Filled"), ("activated", t, "Submitted"), ("activated", s, "Submitted"),
        ("filled", t, "Filled"), ("cancelled", s, "Cancelled"),
    ]


async def test_stop_triggered_by_the_price_path(journal_file: Path) -> None:
    rows = [("AAPL", 180.0), ("AAPL", 179.0), ("AAPL", 178.5), ("AAPL", 177.4), ("AAPL", 177.0)]
    async with gateway(PricePath.from_rows(rows), journal_path=journal_file) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        buy = ib.placeOrder(aapl, MarketOrder("BUY", 50, tif="DAY"))
        await until(ib, lambda: buy.isDone())
        stop = ib.placeOrder(aapl, StopOrder("SELL", 50, 178.0, orderRef="p:stop", tif="DAY"))
        await until(ib, lambda: stop.orderStatus.status == "PreSubmitted")  # a simulated stop
        await gw.advance(3)
        assert stop.orderStatus.status == "PreSubmitted" and gw.order(1, stop.order.orderId).status == "Submitted"
        await gw.advance(1)  # 177.40 gaps through 178.00: fills at the worse price
        await until(ib, lambda: stop.orderStatus.status == "Filled")
        assert stop.fills[0].execution.price == 177.4 and stop.fills[0].execution.side == "SLD"
    assert events(journal_file, "triggered", "filled")[-2:] == [
        ("triggered", stop.order.orderId, "Submitted"), ("filled", stop.order.orderId, "Filled")]


async def test_partial_fills(journal_file: Path) -> None:
    async with gateway(journal_path=journal_file, partial_fill_max=30) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 100, tif="DAY"))
        await until(ib, lambda: trade.orderStatus.filled == 30)
        assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 70
        await gw.advance(3)
        await until(ib, lambda: trade.orderStatus.status == "Filled" and len(trade.fills) == 4)
        assert [f.execution.cumQty for f in trade.fills] == [30, 60, 90, 100]
        assert [f.execution.shares for f in trade.fills] == [30, 30, 30, 10]
        assert sum(f.commissionReport.commission for f in trade.fills) == 1.0  # the minimum, once per order
        assert len({f.execution.execId for f in trade.fills}) == 4
    assert [e["fill_qty"] for e in read_journal(journal_file) if e["event"] == "filled"] == [30, 30, 30, 10]


async def test_trailing_stop() -> None:
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="DAY"))
        trail = ib.placeOrder(aapl, Order(action="SELL", totalQuantity=10, orderType="TRAIL", auxPrice=1.0, tif="DAY"))
        await until(ib, lambda: trail.orderStatus.status == "PreSubmitted")
        oid = trail.order.orderId
        assert gw.order(1, oid).trail_stop_price == 179.0
        for price in (181.0, 183.0, 182.5):
            gw.set_price("AAPL", price)
        assert gw.order(1, oid).trail_stop_price == 182.0
        gw.set_price("AAPL", 182.2)
        assert trail.orderStatus.status == "PreSubmitted"
        gw.set_price("AAPL", 181.9)
        await until(ib, lambda: trail.orderStatus.status == "Filled")
        assert trail.fills[0].execution.price == 181.9


async def test_reconnect_gets_open_orders_and_the_same_executions(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 202", r"Error 201")
    async with gateway() as gw:
        async with connect(gw, 5) as ib:
            aapl = await qualified(ib)
            filled = ib.placeOrder(aapl, MarketOrder("BUY", 20, orderRef="r:entry", tif="DAY"))
            working = ib.placeOrder(aapl, LimitOrder("SELL", 20, 200.0, orderRef="r:target", tif="DAY"))
            cancelled = ib.placeOrder(aapl, LimitOrder("BUY", 20, 100.0, orderRef="r:cancelled", tif="DAY"))
            rejected = ib.placeOrder(aapl, StopOrder("BUY", 20, 100.0, orderRef="r:rejected", tif="DAY"))
            await until(ib, lambda: cancelled.orderStatus.status == "Submitted")
            ib.cancelOrder(cancelled.order)
            await until(ib, lambda: filled.isDone() and working.orderStatus.status == "Submitted"
                        and filled.fills and filled.fills[0].commissionReport.commission > 0
                        and cancelled.orderStatus.status == "Cancelled"
                        and rejected.orderStatus.status == "Inactive")
            exec_ids = [f.execution.execId for f in ib.fills()]
        async with connect(gw, 5) as ib:
            (open_trade,) = ib.openTrades()
            assert (open_trade.order.orderId, open_trade.order.permId) == (working.order.orderId, working.order.permId)
            assert open_trade.order.orderRef == "r:target" and open_trade.orderStatus.status == "Submitted"
            assert [f.execution.execId for f in ib.fills()] == exec_ids
            assert ib.fills()[0].commissionReport.commission == 1.0
            completed = {t.order.orderRef: t.orderStatus.status for t in ib.trades() if t.isDone()}
            assert completed == {"r:entry": "Filled", "r:cancelled": "Cancelled", "r:rejected": "Inactive"}
            assert ib.positions()[0].position == 20
            # the live order can still be modified from the new session
            open_trade.order.lmtPrice = 199.0
            ib.placeOrder(open_trade.contract, open_trade.order)
            await until(ib, lambda: open_trade.log[-1].message == "Modified")
            assert gw.order(5, working.order.orderId).lmt_price == 199.0


async def test_clients_only_see_their_own_orders_except_all_open_orders() -> None:
    async with gateway() as gw, connect(gw, 1) as ib1, connect(gw, 2) as ib2:
        aapl = await qualified(ib1)
        mine = ib1.placeOrder(aapl, LimitOrder("BUY", 5, 150.0, tif="DAY"))
        filled = ib1.placeOrder(aapl, MarketOrder("BUY", 5, tif="DAY"))
        await until(ib1, lambda: mine.orderStatus.status == "Submitted" and filled.isDone())
        await barrier(ib2)  # every message for client 2 sent before now has arrived
        assert ib2.trades() == [] and ib2.fills() == []
        (seen,) = await ib2.reqAllOpenOrdersAsync()
        assert (seen.order.clientId, seen.order.permId) == (1, mine.order.permId)
        await until(ib2, lambda: ib2.positions() != [])  # positions go to every subscriber
        assert ib2.positions()[0].position == 5


async def test_duplicate_client_id_is_refused(log_guard: LogGuard) -> None:
    log_guard.expect("Peer closed connection", "API connection failed", "Error 326, reqId -1: Unable to connect")
    async with gateway() as gw, connect(gw, 9) as ib:
        other = IB()
        errors: list[int] = []
        other.errorEvent += lambda req_id, code, text, contract: errors.append(code)
        try:
            await other.connectAsync("127.0.0.1", gw.port, clientId=9, timeout=0.5)
        except (TimeoutError, ConnectionError):
            pass
        else:  # pragma: no cover
            raise AssertionError("a second client 9 connected")
        finally:
            other.disconnect()
        assert errors == [326]
        assert gw.clients == [9]
        assert await ib.reqCurrentTimeAsync()


async def test_unsupported_requests_do_not_hang(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 322, reqId \d+: Error processing request")
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        bars = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 min", "TRADES", True)
        assert list(bars) == []
        assert await ib.reqMktDepthExchangesAsync() == []
        assert await ib.reqNewsProvidersAsync() == []
        assert await ib.reqScannerParametersAsync() == "<ScanParameterResponse/>"
        assert [(r.lowEdge, r.increment) for r in await ib.reqMarketRuleAsync(26)] == [(0, 0.0001), (1, 0.01)]
        assert [d.contract.symbol for d in await ib.reqMatchingSymbolsAsync("MS")] == ["MSFT"]
        ib.client.send(230, 1, 5)  # an unknown message id: ignored
        ib.reqMarketDataType(3)
        assert await ib.reqCurrentTimeAsync()


async def test_global_cancel(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 202")
    async with gateway() as gw, connect(gw, 1) as ib1, connect(gw, 2) as ib2:
        aapl = await qualified(ib1)
        a = ib1.placeOrder(aapl, LimitOrder("BUY", 5, 150.0, tif="DAY"))
        b = ib2.placeOrder(aapl, LimitOrder("BUY", 5, 151.0, tif="DAY"))
        await until(ib1, lambda: a.orderStatus.status == "Submitted")
        await until(ib2, lambda: b.orderStatus.status == "Submitted")
        ib1.reqGlobalCancel()
        await until(ib1, lambda: a.orderStatus.status == "Cancelled")
        await until(ib2, lambda: b.orderStatus.status == "Cancelled")
        assert all(o.status == "Cancelled" for o in gw.orders)


async def test_order_error_codes(log_guard: LogGuard, journal_file: Path) -> None:
    log_guard.expect(r"Error (104|103|10147|10148|201),")
    async with gateway(journal_path=journal_file) as gw, connect(gw) as ib:
        errors: list[tuple[int, int]] = []
        ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code))
        aapl = await qualified(ib)
        done = ib.placeOrder(aapl, MarketOrder("BUY", 1, tif="DAY"))
        await until(ib, lambda: done.isDone())
        oid = done.order.orderId
        ib.client.placeOrder(oid, aapl, MarketOrder("BUY", 2, tif="DAY"))  # modify of a filled order
        await until(ib, lambda: (oid, 104) in errors)
        ib.client.placeOrder(oid - 1, aapl, MarketOrder("BUY", 2, tif="DAY"))  # an id below the highest used
        await until(ib, lambda: (oid - 1, 103) in errors)
        ib.client.cancelOrder(9999)
        await until(ib, lambda: (9999, 10147) in errors)
        ib.client.cancelOrder(oid)
        await until(ib, lambda: (oid, 10148) in errors)
        bad = ib.placeOrder(aapl, StopOrder("SELL", 1, 181.0, tif="DAY"))  # a sell stop above the market
        await until(ib, lambda: bad.orderStatus.status == "Inactive")
        assert (bad.order.orderId, 201) in errors
        assert "Order rejected - reason:SELL stop price 181" in bad.log[-2].message
        assert gw.order(1, bad.order.orderId).status == "Inactive"
    rejected = [(e["order_id"], e["code"]) for e in read_journal(journal_file) if e["event"] == "rejected"]
    assert rejected == [(oid, 104), (oid - 1, 103), (bad.order.orderId, 201)]
    assert [(e["order_id"], e["code"]) for e in read_journal(journal_file) if e["event"] == "cancel_rejected"] == [
        (9999, 10147), (oid, 10148)]


async def test_waiting_helper_times_out_cleanly() -> None:
    async with gateway() as gw:
        started = time.perf_counter()
        try:
            await gw.wait_until(lambda: False, 0.05)
        except TimeoutError:
            pass
        assert time.perf_counter() - started < WAIT


async def test_automatic_ticking_moves_the_path() -> None:
    async with gateway(tick_seconds=0.01) as gw, connect(gw) as ib:
        ticker = ib.reqMktData(await qualified(ib, "SPY"))
        await until(ib, lambda: ticker.last == 561.0)  # SPY's third row: the path moved by itself
        assert gw.tick >= 15


async def test_explicit_oca_group_through_ib_async() -> None:
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        buy = ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="DAY"))
        orders = ib.oneCancelsAll([LimitOrder("SELL", 10, 181.0, tif="DAY"), StopOrder("SELL", 10, 179.0, tif="DAY")],
                                  "exit-1", 1)
        target, stop = (ib.placeOrder(aapl, o) for o in orders)
        await until(ib, lambda: buy.isDone() and target.orderStatus.status == "Submitted"
                    and stop.orderStatus.status == "PreSubmitted")
        cancelled = []
        stop.cancelledEvent += cancelled.append
        gw.set_price("AAPL", 181.2)
        await until(ib, lambda: target.orderStatus.status == "Filled" and stop.orderStatus.status == "Cancelled")
        assert cancelled == [stop]
        assert ib.positions() == [] or ib.positions()[0].position == 0


async def test_bracket_children_follow_partial_parent_fills() -> None:
    async with gateway(partial_fill_max=40) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        gw.set_price("AAPL", 181.0)
        trades = [ib.placeOrder(aapl, o) for o in ib.bracketOrder("BUY", 100, 180.0, 185.0, 178.0, tif="DAY")]
        await until(ib, lambda: trades[2].orderStatus.status == "PreSubmitted")
        gw.set_price("AAPL", 180.0)
        await until(ib, lambda: trades[0].orderStatus.filled == 40 and trades[2].orderStatus.status == "PreSubmitted")
        assert [t.order.totalQuantity for t in trades[1:]] == [40, 40]
        assert [t.orderStatus.remaining for t in trades[1:]] == [40, 40]
        await gw.advance(2)  # two more ticks: 80 then 100
        await until(ib, lambda: trades[0].orderStatus.status == "Filled" and trades[2].orderStatus.remaining == 100)
        assert [t.order.totalQuantity for t in trades[1:]] == [100, 100]


async def test_what_if_order() -> None:
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        state = await ib.whatIfOrderAsync(aapl, MarketOrder("BUY", 100, tif="DAY"))
        assert float(state.initMarginChange) == 0.25 * 100 * 180.0
        assert state.commission == 1.0
        assert gw.orders == []
