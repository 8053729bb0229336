"""The trading rules: sizing, the open-risk cap, buying power, trailing, tick rounding and plan
validation. Worked examples first, then Hypothesis properties over Decimal inputs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from machines import (
    US_STOCK_RULE,
    US_STOCK_TICK,
    Activate,
    Leg,
    RiskCategory,
    RiskLimits,
    Side,
    SizingError,
    State,
    decide_size,
    next_trailing_stop,
    open_risk,
    order_ref,
    parse_order_ref,
    plan_risk,
    position_size,
    risk_per_share,
    round_to_tick,
    validate_plan_fields,
)

from .helpers import T0, D, at, bound, hsettings, plan_in, short_spec, spec

# --------------------------------------------------------------------------- strategies

def cents(lo: int, hi: int) -> st.SearchStrategy[Decimal]:
    """Prices on the 0.01 grid in [lo, hi] cents, as exact 2-place Decimals."""
    return st.integers(lo, hi).map(lambda c: D(c).scaleb(-2))


prices = cents(1, 100_000)                 # 0.01 .. 1000.00
accounts = cents(100_00, 10_000_000_00)    # 100 .. 10 000 000
percents = st.sampled_from([D("0.25"), D("0.5"), D(1), D("1.5"), D(2), D(3), D(5)])
sides = st.sampled_from(list(Side))


def entry_and_stop(side: Side) -> st.SearchStrategy[tuple[Decimal, Decimal]]:
    """An entry and a stop on the losing side of it."""
    return st.tuples(cents(100, 100_000), cents(1, 5_000)).map(
        lambda t: (t[0], t[0] - t[1] * side.sign)).filter(lambda t: t[1] > 0)


# --------------------------------------------------------------------------- sizing: examples

def test_position_size_is_floor_of_budget_over_distance() -> None:
    # 100 000 × 2 % = 2 000; |180.50 − 178.00| = 2.50 → 800 shares
    assert position_size(D(100_000), D(2), D("180.50"), D("178.00")) == 800
    # 10 000 × 1 % = 100; 100 / 3 = 33.3 → 33 (never rounded up)
    assert position_size(D(10_000), D(1), D(50), D(47)) == 33
    # the distance is absolute: shorts size the same way
    assert position_size(D(10_000), D(1), D(47), D(50)) == 33


def test_position_size_refuses_meaningless_inputs() -> None:
    with pytest.raises(SizingError):
        position_size(D(10_000), D(1), D(50), D(50))
    with pytest.raises(SizingError):
        position_size(D(0), D(1), D(50), D(49))
    with pytest.raises(SizingError):
        position_size(D(-5), D(1), D(50), D(49))
    assert position_size(D(10_000), D(0), D(50), D(49)) == 0
    assert position_size(D(10_000), D(-1), D(50), D(49)) == 0


def test_risk_per_share_and_plan_risk() -> None:
    assert risk_per_share(Side.LONG, D(100), D(98)) == D(2)
    assert risk_per_share(Side.SHORT, D(100), D(102)) == D(2)
    # a stop trailed to or past the entry risks nothing (never negative)
    assert risk_per_share(Side.LONG, D(100), D(100)) == 0
    assert risk_per_share(Side.LONG, D(100), D("100.50")) == 0
    assert risk_per_share(Side.SHORT, D(100), D("99.50")) == 0
    assert plan_risk(Side.LONG, D(100), D(98), 150) == D(300)
    assert open_risk([]) == 0
    assert open_risk([D(300), D("12.50"), D(0)]) == D("312.50")


def _decide(**kw: object) -> object:
    args: dict[str, object] = dict(side=Side.LONG, entry=D(100), stop=D(98), risk_pct=D(2),
                                   account_value=D(10_000), available_funds=D(50_000),
                                   other_open_risk=D(0), max_portfolio_risk_pct=D(10))
    args.update(kw)
    return decide_size(**args)  # type: ignore[arg-type]


def test_decide_size_approves_within_every_limit() -> None:
    d = _decide()
    assert (d.quantity, d.risk_amount, d.portfolio_risk_pct, d.violation, d.limit) == (100, D(200), D(2), None, None)


def test_decide_size_open_risk_cap() -> None:
    # 800 open + 200 new = exactly 10 %: allowed ("push over" means strictly more)
    assert _decide(other_open_risk=D(800)).violation is None
    # 801 + 200 = 10.01 % > 10 %: refused, with the figures in the message
    d = _decide(other_open_risk=D(801))
    assert d.limit == "max_portfolio_risk_pct"
    assert d.portfolio_risk_pct == D("10.01")
    assert "10.01%" in (d.violation or "")


def test_decide_size_buying_power() -> None:
    d = _decide(available_funds=D("9999.99"))     # 100 × 100 = 10 000 notional
    assert d.limit == "buying_power" and d.quantity == 100
    assert _decide(available_funds=D(10_000)).violation is None


def test_decide_size_refuses_zero_size() -> None:
    # 1 000 × 1 % = 10 of budget; one share risks 20
    d = _decide(account_value=D(1_000), risk_pct=D(1), stop=D(80))
    assert (d.quantity, d.limit) == (0, "size")
    assert "rounds to zero" in (d.violation or "")


def test_decide_size_refuses_non_positive_account() -> None:
    for value in (D(0), D(-1)):
        d = _decide(account_value=value)
        assert (d.quantity, d.limit) == (0, "account_value")


def test_risk_limits_per_category() -> None:
    limits = RiskLimits()
    assert [limits.pct_for(c) for c in ("small", "normal", "large")] == [D(1), D(2), D(3)]
    assert limits.max_portfolio_risk_pct == D(10)
    with pytest.raises(KeyError):
        limits.pct_for("huge")


# --------------------------------------------------------------------------- sizing: properties

@hsettings()
@given(side=sides, data=st.data(), account=accounts, pct=percents)
def test_position_size_spends_at_most_the_budget(side: Side, data: st.DataObject, account: Decimal,
                                                 pct: Decimal) -> None:
    entry, stop = data.draw(entry_and_stop(side))
    qty = position_size(account, pct, entry, stop)
    distance = abs(entry - stop)
    budget = account * pct / 100
    assert qty >= 0
    assert qty * distance <= budget < (qty + 1) * distance   # floor, exactly


@hsettings()
@given(side=sides, data=st.data(), account=accounts, pct=percents,
       funds=cents(0, 100_000_000_00), other=cents(0, 2_000_000_00),
       cap=st.sampled_from([D(2), D(5), D(10), D("12.5"), D(25)]))
def test_decide_size_never_approves_past_a_limit(side: Side, data: st.DataObject, account: Decimal,
                                                 pct: Decimal, funds: Decimal, other: Decimal,
                                                 cap: Decimal) -> None:
    entry, stop = data.draw(entry_and_stop(side))
    d = decide_size(side=side, entry=entry, stop=stop, risk_pct=pct, account_value=account,
                    available_funds=funds, other_open_risk=other, max_portfolio_risk_pct=cap)
    qty, distance = d.quantity, abs(entry - stop)
    within_budget = qty * distance <= account * pct / 100
    within_cap = (other + qty * distance) * 100 <= cap * account      # exact, no division
    within_funds = qty * entry <= funds
    if d.violation is None:
        assert qty > 0 and within_budget and within_cap and within_funds
        assert d.risk_amount == qty * distance
        assert d.limit is None
    else:
        assert d.limit in {"size", "max_portfolio_risk_pct", "buying_power"}
        assert d.violation
    # every refusal names a limit that really is broken, and nothing broken is approved
    assert (d.limit == "size") == (qty == 0)
    if d.limit == "max_portfolio_risk_pct":
        assert not within_cap
    if d.limit == "buying_power":
        assert within_cap and not within_funds
    if qty > 0 and within_cap and within_funds:
        assert d.violation is None


@hsettings(scale=0.5)
@given(st.lists(st.tuples(sides, st.integers(1, 400), st.sampled_from(["small", "normal", "large"])),
                min_size=1, max_size=12),
       accounts)
def test_open_risk_total_never_exceeds_the_cap(plans: list[tuple[Side, int, str]], account: Decimal) -> None:
    """Activate plan after plan through the machine, feeding each the risk of the ones already
    sized: the total never passes max_portfolio_risk_pct of the account."""
    limits = RiskLimits()
    total = D(0)
    for n, (side, distance_cents, category) in enumerate(plans):
        distance = D(distance_cents).scaleb(-2)
        make = spec if side is Side.LONG else short_spec
        sp = make(id=f"P{n}", entry_price=D(100), stop_loss=D(100) - distance * side.sign,
                  take_profit=D(100) + D(10) * side.sign, risk=RiskCategory(category))
        m, plan = bound(plan_in(State.PENDING, sp))
        m.step(plan, Activate(at(n), account_value=account, available_funds=account * 4, open_risk=total,
                              limits=limits))
        if plan.state == State.SIZED:
            assert plan.risk_amount == plan.quantity * distance
            total += plan.risk_amount
        else:
            assert plan.state == State.REJECTED
        assert total * 100 <= limits.max_portfolio_risk_pct * account


# --------------------------------------------------------------------------- trailing: examples

def _trail(**kw: object) -> Decimal | None:
    args: dict[str, object] = dict(side=Side.LONG, entry=D(100), initial_stop=D(98), current_stop=D(98),
                                   best_price=D(102), last_price=D(102), trigger_r=D(1), distance=D("1.50"))
    args.update(kw)
    return next_trailing_stop(**args)  # type: ignore[arg-type]


def test_trailing_waits_for_the_trigger() -> None:
    # R = 2; 1R in favour = 102
    assert _trail(best_price=D("101.99"), last_price=D("101.99")) is None
    assert _trail(best_price=D(102), last_price=D(102)) == D("100.50")
    assert _trail(trigger_r=D(2), best_price=D("103.99"), last_price=D("103.99")) is None
    assert _trail(trigger_r=D(2), best_price=D(104), last_price=D(104)) == D("102.50")


def test_trailing_only_tightens() -> None:
    assert _trail(current_stop=D("100.50")) is None            # same stop: no change
    assert _trail(current_stop=D("100.60")) is None            # would loosen: no change
    assert _trail(current_stop=D("100.49")) == D("100.50")     # one tick tighter: move


def test_trailing_uses_the_best_price_not_the_last() -> None:
    # the price came back from 103 to 102: the stop follows the best (101.50), still below 102
    assert _trail(best_price=D(103), last_price=D(102)) == D("101.50")
    # came back to 101.40: a stop at 101.50 would be above the market, IB would refuse it
    assert _trail(best_price=D(103), last_price=D("101.40")) is None
    assert _trail(best_price=D(103), last_price=D("101.50")) is None


def test_trailing_rounds_to_the_tick_conservatively() -> None:
    # long: 102.456 − 1.50 = 100.956 → down to 100.95 (looser, never tighter than asked)
    assert _trail(best_price=D("102.456"), last_price=D("102.456")) == D("100.95")
    # short: 97.544 + 1.50 = 99.044 → up to 99.05
    short = _trail(side=Side.SHORT, initial_stop=D(102), current_stop=D(102), best_price=D("97.544"),
                   last_price=D("97.544"))
    assert short == D("99.05")


def test_trailing_short_mirror() -> None:
    assert _trail(side=Side.SHORT, initial_stop=D(102), current_stop=D(102), best_price=D(98),
                  last_price=D(98)) == D("99.50")
    assert _trail(side=Side.SHORT, initial_stop=D(102), current_stop=D("99.50"), best_price=D(98),
                  last_price=D(98)) is None


def test_trailing_degenerate_inputs() -> None:
    assert _trail(distance=D(0)) is None
    assert _trail(distance=D(-1)) is None
    assert _trail(initial_stop=D(100)) is None                  # R = 0
    # a candidate at or below zero is never returned
    assert _trail(entry=D(1), initial_stop=D("0.50"), current_stop=D("0.01"), best_price=D("1.50"),
                  last_price=D("1.50"), distance=D("1.50")) is None
    # trigger 0: trails from the first tick in favour
    assert _trail(trigger_r=D(0), best_price=D("100.10"), last_price=D("100.10"), distance=D("0.50")) == D("99.60")


# --------------------------------------------------------------------------- trailing: properties

@hsettings()
@given(side=sides, data=st.data(),
       trigger_r=st.sampled_from([D(0), D("0.5"), D(1), D("1.5"), D(2)]),
       distance=cents(1, 1_000),
       steps=st.lists(st.integers(-300, 300), min_size=1, max_size=60))
def test_trailing_stop_never_loosens_over_any_price_path(side: Side, data: st.DataObject, trigger_r: Decimal,
                                                        distance: Decimal, steps: list[int]) -> None:
    entry, initial = data.draw(entry_and_stop(side))
    stop, best, last = initial, entry, entry
    for step in steps:
        last = max(D("0.01"), last + D(step).scaleb(-2))
        if (last - best) * side.sign > 0:
            best = last
        new = next_trailing_stop(side=side, entry=entry, initial_stop=initial, current_stop=stop,
                                 best_price=best, last_price=last, trigger_r=trigger_r, distance=distance)
        if new is None:
            continue
        assert (new - stop) * side.sign > 0, "a returned stop is strictly tighter"
        assert (last - new) * side.sign > 0, "and on the protective side of the last price"
        assert new > 0
        assert round_to_tick(new) == new, "on the tick grid"
        raw = best - distance * side.sign
        assert 0 <= (raw - new) * side.sign < US_STOCK_TICK, "rounded conservatively, by less than a tick"
        assert (best - entry) * side.sign >= trigger_r * abs(entry - initial), "only after the trigger"
        stop = new
    assert (stop - initial) * side.sign >= 0


@hsettings()
@given(center=cents(10_000, 50_000), current=st.integers(-2_000, 2_000), best=st.integers(-5_000, 5_000),
       last=st.integers(-5_000, 5_000), r_cents=st.integers(1, 1_000),
       trigger_r=st.sampled_from([D(0), D(1), D(2)]), distance=cents(1, 1_000), frac=st.integers(0, 9))
def test_trailing_short_is_the_mirror_of_long(center: Decimal, current: int, best: int, last: int, r_cents: int,
                                             trigger_r: Decimal, distance: Decimal, frac: int) -> None:
    """Reflect every price around the entry: the short answer is the reflected long answer,
    rounding included (floor and ceiling swap under reflection)."""
    def off(c: int, sign: int) -> Decimal:
        return center + sign * (D(c).scaleb(-2) + D(frac).scaleb(-3))
    long_ = next_trailing_stop(side=Side.LONG, entry=center, initial_stop=center - D(r_cents).scaleb(-2),
                               current_stop=off(current, 1), best_price=off(best, 1), last_price=off(last, 1),
                               trigger_r=trigger_r, distance=distance)
    short = next_trailing_stop(side=Side.SHORT, entry=center, initial_stop=center + D(r_cents).scaleb(-2),
                               current_stop=off(current, -1), best_price=off(best, -1), last_price=off(last, -1),
                               trigger_r=trigger_r, distance=distance)
    assume(long_ is None or 2 * center - long_ > 0)
    assert short == (None if long_ is None else 2 * center - long_)


# --------------------------------------------------------------------------- tick rounding

def test_round_to_tick_examples() -> None:
    assert round_to_tick(D("100.004")) == D("100.00")
    assert round_to_tick(D("100.005")) == D("100.00")    # half-even
    assert round_to_tick(D("100.015")) == D("100.02")
    assert round_to_tick(D("100.009"), mode="down") == D("100.00")
    assert round_to_tick(D("100.001"), mode="up") == D("100.01")
    assert round_to_tick(D("100"), mode="up") == D("100.00")
    assert round_to_tick(D("100.37"), tick=D("0.05")) == D("100.35")
    assert str(round_to_tick(D(7))) == "7.00"
    with pytest.raises(KeyError):
        round_to_tick(D(1), mode="sideways")


@hsettings()
@given(st.decimals(min_value=D("0.001"), max_value=D(100_000), places=6, allow_nan=False, allow_infinity=False))
def test_round_to_tick_properties(price: Decimal) -> None:
    near, down, up = (round_to_tick(price, mode=m) for m in ("nearest", "down", "up"))
    for r in (near, down, up):
        assert r % US_STOCK_TICK == 0 and r.as_tuple().exponent == -2
    assert down <= price <= up and up - down <= US_STOCK_TICK
    assert abs(near - price) <= US_STOCK_TICK / 2
    assert near in (down, up)
    assert round_to_tick(near) == near                    # idempotent


# --------------------------------------------------------------------------- order refs

def test_order_ref_examples() -> None:
    assert order_ref("AAPL-20261127-1", Leg.STOP) == "AAPL-20261127-1:stop"
    assert order_ref("AAPL-20261127-1", "entry", attempt=2) == "AAPL-20261127-1:entry:2"
    assert parse_order_ref("AAPL-20261127-1:target") == ("AAPL-20261127-1", Leg.TARGET, 1)
    assert parse_order_ref("AAPL-20261127-1:flatten:3") == ("AAPL-20261127-1", Leg.FLATTEN, 3)
    assert parse_order_ref("someone-else's order") is None
    assert parse_order_ref("x:takeprofit") is None
    assert parse_order_ref("") is None


@hsettings()
@given(plan_id=st.text(st.characters(codec="ascii", exclude_characters="\x00"), min_size=1, max_size=30),
       leg=st.sampled_from(list(Leg)), attempt=st.integers(1, 99))
def test_order_ref_round_trips(plan_id: str, leg: Leg, attempt: int) -> None:
    assert parse_order_ref(order_ref(plan_id, leg, attempt)) == (plan_id, leg, attempt)


# --------------------------------------------------------------------------- validation

def _validate(**kw: object) -> list[tuple[str, str]]:
    args: dict[str, object] = dict(side="long", entry_type="limit", entry_price=D("180.50"),
                                   stop_loss=D("178.00"), take_profit=D("185.00"), risk="normal",
                                   start_at=T0, expire_at=T0 + timedelta(hours=1))
    args.update(kw)
    return validate_plan_fields(**args)  # type: ignore[arg-type]


def _fields(problems: list[tuple[str, str]]) -> list[str]:
    return [f for f, _ in problems]


def test_validation_accepts_a_good_plan() -> None:
    assert _validate() == []
    assert _validate(side="short", stop_loss=D("183.00"), take_profit=D("175.00")) == []
    assert _validate(start_at=None, expire_at=None, entry_type="market") == []
    assert _validate(trail_trigger_r=D(0), trail_distance=D("0.01")) == []


@pytest.mark.parametrize(("change", "fields"), [
    (dict(side="sideways"), ["side"]),
    (dict(entry_type="iceberg"), ["entry"]),
    (dict(risk="huge"), ["risk"]),
    (dict(stop_loss=D("180.50")), ["stop_loss"]),                      # long stop must be below entry
    (dict(stop_loss=D("181.00")), ["stop_loss"]),
    (dict(take_profit=D("180.50")), ["take_profit"]),                  # long target must be above entry
    (dict(stop_loss=D("185.00"), take_profit=D("178.00")), ["stop_loss", "take_profit"]),
    (dict(side="short"), ["stop_loss", "take_profit"]),                # long-shaped prices on a short
    (dict(entry_price=D(0)), ["entry_price"]),
    (dict(stop_loss=D(-1)), ["stop_loss"]),
    (dict(take_profit=D("NaN")), ["take_profit"]),
    (dict(entry_price=D("Infinity")), ["entry_price"]),
    (dict(entry_price=D("180.505")), ["entry_price"]),                 # off the 0.01 tick
    (dict(expire_at=T0), ["expire_at"]),                               # must be after start_at
    (dict(expire_at=T0 - timedelta(minutes=1)), ["expire_at"]),
    (dict(trail_trigger_r=D(-1)), ["trail.trigger_r"]),
    (dict(trail_trigger_r=D("NaN")), ["trail.trigger_r"]),
    (dict(trail_distance=D(0)), ["trail.distance"]),
    (dict(trail_distance=D(-1)), ["trail.distance"]),
])
def test_validation_reports_each_problem(change: dict[str, object], fields: list[str]) -> None:
    problems = _validate(**change)
    assert _fields(problems) == fields
    assert all(message for _, message in problems)


def test_validation_reports_every_problem_at_once() -> None:
    problems = _validate(side="up", entry_type="x", risk="y", entry_price=D(0), expire_at=T0)
    assert set(_fields(problems)) == {"side", "entry", "risk", "entry_price", "expire_at"}


@hsettings()
@given(side=sides, data=st.data(), reward=cents(1, 5_000),
       entry_type=st.sampled_from(["market", "limit", "stop"]),
       risk=st.sampled_from(["small", "normal", "large"]), minutes=st.integers(1, 10_000))
def test_validation_accepts_every_well_formed_plan(side: Side, data: st.DataObject, reward: Decimal,
                                                   entry_type: str, risk: str, minutes: int) -> None:
    entry, stop = data.draw(entry_and_stop(side))
    target = entry + reward * side.sign
    assume(target > 0)
    assert validate_plan_fields(side=side.value, entry_type=entry_type, entry_price=entry, stop_loss=stop,
                                take_profit=target, risk=risk, start_at=T0,
                                expire_at=T0 + timedelta(minutes=minutes)) == []
    # and swapping stop and target is always caught, on both fields
    swapped = validate_plan_fields(side=side.value, entry_type=entry_type, entry_price=entry, stop_loss=target,
                                   take_profit=stop, risk=risk, start_at=None, expire_at=None)
    assert _fields(swapped) == ["stop_loss", "take_profit"]


@hsettings(scale=0.25)
@example(price=D("0.001"))
@given(price=st.decimals(min_value=D("0.001"), max_value=D(10_000), places=3))
def test_validation_tick_rule(price: Decimal) -> None:
    on_tick = US_STOCK_RULE.on_tick(price)          # 0.0001 below $1, 0.01 from $1
    assert on_tick is (round_to_tick(price) == price or price < 1)
    problems = _validate(entry_type="market", entry_price=price, stop_loss=D("0.0001"), take_profit=D(20_000))
    assert ("entry_price" in [f for f, m in problems if "tick" in m]) is (not on_tick)
