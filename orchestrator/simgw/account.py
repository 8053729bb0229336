"""Cash, positions, P&L and the IB account values derived from them.

A simple Reg-T style margin account in USD: initial and maintenance margin are
both 25 % of the gross position value (IB's intraday stock rate), buying power
is 4 × available funds.  Commissions follow IB's fixed pricing: a per-share rate
with a per-order minimum, capped at 1 % of the order's value; the minimum is
charged once per order, not once per partial fill.
"""

from __future__ import annotations

from dataclasses import dataclass

MARGIN_RATE = 0.25


@dataclass(slots=True)
class Position:
    symbol: str
    con_id: int
    qty: float = 0.0
    avg_cost: float = 0.0  # per share, commission included (like IB)
    realized_pnl: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "con_id": self.con_id,
            "quantity": self.qty,
            "avg_cost": round(self.avg_cost, 6),
            "realized_pnl": round(self.realized_pnl, 2),
        }


def order_commission(cum_qty: float, cum_value: float, per_share: float, minimum: float) -> float:
    """Total commission of an order that has filled ``cum_qty`` shares worth ``cum_value``."""
    if cum_qty <= 0:
        return 0.0
    return round(min(max(per_share * cum_qty, minimum), 0.01 * cum_value), 4)


class Account:
    """One account's cash and stock positions."""

    def __init__(self, name: str, cash: float) -> None:
        self.name = name
        self.cash = float(cash)
        self.realized_pnl = 0.0
        self.positions: dict[str, Position] = {}

    def apply_fill(
        self, symbol: str, con_id: int, buy: bool, qty: float, price: float, commission: float
    ) -> float | None:
        """Book a fill; returns the realized P&L of the closing part (None if it only opens)."""
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol, con_id)
        signed = qty if buy else -qty
        self.cash -= signed * price + commission
        realized: float | None = None
        if pos.qty == 0 or (pos.qty > 0) == buy:
            # opening or adding: commission goes into the average cost
            new_qty = pos.qty + signed
            cost = pos.avg_cost * abs(pos.qty) + qty * price + commission
            pos.avg_cost = cost / abs(new_qty)
            pos.qty = new_qty
        else:
            closing = min(qty, abs(pos.qty))
            opening = qty - closing
            direction = 1.0 if pos.qty > 0 else -1.0
            close_commission = commission * closing / qty
            realized = (price - pos.avg_cost) * closing * direction - close_commission
            if opening > 0:  # flipped through zero: the rest opens a new position
                pos.qty = opening if buy else -opening
                pos.avg_cost = (opening * price + (commission - close_commission)) / opening
            else:
                pos.qty -= direction * closing
                if pos.qty == 0:
                    pos.avg_cost = 0.0
            pos.realized_pnl += realized
            self.realized_pnl += realized
        return realized

    def unrealized(self, symbol: str, price: float) -> float:
        pos = self.positions.get(symbol)
        if pos is None or pos.qty == 0:
            return 0.0
        return (price - pos.avg_cost) * pos.qty

    def values(self, prices: dict[str, float]) -> dict[str, float]:
        """The numeric account values, keyed by IB tag."""
        market = sum(p.qty * prices.get(p.symbol, 0.0) for p in self.positions.values())
        gross = sum(abs(p.qty) * prices.get(p.symbol, 0.0) for p in self.positions.values())
        unrealized = sum(self.unrealized(p.symbol, prices.get(p.symbol, 0.0)) for p in self.positions.values())
        net_liq = self.cash + market
        margin = MARGIN_RATE * gross
        available = net_liq - margin
        return {
            "NetLiquidation": net_liq,
            "EquityWithLoanValue": net_liq,
            "TotalCashValue": self.cash,
            "CashBalance": self.cash,
            "SettledCash": self.cash,
            "GrossPositionValue": gross,
            "InitMarginReq": margin,
            "MaintMarginReq": margin,
            "FullInitMarginReq": margin,
            "FullMaintMarginReq": margin,
            "AvailableFunds": available,
            "FullAvailableFunds": available,
            "ExcessLiquidity": available,
            "FullExcessLiquidity": available,
            "BuyingPower": 4.0 * max(available, 0.0),
            "UnrealizedPnL": unrealized,
            "RealizedPnL": self.realized_pnl,
            "Cushion": (available / net_liq) if net_liq else 0.0,
        }

    def value_rows(self, prices: dict[str, float]) -> list[tuple[str, str, str]]:
        """``(tag, value, currency)`` rows as IB sends them in updateAccountValue."""
        rows: list[tuple[str, str, str]] = [("AccountType", "INDIVIDUAL", ""), ("Currency", "USD", "USD")]
        for tag, value in self.values(prices).items():
            rows.append((tag, f"{value:.2f}", "USD"))
        cash = f"{self.cash:.2f}"
        rows.append(("CashBalance", cash, "BASE"))
        rows.append(("TotalCashBalance", cash, "BASE"))
        rows.append(("TotalCashBalance", cash, "USD"))
        return rows
