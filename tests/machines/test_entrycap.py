"""A market entry's price cap: the worst fill at which its risk stays within budget × (1 + tolerance),
with multiplier, FX and the contract's market rule; and what the machine does with it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from machines import (
    US_STOCK_RULE,
    Activate,
    EntryType,
    MarketRule,
    PlaceBracket,
    RiskLimits,
    Side,
    SizingError,
    State,
    entry_cap,
    past_cap,
    risk_budget,
    size_in_base,
)
from machines.entrycap import allowed_distance

from .helpers import T0, bound, hsettings, plan_in, spec

XETRA = MarketRule.from_increments([("0", "0.001"), ("0.1", "0.002"), ("0.2", "0.005"), ("0.5", "0.01"),
                                    ("1", "0.02"), ("2", "0.05"), ("5", "0.1"), ("10", "0.2"), ("20", "0.5")])
ES = MarketRule.fixed("0.25")


@pytest.mark.parametrize("side, stop, budget, qty, mult, fx, rule, cap", [
    # the chaos finding R1201-E37-P3: 6000 × 1.5 ÷ 2870 = 3.1358… above the stop 54.98 → 58.1158…, down
    (Side.LONG, "54.98", "6000", 2870, "1", "1", None, "58.11"),
    # a short: 300 ÷ 97 = 3.0927… below the stop 102 → 98.907…, rounded up (a sell never gets less)
    (Side.SHORT, "102.00", "200", 97, "1", "1", None, "98.91"),
    # ES: 4 contracts × 50; 2000 × 1.5 ÷ 200 = 15 points above 4990 → 5005.00 on the 0.25 grid
    (Side.LONG, "4990.00", "2000", 4, "50", "1", ES, "5005.00"),
    (Side.LONG, "4990.00", "2000", 3, "50", "1", ES, "5010.00"),
    (Side.SHORT, "5010.00", "2000", 7, "50", "1", ES, "5001.50"),   # 3000 ÷ 350 = 8.57… → 5001.428… up
    # a USD stock from an EUR account (0.9259 EUR per USD): 3000 ÷ (308 × 0.9259) = 10.5197… USD
    (Side.LONG, "173.00", "2000", 308, "1", "0.9259", None, "183.51"),
    # a ladder: 15 + 375 ÷ 100 = 18.75 is on the 0.2 level of a Xetra-like rule → 18.6, never 18.8
    (Side.LONG, "15.00", "250", 100, "1", "1", XETRA, "18.6"),
    # below $1 a US stock moves in 0.0001
    (Side.LONG, "0.5000", "100", 1000, "1", "1", US_STOCK_RULE, "0.6500"),
])
def test_the_cap_by_hand(side: Side, stop: str, budget: str, qty: int, mult: str, fx: str, rule: MarketRule | None,
                         cap: str) -> None:
    got = entry_cap(side=side, stop=D(stop), budget=D(budget), tolerance=D("0.5"), quantity=qty,
                    multiplier=D(mult), fx=D(fx), rule=rule)
    assert got == D(cap) and str(got) == cap


def test_a_short_whose_cap_would_be_below_zero_may_sell_at_any_price() -> None:
    cap = entry_cap(side=Side.SHORT, stop=D("1.50"), budget=D("1000"), tolerance=D("0.5"), quantity=100)
    assert cap == D("0.0001")   # the lowest price on a US stock's grid: every fill keeps the risk in budget


@pytest.mark.parametrize("qty, mult, fx", [(0, "1", "1"), (10, "0", "1"), (10, "1", "-1")])
def test_no_cap_without_a_quantity_multiplier_or_rate(qty: int, mult: str, fx: str) -> None:
    with pytest.raises(SizingError):
        entry_cap(side=Side.LONG, stop=D("10"), budget=D("100"), tolerance=D("0.5"), quantity=qty,
                  multiplier=D(mult), fx=D(fx))


def test_past_the_cap_is_strictly_beyond_it() -> None:
    assert past_cap(Side.LONG, D("58.11"), D("58.12")) and not past_cap(Side.LONG, D("58.11"), D("58.11"))
    assert past_cap(Side.SHORT, D("98.91"), D("98.90")) and not past_cap(Side.SHORT, D("98.91"), D("99.50"))


RULES = st.sampled_from([US_STOCK_RULE, ES, XETRA, MarketRule.fixed("0.05"), MarketRule.fixed("1")])


@hsettings(2)
@given(side=st.sampled_from([Side.LONG, Side.SHORT]), stop_cents=st.integers(50, 1_000_000),
       budget=st.integers(1, 100_000), tol_pct=st.integers(0, 300), qty=st.integers(1, 50_000),
       mult=st.sampled_from(["1", "5", "50", "100"]), fx=st.sampled_from(["1", "0.9259", "1.08", "0.0067", "153.2"]),
       rule=RULES, depth=st.floats(0, 1))
def test_any_fill_up_to_the_cap_keeps_the_risk_within_budget_times_one_plus_tolerance(
        side: Side, stop_cents: int, budget: int, tol_pct: int, qty: int, mult: str, fx: str, rule: MarketRule,
        depth: float) -> None:
    stop = rule.round_down(D(stop_cents) / 100)
    assume(stop > 0)
    tolerance = D(tol_pct) / 100
    cap = entry_cap(side=side, stop=stop, budget=D(budget), tolerance=tolerance, quantity=qty, multiplier=D(mult),
                    fx=D(fx), rule=rule)
    assert rule.on_tick(cap) and cap > 0
    limit = D(budget) * (1 + tolerance)
    # a fill anywhere between the stop and the cap (the cap itself at depth 0)
    fill = cap - (cap - stop) * D(repr(depth)) if side is Side.LONG else cap + (stop - cap) * D(repr(depth))
    for price in (cap, fill):
        if (price - stop) * side.sign < 0:
            continue   # a short whose cap went to the grid's floor: no fill past the stop is a loss
        assert abs(price - stop) * qty * D(mult) * D(fx) <= limit, (price, cap)
    # one tick worse than the cap breaks the budget: the cap is the worst price, not merely a safe one
    exact = limit / (qty * D(mult) * D(fx))
    if side is Side.LONG:
        assert cap + rule.increment_at(cap) - stop > exact
    elif stop - allowed_distance(D(budget), tolerance, qty, D(mult), D(fx)) > 0:   # not at the grid's floor
        assert stop - (cap - rule.increment_at(cap)) > exact


@hsettings()
@given(side=st.sampled_from([Side.LONG, Side.SHORT]), market_cents=st.integers(100, 100_000),
       r_cents=st.integers(1, 5_000), pct=st.integers(1, 30), tol_pct=st.integers(0, 200),
       mult=st.sampled_from(["1", "50"]), fx=st.sampled_from(["1", "0.9259", "1.08"]))
def test_an_entry_sized_on_a_price_on_tick_is_never_past_its_own_cap(
        side: Side, market_cents: int, r_cents: int, pct: int, tol_pct: int, mult: str, fx: str) -> None:
    market = D(market_cents) / 100
    stop = market - D(r_cents) / 100 * side.sign
    assume(stop > 0)
    budget = risk_budget(D(1_000_000), D(pct) / 10)
    qty = size_in_base(budget, market, stop, D(mult), D(fx))
    assume(qty > 0)
    cap = entry_cap(side=side, stop=stop, budget=budget, tolerance=D(tol_pct) / 100, quantity=qty,
                    multiplier=D(mult), fx=D(fx))
    assert not past_cap(side, cap, market)


# --------------------------------------------------------------------------- in the machine

LIMITS = RiskLimits(entry_tolerance_r=D("0.5"))


def _market_plan(side: Side = Side.LONG):  # type: ignore[no-untyped-def]
    if side is Side.LONG:
        return plan_in(State.PENDING, spec(entry_type=EntryType.MARKET))
    return plan_in(State.PENDING, spec(entry_type=EntryType.MARKET, side=Side.SHORT, stop_loss=D("102.00"),
                                       take_profit=D("94.00")))


def test_a_market_entry_is_placed_with_its_cap_and_the_trader_is_told() -> None:
    m, plan = bound(_market_plan())
    # 10 000 × 2 % = 200; sized on the ask 100.30 with the stop at 98: 200 ÷ 2.30 → 86 shares;
    # cap = 98 + 300 ÷ 86 = 101.488… → 101.48
    effects = m.step(plan, Activate(T0, D(10_000), D(50_000), D(0), LIMITS, market_price=D("100.30")))
    (bracket,) = [e for e in effects if isinstance(e, PlaceBracket)]
    assert (bracket.quantity, bracket.cap, plan.entry_cap, plan.sized_price) == (86, D("101.48"), D("101.48"),
                                                                                  D("100.30"))
    (told,) = [e for e in effects if not isinstance(e, PlaceBracket)]
    assert told.kind == "sized" and told.facts["entry_cap"] == D("101.48")


def test_a_short_market_entry_is_capped_below_its_stop() -> None:
    m, plan = bound(_market_plan(Side.SHORT))
    effects = m.step(plan, Activate(T0, D(10_000), D(50_000), D(0), LIMITS, market_price=D("99.70")))
    (bracket,) = [e for e in effects if isinstance(e, PlaceBracket)]
    # 200 ÷ 2.30 → 86 shares; 102 − 300 ÷ 86 = 98.511… → up to 98.52
    assert (bracket.quantity, bracket.cap) == (86, D("98.52"))


def test_limit_and_stop_entries_carry_no_cap() -> None:
    m, plan = bound(plan_in(State.PENDING))
    (bracket, _told) = m.step(plan, Activate(T0, D(10_000), D(50_000), D(0), LIMITS))
    assert isinstance(bracket, PlaceBracket) and bracket.cap is None and plan.entry_cap is None


def test_a_market_already_past_the_cap_at_sizing_is_refused_with_both_prices() -> None:
    """Only a price off the contract's grid can be past its own cap at sizing (with no tolerance):
    on a 0.25 grid the ask 100.10 sizes 95 shares and caps them at 98 + 200 ÷ 95 = 100.105 → 100.00."""
    m, plan = bound(plan_in(State.PENDING, spec(entry_type=EntryType.MARKET, entry_price=D("100.10"))))
    plan.price_rule = ES
    m.step(plan, Activate(T0, D(10_000), D(50_000), D(0), RiskLimits(entry_tolerance_r=D(0)),
                          market_price=D("100.10")))
    assert plan.state == State.REJECTED
    assert plan.reason == ("market entry refused: the market 100.10 is already past the entry's price cap 100.00 "
                           "(an entry of 95 may not pay more than 100.00 for its risk to stay within the budget × "
                           "(1 + market_entry_tolerance_r)); nothing was sent")
