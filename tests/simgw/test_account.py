"""Cash, P&L and commissions."""

from __future__ import annotations

import pytest

from orchestrator.simgw.account import Account, order_commission


def test_commission_rule() -> None:
    assert order_commission(100, 18_000, 0.005, 1.0) == 1.0  # the minimum
    assert order_commission(1000, 180_000, 0.005, 1.0) == 5.0  # per share
    assert order_commission(1, 0.5, 0.005, 1.0) == 0.005  # capped at 1 % of the value
    assert order_commission(0, 0, 0.005, 1.0) == 0.0


def test_long_round_trip_realizes_pnl_net_of_commissions() -> None:
    acct = Account("DU1", 10_000)
    assert acct.apply_fill("AAPL", 1, True, 10, 100.0, 1.0) is None
    assert acct.positions["AAPL"].avg_cost == pytest.approx(100.1)
    realized = acct.apply_fill("AAPL", 1, False, 10, 105.0, 1.0)
    assert realized == pytest.approx(10 * (105.0 - 100.1) - 1.0)
    assert acct.positions["AAPL"].qty == 0
    assert acct.cash == pytest.approx(10_000 - 1000 - 1 + 1050 - 1)
    assert acct.realized_pnl == pytest.approx(realized)


def test_short_then_flip_long() -> None:
    acct = Account("DU1", 10_000)
    acct.apply_fill("AAPL", 1, False, 10, 100.0, 0.0)
    assert acct.positions["AAPL"].qty == -10
    realized = acct.apply_fill("AAPL", 1, True, 15, 90.0, 0.0)
    assert realized == pytest.approx(100.0)
    assert acct.positions["AAPL"].qty == 5
    assert acct.positions["AAPL"].avg_cost == pytest.approx(90.0)


def test_account_values_follow_prices() -> None:
    acct = Account("DU1", 100_000)
    acct.apply_fill("AAPL", 1, True, 100, 180.0, 1.0)
    v = acct.values({"AAPL": 181.0})
    assert v["NetLiquidation"] == pytest.approx(100_000 - 18_001 + 18_100)
    assert v["GrossPositionValue"] == pytest.approx(18_100)
    assert v["UnrealizedPnL"] == pytest.approx(100 * (181.0 - 180.01))
    assert v["AvailableFunds"] == pytest.approx(v["NetLiquidation"] - 0.25 * 18_100)
    assert v["BuyingPower"] == pytest.approx(4 * v["AvailableFunds"])
    tags = {(t, c) for t, _, c in acct.value_rows({"AAPL": 181.0})}
    assert {("NetLiquidation", "USD"), ("CashBalance", "BASE"), ("CashBalance", "USD"), ("AccountType", "")} <= tags
