"""Every fault, seen through the real ib_async client."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ib_async import IB, LimitOrder, MarketOrder, StopOrder

from .helpers import WAIT, LogGuard, barrier, connect, events, gateway, qualified, read_journal, until

DROPPED = ("Peer closed connection",)


async def test_drop_connections_keeps_broker_state(log_guard: LogGuard) -> None:
    log_guard.expect(*DROPPED)
    async with gateway() as gw:
        async with connect(gw, 4) as ib:
            aapl = await qualified(ib)
            working = ib.placeOrder(aapl, LimitOrder("BUY", 10, 150.0, tif="DAY"))
            await until(ib, lambda: working.orderStatus.status == "Submitted")
            lost = asyncio.ensure_future(asyncio.wait_for(ib.disconnectedEvent, WAIT))
            assert gw.faults.drop_connections() == 1
            await lost
            assert not ib.isConnected() and gw.clients == []
        assert gw.order(4, working.order.orderId).status == "Submitted"
        async with connect(gw, 4) as ib:
            assert [t.order.permId for t in ib.openTrades()] == [working.order.permId]


async def test_drop_at_tick_then_fill_while_disconnected(log_guard: LogGuard) -> None:
    log_guard.expect(*DROPPED)
    async with gateway() as gw:
        async with connect(gw) as ib:
            aapl = await qualified(ib)
            buy = ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="DAY"))
            stop = ib.placeOrder(aapl, StopOrder("SELL", 10, 179.95, tif="DAY"))
            await until(ib, lambda: buy.isDone() and stop.orderStatus.status == "PreSubmitted")
            gw.faults.drop_at_tick(2)
            await gw.advance(1)
            assert ib.isConnected()
            lost = asyncio.ensure_future(asyncio.wait_for(ib.disconnectedEvent, WAIT))
            await gw.advance(1)
            await lost
        gw.set_price("AAPL", 179.5)  # the stop fills while nobody is connected
        assert gw.order(1, stop.order.orderId).status == "Filled"
        async with connect(gw) as ib:
            assert ib.positions() == []
            assert sorted(f.execution.side for f in ib.fills()) == ["BOT", "SLD"]
            assert {t.order.permId for t in ib.trades() if t.orderStatus.status == "Filled"} == {
                buy.order.permId, stop.order.permId}


async def test_refuse_connections_for_a_while(log_guard: LogGuard) -> None:
    log_guard.expect(*DROPPED, "API connection failed")
    async with gateway() as gw:
        gw.faults.refuse_for(60)
        ib = IB()
        started = time.perf_counter()
        try:
            await ib.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=0.3)
        except (TimeoutError, ConnectionError):
            pass
        else:  # pragma: no cover
            raise AssertionError("connected while refusing")
        finally:
            ib.disconnect()
        assert time.perf_counter() - started < WAIT
        gw.faults.refuse_for(0)
        async with connect(gw) as ib:
            assert ib.isConnected()


async def test_reject_next_order(journal_file: Path, log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 201, reqId \d+: Order rejected - reason:simulated rejection")
    async with gateway(journal_path=journal_file) as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        gw.faults.reject_next()
        rejected = ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="DAY"))
        await until(ib, lambda: rejected.orderStatus.status == "Inactive")
        accepted = ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="DAY"))
        await until(ib, lambda: accepted.orderStatus.status == "Filled")
    assert events(journal_file) == [("rejected", rejected.order.orderId, "Inactive"),
                                    ("placed", accepted.order.orderId, "Submitted"),
                                    ("filled", accepted.order.orderId, "Filled")]


async def test_delayed_acknowledgements(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 202")
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        gw.faults.delay_acks(0.3)
        started = time.perf_counter()
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="DAY"))
        cancel_me = ib.placeOrder(aapl, LimitOrder("BUY", 10, 100.0, tif="DAY"))
        await barrier(ib)
        assert trade.orderStatus.status == "PendingSubmit" and gw.orders == []
        await until(ib, lambda: trade.orderStatus.status == "Filled" and cancel_me.orderStatus.status == "Submitted")
        assert time.perf_counter() - started >= 0.3
        gw.faults.delay_acks(0)
        # order kept: with the pipeline drained, messages are processed at once again
        ib.cancelOrder(cancel_me.order)
        await until(ib, lambda: cancel_me.orderStatus.status == "Cancelled")


async def test_drop_one_order_status() -> None:
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        gw.faults.drop_next_order_status()
        trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 150.0, tif="DAY"))
        await until(ib, lambda: trade.order.permId != 0)  # the openOrder arrived
        await barrier(ib)
        assert trade.orderStatus.status == "PendingSubmit"  # its orderStatus never did
        assert gw.order(1, trade.order.orderId).status == "Submitted"
        trade.order.lmtPrice = 151.0
        ib.placeOrder(aapl, trade.order)
        await until(ib, lambda: trade.orderStatus.status == "Submitted")


async def test_replay_executions_twice_on_reconnect() -> None:
    async with gateway() as gw:
        async with connect(gw, 2) as ib:
            aapl = await qualified(ib)
            trade = ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="DAY"))
            await until(ib, lambda: trade.isDone() and trade.fills)
            exec_id = trade.fills[0].execution.execId
        gw.faults.replay_executions()
        async with connect(gw, 2) as ib:
            assert [f.execution.execId for f in ib.fills()] == [exec_id]  # ib_async dedupes by execId
            replayed = await ib.reqExecutionsAsync()
            assert [f.execution.execId for f in replayed] == [exec_id, exec_id]
            assert all(f.commissionReport.commission == 1.0 for f in ib.fills())


async def test_restart_resets_ids_and_keeps_working_orders(journal_file: Path, log_guard: LogGuard) -> None:
    log_guard.expect(*DROPPED)
    async with gateway(journal_path=journal_file) as gw:
        async with connect(gw, 3) as ib:
            aapl = await qualified(ib)
            buy = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef="x:entry", tif="DAY"))
            stop = ib.placeOrder(aapl, StopOrder("SELL", 10, 170.0, orderRef="x:stop", tif="DAY"))
            await until(ib, lambda: buy.isDone() and stop.orderStatus.status == "PreSubmitted")
            old_id, perm = stop.order.orderId, stop.order.permId
            lost = asyncio.ensure_future(asyncio.wait_for(ib.disconnectedEvent, WAIT))
            gw.faults.restart()
            await lost
        async with connect(gw, 3) as ib:
            (old,) = ib.openTrades()
            assert (old.order.permId, old.order.orderRef, old.order.orderId) == (perm, "x:stop", -perm)
            new = ib.placeOrder(aapl, LimitOrder("SELL", 1, 300.0, orderRef="y:target", tif="DAY"))
            await until(ib, lambda: new.orderStatus.status == "Submitted")
            assert new.order.orderId <= old_id  # ids started again from 1
            assert new.order.permId != perm
            old.order.auxPrice = 171.0  # the old stop is still modifiable, under its new id
            ib.placeOrder(old.contract, old.order)
            await until(ib, lambda: gw.order(3, -perm).aux_price == 171.0)
            assert gw.order(3, -perm).status == "Submitted" and gw.order(3, -perm).perm_id == perm
    kinds = [(e["event"], e["order_id"], e["perm_id"]) for e in read_journal(journal_file)]
    assert ("rekeyed", -perm, perm) in kinds and ("modified", -perm, perm) in kinds
    assert [e["old_order_id"] for e in read_journal(journal_file) if e["event"] == "rekeyed"] == [
        buy.order.orderId, old_id]
