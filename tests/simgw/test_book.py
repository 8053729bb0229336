"""The order book's IB semantics, without sockets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.simgw.account import Account
from orchestrator.simgw.book import Book
from orchestrator.simgw.contracts import Catalog
from orchestrator.simgw.orders import OrderEvent, OrderRequest, PortfolioEvent

C = 7  # client id


def make_book(partial: int | None = None, **prices: float) -> Book:
    prices = prices or {"AAPL": 180.0, "MSFT": 420.0}
    return Book(Catalog(prices), Account("DU1", 100_000), prices, partial_fill_max=partial, session_id=1)


def rq(order_id: int, action: str = "BUY", qty: float = 100, order_type: str = "LMT", **kw: Any) -> OrderRequest:
    kw.setdefault("symbol", "AAPL")
    kw.setdefault("tif", "DAY")
    return OrderRequest(order_id=order_id, con_id=0, action=action, quantity=qty, order_type=order_type, **kw)


def kinds(events: list[Any]) -> list[tuple[str, int, str]]:
    return [(e.kind, e.order_id, e.order.status) for e in events if isinstance(e, OrderEvent) and e.kind]


def errors(events: list[Any]) -> list[int]:
    return [e.code for e in events if isinstance(e, OrderEvent) and "error" in e.wire]


def test_market_order_fills_at_once_with_commission() -> None:
    book = make_book()
    ev = book.place(C, rq(1, order_type="MKT", order_ref="p:entry"))
    assert kinds(ev) == [("placed", 1, "Submitted"), ("filled", 1, "Filled")]
    placed, filled, portfolio = ev
    assert placed.wire == ("open", "status")
    assert filled.wire == ("exec", "open", "status", "commission")
    assert portfolio == PortfolioEvent("AAPL")
    e = filled.execution
    assert (e.side, e.shares, e.price, e.cum_qty, e.commission, e.order_ref) == ("BOT", 100, 180.0, 100, 1.0, "p:entry")
    pos = book.account.positions["AAPL"]
    assert (pos.qty, pos.avg_cost) == (100, 180.01)
    assert book.account.cash == 100_000 - 18_000 - 1.0


def test_limit_fills_at_limit_or_better() -> None:
    book = make_book()
    assert kinds(book.place(C, rq(1, lmt_price=179.5))) == [("placed", 1, "Submitted")]
    assert kinds(book.set_price("AAPL", 179.6)) == []
    ev = book.set_price("AAPL", 179.2)  # gapped through the limit: the better price
    assert kinds(ev) == [("filled", 1, "Filled")]
    assert ev[0].execution.price == 179.2
    book.place(C, rq(2, "SELL", 50, lmt_price=179.4))
    assert [e.execution.price for e in book.set_price("AAPL", 179.4) if getattr(e, "execution", None)] == [179.4]


def test_sell_stop_triggers_on_the_path_and_gaps_fill_worse() -> None:
    book = make_book()
    book.place(C, rq(1, "SELL", 100, "STP", aux_price=178.0))
    assert book.order(C, 1).status == "Submitted"
    assert kinds(book.set_price("AAPL", 178.5)) == []
    ev = book.set_price("AAPL", 177.2)
    assert kinds(ev) == [("triggered", 1, "Submitted"), ("filled", 1, "Filled")]
    assert ev[1].execution.price == 177.2


def test_stop_limit_becomes_a_limit() -> None:
    book = make_book()
    book.place(C, rq(1, "SELL", 100, "STP LMT", aux_price=178.0, lmt_price=177.5))
    assert kinds(book.set_price("AAPL", 177.0)) == [("triggered", 1, "Submitted")]
    ev = book.set_price("AAPL", 177.6)
    assert kinds(ev) == [("filled", 1, "Filled")] and ev[0].execution.price == 177.6


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (rq(1, "BUY", 100, "STP", aux_price=179.0), "BUY stop price 179 must be above the market price 180"),
        (rq(1, "SELL", 100, "STP", aux_price=180.0), "SELL stop price 180 must be below the market price 180"),
        (rq(1, "BUY", 100, "LMT"), "LMT order needs a positive limit price"),
        (rq(1, "BUY", 0, "MKT"), "order quantity must be positive"),
        (rq(1, "BUY", 10, "TRAIL"), "TRAIL order needs a trailing amount"),
        (rq(1, "BUY", 10, "MOC"), "unsupported order type 'MOC'"),
        (rq(1, "BUY", 10.5, "MKT"), "fractional quantity"),
        (rq(1, "BUY", 10, "MKT", tif="IOC"), "time in force 'IOC' is not supported"),
        (rq(1, "BUY", 10, "MKT", account="U999"), "account 'U999' is not managed by this gateway"),
    ],
)
def test_invalid_orders_are_rejected_inactive(request_: OrderRequest, reason: str) -> None:
    book = make_book()
    ev = book.place(C, request_)
    assert kinds(ev) == [("rejected", 1, "Inactive")]
    assert ev[0].wire == ("error", "open", "status") and ev[0].code == 201
    assert ev[0].text.startswith("Order rejected - reason:") and reason in ev[0].text
    assert book.order(C, 1).is_done


def test_unknown_symbol_and_reused_ids() -> None:
    book = make_book()
    assert errors(book.place(C, rq(5, order_type="MKT", symbol="ZZZZ"))) == [200]
    assert book.order(C, 5) is None
    book.place(C, rq(6, order_type="MKT"))
    assert errors(book.place(C, rq(6, order_type="MKT"))) == [104]  # modify a filled order
    assert errors(book.place(C, rq(3, order_type="MKT"))) == [103]  # unused id below the highest
    assert errors(book.place(8, rq(3, order_type="MKT"))) == []  # other client: its own id space
    assert book.next_valid_id(C) == 7


def test_cancel_sequence_and_errors() -> None:
    book = make_book()
    book.place(C, rq(1, lmt_price=170.0))
    ev = book.cancel(C, 1)
    assert [(e.kind, e.order.status, e.wire) for e in ev] == [
        ("", "PendingCancel", ("status",)), ("cancelled", "Cancelled", ("status", "error"))]
    assert ev[1].code == 202
    assert errors(book.cancel(C, 99)) == [10147]
    assert errors(book.cancel(C, 1)) == [10148]


def test_modify_price_and_quantity_keeps_perm_id() -> None:
    book = make_book()
    book.place(C, rq(1, lmt_price=170.0))
    perm = book.order(C, 1).perm_id
    ev = book.place(C, rq(1, qty=50, lmt_price=171.0))
    assert kinds(ev) == [("modified", 1, "Submitted")] and ev[0].wire == ("open", "status")
    o = book.order(C, 1)
    assert (o.total_qty, o.lmt_price, o.perm_id) == (50, 171.0, perm)
    ev = book.place(C, rq(1, qty=50, lmt_price=181.0))  # now marketable: fills at the market
    assert kinds(ev) == [("modified", 1, "Submitted"), ("filled", 1, "Filled")]
    assert ev[1].execution.price == 180.0


def test_bad_modify_keeps_the_order_working() -> None:
    book = make_book()
    book.place(C, rq(1, "SELL", 100, "STP", aux_price=178.0))
    ev = book.place(C, rq(1, "SELL", 100, "STP", aux_price=181.0))  # above the market
    assert kinds(ev) == [("rejected", 1, "Submitted")]
    assert ev[0].code == 201 and ev[0].wire == ("error", "open", "status")
    assert book.order(C, 1).aux_price == 178.0 and book.order(C, 1).status == "Submitted"
    ev = book.place(C, rq(1, "BUY", 100, "STP", aux_price=178.0))  # side change
    assert ev[0].code == 105 and book.order(C, 1).action == "SELL"


def bracket(book: Book, qty: float = 100, entry: float = 180.0, tp: float = 185.0, sl: float = 178.0,
            client: int = C) -> list[Any]:
    assert kinds(book.place(client, rq(1, qty=qty, lmt_price=entry, transmit=False, order_ref="b:entry"))) == [
        ("placed", 1, "Held")]
    assert book.place(client, rq(2, "SELL", qty, lmt_price=tp, parent_id=1, transmit=False))[0].wire == ()
    return book.place(client, rq(3, "SELL", qty, "STP", aux_price=sl, parent_id=1, transmit=True))


def test_bracket_children_wait_then_oca() -> None:
    book = make_book(AAPL=181.0)
    ev = bracket(book)
    assert kinds(ev) == [("transmitted", 1, "Submitted"), ("transmitted", 2, "PreSubmitted"),
                         ("placed", 3, "PreSubmitted")]
    ev = book.set_price("AAPL", 179.9)
    assert kinds(ev) == [("filled", 1, "Filled"), ("activated", 2, "Submitted"), ("activated", 3, "Submitted")]
    assert [book.order(C, i).total_qty for i in (2, 3)] == [100, 100]
    ev = book.set_price("AAPL", 185.2)
    assert kinds(ev) == [("filled", 2, "Filled"), ("cancelled", 3, "Cancelled")]
    assert next(e for e in ev if getattr(e, "kind", "") == "cancelled").wire == ("status",)
    assert book.account.positions["AAPL"].qty == 0


def test_bracket_with_marketable_parent_and_stop_exit() -> None:
    book = make_book()
    ev = bracket(book)
    assert kinds(ev)[-3:] == [("filled", 1, "Filled"), ("activated", 2, "Submitted"), ("activated", 3, "Submitted")]
    ev = book.set_price("AAPL", 177.5)
    assert kinds(ev) == [("triggered", 3, "Submitted"), ("filled", 3, "Filled"), ("cancelled", 2, "Cancelled")]


def test_partial_parent_fills_resize_children() -> None:
    book = make_book(partial=40, AAPL=181.0)
    bracket(book)
    assert kinds(book.set_price("AAPL", 180.0)) == [
        ("filled", 1, "Submitted"), ("activated", 2, "Submitted"), ("activated", 3, "Submitted")]
    assert [book.order(C, i).total_qty for i in (2, 3)] == [40, 40]
    assert kinds(book.match_all()) == [("filled", 1, "Submitted"), ("resized", 2, "Submitted"),
                                       ("resized", 3, "Submitted")]
    assert [book.order(C, i).total_qty for i in (2, 3)] == [80, 80]
    # the client echoes the reported quantity when it modifies the stop: it keeps following
    book.place(C, rq(3, "SELL", 80, "STP", aux_price=178.5, parent_id=1))
    book.match_all()
    assert book.order(C, 1).status == "Filled"
    assert [book.order(C, i).total_qty for i in (2, 3)] == [100, 100]
    assert book.order(C, 3).aux_price == 178.5


def test_cancelling_an_unfilled_parent_cancels_children() -> None:
    book = make_book(AAPL=181.0)
    bracket(book)
    ev = book.cancel(C, 1)
    assert kinds(ev) == [("cancelled", 1, "Cancelled"), ("cancelled", 2, "Cancelled"), ("cancelled", 3, "Cancelled")]


def test_cancelling_a_held_order_is_silent_and_takes_its_group() -> None:
    book = make_book()
    book.place(C, rq(1, lmt_price=170.0, transmit=False))
    book.place(C, rq(2, "SELL", 100, "STP", aux_price=160.0, parent_id=1, transmit=False))
    ev = book.cancel(C, 1)
    assert kinds(ev) == [("cancelled", 1, "Cancelled"), ("cancelled", 2, "Cancelled")]
    assert all(e.wire == ("status",) for e in ev)


@pytest.mark.parametrize(
    ("oca_type", "expected"), [(1, ("cancelled", 2, "Cancelled")), (2, ("resized", 2, "Submitted"))]
)
def test_explicit_oca_groups(oca_type: int, expected: tuple[str, int, str]) -> None:
    book = make_book(partial=30)
    book.place(C, rq(1, "SELL", 100, lmt_price=181.0, oca_group="g", oca_type=oca_type))
    book.place(C, rq(2, "SELL", 100, "STP", aux_price=178.0, oca_group="g", oca_type=oca_type))
    ev = book.set_price("AAPL", 181.0)
    assert kinds(ev) == [("filled", 1, "Submitted"), expected]
    if oca_type == 2:
        assert book.order(C, 2).total_qty == 70


def test_trailing_stop_by_amount_and_percent() -> None:
    book = make_book()
    book.place(C, rq(1, "SELL", 10, "TRAIL", aux_price=1.0))
    book.place(C, rq(2, "SELL", 10, "TRAIL", trailing_percent=1.0))
    assert book.order(C, 1).trail_stop_price == 179.0
    assert book.order(C, 2).trail_stop_price == pytest.approx(178.2)
    book.set_price("AAPL", 182.0)
    assert book.order(C, 1).trail_stop_price == 181.0
    assert book.order(C, 2).trail_stop_price == pytest.approx(180.18)
    book.set_price("AAPL", 181.5)  # never loosens
    assert book.order(C, 1).trail_stop_price == 181.0
    ev = book.set_price("AAPL", 180.9)
    assert kinds(ev) == [("triggered", 1, "Submitted"), ("filled", 1, "Filled")]
    assert ev[1].execution.price == 180.9


def test_buy_trail_with_initial_stop() -> None:
    book = make_book()
    book.place(C, rq(1, "BUY", 10, "TRAIL", aux_price=2.0, trail_stop_price=181.0))
    book.set_price("AAPL", 178.0)
    assert book.order(C, 1).trail_stop_price == 180.0
    assert kinds(book.set_price("AAPL", 180.0))[-1] == ("filled", 1, "Filled")


def test_restart_rekeys_old_orders_and_resets_ids() -> None:
    book = make_book()
    book.place(C, rq(1, order_type="MKT"))
    book.place(C, rq(2, "SELL", 100, "STP", aux_price=170.0))
    book.place(C, rq(3, lmt_price=100.0, transmit=False))
    stop_perm = book.order(C, 2).perm_id
    ev = book.restart()
    assert kinds(ev)[0] == ("cancelled", 3, "Cancelled")  # held orders are lost
    assert book.next_valid_id(C) == 1
    old = book.order(C, -stop_perm)
    assert old is not None and old.status == "Submitted" and old.perm_id == stop_perm
    assert book.order(C, 2) is None
    assert book.executions[0].order_id < 0
    ev = book.place(C, rq(2, "SELL", 5, lmt_price=300.0))  # reused id: a new order
    assert kinds(ev) == [("placed", 2, "Submitted")]
    assert book.order(C, 2).perm_id != stop_perm
    assert book.order(C, -stop_perm).aux_price == 170.0
    ev = book.place(C, rq(-stop_perm, "SELL", 100, "STP", aux_price=171.0))  # the old one is still modifiable
    assert kinds(ev) == [("modified", -stop_perm, "Submitted")]


# ------------------------------------------------------------------ properties
order_st = st.fixed_dictionaries({
    "action": st.sampled_from(["BUY", "SELL"]),
    "qty": st.integers(1, 300),
    "kind": st.sampled_from(["MKT", "LMT", "STP", "TRAIL"]),
    "offset": st.floats(0.05, 3.0),
})
step_st = st.one_of(
    st.tuples(st.just("order"), order_st),
    st.tuples(st.just("price"), st.floats(-1.5, 1.5)),
    st.tuples(st.just("cancel"), st.integers(1, 30)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(step_st, max_size=40), st.one_of(st.none(), st.integers(1, 100)))
def test_books_balance(steps: list[tuple[str, Any]], partial: int | None) -> None:
    book = make_book(partial=partial)
    next_id = 1
    price = 180.0
    for kind, arg in steps:
        if kind == "order":
            side = 1 if arg["action"] == "BUY" else -1
            extra: dict[str, Any] = {}
            if arg["kind"] == "LMT":
                extra["lmt_price"] = round(price - side * arg["offset"], 2)
            elif arg["kind"] == "STP":
                extra["aux_price"] = round(price + side * arg["offset"], 2)
            elif arg["kind"] == "TRAIL":
                extra["aux_price"] = round(arg["offset"], 2)
            book.place(C, rq(next_id, arg["action"], arg["qty"], arg["kind"], **extra))
            next_id += 1
        elif kind == "price":
            price = round(max(1.0, price + arg), 2)
            book.set_price("AAPL", price)
            book.match_all()
        else:
            book.cancel(C, arg)
    # fills never exceed quantities; cumulative quantities add up
    for o in book.orders.values():
        assert 0 <= o.filled <= o.total_qty
        fills = [e for e in book.executions if e.perm_id == o.perm_id]
        assert sum(e.shares for e in fills) == o.filled
        assert [e.cum_qty for e in fills] == sorted(e.cum_qty for e in fills)
    # the position is the sum of executions, cash is what they cost
    signed = sum(e.shares if e.side == "BOT" else -e.shares for e in book.executions)
    assert book.account.positions.get("AAPL", None) is None or book.account.positions["AAPL"].qty == signed
    cost = sum((e.shares if e.side == "BOT" else -e.shares) * e.price + e.commission for e in book.executions)
    assert book.account.cash == pytest.approx(100_000 - cost)
    assert len({e.exec_id for e in book.executions}) == len(book.executions)
    assert len({o.perm_id for o in book.orders.values()}) == len(book.orders)
