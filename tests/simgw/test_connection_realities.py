"""Connections like IB's, through the real ib_async client (and a raw socket where the exact
bytes matter): 1100/1101/1102, a slow start-up sync, pacing, a held client id, an id rollback.

Time-dependent rules (pacing, held ids) run on an injected monotonic clock.
"""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB, LimitOrder, MarketOrder

from .helpers import WAIT, LogGuard, barrier, connect, error_codes, gateway, qualified, until
from .test_server import Raw

DROPPED = ("Peer closed connection",)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def started(raw: Raw, client_id: int) -> list[list[str]]:
    """Handshake and startApi on a raw connection; returns the greeting frames."""
    await raw.frame()
    raw.send(71, 2, client_id, "")
    return [await raw.frame() for _ in range(5)]


@pytest.mark.parametrize("restore", ["1101", "1102"])
async def test_connectivity_lost_then_restored_with_the_socket_up(restore: str, log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 1100, reqId -1: Connectivity between IB and Trader Workstation has been lost",
                     rf"Error {restore}, reqId -1: Connectivity between IB and Trader Workstation has been restored")
    async with gateway() as gw, connect(gw) as ib:
        seen = error_codes(ib)
        aapl = await qualified(ib)
        ticker = ib.reqMktData(aapl)
        resting = ib.placeOrder(aapl, LimitOrder("BUY", 10, 179.0, tif="GTC"))
        await until(ib, lambda: ticker.last == 180.0 and resting.orderStatus.status == "Submitted")
        gw.connectivity.lose(60, restore)  # restored explicitly below, not by the timer
        await until(ib, lambda: 1100 in seen)
        gw.set_price("AAPL", 178.0)  # the order fills at IB while the client is blind
        late = ib.placeOrder(aapl, LimitOrder("BUY", 5, 170.0, tif="GTC"))  # waits at the gateway
        await barrier(ib)
        assert ib.isConnected() and ticker.last == 180.0
        assert resting.orderStatus.status == "Submitted" and late.orderStatus.status == "PendingSubmit"
        assert gw.order(1, resting.order.orderId).status == "Filled"  # type: ignore[union-attr]
        gw.connectivity.restore()
        await until(ib, lambda: int(restore) in seen)
        await until(ib, lambda: resting.orderStatus.status == "Filled" and late.orderStatus.status == "Submitted")
        gw.set_price("AAPL", 178.5)
        await barrier(ib)
        if restore == "1102":  # data maintained: the ticks resume
            assert ticker.last == 178.5
        else:  # data lost: nothing until the client asks again
            assert ticker.last == 180.0 and not gw.feed.subscriptions.has_quotes("AAPL")
            ib.cancelMktData(aapl)
            ticker = ib.reqMktData(aapl)
            await until(ib, lambda: ticker.last == 178.5)


async def test_a_slow_start_up_sync_leaves_the_client_with_a_partial_view(log_guard: LogGuard) -> None:
    log_guard.expect("open orders request timed out", "executions request timed out")
    async with gateway() as gw:
        async with connect(gw, 5) as ib:
            aapl = await qualified(ib)
            ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="DAY"))
            working = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="GTC"))
            await until(ib, lambda: working.orderStatus.status == "Submitted" and len(ib.fills()) == 1)
        gw.faults.slow_sync(1.0)
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=5, timeout=0.2)
        try:
            assert ib.openTrades() == [] and ib.fills() == []  # what the client knows when connect returns
            assert [p.position for p in ib.positions()] == [10]  # positions did answer
            await until(ib, lambda: len(ib.openTrades()) == 1 and len(ib.fills()) == 1, timeout=WAIT)
            gw.faults.slow_sync(0)
            assert len(await asyncio.wait_for(ib.reqOpenOrdersAsync(), 1.0)) == 1
        finally:
            ib.disconnect()


async def test_pacing_error_100_then_disconnect_and_recovery(log_guard: LogGuard) -> None:
    clock = FakeClock()
    async with gateway(pacing_limit=5, monotonic=clock) as gw:
        raw = await Raw.open(gw.port)
        await started(raw, 9)
        for _ in range(6):  # one over the limit within one second
            raw.send(49, 1)
        frames = [await raw.frame() for _ in range(6)]
        assert [f[0] for f in frames].count("49") == 5
        (error,) = [f for f in frames if f[0] == "4"]
        assert error[3] == "100" and error[4].startswith("Max rate of messages per second has been exceeded:max=5")
        clock.now += 1.0  # a second later the client may send again
        raw.send(49, 1)
        assert (await raw.frame())[0] == "49"
        for _ in range(11):  # goes on at twice the rate: disconnected
            raw.send(49, 1)
        assert await raw.closed_by_peer()
        await gw.wait_until(lambda: gw.clients == [], WAIT)
        clock.now += 1.0
        again = await Raw.open(gw.port)  # the client id is free again, with a fresh budget
        await started(again, 9)
        again.send(49, 1)
        assert (await again.frame())[0] == "49"
        again.close()


async def test_a_client_id_stays_occupied_after_an_abrupt_close(log_guard: LogGuard) -> None:
    log_guard.expect(*DROPPED, "API connection failed", "clientId 7 already in use", r"Error 326, reqId -1")
    clock = FakeClock()
    async with gateway(monotonic=clock) as gw:
        async with connect(gw, 7) as ib:
            gw.hold_client_id(7, 30)
            lost = asyncio.ensure_future(asyncio.wait_for(ib.disconnectedEvent, WAIT))
            gw.drop_connections()
            await lost
        refused = IB()
        with pytest.raises((ConnectionError, TimeoutError)):
            await refused.connectAsync("127.0.0.1", gw.port, clientId=7, timeout=1)
        raw = await Raw.open(gw.port)
        await raw.frame()
        raw.send(71, 2, 7, "")
        assert (await raw.frame())[3] == "326"
        assert await raw.closed_by_peer()
        clock.now += 31
        async with connect(gw, 7) as ib:
            assert gw.clients == [7]
            await barrier(ib)


async def test_after_a_restart_next_valid_id_can_be_lower_than_ids_in_use(log_guard: LogGuard) -> None:
    log_guard.expect(*DROPPED)
    async with gateway() as gw:
        async with connect(gw, 3) as ib:
            aapl = await qualified(ib)
            trades = [ib.placeOrder(aapl, LimitOrder("BUY", 1, 170.0 + i, tif="GTC")) for i in range(3)]
            await until(ib, lambda: all(t.orderStatus.status == "Submitted" for t in trades))
            ids = [t.order.orderId for t in trades]
            lost = asyncio.ensure_future(asyncio.wait_for(ib.disconnectedEvent, WAIT))
            gw.restart(rollback=2)
            await lost
        raw = await Raw.open(gw.port)
        greeting = await started(raw, 3)
        assert greeting[1] == ["9", "1", str(ids[-1] + 1 - 2)]  # below the highest id in use
        raw.close()
        assert [o.order_id for o in gw.orders] == ids and all(o.status == "Submitted" for o in gw.orders)
        gw.restart()  # the default restart: ids start at 1 and live orders are re-keyed
        assert all(o.order_id < 0 for o in gw.orders)
