"""Futures, a EUR stock, a stock under $1 and market rules, through the real ib_async client over
TCP: contract details and qualification like IB, continuous futures, error 200 for what IB does
not know, error 110 for a price off its market rule (new orders and modifications)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from ib_async import IB, ContFuture, Contract, Future, LimitOrder, MarketOrder, Order, Stock

from orchestrator.simgw import PricePath, PricesError, SimGateway

from .helpers import LogGuard, barrier, connect, error_codes, gateway, until

# On 2026-11-27 the listed quarterly months are December 2026 (last trade 2026-12-18) and March 2027.
DAY = date(2026, 11, 27)
ROWS = [("AAPL", 180.0), ("ES", 5000.0), ("MES", 5000.0), ("SAP", 200.0), ("SNDL", 0.4512)]


def instruments(**kwargs: object) -> object:
    kwargs.setdefault("sim_date", DAY)
    return gateway(PricePath.from_rows(ROWS), **kwargs)


async def one(ib: IB, contract: Contract) -> Contract:
    (found,) = await ib.qualifyContractsAsync(contract)
    assert found is not None, contract
    return found


# --------------------------------------------------------------------------- contract details

async def test_futures_months_multipliers_and_ticks_from_the_date() -> None:
    async with instruments() as gw, connect(gw) as ib:
        es = await one(ib, Future("ES", "202612", "CME"))
        assert (es.localSymbol, es.lastTradeDateOrContractMonth, es.multiplier, es.tradingClass, es.currency) == (
            "ESZ6", "20261218", "50", "ES", "USD")
        (details,) = await ib.reqContractDetailsAsync(Future(conId=es.conId))
        assert (details.minTick, details.contractMonth, details.marketRuleIds, details.timeZoneId) == (
            0.25, "202612", "67", "US/Central")
        assert (details.underSymbol, details.underSecType, details.longName) == ("ES", "IND", "E-mini S&P 500")
        first = details.tradingHours.split(";")[0]                  # from 17:00 the evening before
        assert re.fullmatch(r"(\d{8}):1700-(\d{8}):1600|\d{8}:CLOSED", first), first
        mes = await one(ib, Future(localSymbol="MESH7", exchange="CME"))
        assert (mes.symbol, mes.multiplier, mes.lastTradeDateOrContractMonth) == ("MES", "5", "20270319")
        both = await ib.reqContractDetailsAsync(Future("ES", exchange="CME"))
        assert sorted(d.contract.localSymbol for d in both) == ["ESH7", "ESZ6"]
        by_date = await one(ib, Future("ES", "20270319", "CME", multiplier="50"))
        assert by_date.localSymbol == "ESH7"
        rules = {r: [(p.lowEdge, p.increment) for p in await ib.reqMarketRuleAsync(r)] for r in (67, 26, 999)}
        assert rules == {67: [(0, 0.25)], 26: [(0, 0.0001), (1, 0.01)], 999: []}


async def test_a_future_named_loosely_or_wrongly_is_not_qualified(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 200, reqId \d+: No security definition")
    async with instruments() as gw, connect(gw) as ib:
        codes = error_codes(ib)
        results = await ib.qualifyContractsAsync(
            Future("ES", exchange="CME"),                           # two months: ambiguous
            Future("ES", "202612", "GLOBEX"),                       # IB calls it CME now
            Future("ES", "202612", "CME", multiplier="5"),          # not ES's multiplier
            Future("ES", "202609", "CME"),                          # expired
            Future("NQ", "202612", "CME"))                          # not listed here
        assert results == [None] * 5
        assert codes == [200, 200, 200, 200]


async def test_a_continuous_future_qualifies_to_the_front_month_and_takes_no_orders() -> None:
    async with instruments() as gw, connect(gw) as ib:
        front = await one(ib, Future("ES", "202612", "CME"))
        cont = await one(ib, ContFuture("ES", "CME"))
        assert (cont.secType, cont.conId, cont.localSymbol, cont.multiplier) == ("CONTFUT", front.conId, "ESZ6", "50")
        codes = error_codes(ib)
        trade = ib.placeOrder(cont, MarketOrder("BUY", 1, tif="DAY"))
        await until(ib, lambda: 321 in codes)
        assert trade.orderStatus.status == "ValidationError"       # ib_async: a warning, the order "active"
        assert gw.orders == [] and gw.journal_entries[-1]["code"] == 321
        ticker = ib.reqMktData(cont)
        await until(ib, lambda: codes.count(321) == 2)
        ib.cancelMktData(ticker.contract)


async def test_a_eur_stock_and_a_stock_under_a_dollar(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 200, reqId \d+: No security definition")
    async with instruments() as gw, connect(gw) as ib:
        sap = await one(ib, Stock("SAP", "SMART", "EUR"))
        assert (sap.primaryExchange, sap.currency, sap.tradingClass) == ("IBIS", "EUR", "XETRA")
        (details,) = await ib.reqContractDetailsAsync(sap)
        assert details.marketRuleIds == "1741,1741" and details.validExchanges == "SMART,IBIS"
        ladder = await ib.reqMarketRuleAsync(1741)
        assert len(ladder) == 13 and (ladder[8].lowEdge, ladder[8].increment) == (200, 0.05)
        assert await ib.qualifyContractsAsync(Stock("SAP", "SMART", "USD")) == [None]
        (penny,) = await ib.reqContractDetailsAsync(Stock("SNDL", "SMART", "USD"))
        assert (penny.minTick, penny.marketRuleIds.split(",")[0]) == (0.0001, "26")
        (aapl,) = await ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD"))
        assert aapl.minTick == 0.01 and aapl.marketRuleIds == ",".join(["26"] * 7)


# --------------------------------------------------------------------------- market rules enforced

@pytest.mark.parametrize(("contract", "bad", "good"), [
    (Future("ES", "202612", "CME"), 4990.10, 4990.25),
    (Stock("AAPL", "SMART", "USD"), 179.995, 179.99),
    (Stock("SNDL", "SMART", "USD"), 1.005, 0.4501),                # sub-penny only below $1
    (Stock("SAP", "SMART", "EUR"), 200.02, 199.98),                # Xetra: 0.05 from 200, 0.02 below
])
async def test_a_new_order_off_its_tick_gets_110_and_is_not_placed(log_guard: LogGuard, contract: Contract,
                                                                   bad: float, good: float) -> None:
    log_guard.expect(r"Error 110, reqId \d+: The price does not conform")
    async with instruments() as gw, connect(gw) as ib:
        qualified = await one(ib, contract)
        refused = ib.placeOrder(qualified, LimitOrder("BUY", 1, bad, tif="DAY"))
        await until(ib, lambda: refused.orderStatus.status == "Cancelled")
        assert refused.log[-1].errorCode == 110 and gw.orders == []
        assert gw.journal_entries[-1]["event"] == "rejected" and gw.journal_entries[-1]["code"] == 110
        placed = ib.placeOrder(qualified, LimitOrder("BUY", 1, good, tif="DAY"))
        await until(ib, lambda: placed.orderStatus.status == "Submitted")
        assert [o.lmt_price for o in gw.orders] == [good]


async def test_an_off_tick_modify_is_refused_and_the_old_price_keeps_working() -> None:
    async with instruments() as gw, connect(gw) as ib:
        es = await one(ib, Future("ES", "202612", "CME"))
        trade = ib.placeOrder(es, LimitOrder("BUY", 2, 4990.25, tif="GTC"))
        await until(ib, lambda: trade.orderStatus.status == "Submitted")
        trade.order.lmtPrice = 4990.30
        ib.placeOrder(es, trade.order)
        await until(ib, lambda: trade.orderStatus.status == "ValidationError")
        assert trade.log[-1].errorCode == 110
        (working,) = gw.orders
        assert (working.lmt_price, working.status) == (4990.25, "Submitted")
        gw.set_price("ESZ6", 4990.25)                                 # one month only
        await until(ib, lambda: trade.orderStatus.status == "Filled")
        assert trade.fills[0].execution.price == 4990.25 and gw.price("ESH7") == 5000.0


async def test_a_trailing_amount_and_a_stop_price_follow_the_tick(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 110, reqId \d+")
    async with instruments() as gw, connect(gw) as ib:
        es = await one(ib, Future("ES", "202612", "CME"))
        codes = error_codes(ib)
        for order in (Order(action="SELL", totalQuantity=1, orderType="STP", auxPrice=4980.1, tif="GTC"),
                      Order(action="SELL", totalQuantity=1, orderType="TRAIL", auxPrice=2.1, tif="GTC")):
            ib.placeOrder(es, order)
        await until(ib, lambda: codes.count(110) == 2)
        ib.placeOrder(es, Order(action="SELL", totalQuantity=1, orderType="TRAIL", auxPrice=2.25, tif="GTC"))
        await until(ib, lambda: len(gw.orders) == 1)
        assert gw.orders[0].trail_stop_price == 4997.75


# --------------------------------------------------------------------------- prices

def test_futures_prices_must_be_on_their_tick() -> None:
    with pytest.raises(PricesError, match=r"row 2: ES price 5000.1 is off its 0.25 tick"):
        SimGateway(PricePath.from_rows([("ES", 5000.0), ("ES", 5000.1)]), sim_date=DAY)
    gw = SimGateway(PricePath.from_rows(ROWS), sim_date=DAY)
    with pytest.raises(ValueError, match="MES price 5000.3 is off its 0.25 tick"):
        gw.set_price("MES", 5000.3)
    with pytest.raises(KeyError):
        gw.set_price("ESM7", 5000.0)
    assert gw.catalog.keys_of("ES") == ["ESZ6", "ESH7"]


async def test_quotes_sit_one_tick_from_the_last_trade() -> None:
    async with instruments() as gw, connect(gw) as ib:
        es, penny = await one(ib, Future("ES", "202612", "CME")), await one(ib, Stock("SNDL", "SMART", "USD"))
        t_es, t_penny = ib.reqMktData(es), ib.reqMktData(penny)
        gw.set_price("ES", 5010.5)
        await until(ib, lambda: t_es.last == 5010.5 and t_penny.bid > 0)
        assert (t_es.bid, t_es.ask) == (5010.25, 5010.75)
        assert (t_penny.bid, t_penny.ask) == (0.4511, 0.4513)
        await barrier(ib)


async def test_an_off_tick_bracket_child_is_missing_from_its_group(log_guard: LogGuard) -> None:
    """Why prices must be on tick before they are sent. The stop goes last (transmit=1), as
    ib_async's bracketOrder and the engine send it: refused with 110, it transmits nothing, and
    parent and target stay held. A target off tick, sent in the middle, is simply missing: parent
    and stop go out without it."""
    log_guard.expect(r"Error 110, reqId \d+")
    async with instruments() as gw, connect(gw) as ib:
        es = await one(ib, Future("ES", "202612", "CME"))
        parent, target, stop = ib.bracketOrder("BUY", 1, 5000.0, 5020.0, 4990.1, tif="GTC")
        trades = [ib.placeOrder(es, o) for o in (parent, target, stop)]
        await until(ib, lambda: trades[2].orderStatus.status == "Cancelled")
        assert trades[2].log[-1].errorCode == 110
        assert [o.status for o in gw.orders] == ["Held", "Held"]                           # never sent
        parent, target, stop = ib.bracketOrder("BUY", 1, 5000.0, 5020.1, 4990.0, tif="GTC")
        trades = [ib.placeOrder(es, o) for o in (parent, target, stop)]
        await until(ib, lambda: trades[0].fills != [] and trades[2].orderStatus.status == "PreSubmitted")
        assert trades[1].orderStatus.status == "Cancelled" and trades[1].log[-1].errorCode == 110
        assert trades[0].fills[0].execution.exchange == "CME"
        working = sorted(o.order_type for o in gw.orders if o.status in ("Submitted", "Filled"))
        assert working == ["LMT", "STP"]                                                   # no target at "IB"
