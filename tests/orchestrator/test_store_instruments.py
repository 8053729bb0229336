"""The store keeps a plan's contract and IB's contract details: an instrument plan comes back as
it was loaded, a stock plan exactly as before instruments existed (same class, same hash), and a
store of the previous schema gains the columns with its plans intact."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

import machines
from machines import Instrument, InstrumentPlanSpec, SecType
from orchestrator.contractinfo import ContractDetails
from orchestrator.engine.intake import spec_hash
from orchestrator.store import SCHEMA_VERSION, Store
from orchestrator.store.db import MIGRATIONS, _engine

from .factories import at, spec

ES = Instrument(SecType.FUT, "CME", None, "USD", "202612", None)


def _es_spec() -> InstrumentPlanSpec:
    base = asdict(spec("ES-1", symbol="ES"))
    base.update(entry_price=Decimal("5000"), stop_loss=Decimal("4990"), take_profit=Decimal("5020"))
    return InstrumentPlanSpec(**base, instrument=ES)


def test_an_instrument_plan_and_a_stock_plan_come_back_as_they_were_loaded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    es, stock = _es_spec(), spec("AAPL-1")
    store = Store(url)
    try:
        store.insert_plan(es, at=at(0), spec_hash=spec_hash(es))
        store.insert_plan(stock, at=at(0), spec_hash=spec_hash(stock))
    finally:
        store.close()
    store = Store(url)
    try:
        back = {p.id: p for p in store.load_plans()}
        assert back["ES-1"].spec == es and back["ES-1"].spec.instrument == ES
        assert back["ES-1"].key == "ES:FUT:CME::USD:202612:"
        assert type(back["AAPL-1"].spec) is machines.PlanSpec and back["AAPL-1"].key == "AAPL"
        assert spec_hash(back["AAPL-1"].spec) == spec_hash(stock) == store.plan_exists("AAPL-1")
        assert spec_hash(back["ES-1"].spec) == store.plan_exists("ES-1")
        row = store.db.execute("SELECT sec_type, currency, multiplier FROM plans WHERE id='AAPL-1'").fetchone()
        assert tuple(row) == (None, None, "1")
    finally:
        store.close()


def test_contract_details_are_cached_with_their_time(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        assert store.load_contract("ES:FUT:CME::USD:202612:") is None
        details = ContractDetails(con_id=495512563, symbol="ES", sec_type="FUT", exchange="CME", currency="USD",
                                  local_symbol="ESZ6", multiplier="50", min_tick="0.25", market_rule_ids="67",
                                  price_rule=[("0", "0.25")], long_name="E-mini S&P 500",
                                  trading_hours="20261201:1700-20261202:1600", time_zone="US/Central")
        store.save_contract("ES:FUT:CME::USD:202612:", details, at=at(0))
        store.save_contract("ES:FUT:CME::USD:202612:", details, at=at(5))   # refreshed: one row, the new time
        assert store.load_contract("ES:FUT:CME::USD:202612:") == (details, at(5))
        assert store.db.execute("SELECT count(*) FROM contracts").fetchone()[0] == 1
    finally:
        store.close()


def test_a_store_of_the_previous_schema_is_migrated_with_its_plans(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    engine = _engine(path, readonly=False)
    with engine.begin() as conn:  # a store as the previous orchestrator left it
        for version in range(1, SCHEMA_VERSION):
            MIGRATIONS[version](conn)
        conn.exec_driver_sql(f"INSERT INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION - 1}')")
        given: dict[str, object] = {
                 "id": "OLD", "symbol": "AAPL", "side": "long", "entry_type": "limit", "entry_price": "180",
                 "stop_loss": "171", "take_profit": "189", "risk": "normal", "state": "pending",
                 "created_at": "2026-12-01T00:00:00+00:00", "updated_at": "2026-12-01T00:00:00+00:00"}
        for _cid, name, kind, notnull, default, _pk in conn.exec_driver_sql("PRAGMA table_info(plans)").fetchall():
            if notnull and default is None and name not in given:
                given[name] = 0 if kind in ("INTEGER", "BOOLEAN") else ("0" if "risk" in name or "pnl" in name else "")
        conn.exec_driver_sql(f"INSERT INTO plans({','.join(given)}) VALUES ({','.join('?' * len(given))})",
                             tuple(given.values()))
    engine.dispose()
    store = Store(f"sqlite:///{path}")
    try:
        (plan,) = store.load_plans()
        assert plan.id == "OLD" and type(plan.spec) is machines.PlanSpec
        assert (plan.multiplier, plan.fx_rate, plan.base_currency) == (Decimal(1), None, None)
    finally:
        store.close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    finally:
        raw.close()
