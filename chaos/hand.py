"""What the trader did by hand, from broker truth: the trader's executions (clientId 0) split by
the orderRef the trader typed into TWS's "Order Ref" field.

- ``TWS-own``: shares the trader buys or sells as their own (a symbol no plan trades, or a few
  shares next to a plan's position, in the plan's direction). The orchestrator must leave them
  alone: it must not sell them and must not count them as a plan's.
- ``TWS-close``: the trader acting on a plan's position (a sale by hand, a stop of their own).
  Those shares were the plan's; what is left of the plan at IB is IB's position minus the
  trader's own shares.

The orchestrator never reads these tags (they are not in its orderRef namespace); the judge
does, so that every invariant can tell the trader's shares from a plan's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TRADER_CLIENT = 0
OWN_REF = "TWS-own"
CLOSE_REF = "TWS-close"


def signed(e: dict[str, Any]) -> int:
    """An execution's (or journal fill's) shares, signed: bought positive."""
    shares = e.get("shares", e.get("fill_qty")) or 0
    return int(round(shares)) * (1 if e.get("side") == "BOT" else -1)


@dataclass
class Hand:
    """The trader's hand trades per symbol (signed shares)."""

    own: dict[str, int] = field(default_factory=dict)
    close: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)   # the trader's orders with another ref (a plan's)

    @classmethod
    def from_executions(cls, executions: Iterable[dict[str, Any]]) -> Hand:
        by: dict[str, dict[str, int]] = {"own": defaultdict(int), "close": defaultdict(int), "other": defaultdict(int)}
        for e in executions:
            if e.get("client_id") == TRADER_CLIENT:
                ref = e.get("order_ref")
                by["own" if ref == OWN_REF else "close" if ref == CLOSE_REF else "other"][e["symbol"]] += signed(e)
        return cls(dict(by["own"]), dict(by["close"]), dict(by["other"]))

    def traded(self, symbol: str) -> bool:
        """Did the trader trade ``symbol`` at all (own shares, a plan's, or through a plan's orderRef)?"""
        return symbol in self.own or symbol in self.close or symbol in self.other

    def plan_share(self, symbol: str, position: int) -> int:
        """What of IB's position in ``symbol`` is not the trader's own."""
        return position - self.own.get(symbol, 0)
