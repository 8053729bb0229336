"""A position in one contract, and what a fill of it costs in commission.

Average cost follows IB: per share for a stock, per contract × multiplier for a future (ES
bought at 5000.00 costs 250,000 a contract), commission included, in the contract's currency.
Commissions follow IB's fixed pricing, by market (the rates are the simulator's, close to IB's
published ones, (unsure)):

* US stocks: a per-share rate with a per-order minimum, capped at 1 % of the order's value;
* futures: a flat amount per contract (ES 2.25, MES 0.62 USD: IB's commission plus exchange and
  regulatory fees, roughly);
* other stocks: 0.05 % of the order's value, at least 3.00 and at most 29.00 in its currency.

The minimum of an order is charged once, not once per partial fill: each function gives the
total commission of an order that has filled ``cum_qty`` worth ``cum_value`` so far.
"""

from __future__ import annotations

from dataclasses import dataclass

from .contracts import SimContract

FOREIGN_RATE, FOREIGN_MIN, FOREIGN_MAX = 0.0005, 3.0, 29.0


@dataclass(slots=True)
class Position:
    symbol: str  # the gateway's key of the contract (a future's local symbol)
    con_id: int
    qty: float = 0.0
    avg_cost: float = 0.0  # per unit × multiplier, commission included (like IB)
    realized_pnl: float = 0.0
    multiplier: float = 1.0
    currency: str = "USD"
    future: bool = False
    init_margin: float = 0.0  # futures: per contract, in the contract's currency
    maint_margin: float = 0.0

    def market_value(self, price: float) -> float:
        return self.qty * price * self.multiplier

    def unrealized(self, price: float) -> float:
        return (price * self.multiplier - self.avg_cost) * self.qty if self.qty else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "con_id": self.con_id,
            "quantity": self.qty,
            "avg_cost": round(self.avg_cost, 6),
            "realized_pnl": round(self.realized_pnl, 2),
            "currency": self.currency,
            "multiplier": self.multiplier,
        }


def order_commission(cum_qty: float, cum_value: float, per_share: float, minimum: float) -> float:
    """Total commission of a US stock order that has filled ``cum_qty`` shares worth ``cum_value``."""
    if cum_qty <= 0:
        return 0.0
    return round(min(max(per_share * cum_qty, minimum), 0.01 * cum_value), 4)


def commission_of(contract: SimContract, cum_qty: float, cum_value: float, per_share: float,
                  minimum: float) -> float:
    """Total commission of an order in ``contract`` (``cum_value``: price × quantity, no multiplier)."""
    if cum_qty <= 0:
        return 0.0
    if contract.is_future:
        return round(contract.fee_per_contract * cum_qty, 4)
    if contract.currency != "USD":
        return round(min(max(FOREIGN_RATE * cum_value, FOREIGN_MIN), FOREIGN_MAX), 4)
    return order_commission(cum_qty, cum_value, per_share, minimum)
