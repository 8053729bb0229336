"""Message layouts, checked against ib_async's own decoder and encoder.

Server→client frames are fed to ``ib_async.decoder.Decoder`` with a recording
wrapper; client→server frames are produced by ``ib_async.client.Client`` with a
fake transport and parsed by our reader.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

import pytest
from ib_async import Contract, LimitOrder, MarketOrder, Order, StopOrder, TagValue
from ib_async.client import Client
from ib_async.decoder import Decoder
from ib_async.objects import ExecutionFilter

from orchestrator.simgw import details, inbound
from orchestrator.simgw import messages as m
from orchestrator.simgw.account import Position
from orchestrator.simgw.contracts import NO_SECDEF, Catalog, ContractSpec, Refusal, con_id_for, make_stock
from orchestrator.simgw.orders import Execution, SimOrder
from orchestrator.simgw.wire import FrameParser

from .helpers import LogGuard

AAPL = make_stock("AAPL")
NOW = datetime(2024, 1, 15, 15, 30, 5, tzinfo=UTC)


class Recorder:
    """A wrapper stand-in that records every call the decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.defaultTimezone = UTC

        class _IB:
            TimezoneTWS = None

        self.ib = _IB()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def decode(data: bytes) -> tuple[int, tuple[str, tuple[Any, ...]]]:
    """Decode one frame with ib_async (server version 157); returns (field count, call)."""
    (size,) = struct.unpack(">I", data[:4])
    assert len(data) == 4 + size
    fields = data[4:].decode().split("\0")
    assert fields.pop() == ""  # NUL-terminated last field
    rec = Recorder()
    Decoder(rec, 157).interpret(list(fields))  # type: ignore[arg-type]
    assert len(rec.calls) == 1, f"decoder made {rec.calls} for {fields}"
    return len(fields), rec.calls[0]


def sample_order(**kw: Any) -> SimOrder:
    base = dict(client_id=7, order_id=9, perm_id=1_234_567_890, symbol="AAPL", con_id=AAPL.con_id,
                action="SELL", total_qty=40, order_type="STP", requested_qty=40, aux_price=178.25,
                tif="GTC", oca_group="oca-1", oca_type=1, account="DU1234567", order_ref="plan:stop",
                parent_id=8, parent_perm_id=1_234_567_889, status="PreSubmitted", filled=10,
                avg_fill_price=178.1, last_fill_price=178.0, completed_time=NOW)
    base.update(kw)
    return SimOrder(**base)  # type: ignore[arg-type]


def test_open_order_layout() -> None:
    n, (name, (order_id, contract, order, state)) = decode(m.open_order(sample_order(), AAPL))
    assert (n, name, order_id) == (120, "openOrder", 9)
    assert (contract.conId, contract.symbol, contract.secType, contract.exchange) == (265598, "AAPL", "STK", "SMART")
    assert (order.action, order.totalQuantity, order.orderType, order.auxPrice) == ("SELL", 40, "STP", 178.25)
    assert (order.tif, order.ocaGroup, order.ocaType, order.account) == ("GTC", "oca-1", 1, "DU1234567")
    assert (order.orderRef, order.clientId, order.permId, order.parentId) == ("plan:stop", 7, 1_234_567_890, 8)
    assert state.status == "PreSubmitted"


def test_open_order_trail_fields() -> None:
    o = sample_order(order_type="TRAIL", aux_price=None, trailing_percent=1.5, trail_stop_price=177.4)
    _, (_, (_, _, order, _)) = decode(m.open_order(o, AAPL))
    assert (order.orderType, order.trailingPercent, order.trailStopPrice) == ("TRAIL", 1.5, 177.4)


def test_what_if_open_order() -> None:
    info = dict.fromkeys(("init_before", "maint_before", "equity_before", "init_change", "maint_change",
                          "equity_change", "init_after", "maint_after", "equity_after"), 10.0)
    info["commission"] = 1.0
    _, (_, (_, _, order, state)) = decode(m.open_order(sample_order(), AAPL, what_if=info))
    assert order.whatIf is True
    assert float(state.initMarginChange) == 10.0
    assert state.commission == 1.0


def test_completed_order_layout() -> None:
    o = sample_order(status="Cancelled", reason="OCA group oca-1 filled")
    n, (name, (contract, order, state)) = decode(m.completed_order(o, AAPL))
    assert (n, name) == (92, "completedOrder")
    assert contract.conId == 265598
    assert (order.permId, order.orderRef) == (1_234_567_890, "plan:stop")
    assert (order.totalQuantity, order.filledQuantity) == (40, 10)
    assert order.parentPermId == 1_234_567_889
    assert state.status == "Cancelled"
    assert state.completedTime == "20240115 10:30:05 US/Eastern"
    assert "OCA" in state.completedStatus


def test_exec_details_and_commission_report() -> None:
    e = Execution("0001.00000001.01.01", 7, 9, 1_234_567_890, "AAPL", AAPL.con_id, "SLD", 10, 178.0, 10,
                  178.0, "plan:stop", NOW, 1.0, -25.5, "DU1234567")
    n, (name, (req_id, contract, ex)) = decode(m.exec_details(-1, e, AAPL))
    assert (n, name, req_id) == (31, "execDetails", -1)
    assert (ex.execId, ex.side, ex.shares, ex.price, ex.permId, ex.clientId, ex.orderId) == (
        "0001.00000001.01.01", "SLD", 10, 178.0, 1_234_567_890, 7, 9)
    assert (ex.cumQty, ex.avgPrice, ex.orderRef) == (10, 178.0, "plan:stop")
    assert ex.time == NOW
    n, (name, (report,)) = decode(m.commission_report(e))
    assert (n, name, report.execId, report.commission, report.realizedPNL) == (
        8, "commissionReport", "0001.00000001.01.01", 1.0, -25.5)


def test_contract_details_layout() -> None:
    n, (name, (req_id, cd)) = decode(details.contract_details(4, AAPL, NOW))
    assert (n, name, req_id) == (39, "contractDetails", 4)
    c = cd.contract
    assert (c.conId, c.symbol, c.secType, c.exchange, c.primaryExchange, c.currency) == (
        265598, "AAPL", "STK", "SMART", "NASDAQ", "USD")
    assert (cd.minTick, cd.timeZoneId, cd.longName) == (0.01, "US/Eastern", "APPLE INC")


@pytest.mark.parametrize(
    ("frame", "count", "name"),
    [
        (m.position("DU1", AAPL, Position("AAPL", AAPL.con_id, 10, 180.5)), 16, "position"),
        (m.portfolio(AAPL, Position("AAPL", AAPL.con_id, 10, 180.5), 181.0, "DU1"), 20, "updatePortfolio"),
        (m.order_status(sample_order()), 12, "orderStatus"),
        (m.tick_price(3, 1, 180.49, 300, 1), 7, "priceSizeTick"),
        (m.tick_size(3, 8, 1200), 5, "tickSize"),
        (m.real_time_bar(3, 1_700_000_000, 1.0, 2.0, 0.5, 1.5, 100, 1.2, 3), 11, "realtimeBar"),
        (m.error(-1, 2104, "Market data farm connection is OK:usfarm"), 5, "error"),
        (m.account_value("NetLiquidation", "100000.00", "USD", "DU1"), 6, "updateAccountValue"),
        (m.account_update_multi(5, "DU1", "NetLiquidation", "1.00", "USD"), 8, "accountUpdateMulti"),
        (m.completed_orders_end(), 1, "completedOrdersEnd"),
        (details.symbol_samples(2, [AAPL]), 9, "symbolSamples"),
        (m.position_multi(2, "DU1", AAPL, Position("AAPL", AAPL.con_id, 1, 1)), 18, "positionMulti"),
    ],
)
def test_small_messages(frame: bytes, count: int, name: str) -> None:
    n, (called, _) = decode(frame)
    assert (n, called) == (count, name)


def test_order_status_values() -> None:
    _, (_, args) = decode(m.order_status(sample_order()))
    assert args == (9, "PreSubmitted", 10.0, 30.0, 178.1, 1_234_567_890, 8, 178.0, 7, "", 0.0)


def test_conid_is_stable_and_nonzero() -> None:
    assert con_id_for("AAPL") == 265598
    assert con_id_for("ZZTOP") == con_id_for("ZZTOP") > 0
    assert len({con_id_for(s) for s in ("AB", "BA", "ABC", "XYZW", "Q")}) == 5
    catalog = Catalog(["AAPL", "ABCD"])
    assert not isinstance(catalog.resolve(ContractSpec(0, "ABCD", "STK", "SMART", currency="USD")), Refusal)
    assert catalog.resolve(ContractSpec(0, "ABCD", "OPT", "SMART", currency="USD")) == Refusal(200, NO_SECDEF)
    assert isinstance(catalog.resolve(ContractSpec(0, "ABCD", "STK", "SMART", currency="EUR")), Refusal)
    assert catalog.resolve(ContractSpec(265598)) is catalog.by_key("AAPL")
    assert isinstance(catalog.resolve(ContractSpec(265599)), Refusal)
    assert all(s.primary_exchange in ("NASDAQ", "NYSE") for s in catalog)


# --------------------------------------------------------------- client → server
class FakeTransport:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


def client_frames(action) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Run ``action(client)`` on an ib_async Client at version 157; return the sent messages.

    Call it from a running loop (async test): ib_async's sendMsg would otherwise create one.
    """
    client = Client(Recorder())
    client._serverVersion = 157
    client.connState = Client.CONNECTED
    client.MaxRequests = 0
    transport = FakeTransport()
    client.conn.transport = transport  # type: ignore[assignment]
    action(client)
    parser = FrameParser()
    parser._state = 2  # past the handshake
    return [f for f in parser.feed(transport.data) if isinstance(f, list)]


QUALIFIED = Contract(secType="STK", conId=265598, symbol="AAPL", exchange="SMART",
                     primaryExchange="NASDAQ", currency="USD", localSymbol="AAPL", tradingClass="NMS")


@pytest.mark.parametrize(
    "order",
    [
        MarketOrder("BUY", 100, orderRef="p:entry", tif="DAY"),
        LimitOrder("SELL", 25, 185.5, tif="GTC", outsideRth=True),
        StopOrder("SELL", 100, 178.0, parentId=12, transmit=False, tif="DAY"),
        Order(action="SELL", totalQuantity=10, orderType="TRAIL", auxPrice=1.5, trailStopPrice=178.5, tif="DAY"),
        Order(action="SELL", totalQuantity=10, orderType="TRAIL", trailingPercent=2.0, tif="DAY"),
        Order(action="BUY", totalQuantity=10, orderType="STP LMT", lmtPrice=181.0, auxPrice=180.9,
              ocaGroup="g1", ocaType=2, tif="DAY"),
        Order(action="BUY", totalQuantity=10, orderType="LMT", lmtPrice=1.0, algoStrategy="Adaptive",
              algoParams=[TagValue("adaptivePriority", "Normal")], hedgeType="D", hedgeParam="0.5",
              deltaNeutralOrderType="LMT", scalePriceIncrement=0.05, whatIf=True),
    ],
)
async def test_place_order_parses_what_ib_async_sends(order: Order) -> None:
    (fields,) = client_frames(lambda c: c.placeOrder(31, QUALIFIED, order))
    req, spec = inbound.parse_place_order(fields)
    assert (req.order_id, req.con_id, req.symbol, spec.currency) == (31, 265598, "AAPL", "USD")
    assert (req.action, req.quantity, req.order_type) == (order.action, order.totalQuantity, order.orderType)
    unset = 1.7976931348623157e308
    assert req.lmt_price == (None if order.lmtPrice == unset else order.lmtPrice)
    assert req.aux_price == (None if order.auxPrice == unset else order.auxPrice)
    assert req.trail_stop_price == (None if order.trailStopPrice == unset else order.trailStopPrice)
    assert req.trailing_percent == (None if order.trailingPercent == unset else order.trailingPercent)
    assert (req.transmit, req.parent_id, req.order_ref) == (order.transmit, order.parentId, order.orderRef)
    assert (req.oca_group, req.oca_type, req.outside_rth) == (order.ocaGroup, order.ocaType, order.outsideRth)
    assert req.tif == order.tif
    assert req.what_if == order.whatIf


async def test_other_requests_parse_what_ib_async_sends() -> None:
    flt = ExecutionFilter(clientId=7, symbol="AAPL", side="BUY")
    frames = client_frames(lambda c: (
        c.reqMktData(5, QUALIFIED, "", True, False, []),
        c.reqContractDetails(6, Contract(symbol="ZZZZ", secType="STK", exchange="SMART", currency="USD")),
        c.reqRealTimeBars(7, QUALIFIED, 5, "TRADES", False, []),
        c.reqExecutions(8, flt),
        c.cancelOrder(31),
        c.reqAccountSummary(9, "All", "NetLiquidation,BuyingPower"),
    ))
    mkt, details, bars, execs, cancel, summary = frames
    assert inbound.parse_mkt_data(mkt)[0] == 5 and inbound.parse_mkt_data(mkt)[2] is True
    req_id, spec = inbound.parse_contract_request(details)
    assert (req_id, spec.symbol, spec.con_id) == (6, "ZZZZ", 0)
    assert inbound.parse_contract_request(bars)[1].con_id == 265598
    req_id, f = inbound.parse_executions(execs)
    assert (req_id, f.client_id, f.symbol) == (8, 7, "AAPL")
    assert f.accepts(7, "AAPL", "BOT") and not f.accepts(7, "AAPL", "SLD") and not f.accepts(8, "AAPL", "BOT")
    assert inbound.parse_cancel_order(cancel) == 31
    assert inbound.parse_account_summary(summary) == (9, ["NetLiquidation", "BuyingPower"])


def test_log_guard_catches_decoder_errors(log_guard: LogGuard) -> None:
    """The autouse guard that fails tests on ib_async errors does see decoder failures."""
    rec = Recorder()
    Decoder(rec, 157).interpret(["61", "3", "too", "short"])  # type: ignore[arg-type]
    assert any("Error handling fields" in m for m in log_guard.unexpected())
    log_guard.records.clear()


# --------------------------------------------------------------------------- instruments

ES = Catalog(["ES"], today=datetime(2026, 11, 27).date()).by_key("ESZ6")


def test_futures_contract_details_layout() -> None:
    assert ES is not None
    for sec_type in (None, "CONTFUT"):
        n, (name, (req_id, cd)) = decode(details.contract_details(5, ES, NOW, sec_type))
        assert (n, name, req_id) == (39, "contractDetails", 5)
        c = cd.contract
        assert (c.secType, c.symbol, c.localSymbol, c.lastTradeDateOrContractMonth, c.multiplier, c.exchange) == (
            sec_type or "FUT", "ES", "ESZ6", "20261218", "50", "CME")
        assert (cd.minTick, cd.marketRuleIds, cd.contractMonth, cd.realExpirationDate) == (
            0.25, "67", "202612", "20261218")


def test_futures_positions_and_fills_carry_the_multiplier() -> None:
    assert ES is not None
    pos = Position("ESZ6", ES.con_id, 2, 250_002.25, multiplier=50.0, future=True)
    _, (_, (account, contract, qty, avg)) = decode(m.position("DU1", ES, pos))
    assert (contract.secType, contract.multiplier, contract.localSymbol, qty, avg) == (
        "FUT", "50", "ESZ6", 2, 250_002.25)
    n, (name, (contract, qty, price, value, avg, unrealized, _realized, _acct)) = decode(
        m.portfolio(ES, pos, 5010.0, "DU1"))
    assert (n, name, contract.multiplier, value, unrealized) == (20, "updatePortfolio", "50", 501_000.0, 995.5)
    e = Execution("1.2.01.01", 7, 9, 11, "ESZ6", ES.con_id, "BOT", 2, 5000.0, 2, 5000.0, "p:entry", NOW, 4.5,
                  None, "DU1")
    n, (name, (_req, contract, _ex)) = decode(m.exec_details(-1, e, ES))
    assert (n, name, contract.multiplier, contract.lastTradeDateOrContractMonth) == (
        31, "execDetails", "50", "20261218")
    _, (_, (report,)) = decode(m.commission_report(e, "USD"))
    assert report.currency == "USD"


def test_market_rule_layout() -> None:
    n, (name, (rule_id, increments)) = decode(details.market_rule(1741, [(0.0, 0.0001), (200.0, 0.05)]))
    assert (n, name, rule_id) == (7, "marketRule", 1741)
    assert [(i.lowEdge, i.increment) for i in increments] == [(0.0, 0.0001), (200.0, 0.05)]
