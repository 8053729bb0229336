"""Order statuses like IB's, through the real ib_async client.

Each test turns a reality on, asserts what the client sees (and what the gateway holds),
turns it off and asserts the recovery.
"""

from __future__ import annotations

import pytest
from ib_async import LimitOrder, MarketOrder, StopOrder

from .helpers import LogGuard, barrier, connect, error_codes, gateway, qualified, until


def statuses(trade: object) -> list[str]:
    """The statuses a trade went through, each once, in order."""
    return list(dict.fromkeys(entry.status for entry in trade.log))  # type: ignore[attr-defined]


async def test_a_stop_stays_presubmitted_until_it_triggers() -> None:
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        buy = ib.placeOrder(aapl, MarketOrder("BUY", 10, tif="GTC"))
        stop = ib.placeOrder(aapl, StopOrder("SELL", 10, 179.0, tif="GTC"))
        await until(ib, lambda: buy.isDone() and stop.orderStatus.status == "PreSubmitted")
        gw.set_price("AAPL", 179.5)
        await barrier(ib)
        assert stop.orderStatus.status == "PreSubmitted"
        gw.set_price("AAPL", 178.9)
        await until(ib, lambda: stop.orderStatus.status == "Filled")
        assert statuses(stop) == ["PendingSubmit", "PreSubmitted", "Submitted", "Filled"]


async def test_bracket_children_stay_presubmitted_until_released_and_the_stop_until_triggered() -> None:
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        trades = [ib.placeOrder(aapl, o) for o in ib.bracketOrder("BUY", 10, 179.0, 185.0, 175.0, tif="GTC")]
        await until(ib, lambda: [t.orderStatus.status for t in trades] == ["Submitted", "PreSubmitted", "PreSubmitted"])
        gw.set_price("AAPL", 178.5)
        await until(ib, lambda: [t.orderStatus.status for t in trades] == ["Filled", "Submitted", "PreSubmitted"])
        assert gw.state()["orders"][2]["wire_status"] == "PreSubmitted"  # type: ignore[index]


async def test_an_order_without_tif_gets_the_day_preset_and_10349_and_keeps_working(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 10349, reqId \d+: Order TIF was set to DAY based on order preset", "Canceled order")
    async with gateway() as gw, connect(gw) as ib:
        seen = error_codes(ib)
        aapl = await qualified(ib)
        trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 179.0))  # no tif
        await until(ib, lambda: 10349 in seen)
        assert trade.orderStatus.status == "Cancelled"  # ib_async's claim; the order lives at IB
        held = gw.order(1, trade.order.orderId)
        assert held is not None and held.tif == "DAY" and held.status == "Submitted"
        gw.set_price("AAPL", 178.0)
        await until(ib, lambda: trade.orderStatus.status == "Filled")
        explicit = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="DAY"))  # an explicit TIF: no warning
        await until(ib, lambda: explicit.orderStatus.status == "Submitted")
        await barrier(ib)
        assert seen.count(10349) == 1


async def test_day_orders_are_cancelled_at_the_session_end_gtc_orders_stay() -> None:
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        day = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="DAY"))
        gtc = ib.placeOrder(aapl, LimitOrder("BUY", 10, 171.0, tif="GTC"))
        await until(ib, lambda: day.orderStatus.status == gtc.orderStatus.status == "Submitted")
        gw.end_session()
        await until(ib, lambda: day.orderStatus.status == "Cancelled")
        await barrier(ib)
        assert gtc.orderStatus.status == "Submitted"
        assert [o.status for o in gw.orders] == ["Cancelled", "Submitted"]
        again = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="DAY"))  # the next session takes orders
        await until(ib, lambda: again.orderStatus.status == "Submitted")


async def test_a_modify_naming_a_filled_parent_gets_135_and_the_child_keeps_working(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 135, reqId \d+: Can't find order with id", "Canceled order")
    async with gateway() as gw, connect(gw) as ib:
        seen = error_codes(ib)
        aapl = await qualified(ib)
        parent, take, stop = (ib.placeOrder(aapl, o) for o in ib.bracketOrder("BUY", 10, 181.0, 190.0, 175.0,
                                                                                  tif="GTC"))
        await until(ib, lambda: parent.orderStatus.status == "Filled" and stop.orderStatus.status == "PreSubmitted")
        order = stop.order
        order.auxPrice = 176.0  # parentId still names the filled parent
        ib.placeOrder(aapl, order)
        await until(ib, lambda: 135 in seen)
        held = gw.order(1, order.orderId)
        assert held is not None and held.aux_price == 175.0 and held.status == "Submitted"
        order.parentId = 0  # the way IB accepts it
        with pytest.raises(AssertionError):  # ib_async sends the modify, then refuses a trade it thinks done
            ib.placeOrder(aapl, order)
        await gw.wait_until(lambda: gw.order(1, order.orderId).aux_price == 176.0)  # type: ignore[union-attr]


async def test_a_modify_while_the_previous_one_is_processed_gets_2102() -> None:
    async with gateway() as gw, connect(gw) as ib:
        seen = error_codes(ib)
        gw.policy.modify_processing_seconds = 60
        aapl = await qualified(ib)
        trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="GTC"))
        await until(ib, lambda: trade.orderStatus.status == "Submitted")
        trade.order.lmtPrice = 171.0
        ib.placeOrder(aapl, trade.order)
        trade.order.lmtPrice = 172.0
        ib.placeOrder(aapl, trade.order)
        await until(ib, lambda: 2102 in seen)
        assert gw.order(1, trade.order.orderId).lmt_price == 171.0  # type: ignore[union-attr]  # the second is lost
        assert trade.orderStatus.status == "ValidationError"  # ib_async's reading of a 21xx warning
        gw.policy.modify_processing_seconds = 0
        trade.order.lmtPrice = 172.0  # ib_async took IB's 171.0 from the openOrder of the first modify
        ib.placeOrder(aapl, trade.order)
        await until(ib, lambda: trade.orderStatus.status == "Submitted")
        assert gw.order(1, trade.order.orderId).lmt_price == 172.0  # type: ignore[union-attr]


async def test_read_only_api_refuses_every_new_order_with_321() -> None:
    async with gateway() as gw, connect(gw) as ib:
        seen = error_codes(ib)
        aapl = await qualified(ib)
        gw.policy.read_only = True
        refused = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="GTC"))
        await until(ib, lambda: 321 in seen)
        assert refused.orderStatus.status == "ValidationError" and gw.orders == []  # it never existed
        gw.policy.read_only = False
        accepted = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="GTC"))
        await until(ib, lambda: accepted.orderStatus.status == "Submitted")
        assert [o.order_id for o in gw.orders] == [accepted.order.orderId]


async def test_cancel_loses_the_race_against_a_fill_in_either_order(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 10148, reqId \d+", "Canceled order", r"Error 202, reqId \d+")
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        heard: list[object] = []
        ib.errorEvent += lambda req_id, code, text, contract: heard.append(code)
        for fill_first in (True, False):
            trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="GTC"))
            await until(ib, lambda t=trade: t.orderStatus.status == "Submitted")  # type: ignore[misc]
            gw.faults.race_next_cancel(fill_first=fill_first)
            heard.clear()
            trade.statusEvent += lambda t: heard.append(t.orderStatus.status)
            ib.cancelOrder(trade.order)
            await until(ib, lambda t=trade: 10148 in heard and t.orderStatus.status == "Filled")  # type: ignore[misc]
            first, then = ("Filled", 10148) if fill_first else (10148, "Filled")
            assert heard.index(first) < heard.index(then), heard
            assert gw.order(1, trade.order.orderId).status == "Filled"  # type: ignore[union-attr]
            assert len(trade.fills) == 1
        assert gw.positions["AAPL"].qty == 20
        plain = ib.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="GTC"))  # no race armed: a normal cancel
        await until(ib, lambda: plain.orderStatus.status == "Submitted")
        ib.cancelOrder(plain.order)
        await until(ib, lambda: plain.orderStatus.status == "Cancelled")


async def test_a_marketable_limit_far_through_the_market_is_refused(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 201, reqId \d+: Order rejected - reason:The following order", "Canceled order")
    async with gateway() as gw, connect(gw) as ib:
        aapl = await qualified(ib)
        gw.policy.precaution_percent = 5
        far = ib.placeOrder(aapl, LimitOrder("BUY", 10, 190.0, tif="GTC"))  # 5.6 % through 180
        near = ib.placeOrder(aapl, LimitOrder("BUY", 10, 185.0, tif="GTC"))  # 2.8 %: fills
        await until(ib, lambda: far.orderStatus.status == "Inactive" and near.orderStatus.status == "Filled")
        assert "Percentage constraint of 5%" in far.log[-2].message + far.log[-1].message
        gw.policy.precaution_percent = None
        again = ib.placeOrder(aapl, LimitOrder("BUY", 10, 190.0, tif="GTC"))
        await until(ib, lambda: again.orderStatus.status == "Filled")


async def test_orders_belong_to_the_client_that_placed_them(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 135, reqId \d+", r"Error 10147, reqId \d+")
    async with gateway() as gw, connect(gw, 7) as owner, connect(gw, 8) as other, connect(gw, 0) as tws:
        aapl = await qualified(owner)
        mine = owner.placeOrder(aapl, LimitOrder("BUY", 10, 170.0, tif="GTC", orderRef="P1:entry"))
        await until(owner, lambda: mine.orderStatus.status == "Submitted")
        gw.trade_in_tws("AAPL", "BUY", 5)  # the trader in TWS: an order of client 0
        assert [t.order.orderRef for t in await other.reqOpenOrdersAsync()] == []
        assert [t.order.orderRef for t in await tws.reqOpenOrdersAsync()] == []  # the TWS order filled
        everyone = await other.reqAllOpenOrdersAsync()
        assert [(t.order.clientId, t.order.orderRef) for t in everyone] == [(7, "P1:entry")]
        seen = error_codes(other)
        theirs = everyone[0].order
        theirs.lmtPrice = 175.0
        other.placeOrder(aapl, theirs)  # a modify of client 7's order from client 8
        other.cancelOrder(theirs)
        await until(other, lambda: 135 in seen and 10147 in seen)
        held = gw.order(7, mine.order.orderId)
        assert held is not None and held.lmt_price == 170.0 and held.status == "Submitted" and len(gw.orders) == 2
        completed = await other.reqCompletedOrdersAsync(apiOnly=False)
        assert [t.order.permId for t in completed] == [gw.orders[1].perm_id]  # every client's completed orders
        fills = await other.reqExecutionsAsync()
        assert [f.execution.clientId for f in fills] == [0]  # every client's executions
        mine.order.lmtPrice = 171.0
        owner.placeOrder(aapl, mine.order)  # the owner may
        await gw.wait_until(lambda: gw.order(7, mine.order.orderId).lmt_price == 171.0)  # type: ignore[union-attr]
