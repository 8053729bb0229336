"""The official IB client (``ibapi`` 9.81.1.post1, handshake ``v100..157``) decodes every message
the simulated gateway sends.

ibapi drops a message whose field count does not match its callback with an ERROR log line
("diff len fields and params"), and a field it cannot convert kills its message loop; so the
test fails on any ERROR record of the ``ibapi`` loggers and on a crashed loop, and checks that
each expected callback arrived with the values the gateway sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from orchestrator.simgw import GatewayThread, PricePath

from .helpers import ROWS, WAIT

CALLBACKS = (
    "error", "nextValidId", "managedAccounts", "currentTime", "contractDetails", "contractDetailsEnd",
    "symbolSamples", "marketDataType", "tickPrice", "tickSize", "tickSnapshotEnd", "realtimeBar",
    "openOrder", "openOrderEnd", "orderStatus", "execDetails", "execDetailsEnd", "commissionReport",
    "completedOrder", "completedOrdersEnd", "position", "positionEnd", "updateAccountValue", "updatePortfolio",
    "updateAccountTime", "accountDownloadEnd", "accountSummary", "accountSummaryEnd", "positionMulti",
    "positionMultiEnd", "accountUpdateMulti", "accountUpdateMultiEnd",
)

INSTRUMENT_CALLBACKS = ("marketRule",)  # heard only in the instruments' exercise

Seen = list[tuple[str, tuple[Any, ...]]]


class Recorder(EWrapper, EClient):  # type: ignore[misc]
    """An ibapi application that records every callback (name, arguments)."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.seen: Seen = []
        self.cond = threading.Condition()
        self.crash: BaseException | None = None

    def record(self, name: str, *args: Any) -> None:
        with self.cond:
            self.seen.append((name, args))
            self.cond.notify_all()

    def wait(self, predicate: Callable[[Seen], bool], what: str) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.seen), WAIT), f"ibapi never got {what}"

    def got(self, name: str, **where: Any) -> Callable[[Seen], bool]:
        return lambda seen: any(self.matches(n, a, name, where) for n, a in seen)

    @staticmethod
    def matches(n: str, args: tuple[Any, ...], name: str, where: dict[str, Any]) -> bool:
        if n != name:
            return False
        return all(args[int(k[1:])] == v for k, v in where.items())

    def barrier(self) -> None:
        """A round trip: the gateway has processed every request sent before this."""
        with self.cond:
            answered = sum(1 for n, _ in self.seen if n == "currentTime")
        self.reqCurrentTime()
        self.wait(lambda seen: sum(1 for n, _ in seen if n == "currentTime") > answered, "currentTime")

    def loop(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # noqa: BLE001 - the test reports a crashed message loop
            self.crash = exc


for _name in CALLBACKS + INSTRUMENT_CALLBACKS:
    setattr(Recorder, _name, lambda self, *args, _n=_name: self.record(_n, *args))


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def ibapi_errors() -> Iterator[list[str]]:
    capture = Capture()
    logger = logging.getLogger("ibapi")
    logger.addHandler(capture)
    try:
        yield capture.lines
    finally:
        logger.removeHandler(capture)


def stock(symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def order(action: str, qty: int, kind: str, tif: str = "GTC", **fields: Any) -> Order:
    o = Order()
    o.action, o.totalQuantity, o.orderType, o.tif = action, qty, kind, tif
    o.eTradeOnly = o.firmQuoteOnly = False  # refused by newer gateways; 9.81 defaults them on
    for key, value in fields.items():
        setattr(o, key, value)
    return o


def run_app(gt: GatewayThread, exercise: Callable[[Recorder, GatewayThread], None]) -> Recorder:
    """Connect an ibapi app to ``gt``, run ``exercise`` on it, disconnect; its message loop must live."""
    app = Recorder()
    app.connect("127.0.0.1", gt.port, 11)
    thread = threading.Thread(target=app.loop, name="ibapi", daemon=True)
    thread.start()
    try:
        exercise(app, gt)
    finally:
        app.disconnect()
        thread.join(WAIT)
    assert app.crash is None, f"ibapi's message loop died: {app.crash!r}"
    return app


def test_ibapi_decodes_every_message(ibapi_errors: list[str]) -> None:
    with GatewayThread(PricePath.from_rows(ROWS), tick_seconds=None, market_data="delayed") as gt:
        app = run_app(gt, exercise)
        assert ibapi_errors == []
        names = {n for n, _ in app.seen}
        assert names >= set(CALLBACKS) - {"symbolSamples"}, sorted(set(CALLBACKS) - names)


def test_ibapi_decodes_futures_market_rules_what_if_and_currencies(ibapi_errors: list[str]) -> None:
    rows = [("ES", 5000.0), ("SAP", 200.0), ("AAPL", 180.0)]
    with GatewayThread(PricePath.from_rows(rows), tick_seconds=None, base_currency="EUR", fx={"EUR": 1.08},
                       sim_date=date(2026, 11, 27)) as gt:
        app = run_app(gt, exercise_instruments)
        assert ibapi_errors == []
        rows_seen = {(a[0], a[2]) for n, a in app.seen if n == "updateAccountValue"}
        assert {("NetLiquidation", "EUR"), ("ExchangeRate", "USD"), ("CashBalance", "EUR"), ("CashBalance", "USD"),
                ("NetLiquidationByCurrency", "BASE"), ("ExchangeRate", "BASE")} <= rows_seen
        assert ("NetLiquidation", "USD") not in rows_seen


def future(month: str = "202612") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency, c.lastTradeDateOrContractMonth = "ES", "FUT", "CME", "USD", month
    return c


def exercise_instruments(app: Recorder, gt: GatewayThread) -> None:
    app.wait(app.got("nextValidId"), "nextValidId")
    app.reqContractDetails(1, future())
    app.wait(app.got("contractDetailsEnd", a0=1), "futures contract details")
    (_, (_, details)) = next(x for x in app.seen if x[0] == "contractDetails" and x[1][0] == 1)
    assert (details.contract.multiplier, details.contract.localSymbol, details.minTick, details.marketRuleIds) == (
        "50", "ESZ6", 0.25, "67")
    cont = future("")
    cont.secType = "CONTFUT"
    app.reqContractDetails(2, cont)
    app.wait(app.got("contractDetailsEnd", a0=2), "continuous future details")
    sap = stock("SAP")
    sap.currency = "EUR"
    app.reqContractDetails(3, sap)
    app.wait(app.got("contractDetailsEnd", a0=3), "EUR stock details")
    for rule in (67, 1741, 26):
        app.reqMarketRule(rule)
    app.wait(lambda seen: sum(1 for n, _ in seen if n == "marketRule") == 3, "three market rules")
    ladder = next(a[1] for n, a in app.seen if n == "marketRule" and a[0] == 1741)
    assert len(ladder) == 13 and (ladder[8].lowEdge, ladder[8].increment) == (200.0, 0.05)

    app.reqAccountUpdates(True, "")
    app.reqPositions()
    app.reqAccountSummary(4, "All", "NetLiquidation,$LEDGER:ALL")
    app.wait(app.got("accountSummaryEnd", a0=4), "accountSummaryEnd")
    assert app.got("accountSummary", a0=4, a2="ExchangeRate", a4="EUR")(app.seen)
    assert app.got("accountSummary", a0=4, a2="NetLiquidation", a4="EUR")(app.seen)
    app.placeOrder(200, future(), order("BUY", 1, "MKT", whatIf=True))
    app.wait(app.got("openOrder", a0=200), "a futures what-if answer")
    state = next(a[3] for n, a in app.seen if n == "openOrder" and a[0] == 200)
    assert float(state.initMarginChange) == pytest.approx(13_000 / 1.08, abs=0.01)
    app.placeOrder(201, future(), order("BUY", 1, "LMT", lmtPrice=4990.1))
    app.wait(app.got("error", a0=201, a1=110), "110 for an off-tick price")
    app.placeOrder(202, future(), order("BUY", 2, "MKT"))
    app.placeOrder(203, sap, order("BUY", 10, "MKT"))
    app.wait(lambda seen: sum(1 for n, _ in seen if n == "commissionReport") == 2, "two fills' commissions")
    app.wait(app.got("updatePortfolio"), "a portfolio push")
    app.wait(lambda seen: any(n == "position" and a[1].secType == "FUT" for n, a in seen), "a futures position")
    report = next(a[0] for n, a in app.seen if n == "commissionReport" and a[0].currency == "EUR")
    assert report.commission == 3.0
    pair = Contract()   # the currency pair a rate is read from: its details and a snapshot of its quote
    pair.symbol, pair.secType, pair.exchange, pair.currency = "EUR", "CASH", "IDEALPRO", "USD"
    app.reqContractDetails(5, pair)
    app.wait(app.got("contractDetailsEnd", a0=5), "the pair's details")
    (_, (_, details)) = next(x for x in app.seen if x[0] == "contractDetails" and x[1][0] == 5)
    assert (details.contract.localSymbol, details.minTick) == ("EUR.USD", 0.00005)
    app.reqMktData(13, pair, "", True, False, [])
    app.wait(app.got("tickSnapshotEnd", a0=13), "the pair's snapshot")
    assert app.got("tickPrice", a0=13, a1=1, a2=1.07995)(app.seen)   # bid and ask half a pip from 1.08
    assert app.got("tickPrice", a0=13, a1=2, a2=1.08005)(app.seen)


def exercise(app: Recorder, gt: GatewayThread) -> None:
    app.wait(app.got("nextValidId"), "nextValidId")
    app.wait(app.got("error", a1=2104), "the farm notices")
    assert app.serverVersion() == 157
    app.reqCurrentTime()
    app.reqContractDetails(1, stock())
    app.reqContractDetails(2, stock("ZZZZ"))
    app.wait(app.got("contractDetailsEnd", a0=1), "contract details")
    app.wait(app.got("error", a0=2, a1=200), "error 200")

    # market data under a delayed-only entitlement: 354, then 10167 + marketDataType 3 + delayed ticks
    app.reqMktData(10, stock(), "", False, False, [])
    app.wait(app.got("error", a0=10, a1=354), "354 for a live request")
    app.reqMarketDataType(3)
    app.reqMktData(11, stock(), "", False, False, [])
    app.wait(app.got("tickPrice", a0=11, a1=68, a2=180.0), "a delayed last")
    app.wait(app.got("marketDataType", a0=11, a1=3), "marketDataType 3")
    app.wait(app.got("error", a0=11, a1=10167), "10167")
    app.wait(app.got("tickSize", a0=11, a1=74), "a delayed volume")
    app.reqMktData(12, stock("TSLA"), "", True, False, [])
    app.wait(app.got("tickSnapshotEnd", a0=12), "a snapshot's end")
    gt.call(lambda gw: gw.feed.set_entitlement("live"))
    app.wait(app.got("marketDataType", a0=11, a1=1), "marketDataType 1 after the switch")
    gt.call(lambda gw: gw.feed.set_no_quote("AAPL"))
    app.wait(app.got("tickPrice", a0=11, a1=1, a2=-1.0), "a −1 bid")
    gt.call(lambda gw: gw.feed.set_no_quote("AAPL", False))
    gt.call(lambda gw: gw.feed.competing_session())
    app.wait(app.got("error", a0=11, a1=10197), "10197")
    gt.call(lambda gw: gw.feed.set_entitlement("live"))
    gt.call(lambda gw: gw.feed.set_farm(False))
    gt.call(lambda gw: gw.feed.set_farm(True))
    app.wait(app.got("error", a1=2103), "2103")
    app.reqRealTimeBars(13, stock("MSFT"), 5, "TRADES", False, [])
    app.barrier()
    gt.advance(6)
    app.wait(app.got("realtimeBar", a0=13), "a 5-second bar")
    app.reqMatchingSymbols(14, "AA")

    # account
    app.reqAccountUpdates(True, "")
    app.reqPositions()
    app.reqAccountSummary(15, "All", "NetLiquidation,AccountType")
    app.reqAccountUpdatesMulti(16, "", "", False)
    app.wait(app.got("accountDownloadEnd"), "accountDownloadEnd")
    app.wait(app.got("accountSummaryEnd", a0=15), "accountSummaryEnd")
    app.wait(app.got("accountUpdateMultiEnd", a0=16), "accountUpdateMultiEnd")

    # orders: an empty TIF (10349), a fill, a modify inside the processing window (2102), a cancel
    app.reqIds(1)
    app.placeOrder(100, stock(), order("BUY", 10, "MKT", tif=""))
    app.wait(app.got("commissionReport"), "a fill's commission report")
    app.wait(app.got("error", a0=100, a1=10349), "10349")
    app.wait(app.got("updatePortfolio"), "a portfolio push")
    app.wait(app.got("position"), "a position push")
    gt.call(lambda gw: setattr(gw.policy, "modify_processing_seconds", 60))
    app.placeOrder(101, stock(), order("BUY", 5, "LMT", lmtPrice=150.0))
    app.placeOrder(101, stock(), order("BUY", 5, "LMT", lmtPrice=151.0))
    app.placeOrder(101, stock(), order("BUY", 5, "LMT", lmtPrice=152.0))
    app.wait(app.got("error", a0=101, a1=2102), "2102")
    app.placeOrder(102, stock(), order("SELL", 10, "STP", auxPrice=170.0))
    app.wait(app.got("orderStatus", a0=102, a1="PreSubmitted"), "a PreSubmitted stop")
    app.cancelOrder(101)
    app.wait(app.got("orderStatus", a0=101, a1="Cancelled"), "a cancel")
    app.cancelOrder(999)
    app.wait(app.got("error", a0=999, a1=10147), "10147")
    gt.call(lambda gw: setattr(gw.policy, "read_only", True))
    app.placeOrder(103, stock(), order("BUY", 1, "LMT", lmtPrice=150.0))
    app.wait(app.got("error", a0=103, a1=321), "321")
    gt.call(lambda gw: setattr(gw.policy, "read_only", False))
    what_if = order("BUY", 1, "MKT", whatIf=True)
    app.placeOrder(104, stock(), what_if)
    app.wait(app.got("openOrder", a0=104), "a what-if answer")

    app.reqOpenOrders()
    app.reqAllOpenOrders()
    app.reqCompletedOrders(False)
    app.reqExecutions(17, ExecutionFilter())
    app.wait(app.got("openOrderEnd"), "openOrderEnd")
    app.wait(app.got("completedOrdersEnd"), "completedOrdersEnd")
    app.wait(app.got("execDetailsEnd", a0=17), "execDetailsEnd")
    app.reqPositionsMulti(18, "", "")
    app.wait(app.got("positionMultiEnd", a0=18), "positionMultiEnd")

    # connectivity: 1100, then 1102
    gt.call(lambda gw: gw.connectivity.lose(0.05, "1102"))
    app.wait(app.got("error", a1=1102), "1102")
    assert app.got("error", a1=1100)(app.seen)
