"""IB's market rules as the simulated gateway enforces them: price levels and their increments.

``reqMarketRule(id)`` answers a rule's ``(lowEdge, increment)`` rows; contract details name one
rule id per valid exchange. A price conforms when it is a multiple of the increment of its own
level (the level whose low edge is the highest at or below it). A price that does not gets
error 110, on a new order (never placed) and on a modification (refused; the order keeps its old
price working). Prices arrive as the text of a double; they are checked on its shortest decimal
form, so a float artefact such as ``0.30000000000000004`` does not conform, as at IB.

The rule ids are the simulator's own; which ids real IB gives these contracts is (unsure).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

OFF_TICK_CODE = 110
OFF_TICK_TEXT = "The price does not conform to the minimum price variation for this contract."


@dataclass(frozen=True, slots=True)
class Rule:
    """One market rule: ``levels`` are ``(low edge, increment)``, lowest edge first."""

    rule_id: int
    levels: tuple[tuple[Decimal, Decimal], ...]

    def increment_at(self, price: float | Decimal) -> Decimal:
        value = Decimal(repr(price)) if isinstance(price, float) else price
        found = self.levels[0][1]
        for edge, increment in self.levels:
            if value >= edge:
                found = increment
        return found

    def conforms(self, price: float) -> bool:
        try:
            value = Decimal(repr(float(price)))
        except (InvalidOperation, ValueError, OverflowError):
            return False
        return value.is_finite() and value % self.increment_at(value) == 0

    @property
    def finest(self) -> Decimal:
        return min(increment for _, increment in self.levels)

    def rows(self) -> list[tuple[float, float]]:
        """The rule as reqMarketRule answers it."""
        return [(float(edge), float(increment)) for edge, increment in self.levels]


def _rule(rule_id: int, *rows: tuple[str, str]) -> Rule:
    return Rule(rule_id, tuple((Decimal(edge), Decimal(inc)) for edge, inc in rows))


#: US stocks on every US venue: 0.0001 below $1 (Reg NMS Rule 612), 0.01 from $1.
US_STOCK = _rule(26, ("0", "0.0001"), ("1", "0.01"))
#: E-mini and Micro E-mini S&P 500 on CME: a quarter point.
CME_QUARTER = _rule(67, ("0", "0.25"))
#: Xetra, liquidity band 6 of the MiFID II tick table (SAP's band is (unsure)).
XETRA_BAND6 = _rule(1741, ("0", "0.0001"), ("1", "0.0002"), ("2", "0.0005"), ("5", "0.001"), ("10", "0.002"),
                    ("20", "0.005"), ("50", "0.01"), ("100", "0.02"), ("200", "0.05"), ("500", "0.1"),
                    ("1000", "0.2"), ("2000", "0.5"), ("5000", "1"))
#: Currency pairs on IDEALPRO quoted against USD: half a pip (IB's minTick for EUR.USD is 5e-05).
IDEALPRO_HALF_PIP = _rule(239, ("0", "0.00005"))
RULES: dict[int, Rule] = {rule.rule_id: rule for rule in (US_STOCK, CME_QUARTER, XETRA_BAND6, IDEALPRO_HALF_PIP)}


def market_rule(rule_id: int) -> list[tuple[float, float]]:
    """reqMarketRule's answer; an id the gateway does not know gets no rows (IB's answer is
    (unsure); ib_async would otherwise wait a second and log a timeout)."""
    rule = RULES.get(rule_id)
    return rule.rows() if rule is not None else []
