"""Episodes trade instruments whose tick rules bite, reproducibly, and the judges that weigh money
count a contract's multiplier and rate: one plan per episode on MES, a stock under $1 or SAP;
its path on the contract's grid where the simulator demands it (futures), its plan prices not
(so the engine rounds); a futures plan's P&L and market-entry risk judged in base currency."""

from __future__ import annotations

import json
import random
import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chaos import records
from chaos.exposure import market_entry_risk
from chaos.instruments import front_month
from chaos.invariants import Broker, Db
from chaos.scenario import build, config_toml
from orchestrator.cli import main as cli
from orchestrator.simgw import PricePath
from orchestrator.simgw.contracts import Catalog
from orchestrator.simgw.pricing import initial_prices

DAY = date(2026, 11, 27)


def episodes(n: int = 30) -> list[Any]:
    return [build(random.Random(f"5:{i}"), run=5, episode=i, plans=6, sim_date=DAY) for i in range(n)]


def test_one_plan_per_episode_trades_a_contract_with_tick_rules_drawn_reproducibly() -> None:
    kinds = []
    for sc in episodes():
        tick = [d for d in sc.plans if d.inst is not None]
        assert len(tick) == 1 and all(d.inst is None for d in sc.spare)
        kinds.append(tick[0].instrument.kind)
    assert set(kinds) == {"future", "penny", "eur"}
    again = build(random.Random("5:3"), run=5, episode=3, plans=6, sim_date=DAY)
    at = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)   # an expiry is written from "now": one moment for both
    assert [d.toml(at) for d in again.plans] == [d.toml(at) for d in episodes(4)[3].plans]


def test_the_simulator_takes_each_path_and_the_plan_files_name_its_contracts() -> None:
    for sc in episodes():
        (d,) = [d for d in sc.plans if d.inst is not None]
        path = PricePath.from_rows([(s, float(p)) for s, p in sc.base.items()])
        catalog = Catalog(path.symbols(), path.initial_prices(), DAY)
        initial_prices(catalog, path)                       # a futures price off its tick raises
        for step in sc.steps:
            assert all(p > 0 for p in step.values())
        (plan,) = tomllib.loads(d.toml())["plans"]
        contract = catalog.by_key(d.instrument.key)
        assert contract is not None and contract.symbol == plan["symbol"]
        if d.instrument.kind == "future":
            assert (plan["sec_type"], plan["exchange"]) == ("FUT", "CME")
            assert (plan["contract_month"], d.instrument.key) == front_month(DAY) == ("202612", "MESZ6")
            assert all(Decimal(str(s["MES"])) % Decimal("0.25") == 0 for s in sc.steps)
        elif d.instrument.kind == "eur":
            assert (plan["currency"], plan["primary_exchange"], contract.currency) == ("EUR", "IBIS", "EUR")
        else:
            assert all(s[d.symbol] < 1 for s in sc.steps) and contract.min_tick == 0.0001


def test_some_plan_prices_are_off_the_tick_so_the_engine_rounds() -> None:
    off = 0
    for sc in episodes():
        (d,) = [d for d in sc.plans if d.inst is not None]
        catalog = Catalog(list(sc.base), {s: float(p) for s, p in sc.base.items()}, DAY)
        rule = catalog.by_key(d.instrument.key).rule  # type: ignore[union-attr]
        off += sum(not rule.conforms(float(p)) for p in (d.stop, d.target))
    assert off >= 10


def _futures_plan(**row: Any) -> Db:
    plan = {"id": "F", "side": "short", "entry_type": "market", "entry_price": "4767.00", "stop_loss": "4889.88",
            "risk": "small", "multiplier": "5", "fx_rate": None, "filled_qty": 3, "exited_qty": 3,
            "realized_pnl": "4327.5", **row}
    fills: Any = {"F": [{"exec_id": "e1", "quantity": 3, "price": "4755.0", "leg": "entry"},
                        {"exec_id": "x1", "quantity": 3, "price": "4466.5", "leg": "target"}]}
    rows: Any = {"F": plan}   # state.db's rows, as the judges read them (by column name)
    return Db(rows, {}, fills, [], [])


EXECUTIONS = [{"exec_id": "e1", "shares": 3.0, "price": 4755.0, "order_ref": "F:entry"},
              {"exec_id": "x1", "shares": 3.0, "price": 4466.5, "order_ref": "F:target"}]


def test_a_futures_plans_pnl_is_judged_with_its_multiplier() -> None:
    broker = Broker({"executions": EXECUTIONS, "orders": [], "positions": []}, [])
    assert records.fills_exactly_once(_futures_plan(), broker) == []     # (4755 - 4466.5) × 3 × 5
    found = records.fills_exactly_once(_futures_plan(realized_pnl="865.5"), broker)   # the points alone
    assert [v.detail for v in found] == ["realized P&L 865.5 != 4327.5 from the fills applied",
                                         "realized P&L 865.5 != 4327.5 from IB's executions"]


def test_a_market_entry_is_judged_in_base_currency() -> None:
    # (4889.88 - 4755) × 3 × 5 = 2023.20 against 0.1 % of 2,000,000 = 2000 × (1 + 0.05): within
    assert market_entry_risk(_futures_plan(), EXECUTIONS, 0.05, Decimal(2_000_000), {"small": Decimal("0.1")}) == []
    # the same fill at rate 1.08 (a EUR contract in a USD account) is 2185.06: over 2100
    [v] = market_entry_risk(_futures_plan(fx_rate="1.08"), EXECUTIONS, 0.05, Decimal(2_000_000),
                            {"small": Decimal("0.1")})
    assert "actual risk 2185.06 > budget 2000.00" in v.detail
    # the stop the engine sized and sent is on the quarter point, away from the market: 4890.00, so
    # (4890 - 4755) × 3 × 5 = 2025.00, over 2000 × 1.012 = 2024 (the plan's 4889.88 would be 2023.20)
    db = _futures_plan()
    db.journal["F"] = [{"event": "Activate", "to_state": "sized", "payload": json.dumps(  # type: ignore[list-item]
        {"account_value": "2000000.00", "stop_price": "4890.00"})}]
    [v] = market_entry_risk(db, EXECUTIONS, 0.012, Decimal(2_000_000), {"small": Decimal("0.1")})
    assert "with the stop at 4890.00: actual risk 2025.00 > budget 2000.00" in v.detail
    assert market_entry_risk(_futures_plan(), EXECUTIONS, 0.012, Decimal(2_000_000), {"small": Decimal("0.1")}) == []


def test_plans_check_takes_every_episode_s_plan_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A US stock's plan price off its tick is an error (the penny plan's prices are on it, its
    path finer); a future's is a warning, the engine rounding it."""
    (tmp_path / "config.toml").write_text(config_toml(4002, 7))
    plans = tmp_path / "plans.toml"
    plans.write_text("".join(d.toml() for sc in episodes() for d in (*sc.plans, *sc.spare)))
    rc = cli(["plans", "check", "--config", str(tmp_path / "config.toml"), str(plans)])
    seen = capsys.readouterr()
    assert rc == 0, seen.err
    assert "ok: 270 plans" in seen.out and "off the 0.25 tick of MES" in seen.err + seen.out
