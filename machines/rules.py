"""Trading rules as small pure functions over Decimal.

Each returns a value, or None for "no change" (trailing). Nothing here reads a clock, a file or
the network; the shell passes every input in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from .errors import SizingError
from .instruments import US_STOCK_RULE, MarketRule
from .values import US_STOCK_TICK, EntryType, RiskCategory, Side, round_to_tick

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def position_size(account_value: Decimal, risk_pct: Decimal, entry: Decimal, stop: Decimal) -> int:
    """floor(account value × risk% ÷ |entry − stop|), never negative.

    Raises:
        SizingError: the entry equals the stop, or the account value is not positive.
    """
    distance = abs(entry - stop)
    if distance <= 0:
        raise SizingError("entry and stop are equal: the risk per share is zero")
    if account_value <= 0:
        raise SizingError(f"account value {account_value} is not positive")
    if risk_pct <= 0:
        return 0
    budget = account_value * risk_pct / HUNDRED
    return int((budget / distance).to_integral_value(rounding=ROUND_FLOOR))


def risk_per_share(side: Side, entry: Decimal, stop: Decimal) -> Decimal:
    """Loss per share if the stop is hit; zero once the stop is at or past the entry."""
    return max(ZERO, (entry - stop) * side.sign)


def plan_risk(side: Side, entry: Decimal, stop: Decimal, quantity: int) -> Decimal:
    """Dollar risk of ``quantity`` shares entered at ``entry`` with the stop at ``stop``."""
    return risk_per_share(side, entry, stop) * quantity


def open_risk(risks: Iterable[Decimal]) -> Decimal:
    """Total open risk: the sum of the live plans' dollar risks."""
    return sum(risks, ZERO)


@dataclass(frozen=True, slots=True)
class SizingDecision:
    """Result of sizing a plan: a quantity, or a reason it must not be sent."""

    quantity: int
    risk_amount: Decimal
    portfolio_risk_pct: Decimal
    violation: str | None
    limit: str | None = None


def decide_size(
    *,
    side: Side,
    entry: Decimal,
    stop: Decimal,
    risk_pct: Decimal,
    account_value: Decimal,
    available_funds: Decimal,
    other_open_risk: Decimal,
    max_portfolio_risk_pct: Decimal,
) -> SizingDecision:
    """Size a plan and check every limit: zero size, the portfolio risk cap, buying power."""
    if account_value <= 0:
        return SizingDecision(0, ZERO, ZERO, f"account value {account_value} is not positive", "account_value")
    qty = position_size(account_value, risk_pct, entry, stop)
    risk = plan_risk(side, entry, stop, qty)
    exact_pct = (other_open_risk + risk) * HUNDRED / account_value
    total_pct = exact_pct.quantize(Decimal("0.01"))
    if qty <= 0:
        return SizingDecision(0, ZERO, total_pct, (
            f"size rounds to zero: {risk_pct}% of {account_value} is less than one share's risk "
            f"of {abs(entry - stop)}"), "size")
    if exact_pct > max_portfolio_risk_pct:
        return SizingDecision(qty, risk, total_pct, (
            f"portfolio risk would be {total_pct:.2f}% (open {other_open_risk:.2f} + this plan "
            f"{risk:.2f}) > max_portfolio_risk_pct {max_portfolio_risk_pct}%"), "max_portfolio_risk_pct")
    notional = entry * qty
    if notional > available_funds:
        return SizingDecision(qty, risk, total_pct, (
            f"notional {notional:.2f} ({qty} × {entry}) exceeds available funds {available_funds:.2f}"),
            "buying_power")
    return SizingDecision(qty, risk, total_pct, None)


@dataclass(frozen=True, slots=True)
class EntryPrice:
    """The price a plan is sized on, and why it must not be sent at all (``problem``)."""

    price: Decimal
    market: bool            # sized on the live price (a market entry, or a stop entry already triggered)
    problem: str | None = None


def entry_reference(*, side: Side, entry_type: EntryType, entry_price: Decimal, stop: Decimal, target: Decimal,
                    market: Decimal | None, tolerance_r: Decimal) -> EntryPrice:
    """What sizing uses: a limit entry its limit (the worst fill it allows), a stop entry its
    trigger until the market has crossed it, a market entry (and a crossed stop entry) the live
    price — refused when there is none, when it is already at or beyond the stop or the target,
    or when it is further than ``tolerance_r`` × R from ``entry_price``."""
    crossed = entry_type is EntryType.STOP and market is not None and (market - entry_price) * side.sign >= 0
    if entry_type is EntryType.LIMIT or (entry_type is EntryType.STOP and not crossed):
        return EntryPrice(entry_price, market=False)
    if market is None or market <= 0:
        return EntryPrice(entry_price, market=True, problem="no live price to size a market entry on")
    what = "stop entry's trigger is already crossed: the" if crossed else ""
    if (market - stop) * side.sign <= 0:
        return EntryPrice(market, True, f"the {what}market {market} is already at or beyond the stop {stop}")
    if (target - market) * side.sign <= 0:
        return EntryPrice(market, True, f"the {what}market {market} is already at or beyond the target {target}")
    r = abs(entry_price - stop)
    if abs(market - entry_price) > tolerance_r * r:
        return EntryPrice(market, True, (
            f"the {what}market {market} is {abs(market - entry_price)} from entry_price {entry_price}, more than "
            f"{tolerance_r}R ({tolerance_r * r}) allows"))
    return EntryPrice(market, market=True)


def next_trailing_stop(
    *,
    side: Side,
    entry: Decimal,
    initial_stop: Decimal,
    current_stop: Decimal,
    best_price: Decimal,
    last_price: Decimal,
    trigger_r: Decimal,
    distance: Decimal,
    tick: Decimal = US_STOCK_TICK,
    rule: MarketRule | None = None,
) -> Decimal | None:
    """The new stop for a trailing plan, or None when the stop should not move.

    Trailing starts once the best price has moved ``trigger_r`` × R in the plan's favour
    (R = |entry − initial stop|). The candidate is ``best ∓ distance`` rounded to the tick on
    the conservative side (with ``rule``: to the increment of the candidate's price level, else
    to ``tick``); it is returned only if it is strictly tighter than the current stop and still
    on the right side of the last price (else IB would refuse it).
    """
    r = abs(entry - initial_stop)
    if distance <= 0 or r <= 0:
        return None
    moved = (best_price - entry) * side.sign
    if moved < trigger_r * r:
        return None
    if side is Side.LONG:
        raw = best_price - distance
        candidate = rule.round_down(raw) if rule is not None else round_to_tick(raw, tick, "down")
        if candidate <= current_stop or candidate >= last_price:
            return None
    else:
        raw = best_price + distance
        candidate = rule.round_up(raw) if rule is not None else round_to_tick(raw, tick, "up")
        if candidate >= current_stop or candidate <= last_price:
            return None
    if candidate <= 0:
        return None
    return candidate


def window_over(expire_at: datetime | None, at: datetime) -> str | None:
    """Why a plan whose ``expire_at`` is at or before ``at`` must not be loaded (None: it may)."""
    if expire_at is None or expire_at > at:
        return None
    return (f"has already passed ({expire_at.isoformat()} <= now {at.isoformat(timespec='seconds')}): the plan "
            "would never trade; remove it or give it a later time")


def validate_plan_fields(
    *,
    side: str,
    entry_type: str,
    entry_price: Decimal,
    stop_loss: Decimal,
    take_profit: Decimal,
    risk: str,
    start_at: datetime | None,
    expire_at: datetime | None,
    trail_trigger_r: Decimal | None = None,
    trail_distance: Decimal | None = None,
    at: datetime | None = None,
    price_rule: MarketRule | None = US_STOCK_RULE,
) -> list[tuple[str, str]]:
    """Check a plan's trading logic. Returns (field, message) pairs; empty means valid.

    With ``at``, a window already over (``expire_at`` at or before ``at``) is a problem too: the
    plan could never trade, or worse, a market entry would go out and be flattened at once.
    Every price must be on ``price_rule``'s grid (default: a US stock's, 0.0001 below $1 and 0.01
    from $1; the prices are sent as written); ``None`` leaves the grid to IB's contract details.
    """
    problems: list[tuple[str, str]] = []
    if at is not None and (over := window_over(expire_at, at)) is not None:
        problems.append(("expire_at", over))
    if side not in {s.value for s in Side}:
        problems.append(("side", f"must be one of long, short (got {side!r})"))
    if entry_type not in {e.value for e in EntryType}:
        problems.append(("entry", f"must be one of market, limit, stop (got {entry_type!r})"))
    if risk not in {r.value for r in RiskCategory}:
        problems.append(("risk", f"must be one of small, normal, large (got {risk!r})"))
    for name, value in (("entry_price", entry_price), ("stop_loss", stop_loss), ("take_profit", take_profit)):
        if not value.is_finite() or value <= 0:
            problems.append((name, f"must be a positive price (got {value})"))
    prices_ok = all(v.is_finite() and v > 0 for v in (entry_price, stop_loss, take_profit))
    if prices_ok and side == Side.LONG:
        if stop_loss >= entry_price:
            problems.append(("stop_loss", f"a long plan's stop {stop_loss} must be below its entry {entry_price}"))
        if take_profit <= entry_price:
            problems.append(("take_profit",
                             f"a long plan's target {take_profit} must be above its entry {entry_price}"))
    elif prices_ok and side == Side.SHORT:
        if stop_loss <= entry_price:
            problems.append(("stop_loss", f"a short plan's stop {stop_loss} must be above its entry {entry_price}"))
        if take_profit >= entry_price:
            problems.append(("take_profit",
                             f"a short plan's target {take_profit} must be below its entry {entry_price}"))
    for name, value in (("entry_price", entry_price), ("stop_loss", stop_loss), ("take_profit", take_profit)):
        if price_rule is not None and value.is_finite() and value > 0 and not price_rule.on_tick(value):
            problems.append((name, f"must be a multiple of the tick {price_rule.increment_at(value)} at that price "
                                   f"(got {value})"))
    if start_at is not None and expire_at is not None and expire_at <= start_at:
        problems.append(("expire_at", f"must be after start_at ({expire_at.isoformat()} <= {start_at.isoformat()})"))
    if trail_trigger_r is not None and (not trail_trigger_r.is_finite() or trail_trigger_r < 0):
        problems.append(("trail.trigger_r", f"must be zero or positive (got {trail_trigger_r})"))
    if trail_distance is not None and (not trail_distance.is_finite() or trail_distance <= 0):
        problems.append(("trail.distance", f"must be a positive price distance (got {trail_distance})"))
    return problems
