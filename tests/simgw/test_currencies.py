"""Money across currencies and multipliers, through the real ib_async client: the account's base
currency, IB's per-currency, BASE and ExchangeRate rows, positions and P&L in the contract's
currency, futures with their multiplier, and what-if margin answers that place nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from ib_async import IB, Future, LimitOrder, MarketOrder, Stock

from orchestrator.simgw import PricePath, SimGateway, main
from orchestrator.simgw.control import execute

from ..procs import Control, Proc
from .helpers import LogGuard, connect, gateway, until

DAY = date(2026, 11, 27)
ROWS = [("AAPL", 180.0), ("ES", 5000.0), ("MES", 5000.0), ("SAP", 200.0)]


def values(ib: IB) -> dict[tuple[str, str], float]:
    out = {}
    for v in ib.accountValues():
        try:
            out[(v.tag, v.currency)] = float(v.value)
        except ValueError:
            continue
    return out


async def fill(ib: IB, contract: object, action: str, qty: int) -> object:
    trade = ib.placeOrder(contract, MarketOrder(action, qty, tif="DAY"))  # type: ignore[arg-type]
    await until(ib, lambda: trade.orderStatus.status == "Filled" and bool(trade.fills)
                and trade.fills[-1].commissionReport.commission > 0)
    return trade


async def test_es_fills_carry_the_multiplier_and_move_no_notional() -> None:
    """Buy 2 ES at 5000.00: avgCost 5000 × 50 + 2.25 = 250,002.25 a contract; at 5010.00 the
    unrealized P&L is (250,500 − 250,002.25) × 2 = 995.50 and NetLiquidation 100,995.50 (no
    notional left the cash); selling at 5010 realizes 995.50 − 4.50 = 991.00 into cash."""
    async with gateway(PricePath.from_rows(ROWS), sim_date=DAY) as gw, connect(gw) as ib:
        (es,) = await ib.qualifyContractsAsync(Future("ES", "202612", "CME"))
        await fill(ib, es, "BUY", 2)
        await until(ib, lambda: bool(ib.portfolio()) and bool(ib.positions()))
        (pos,) = ib.positions()
        assert (pos.position, pos.avgCost, pos.contract.multiplier) == (2, 250_002.25, "50")
        assert values(ib)[("InitMarginReq", "USD")] == 26_000.0
        gw.set_price("ES", 5010.0)
        await until(ib, lambda: ib.portfolio()[0].marketPrice == 5010.0)
        (item,) = ib.portfolio()
        assert (item.marketValue, item.unrealizedPNL) == (501_000.0, 995.5)
        assert gw.account_values()["NetLiquidation"] == pytest.approx(100_995.5)
        sold = await fill(ib, es, "SELL", 2)
        report = sold.fills[-1].commissionReport
        assert (report.realizedPNL, report.currency, report.commission) == (991.0, "USD", 4.5)
        assert gw.account.cash == pytest.approx(100_991.0) and gw.positions == {}


async def test_an_eur_account_reports_eur_usd_and_base_rows() -> None:
    """Base EUR, EURUSD = 1.08, 100,000 EUR. Buying 100 AAPL at 180.00 (1.00 commission) leaves
    USD cash −18,001 and USD stock value 18,000: NetLiquidationByCurrency USD −1.00, worth
    −1 / 1.08 = −0.93 EUR, so NetLiquidation (EUR) 99,999.07. No NetLiquidation in USD or BASE."""
    async with gateway(PricePath.from_rows(ROWS), sim_date=DAY, base_currency="EUR", fx={"EUR": 1.08}) as gw, \
            connect(gw) as ib:
        v = values(ib)
        assert v[("NetLiquidation", "EUR")] == 100_000 and v[("ExchangeRate", "EUR")] == 1.0
        assert ("NetLiquidation", "USD") not in v and ("NetLiquidation", "BASE") not in v
        (aapl,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        await fill(ib, aapl, "BUY", 100)
        await until(ib, lambda: values(ib).get(("CashBalance", "USD")) == -18_001.0)
        v = values(ib)
        assert v[("ExchangeRate", "USD")] == pytest.approx(1 / 1.08, abs=1e-8)
        assert v[("NetLiquidationByCurrency", "USD")] == -1.0 and v[("StockMarketValue", "USD")] == 18_000.0
        assert v[("NetLiquidationByCurrency", "BASE")] == pytest.approx(99_999.07, abs=0.01)
        assert v[("NetLiquidation", "EUR")] == pytest.approx(99_999.07, abs=0.01)
        assert v[("CashBalance", "EUR")] == 100_000 and v[("CashBalance", "BASE")] == pytest.approx(83_332.41)
        assert ib.positions()[0].avgCost == 180.01                  # in the contract's currency
        summary = {(s.tag, s.currency): s.value for s in await ib.accountSummaryAsync()}
        assert summary[("NetLiquidation", "EUR")] == "99999.07"
        assert {("CashBalance", c) for c in ("EUR", "USD", "BASE")} <= set(summary)   # $LEDGER:ALL


async def test_a_eur_stock_from_a_usd_account() -> None:
    """10 SAP at 200.00 EUR: 2,000 EUR plus IB's minimum of 3.00 EUR commission; EUR cash −2,003,
    NetLiquidation 100,000 + (−2,003 + 2,000) × 1.08 = 99,996.76 USD."""
    async with gateway(PricePath.from_rows(ROWS), sim_date=DAY) as gw, connect(gw) as ib:
        (sap,) = await ib.qualifyContractsAsync(Stock("SAP", "SMART", "EUR"))
        trade = await fill(ib, sap, "BUY", 10)
        report = trade.fills[-1].commissionReport
        assert (report.commission, report.currency) == (3.0, "EUR")
        await until(ib, lambda: values(ib).get(("CashBalance", "EUR")) == -2003.0)
        v = values(ib)
        assert v[("ExchangeRate", "EUR")] == 1.08 and v[("NetLiquidation", "USD")] == pytest.approx(99_996.76)
        gw.set_fx("EURUSD", 1.10)
        await until(ib, lambda: values(ib).get(("ExchangeRate", "EUR")) == 1.10)
        assert values(ib)[("NetLiquidation", "USD")] == pytest.approx(100_000 - 3 * 1.10)


async def test_what_if_answers_futures_margin_and_places_nothing() -> None:
    async with gateway(PricePath.from_rows(ROWS), sim_date=DAY, futures_margin={"MES": 1500.0}) as gw, \
            connect(gw) as ib:
        (es,) = await ib.qualifyContractsAsync(Future("ES", "202612", "CME"))
        state = await ib.whatIfOrderAsync(es, MarketOrder("BUY", 2, tif="DAY"))
        assert (float(state.initMarginChange), float(state.maintMarginChange)) == (26_000.0, 23_636.36)
        assert (state.commission, state.commissionCurrency) == (4.5, "USD")
        assert float(state.equityWithLoanAfter) == 100_000 - 4.5
        (mes,) = await ib.qualifyContractsAsync(Future("MES", "202612", "CME"))
        assert float((await ib.whatIfOrderAsync(mes, MarketOrder("BUY", 1))).initMarginChange) == 1500.0
        assert gw.orders == [] and gw.executions == [] and gw.journal_entries == []
        await fill(ib, es, "BUY", 2)
        closing = await ib.whatIfOrderAsync(es, MarketOrder("SELL", 2, tif="DAY"))
        assert float(closing.initMarginChange) == -26_000.0          # reducing a position frees margin


async def test_what_if_in_an_eur_account_is_in_eur_and_an_off_tick_one_is_refused(log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 110, reqId \d+")
    async with gateway(PricePath.from_rows(ROWS), sim_date=DAY, base_currency="EUR") as gw, connect(gw) as ib:
        (es,) = await ib.qualifyContractsAsync(Future("ES", "202612", "CME"))
        state = await ib.whatIfOrderAsync(es, MarketOrder("BUY", 1))
        assert float(state.initMarginChange) == pytest.approx(13_000 / 1.08, abs=0.01)
        assert await ib.whatIfOrderAsync(es, LimitOrder("BUY", 1, 4990.1)) == []
        assert gw.orders == []


def test_currencies_need_a_rate() -> None:
    with pytest.raises(ValueError, match="base currency GBP has no rate: give GBPUSD=RATE"):
        SimGateway(PricePath.from_rows(ROWS), base_currency="GBP")
    with pytest.raises(ValueError, match="must be positive"):
        SimGateway(PricePath.from_rows(ROWS), fx={"EUR": 0})
    gbp = SimGateway(PricePath.from_rows(ROWS), base_currency="GBP", fx={"GBP": 1.25})
    assert gbp.account.rate("USD") == 0.8 and gbp.account.rate("EUR") == pytest.approx(1.08 / 1.25)


async def test_the_control_port_moves_a_rate_and_shows_the_ledger() -> None:
    async with gateway(PricePath.from_rows(ROWS), sim_date=DAY, base_currency="EUR") as gw:
        reply = await execute(gw, {"cmd": "fx", "pair": "EURUSD", "rate": 1.2})
        assert reply["ok"] and reply["base_currency"] == "EUR" and reply["fx"]["EUR"] == 1.2
        state = gw.state()
        assert state["base_currency"] == "EUR" and state["ledger"]["BASE"]["NetLiquidationByCurrency"] == 100_000
        for bad in ({"cmd": "fx", "pair": "USDEUR", "rate": 1.2}, {"cmd": "fx", "pair": "EURUSD", "rate": -1}):
            with pytest.raises(ValueError):
                await execute(gw, bad)
        await execute(gw, {"cmd": "set_price", "symbol": "ES", "price": 5001.25})
        assert gw.price("ESZ6") == gw.price("ESH7") == 5001.25


@pytest.mark.parametrize(("args", "message"), [
    (["--base-currency", "GBP"], "base currency GBP has no rate: give GBPUSD=RATE"),
    (["--fx", "EUR=1.1"], "must be CCYUSD=NUMBER"),
    (["--fx", "EURUSD=0"], "must be > 0"),
    (["--base-currency", "eur"], "is not a currency code"),
    (["--futures-margin", "ES=-1"], "must be > 0"),
    (["--date", "27.11.2026"], "is not a date YYYY-MM-DD"),
])
def test_bad_currency_options_exit_2_with_one_line(args: list[str], message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("sim-gateway: error: ") and message in err, err


async def test_a_eur_gateway_process_serves_its_state(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"
    prices.write_text("symbol,price\nES,5000\nSAP,200\n")
    gw = await Proc.start("--port", "0", "--control-port", "0", "--prices", str(prices), "--base-currency", "EUR",
                          "--fx", "EURUSD=1.08", "--date", "2026-11-27", "--futures-margin", "ES=14000")
    ctl = await Control.open(gw.control_port)
    try:
        state = (await ctl("state"))["state"]
        assert isinstance(state, dict)
        assert state["base_currency"] == "EUR" and state["fx"]["EUR"] == 1.08
        assert sorted(state["prices"]) == ["ESH7", "ESZ6", "EUR.USD", "SAP"]   # the pair quotes the rate
        assert (await ctl("fx", pair="EURUSD", rate=1.1))["fx"] == {"USD": 1.0, "EUR": 1.1}
    finally:
        await ctl.close()
        code, _, err = await gw.stop()
    assert code == 0, err


async def test_a_currency_pair_is_quoted_at_the_accounts_rate_and_takes_no_orders(log_guard: LogGuard) -> None:
    """EUR.USD (CASH on IDEALPRO) quotes bid and ask half a pip either side of the rate the
    account converts with (EURUSD 1.08, then 1.10 after ``set_fx``); an order on it is refused."""
    from ib_async import Forex
    async with gateway(PricePath.from_rows(ROWS), sim_date=DAY) as gw, connect(gw) as ib:
        (pair,) = await ib.qualifyContractsAsync(Forex("EURUSD"))
        assert (pair.secType, pair.symbol, pair.currency, pair.exchange, pair.localSymbol) == \
            ("CASH", "EUR", "USD", "IDEALPRO", "EUR.USD")
        (ticker,) = await ib.reqTickersAsync(pair)
        assert (ticker.bid, ticker.ask) == (1.07995, 1.08005)
        gw.set_fx("EURUSD", 1.10)
        (ticker,) = await ib.reqTickersAsync(pair)
        assert (ticker.bid, ticker.ask) == (1.09995, 1.10005)
        log_guard.expect("takes no forex orders")
        trade = ib.placeOrder(pair, MarketOrder("BUY", 1000))
        await until(ib, lambda: trade.orderStatus.status == "Cancelled")
        assert "forex" in trade.log[-1].message and gw.orders == []
