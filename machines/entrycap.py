"""The price cap of a market entry: the worst fill at which the position's risk stays in budget.

A market entry is sized on the live price, but a market order fills wherever the book is when it
arrives (a gap at the open, a thin book, a fast market), and the risk taken is then unbounded.
So it is sent as a *marketable limit* whose limit is the worst price the risk budget allows:

    long cap  = stop + budget × (1 + tolerance) ÷ (quantity × multiplier × fx), rounded down
    short cap = stop − budget × (1 + tolerance) ÷ (quantity × multiplier × fx), rounded up

on the contract's market rule (the safe side: a buy never pays more, a sell never gets less than
the figure). Any fill at the cap or better keeps |fill − stop| × quantity × multiplier × fx within
budget × (1 + tolerance). The tolerance is the one the live price is allowed from ``entry_price``
(``[risk] market_entry_tolerance_r``): sized on the live price, the cap is at least that many R
of the sized distance beyond it.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, localcontext

from .errors import SizingError
from .instruments import US_STOCK_RULE, MarketRule
from .values import Side

ONE = Decimal(1)


def allowed_distance(budget: Decimal, tolerance: Decimal, quantity: int, multiplier: Decimal,
                     fx: Decimal) -> Decimal:
    """How far from the stop a fill may be: budget × (1 + tolerance) ÷ (quantity × multiplier ×
    fx), the quotient rounded down (never a hair more than the budget allows).

    Raises:
        SizingError: a non-positive quantity, multiplier or rate, or a negative budget or tolerance.
    """
    if quantity <= 0 or multiplier <= 0 or fx <= 0:
        raise SizingError(f"no cap for quantity {quantity} × multiplier {multiplier} × rate {fx}")
    if budget < 0 or tolerance < 0:
        raise SizingError(f"no cap for budget {budget} with tolerance {tolerance}")
    with localcontext() as ctx:
        ctx.rounding = ROUND_FLOOR
        return (budget * (ONE + tolerance)) / (quantity * multiplier * fx)


def entry_cap(*, side: Side, stop: Decimal, budget: Decimal, tolerance: Decimal, quantity: int,
              multiplier: Decimal = ONE, fx: Decimal = ONE, rule: MarketRule | None = None) -> Decimal:
    """The limit price of a market entry (see the module docstring); ``rule`` None: a US stock's.

    A short whose cap would be at or below zero may sell at any price: the lowest price on the
    grid is its cap then.
    """
    grid = rule if rule is not None else US_STOCK_RULE
    distance = allowed_distance(budget, tolerance, quantity, multiplier, fx)
    if side is Side.LONG:
        return grid.round_down(stop + distance)
    raw = stop - distance
    if raw <= 0:
        return grid.round_up(grid.levels[0].increment)
    return grid.round_up(raw)


def past_cap(side: Side, cap: Decimal, market: Decimal) -> bool:
    """The market has already run past the cap: a buy's price above it, a sell's below it (a
    limit at the cap would not be marketable)."""
    return (market - cap) * side.sign > 0


def cap_refusal(side: Side, cap: Decimal, market: Decimal, quantity: int) -> str:
    """Why a market entry is not sent when ``market`` is past its ``cap``."""
    worst = "pay more than" if side is Side.LONG else "sell for less than"
    return (f"the market {market} is already past the entry's price cap {cap} (an entry of {quantity} may not "
            f"{worst} {cap} for its risk to stay within the budget × (1 + market_entry_tolerance_r)); nothing "
            "was sent")
