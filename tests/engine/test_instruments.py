"""Futures and non-USD stocks end to end: the real engine and ib_async over TCP against the
simulated gateway. Every verdict is read from the gateway's own state (the orders it has working,
at the quantity and prices IB holds), and every figure is computed by hand in the test.

Sizing: quantity = floor(budget in base ÷ (|entry − stop| × multiplier × fx)), fx = base units per
unit of the contract's currency (IB's ExchangeRate row, else the midpoint of its quote of the pair).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from orchestrator.broker.ib import IBBroker
from orchestrator.clock import SystemClock
from orchestrator.errors import UnknownContract
from orchestrator.render import status_record
from orchestrator.render.figures import contract_text
from orchestrator.simgw import PricePath, SimGateway
from orchestrator.store.read import open_readonly, plan_row

from .harness import World, plan_toml

SIM_DATE = date(2026, 12, 1)   # lists ESZ6 (the front month) and ESH7
PRICES = [("AAPL", 185.00), ("ES", 5010.00), ("MES", 5010.00), ("SAP", 205.00), ("SNDL", 0.4800)]


def _plan(plan_id: str, symbol: str, contract: str, *, entry: float, stop: float, target: float,
          entry_type: str = "limit") -> str:
    return (f'[[plans]]\nid = "{plan_id}"\nsymbol = "{symbol}"\n{contract}\nside = "long"\nentry = "{entry_type}"\n'
            f"entry_price = {entry}\nstop_loss = {stop}\ntake_profit = {target}\nrisk = \"normal\"\n\n")


ES = 'sec_type = "FUT"\nexchange = "CME"\ncontract_month = "202612"'
MES = 'sec_type = "FUT"\nexchange = "CME"\nlocal_symbol = "MESZ6"'
SAP = 'exchange = "SMART"\nprimary_exchange = "IBIS"\ncurrency = "EUR"'


def _at_ib(w: World, plan_id: str) -> dict[str, tuple[str, float, float | None, float | None]]:
    """The plan's working orders at the gateway by leg: (type, quantity, limit, aux)."""
    return {o.order_ref.split(":")[1]: (o.order_type, o.total_qty, o.lmt_price, o.aux_price)
            for o in w.gw.orders if (o.order_ref or "").startswith(plan_id + ":") and not o.is_done}


def _row(w: World, plan_id: str) -> Any:
    """The plan's row as ``status`` reads it (read-only, plain sqlite3)."""
    assert w.rt is not None
    conn = open_readonly(w.rt.store.url)
    try:
        row = plan_row(conn, plan_id)
    finally:
        conn.close()
    assert row is not None
    return row


def _status(w: World, plan_id: str) -> dict[str, Any]:
    return status_record(_row(w, plan_id))


async def _working(w: World, plan_id: str) -> None:
    plan = await w.state(plan_id, "submitted", "rejected")
    assert plan.state == "submitted", plan.reason
    await w.until(lambda: {"entry", "stop", "target"} <= set(_at_ib(w, plan_id)), f"{plan_id}'s bracket at IB")


async def test_futures_and_a_eur_stock_from_a_usd_account_are_sized_in_usd(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """USD account: 98,920 USD + 1,000 EUR at EURUSD 1.08 = 100,000 USD; normal risk 2 % = 2,000 USD.

    * ES: 10 points × 50 = 500 USD a contract; floor(2,000 / 500) = 4 contracts.
    * MES with an off-tick stop 4990.10: a long's stop rounds down to 4990.00 on the 0.25 tick;
      10 × 5 = 50 USD a contract; floor(2,000 / 50) = 40; the stop IB holds is 4990.00.
    * SAP on IBIS in EUR, a buy limit of 200.01 off Xetra's 0.05 tick at 200: it rounds down to
      200.00; 10 EUR × 1.08 = 10.80 USD a share; floor(2,000 / 10.80) = 185 shares, risk 185 × 10.80
      = 1,998.00 USD.
    * SNDL, a US stock under $1 on its 0.0001 tick: 0.4500 − 0.4000 = 0.05 a share; floor(2,000 / 0.05)
      = 40,000 shares (18,000 USD).
    * ZZZZ: IB has no such stock (error 200): rejected before sizing, with IB's words.
    """
    log_guard.expect(r"Error 200")
    plans = (_plan("ES-1", "ES", ES, entry=5000.00, stop=4990.00, target=5020.00)
             + _plan("MES-1", "MES", MES, entry=5000.00, stop=4990.10, target=5020.00)
             + _plan("SAP-1", "SAP", SAP, entry=200.01, stop=190.00, target=220.00)
             + _plan("SNDL-1", "SNDL", "", entry=0.4500, stop=0.4000, target=0.5500)
             + plan_toml("ZZZZ-1", "ZZZZ", entry="limit", entry_price=180.0, stop=171.0, target=189.0))
    world = World(tmp_path, plans, account_value=98_920, prices=PRICES, gateway={"sim_date": SIM_DATE})
    world.gw.account.balances["EUR"] = 1_000.0   # the account holds some euros: IB reports their rate
    async with world as w:
        for plan_id in ("ES-1", "MES-1", "SAP-1", "SNDL-1"):
            await _working(w, plan_id)
        assert _at_ib(w, "ES-1") == {"entry": ("LMT", 4, 5000.0, None), "stop": ("STP", 4, None, 4990.0),
                                     "target": ("LMT", 4, 5020.0, None)}
        assert _at_ib(w, "MES-1")["entry"][:2] == ("LMT", 40)
        assert _at_ib(w, "MES-1")["stop"] == ("STP", 40, None, 4990.0)
        assert _at_ib(w, "SAP-1")["entry"] == ("LMT", 185, 200.0, None)
        assert _at_ib(w, "SNDL-1") == {"entry": ("LMT", 40_000, 0.45, None), "stop": ("STP", 40_000, None, 0.4),
                                       "target": ("LMT", 40_000, 0.55, None)}
        es, mes, sap = w.plan("ES-1"), w.plan("MES-1"), w.plan("SAP-1")
        assert (es.quantity, es.multiplier, es.fx_rate, es.risk_amount) == (4, 50, 1, 2000)
        assert (mes.stop_price, mes.risk_amount) == (Decimal("4990.00"), 2000)
        assert (sap.quantity, sap.fx_rate, sap.risk_amount) == (185, Decimal("1.08"), Decimal("1998.00"))
        zzzz = await w.state("ZZZZ-1", "rejected")
        assert "No security definition has been found for the request" in (zzzz.reason or "")
        assert not _at_ib(w, "ZZZZ-1")
        row = _status(w, "ES-1")
        assert {k: row[k] for k in ("sec_type", "exchange", "currency", "contract_month", "multiplier",
                                    "base_currency", "fx_rate", "risk_base")} == {
            "sec_type": "FUT", "exchange": "CME", "currency": "USD", "contract_month": "202612", "multiplier": 50,
            "base_currency": "USD", "fx_rate": 1, "risk_base": 2000}
        assert (_status(w, "SAP-1")["currency"], _status(w, "SAP-1")["fx_rate"]) == ("EUR", 1.08)
        assert [contract_text(_row(w, p)) for p in ("ES-1", "MES-1", "SAP-1", "SNDL-1")] == [
            "ES 202612 CME USD", "MES MESZ6 CME USD", "SAP SMART/IBIS EUR", "SNDL"]
        details = w.rt.store.load_contract(es.key)   # type: ignore[union-attr]
        assert details is not None and (details[0].local_symbol, details[0].multiplier) == ("ESZ6", "50")
        assert details[0].price_rule == [("0.0", "0.25")] and details[0].time_zone


async def test_a_usd_stock_and_es_from_an_eur_account_are_sized_in_eur(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """EUR account, EURUSD 1.08: 99,000 EUR + 1,080 USD (= 1,000 EUR) = 100,000 EUR; budget 2,000 EUR.

    * AAPL, 7 USD a share: 2,000 EUR = 2,160 USD; floor(2,160 / 7) = 308 shares; risk 308 × 7 = 2,156 USD
      = 1,996.30 EUR.
    * ES, 500 USD a contract = 462.96 EUR: floor(2,000 / 462.96) = 4 contracts.
    """
    plans = (plan_toml("AAPL-E", "AAPL", entry="limit", entry_price=180.0, stop=173.0, target=190.0)
             + "\n" + _plan("ES-E", "ES", ES, entry=5000.00, stop=4990.00, target=5020.00))
    world = World(tmp_path, plans, account_value=99_000, prices=PRICES,
                  gateway={"sim_date": SIM_DATE, "base_currency": "EUR", "fx": {"EUR": 1.08}})
    world.gw.account.balances["USD"] = 1_080.0
    async with world as w:
        await _working(w, "AAPL-E")
        await _working(w, "ES-E")
        assert _at_ib(w, "AAPL-E")["entry"] == ("LMT", 308, 180.0, None)
        assert _at_ib(w, "ES-E")["entry"][:2] == ("LMT", 4)
        aapl = w.plan("AAPL-E")
        assert aapl.base_currency == "EUR" and abs(aapl.fx_rate - 1 / Decimal("1.08")) < Decimal("1e-8")
        assert abs(aapl.risk_amount - Decimal(2156) / Decimal("1.08")) < Decimal("0.01")
        status = json.loads(w.rt.store.get_meta("daemon") or "{}")   # type: ignore[union-attr]
        assert status["base_currency"] == "EUR" and Decimal(status["account_value"]) == Decimal("100000.00")


async def test_a_eur_stock_from_a_usd_account_is_sized_at_the_quote_of_eur_usd(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """A plain USD account holds no euros, so IB reports no EUR rate: the rate is the EUR.USD
    quote's midpoint (bid 1.07995, ask 1.08005: 1.08). Risk a share 10.00 EUR = 10.80 USD; budget
    2 % of 100,000 USD = 2,000 USD; floor(2,000 / 10.80) = 185 shares; risk 185 × 10.80 = 1,998 USD."""
    async with World(tmp_path, _plan("SAP-Q", "SAP", SAP, entry=200.00, stop=190.00, target=220.00),
                     prices=PRICES, gateway={"sim_date": SIM_DATE}) as w:
        await _working(w, "SAP-Q")
        assert _at_ib(w, "SAP-Q")["entry"] == ("LMT", 185, 200.0, None)
        assert "EUR" not in {v.currency for v in w.rt.broker.ib.accountValues() if v.tag == "ExchangeRate"}  # type: ignore[union-attr]
        sap = w.plan("SAP-Q")
        assert (sap.base_currency, sap.fx_rate, sap.risk_amount) == ("USD", Decimal("1.08"), Decimal("1998.00"))


async def test_a_usd_stock_from_an_eur_account_is_sized_at_the_inverse_quote(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """An EUR account that holds no dollars has no USD rate: the market quotes EUR.USD (1.08), so
    the rate is its inverse, rounded up (a smaller size): 2,000 EUR = 2,160 USD; floor(2,160 / 7) = 308."""
    plans = plan_toml("AAPL-Q", "AAPL", entry="limit", entry_price=180.0, stop=173.0, target=190.0)
    async with World(tmp_path, plans, prices=PRICES,
                     gateway={"sim_date": SIM_DATE, "base_currency": "EUR", "fx": {"EUR": 1.08}}) as w:
        await _working(w, "AAPL-Q")
        assert _at_ib(w, "AAPL-Q")["entry"] == ("LMT", 308, 180.0, None)
        aapl = w.plan("AAPL-Q")
        assert aapl.base_currency == "EUR" and Decimal(0) <= aapl.fx_rate - 1 / Decimal("1.08") < Decimal("1e-20")


async def test_a_missing_rate_and_a_continuous_future_are_refused(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """A plain USD account holds no euros and IB refuses the EUR.USD quote (no market data for
    it): there is no EUR rate, so SAP cannot be sized and is refused with the reason (never sized
    at a rate of 1). A future without a month (IB's continuous future) is refused by the
    plan-file check: it never reaches IB."""
    log_guard.expect(r"plan_file_invalid")
    log_guard.expect(r"Error 354, reqId \d+")
    world = World(tmp_path, _plan("SAP-2", "SAP", SAP, entry=200.00, stop=190.00, target=220.00),
                  prices=PRICES, gateway={"sim_date": SIM_DATE})
    world.gw.feed.set_entitlement("none", "EUR.USD")
    async with world as w:
        (tmp_path / "plans" / "cont.toml").write_text(
            _plan("ES-CONT", "ES", 'sec_type = "FUT"\nexchange = "CME"', entry=5000.0, stop=4990.0, target=5020.0))
        sap = await w.state("SAP-2", "rejected")
        assert sap.reason is not None and "the exchange rate EUR → USD is not known" in sap.reason
        assert not _at_ib(w, "SAP-2") and sap.quantity == 0

        def refused() -> list[str]:
            return [r[0] for r in w.rt.store.db.execute(  # type: ignore[union-attr]
                "SELECT payload FROM outbox WHERE kind='plan_file_invalid'")]
        await w.until(lambda: bool(refused()), "the continuous future refused")
        assert "plan ES-CONT: contract_month: a future needs contract_month" in refused()[0]
        assert "ES-CONT" not in w.engine.plans and not [o for o in w.gw.orders if o.symbol.startswith("ES")]


async def test_es_and_mes_positions_stay_apart_across_a_restart(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """Two futures of one index, both filled: each plan owns its own contract's position at IB (4 ESZ6,
    40 MESZ6), both are protected, nothing is held as unexplained; after a restart the cached conIds
    map IB's positions to the same plans before anything is asked again (no shortfall, no hold)."""
    prices = [("ES", 4999.00), ("MES", 4999.00)]
    plans = (_plan("ES-F", "ES", ES, entry=5000.00, stop=4990.00, target=5020.00)
             + _plan("MES-F", "MES", MES, entry=5000.00, stop=4990.00, target=5020.00))
    async with World(tmp_path, plans, prices=prices, gateway={"sim_date": SIM_DATE}) as w:
        es = await w.state("ES-F", "protected")
        mes = await w.state("MES-F", "protected")
        assert {k: int(p.qty) for k, p in w.gw.positions.items() if p.qty} == {"ESZ6": 4, "MESZ6": 40}
        assert (es.open_qty, mes.open_qty) == (4, 40)
        assert _at_ib(w, "ES-F")["stop"] == ("STP", 4, None, 4990.0)
        assert _at_ib(w, "MES-F")["stop"] == ("STP", 40, None, 4990.0)
        assert w.engine.gate.held == {}
        await w.stop()
        await w.start()
        await w.reconciled()
        for plan_id, qty in (("ES-F", 4), ("MES-F", 40)):
            plan = w.plan(plan_id)
            assert (plan.state, plan.open_qty, plan.outside_qty) == ("protected", qty, 0)
            assert _at_ib(w, plan_id)["stop"] == ("STP", qty, None, 4990.0)
        assert w.engine.gate.held == {}
        assert {k: int(p.qty) for k, p in w.gw.positions.items() if p.qty} == {"ESZ6": 4, "MESZ6": 40}


async def test_an_ambiguous_or_unknown_contract_is_named_with_ibs_answer(log_guard) -> None:  # type: ignore[no-untyped-def]
    """The adapter over TCP: ES without a month matches two listed contracts (refused, both named);
    a month IB does not list is IB's error 200; a listed one gives IB's details and market rule."""
    log_guard.expect(r"Error 200")
    gw = SimGateway(PricePath.from_rows(PRICES), port=0, tick_seconds=None, sim_date=SIM_DATE)
    await gw.start()
    broker = IBBroker("127.0.0.1", gw.port, 9, clock=SystemClock(), sink=lambda _item: None)
    try:
        await broker.connect()
        with pytest.raises(UnknownContract) as ambiguous:
            await broker.qualify("ES:FUT:CME::USD::")
        assert "ambiguous: IB knows 2 contracts (ESH7, ESZ6)" in str(ambiguous.value)
        with pytest.raises(UnknownContract) as unlisted:
            await broker.qualify("ES:FUT:CME::USD:203012:")
        assert str(unlisted.value) == ("IB knows no future ES 203012 on CME (USD): No security definition has been "
                                       "found for the request")
        sap = await broker.qualify("SAP:STK:SMART:IBIS:EUR::")
        assert (sap.currency, sap.long_name, sap.price_rule[-1]) == ("EUR", "SAP SE", ("5000.0", "1.0"))
    finally:
        await broker.close()
        await gw.stop()
