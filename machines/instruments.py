"""Instruments and their price grids: the contract a plan names, IB's market rules, and rounding
every price on the side that never hurts the trader.

IB accepts a price only if it is a multiple of the increment its market rule gives for that
price level (``reqMarketRule``: rows of ``lowEdge, increment``); anything else is error 110. A
US stock moves in 0.0001 below $1 and in 0.01 from $1; ES and MES in 0.25 index points; a Xetra
stock's increment grows with its price. :class:`MarketRule` holds such a ladder and answers
"is this price on tick" and "the nearest price on tick below / above".

Which way to round is a question of the price's job (:class:`PriceRole`) and the plan's side:

* a protective stop moves away from the entry (a long's down, a short's up): the plan keeps at
  least the room the trader gave it, and sizing from the rounded stop keeps the risk in budget;
* a take-profit moves away from the entry too (a long's up, a short's down);
* a limit entry never pays more than written (a buy limit rounds down, a sell limit up);
* a stop entry never triggers before the written level (a buy stop rounds up, a sell stop down);
* a trailing stop rounds like a stop: it can only end up looser than the raw candidate, and the
  caller accepts it only if it is still tighter than the stop in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from .values import Side

ZERO = Decimal(0)


class SecType(StrEnum):
    """The security types a plan may name (IB's vocabulary)."""

    STK = "STK"
    FUT = "FUT"


CONTINUOUS_FUTURE = "CONTFUT"  # IB qualifies it, but takes no orders on it (historical data only)


@dataclass(frozen=True, slots=True)
class Instrument:
    """The contract of a plan, besides its symbol, in IB's terms. The default is what every plan
    traded before instruments existed: a US stock routed SMART in USD."""

    sec_type: SecType = SecType.STK
    exchange: str = "SMART"
    primary_exchange: str | None = None
    currency: str = "USD"
    contract_month: str | None = None  # futures: YYYYMM
    local_symbol: str | None = None  # futures: IB's local symbol, e.g. ESH7

    @property
    def is_default(self) -> bool:
        return self == US_STOCK

    @property
    def is_future(self) -> bool:
        return self.sec_type is SecType.FUT

    @property
    def is_us_stock(self) -> bool:
        return self.sec_type is SecType.STK and self.currency == "USD"


US_STOCK = Instrument()


# --------------------------------------------------------------------------- market rules

@dataclass(frozen=True, slots=True)
class PriceLevel:
    """From ``low_edge`` up (to the next level's edge), prices are multiples of ``increment``."""

    low_edge: Decimal
    increment: Decimal


@dataclass(frozen=True, slots=True)
class MarketRule:
    """A ladder of price levels, lowest first (IB's ``PriceIncrement`` rows).

    Every edge above the first must itself be a multiple of its level's increment (true of every
    rule IB publishes that we know of); a rule that is not is refused, because "on tick" would
    then depend on where each level's grid starts.
    """

    levels: tuple[PriceLevel, ...]

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("a market rule needs at least one price level")
        previous: Decimal | None = None
        for level in self.levels:
            if not level.increment.is_finite() or level.increment <= 0:
                raise ValueError(f"price increment {level.increment} is not positive")
            if previous is not None and level.low_edge <= previous:
                raise ValueError("price levels must be in increasing order of their low edge")
            if previous is not None and level.low_edge % level.increment != 0:
                raise ValueError(f"low edge {level.low_edge} is not a multiple of its increment {level.increment}")
            previous = level.low_edge

    @classmethod
    def fixed(cls, increment: Decimal | str) -> MarketRule:
        """One increment at every price (ES: 0.25)."""
        return cls((PriceLevel(ZERO, Decimal(increment)),))

    @classmethod
    def from_increments(cls, rows: Iterable[tuple[Decimal | str | float, Decimal | str | float]]) -> MarketRule:
        """From IB's ``(lowEdge, increment)`` rows; floats are read through their shortest text
        (``0.01`` is ``Decimal("0.01")``, not the binary fraction behind it)."""
        def exact(value: Decimal | str | float) -> Decimal:
            return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return cls(tuple(PriceLevel(exact(edge), exact(inc)) for edge, inc in rows))

    def level_of(self, price: Decimal) -> int:
        """The index of the level ``price`` is in (below the first edge: the first level)."""
        index = 0
        for i, level in enumerate(self.levels):
            if price >= level.low_edge:
                index = i
        return index

    def increment_at(self, price: Decimal) -> Decimal:
        return self.levels[self.level_of(price)].increment

    @property
    def finest(self) -> Decimal:
        """The smallest increment anywhere on the ladder (IB's ``minTick``)."""
        return min(level.increment for level in self.levels)

    def on_tick(self, price: Decimal) -> bool:
        return price.is_finite() and price % self.increment_at(price) == 0

    def round_down(self, price: Decimal) -> Decimal:
        """The highest price on tick at or below ``price`` (it stays in ``price``'s level, whose
        edge is on its own grid)."""
        inc = self.increment_at(price)
        return _quantize((price / inc).to_integral_value(rounding=ROUND_FLOOR) * inc, inc)

    def round_up(self, price: Decimal) -> Decimal:
        """The lowest price on tick at or above ``price``: within its level, or the next level's
        edge when the level's grid has no price left below that edge."""
        index = self.level_of(price)
        inc = self.levels[index].increment
        candidate = _quantize((price / inc).to_integral_value(rounding=ROUND_CEILING) * inc, inc)
        if index + 1 < len(self.levels) and candidate >= self.levels[index + 1].low_edge:
            nxt = self.levels[index + 1]
            return _quantize(nxt.low_edge, nxt.increment)
        return candidate

    def round(self, price: Decimal, up: bool) -> Decimal:
        return self.round_up(price) if up else self.round_down(price)


def _quantize(value: Decimal, increment: Decimal) -> Decimal:
    """``value`` written with the increment's decimals (``176`` on a 0.01 grid is ``176.00``)."""
    exponent = increment.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return value.quantize(Decimal(1).scaleb(-places))


#: US stocks: sub-penny below $1 (Reg NMS Rule 612), pennies from $1.
US_STOCK_RULE = MarketRule.from_increments([("0", "0.0001"), ("1", "0.01")])
#: E-mini and Micro E-mini S&P 500 futures on CME: a quarter index point.
INDEX_FUTURE_RULE = MarketRule.fixed("0.25")
_KNOWN_FUTURES = {("ES", "CME"): INDEX_FUTURE_RULE, ("MES", "CME"): INDEX_FUTURE_RULE}


def known_rule(symbol: str, instrument: Instrument) -> MarketRule | None:
    """The market rule we know without asking IB, or None: US stocks, ES and MES. Anything else
    (a stock on another exchange, another future) is IB's to answer through contract details."""
    if instrument.is_us_stock:
        return US_STOCK_RULE
    if instrument.is_future:
        return _KNOWN_FUTURES.get((symbol, instrument.exchange))
    return None


# --------------------------------------------------------------------------- rounding by role

class PriceRole(StrEnum):
    """What a price does in a plan; it decides the conservative way to round it."""

    STOP = "stop"                # the protective stop, and every trailing step of it
    TARGET = "target"            # the take-profit
    LIMIT_ENTRY = "limit_entry"  # the limit price of a limit entry
    STOP_ENTRY = "stop_entry"    # the trigger of a stop entry


def rounds_up(role: PriceRole, side: Side) -> bool:
    """Whether ``role`` on a ``side`` plan rounds up (else down); see the module docstring."""
    long = side is Side.LONG
    if role is PriceRole.STOP:
        return not long             # a long's stop down, away from the entry
    if role is PriceRole.TARGET:
        return long                 # a long's target up, away from the entry
    if role is PriceRole.LIMIT_ENTRY:
        return not long             # a buy limit never pays more: down
    return long                     # a buy stop never triggers early: up


def round_price(rule: MarketRule, price: Decimal, role: PriceRole, side: Side) -> Decimal:
    """``price`` on ``rule``'s grid, rounded the conservative way for its role and side (an
    on-tick price is returned unchanged, written with the grid's decimals)."""
    return rule.round(price, rounds_up(role, side))
