"""What is sent again after an error 100 (``refusals.Refusals.settle``), judged on ib_async's copy
of each order as IB's open orders left it: real ib_async ``Trade``/``Order`` objects, no gateway."""

from __future__ import annotations

import asyncio
from typing import Any

from ib_async import Order, OrderStatus, Stock, Trade

from orchestrator.broker.pacer import Lane
from orchestrator.broker.refusals import KEEP, Refusals, Sent

STOCK = Stock("AAPL", "SMART", "USD")


def _trade(order_id: int, status: str, aux: float = 0.0, qty: float = 100) -> Trade:
    order = Order(orderId=order_id, action="SELL", totalQuantity=qty, orderType="STP", auxPrice=aux)
    return Trade(STOCK, order, OrderStatus(orderId=order_id, status=status))


def _sent(kind: str, order_id: int, aux: float = 0.0, group: tuple[int, ...] = (), qty: float = 100) -> Sent:
    order = Order(orderId=order_id, action="SELL", totalQuantity=qty, orderType="STP", auxPrice=aux)
    return Sent(kind, order, STOCK, Lane.TRAIL if kind == "modify" else Lane.EXIT, "P1", group, at=10.0)


def _refusals(trades: dict[int, Trade]) -> Refusals:
    async def nothing(*_a: Any) -> None:
        return None
    return Refusals(lambda: 10.0, trades.get, nothing, nothing, lambda _s: None, lambda _n: None)


def _ids(groups: list[list[Sent]]) -> list[list[tuple[str, int]]]:
    return [[(s.kind, int(s.order.orderId)) for s in g] for g in groups]


def test_a_modification_ib_does_not_show_is_sent_again_one_it_shows_is_not() -> None:
    trades = {1: _trade(1, "PreSubmitted", aux=120.0), 2: _trade(2, "PreSubmitted", aux=139.0),
              3: _trade(3, "Filled", aux=120.0), 4: _trade(4, "Submitted", aux=130.0, qty=60)}
    suspects = [(1, _sent("modify", 1, 139.0)), (2, _sent("modify", 2, 139.0)), (3, _sent("modify", 3, 139.0)),
                (4, _sent("modify", 4, 130.0, qty=40))]
    assert _ids(_refusals(trades).settle(suspects)) == [[("modify", 1)], [("modify", 4)]]   # 3 is done: left


def test_a_cancel_is_sent_again_while_ib_still_reports_the_order_working() -> None:
    trades = {1: _trade(1, "Submitted"), 2: _trade(2, "Cancelled"), 3: _trade(3, "PendingCancel")}
    suspects = [(i, _sent("cancel", i)) for i in (1, 2, 3)]
    assert _ids(_refusals(trades).settle(suspects)) == [[("cancel", 1)]]


def test_a_placement_ib_never_reported_is_sent_again_a_group_whole_or_its_missing_children() -> None:
    trades = {1: _trade(1, "PendingSubmit"),                                    # a lone order IB never had
              2: _trade(2, "Submitted"),                                        # one IB has
              10: _trade(10, "PendingSubmit"), 11: _trade(11, "PendingSubmit"), 12: _trade(12, "PendingSubmit"),
              20: _trade(20, "PreSubmitted"), 21: _trade(21, "PendingSubmit"), 22: _trade(22, "PendingSubmit"),
              30: _trade(30, "PendingSubmit"), 31: _trade(31, "Inactive"), 32: _trade(32, "Inactive")}
    suspects = [(1, _sent("place", 1)), (2, _sent("place", 2))]
    for parent in (10, 20, 30):
        ids = (parent, parent + 1, parent + 2)
        suspects += [(i, _sent("place", i, group=ids)) for i in ids]
    assert _ids(_refusals(trades).settle(suspects)) == [
        [("place", 1)],
        [("place", 10), ("place", 11), ("place", 12)],   # IB has none of the bracket: all of it again
        [("place", 21), ("place", 22)],                  # IB holds the parent: its missing children
    ]   # 30: IB had the children (and rejected them without their parent): never the parent alone


async def test_a_request_refused_is_asked_again_and_its_first_answer_counts() -> None:
    clock = [10.0]
    no_trades: dict[int, Trade] = {}
    refusals = Refusals(lambda: clock[0], no_trades.get, _none, _none_list, lambda _s: None, lambda _n: None)
    answers: list[asyncio.Future[str]] = []

    def ask() -> asyncio.Future[str]:
        answers.append(asyncio.get_running_loop().create_future())
        return answers[-1]
    waiting = asyncio.ensure_future(refusals.answer(ask, 30.0))
    await asyncio.sleep(0)
    assert len(answers) == 1
    assert refusals._ask_again(9.0, 11.0) == 1   # written in the suspect window, unanswered: asked again
    await asyncio.sleep(0)
    assert len(answers) == 2 and not answers[0].cancelled()   # the first may still be answered
    answers[1].set_result("second")
    assert await waiting == "second" and answers[0].cancelled()


async def _none() -> None:
    return None


async def _none_list(_groups: Any) -> None:
    return None


def test_old_messages_are_forgotten_written_or_not() -> None:
    clock = [0.0]
    no_trades: dict[int, Trade] = {}
    refusals = Refusals(lambda: clock[0], no_trades.get, _none, _none_list, lambda _s: None, lambda _n: None)
    refusals.record(1, _sent("modify", 1))                 # never written (the pacer found it unwanted)
    refusals.record(2, _sent("modify", 2))()               # written
    clock[0] = KEEP + 1.0
    refusals.record(3, _sent("modify", 3))
    assert list(refusals._sent) == [3]
