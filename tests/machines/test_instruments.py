"""Market rules and rounding by price role: worked examples, then Hypothesis properties over
ladders like IB's (one increment, US stocks' sub-penny below $1, a Xetra-like ladder)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from machines import (
    US_STOCK,
    US_STOCK_RULE,
    Instrument,
    MarketRule,
    PriceLevel,
    PriceRole,
    SecType,
    Side,
    known_rule,
    next_trailing_stop,
    round_price,
    validate_plan_fields,
)
from machines.instruments import INDEX_FUTURE_RULE, rounds_up

from .helpers import D, hsettings

# MiFID II liquidity band 6 from 0 to 1000 (the simulator's SAP on IBIS uses the same ladder)
XETRA = MarketRule.from_increments([
    ("0", "0.0001"), ("1", "0.0002"), ("2", "0.0005"), ("5", "0.001"), ("10", "0.002"), ("20", "0.005"),
    ("50", "0.01"), ("100", "0.02"), ("200", "0.05"), ("500", "0.1"), ("1000", "0.2")])
RULES = [US_STOCK_RULE, INDEX_FUTURE_RULE, XETRA, MarketRule.fixed("0.05"),
         MarketRule.from_increments([(0.0, 0.01), (3.0, 0.05)])]   # option-style, from IB's floats
rules = st.sampled_from(RULES)
prices = st.decimals(min_value=D("0.0001"), max_value=D(5000), places=6)
sides = st.sampled_from(list(Side))
roles = st.sampled_from(list(PriceRole))


# --------------------------------------------------------------------------- examples

def test_increments_by_price_level() -> None:
    assert US_STOCK_RULE.increment_at(D("0.4512")) == D("0.0001")
    assert US_STOCK_RULE.increment_at(D("1")) == D("0.01")       # the edge belongs to the level above
    assert XETRA.increment_at(D("199.99")) == D("0.02") and XETRA.increment_at(D(200)) == D("0.05")
    assert US_STOCK_RULE.finest == D("0.0001")
    assert [US_STOCK_RULE.on_tick(D(p)) for p in ("0.4512", "1.005", "1.01", "180.00")] == [True, False, True, True]
    assert INDEX_FUTURE_RULE.on_tick(D("5000.25")) and not INDEX_FUTURE_RULE.on_tick(D("5000.10"))


def test_rounding_examples() -> None:
    assert US_STOCK_RULE.round_down(D("176.005")) == D("176.00")
    assert US_STOCK_RULE.round_up(D("176.001")) == D("176.01")
    assert str(US_STOCK_RULE.round_down(D(176))) == "176.00"
    assert US_STOCK_RULE.round_up(D("0.99995")) == D("1.00")      # over the edge: the next level's grid
    assert US_STOCK_RULE.round_down(D("1.004")) == D("1.00")
    assert INDEX_FUTURE_RULE.round_down(D("4989.9")) == D("4989.75")
    assert XETRA.round_up(D("199.99")) == D("200.00") and XETRA.round_down(D("200.04")) == D("200.00")
    # a ladder whose next edge is off the current grid: rounding up lands on that edge
    odd = MarketRule.from_increments([("0", "0.25"), ("1.1", "0.1")])
    assert odd.round_up(D("1.05")) == D("1.1")


def test_roles_round_away_from_harm() -> None:
    es = INDEX_FUTURE_RULE
    # long at 5000: the stop goes down, the target up, a buy limit down, a buy stop entry up
    assert round_price(es, D("4990.10"), PriceRole.STOP, Side.LONG) == D("4990.00")
    assert round_price(es, D("5020.10"), PriceRole.TARGET, Side.LONG) == D("5020.25")
    assert round_price(es, D("5000.10"), PriceRole.LIMIT_ENTRY, Side.LONG) == D("5000.00")
    assert round_price(es, D("5000.10"), PriceRole.STOP_ENTRY, Side.LONG) == D("5000.25")
    # short: the reverse
    assert round_price(es, D("5010.10"), PriceRole.STOP, Side.SHORT) == D("5010.25")
    assert round_price(es, D("4980.10"), PriceRole.TARGET, Side.SHORT) == D("4980.00")
    assert round_price(es, D("5000.10"), PriceRole.LIMIT_ENTRY, Side.SHORT) == D("5000.25")
    assert round_price(es, D("5000.10"), PriceRole.STOP_ENTRY, Side.SHORT) == D("5000.00")


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MarketRule(())
    with pytest.raises(ValueError, match="not positive"):
        MarketRule.fixed("0")
    with pytest.raises(ValueError, match="increasing"):
        MarketRule((PriceLevel(D(1), D("0.01")), PriceLevel(D(0), D("0.01"))))
    with pytest.raises(ValueError, match="multiple of its increment"):
        MarketRule.from_increments([("0", "0.01"), ("1.01", "0.05")])


def test_known_rules_offline() -> None:
    future = Instrument(SecType.FUT, "CME", contract_month="202703")
    assert known_rule("AAPL", US_STOCK) is US_STOCK_RULE
    assert known_rule("ES", future) is INDEX_FUTURE_RULE and known_rule("MES", future) is INDEX_FUTURE_RULE
    assert known_rule("CL", Instrument(SecType.FUT, "NYMEX", contract_month="202703")) is None
    assert known_rule("SAP", Instrument(exchange="IBIS", currency="EUR")) is None


def test_trailing_with_a_rule_rounds_each_step_to_its_level() -> None:
    kwargs = dict(entry=D(5000), initial_stop=D(4990), trigger_r=D(1), distance=D("7.1"))
    long = next_trailing_stop(side=Side.LONG, current_stop=D(4990), best_price=D("5020.5"), last_price=D(5019),
                              rule=INDEX_FUTURE_RULE, **kwargs)
    assert long == D("5013.25")                                   # 5013.40 down to the quarter
    short = next_trailing_stop(side=Side.SHORT, entry=D(5000), initial_stop=D(5010), trigger_r=D(1),
                               distance=D("7.1"), current_stop=D(5010), best_price=D("4979.5"), last_price=D(4981),
                               rule=INDEX_FUTURE_RULE)
    assert short == D("4986.75")                                  # 4986.60 up to the quarter


def test_validation_uses_the_us_stock_rule_and_can_leave_the_grid_to_ib() -> None:
    def check(entry: str, stop: str, target: str, **kw: object) -> list[str]:
        problems = validate_plan_fields(side="long", entry_type="limit", entry_price=D(entry), stop_loss=D(stop),
                                        take_profit=D(target), risk="normal", start_at=None, expire_at=None,
                                        **kw)  # type: ignore[arg-type]
        return [f for f, _ in problems]
    assert check("0.4512", "0.4010", "0.5513") == []               # sub-penny below $1
    assert check("1.005", "0.9", "1.2") == ["entry_price"]         # not from $1
    assert check("200.01", "190.03", "220.07", price_rule=None) == []
    assert check("200.01", "190.03", "220.07", price_rule=XETRA) == ["entry_price", "stop_loss", "take_profit"]


# --------------------------------------------------------------------------- properties

@hsettings()
@example(rule=US_STOCK_RULE, price=D("0.99995"))
@example(rule=XETRA, price=D("199.99"))
@given(rule=rules, price=prices)
def test_every_rounded_price_is_on_the_increment_of_its_level(rule: MarketRule, price: Decimal) -> None:
    down, up = rule.round_down(price), rule.round_up(price)
    assert rule.on_tick(down) and rule.on_tick(up)
    assert down % rule.increment_at(down) == 0 and up % rule.increment_at(up) == 0
    assert down <= price <= up
    assert up - down <= max(rule.increment_at(down), rule.increment_at(up))
    assert rule.round_down(down) == down and rule.round_up(up) == up        # idempotent
    if rule.on_tick(price):
        assert down == price == up


@hsettings(scale=0.5)
@given(rule=rules, price=prices)
def test_rounding_finds_the_nearest_price_on_tick(rule: MarketRule, price: Decimal) -> None:
    """No price on tick lies strictly between a price's rounding down and its rounding up
    (walked on the finest increment of the ladder)."""
    down, up = rule.round_down(price), rule.round_up(price)
    probe = down + rule.finest
    while probe < up:
        assert probe == price or not rule.on_tick(probe), probe
        probe += rule.finest


@hsettings()
@given(rule=rules, side=sides, entry=st.decimals(min_value=D(2), max_value=D(5000), places=4),
       offset=st.decimals(min_value=D("0.01"), max_value=D(1), places=4), role=roles)
def test_a_rounded_price_never_hurts_the_trader(rule: MarketRule, side: Side, entry: Decimal, offset: Decimal,
                                                role: PriceRole) -> None:
    """Stops and targets keep at least the written distance from the entry; a limit entry never
    pays more; a stop entry never triggers earlier."""
    away = -side.sign if role is PriceRole.STOP else side.sign
    raw = entry + away * entry * offset / 10 if role in (PriceRole.STOP, PriceRole.TARGET) else entry
    rounded = round_price(rule, raw, role, side)
    assert rule.on_tick(rounded)
    if role in (PriceRole.STOP, PriceRole.TARGET):
        assert (rounded - entry) * away >= (raw - entry) * away          # at least as far from the entry
    elif role is PriceRole.LIMIT_ENTRY:
        assert (rounded - raw) * side.sign <= 0                          # a buy no higher, a sell no lower
    else:
        assert (rounded - raw) * side.sign >= 0                          # triggers at or beyond the level
    assert (rounded >= raw) if rounds_up(role, side) else (rounded <= raw)
