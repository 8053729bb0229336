"""prices_on_tick catches what it claims to: the simulator's own journal of a clean world (our
orders on their ticks for MES, SAP on both sides of Xetra's 200 edge, a stock under $1 and a US
stock, a modification on the tick) passes; the same world with one off-tick price of ours (a new
order, a modification, a margin preview: each error 110) is caught, naming the price refused; and
a price on the journal off its increment is caught even where no 110 came (the judge redoes the
arithmetic). The gateway is the real simulator, over TCP, with the real ib_async client."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ib_async import IB, Contract, Future, LimitOrder, Order, Stock, StopOrder

from chaos.hand import TRADER_CLIENT
from chaos.ticks import catalogue_rules, prices_on_tick
from orchestrator.simgw import PricePath, SimGateway

from ..simgw.helpers import LogGuard, connect, gateway, until

DAY = date(2026, 11, 27)   # MES December 2026 (MESZ6) is the front month
BASE = {"C01A": Decimal("180.00"), "MES": Decimal("5000.00"), "SAP": Decimal("200.00"), "C01B": Decimal("0.4512")}
RULES = catalogue_rules(BASE, DAY)


def world() -> Any:
    return gateway(PricePath.from_rows([(s, float(p)) for s, p in BASE.items()]), sim_date=DAY)


SEEN = ("PreSubmitted", "Submitted", "Filled", "Cancelled", "ValidationError")   # IB has answered the order


async def place(ib: IB, contract: Contract, order: Order, ref: str) -> Any:
    (found,) = await ib.qualifyContractsAsync(contract)
    assert isinstance(found, Contract)
    order.orderRef, order.tif = ref, "GTC"
    trade = ib.placeOrder(found, order)
    await until(ib, lambda: trade.orderStatus.status in SEEN)
    return trade


async def clean_world(gw: SimGateway, ib: IB) -> None:
    mes = Future("MES", "202612", "CME")
    stop = await place(ib, mes, StopOrder("SELL", 2, 4900.25), "E1-P0:stop")
    stop.order.auxPrice = 4910.75                                   # a trailing step, on the quarter point
    ib.placeOrder(stop.contract, stop.order)
    await until(ib, lambda: any(e["event"] == "modified" for e in gw.journal_entries))
    await place(ib, Stock("SAP", "SMART", "EUR"), LimitOrder("BUY", 5, 199.98), "E1-P1:entry")   # 0.02 level
    await place(ib, Stock("SAP", "SMART", "EUR"), StopOrder("BUY", 5, 210.05), "E1-P6:stop")    # 0.05 level
    await place(ib, Stock("C01B", "SMART", "USD"), LimitOrder("BUY", 1000, 0.4499), "E1-P2:entry")
    await place(ib, Stock("C01A", "SMART", "USD"), LimitOrder("BUY", 10, 179.99), "E1-P3:entry")


async def test_a_clean_world_passes() -> None:
    async with world() as gw, connect(gw, client_id=7) as ib:
        await clean_world(gw, ib)
        journal = list(gw.journal_entries)
    assert "modified" in {e["event"] for e in journal}
    assert len([e for e in journal if e["event"] in ("placed", "transmitted", "modified")]) >= 6
    assert prices_on_tick(journal, RULES) == []


async def test_an_off_tick_order_modification_or_preview_of_ours_is_caught(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 110, reqId \d+")
    async with world() as gw, connect(gw, client_id=7) as ib:
        await clean_world(gw, ib)
        mes = Future("MES", "202612", "CME")
        await place(ib, mes, LimitOrder("BUY", 1, 4990.10), "E1-P4:entry")          # a new order off the tick
        target = await place(ib, Stock("SAP", "SMART", "EUR"), LimitOrder("SELL", 5, 220.00), "E1-P1:target")
        target.order.lmtPrice = 220.02                                              # 0.05 from 200: off
        ib.placeOrder(target.contract, target.order)
        await until(ib, lambda: target.orderStatus.status == "ValidationError")
        (found,) = await ib.qualifyContractsAsync(mes)
        assert isinstance(found, Contract)
        preview = LimitOrder("BUY", 1, 4990.3)
        preview.orderRef = "E1-P5:entry"
        refused: object = await ib.whatIfOrderAsync(found, preview)
        assert refused == []
        journal = list(gw.journal_entries)
    found_lines = [(v.plan, v.detail) for v in prices_on_tick(journal, RULES)]
    assert [p for p, _ in found_lines] == ["E1-P4", "E1-P1", "E1-P5"], found_lines
    assert all("110" in d for _, d in found_lines)
    assert "lmt_price 4990.1" in found_lines[0][1]
    assert "lmt_price 220.02" in found_lines[1][1] and "modified" not in found_lines[1][1]
    assert "what_if_refused" in found_lines[2][1] and "MESZ6" in found_lines[2][1]


def test_a_recorded_price_off_its_increment_is_caught_without_a_110() -> None:
    line = {"event": "placed", "client_id": 7, "order_id": 9, "order_ref": "E1-P0:stop", "symbol": "MESZ6",
            "order_type": "STP", "lmt_price": None, "aux_price": 4900.1}
    sap = {**line, "symbol": "SAP", "order_type": "LMT", "lmt_price": 200.02, "aux_price": None}
    ok = {**line, "event": "modified", "aux_price": 4900.5}
    trail = {**line, "order_type": "TRAIL", "aux_price": 12.3}   # a trailing amount is IB's (its 110) to judge
    theirs = {**line, "client_id": TRADER_CLIENT, "event": "rejected", "code": 110}
    found = prices_on_tick([line, sap, ok, trail, theirs], RULES)
    assert [(v.plan, v.detail.split(": ", 1)[1]) for v in found] == [
        ("E1-P0", "aux_price 4900.1 is off its 0.25 increment"),
        ("E1-P0", "lmt_price 200.02 is off its 0.05 increment")]
    assert "no market rule" in prices_on_tick([{**line, "symbol": "NOPE"}], RULES)[0].detail
