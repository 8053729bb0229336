"""Cash by currency, positions and P&L of the one account the gateway serves.

The account has a base currency (USD unless told otherwise) and holds cash in every currency
it trades: a fill of a EUR stock moves EUR cash, and IB never converts it back by itself. A stock
fill moves its notional (price × quantity) and its commission; a futures fill moves no notional:
its cash changes when P&L is realized. Values per currency and in the base currency are
:mod:`.ledger`'s; FX rates are given as USD per unit of each currency (``EURUSD = 1.08``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from . import ledger
from .contracts import SimContract
from .positions import Position, commission_of, order_commission

__all__ = ["MARGIN_RATE", "Account", "Position", "commission_of", "order_commission"]

MARGIN_RATE = ledger.MARGIN_RATE
DEFAULT_FX: dict[str, float] = {"USD": 1.0, "EUR": 1.08}  # USD per unit: the simulator's defaults


class Account:
    """One account: ``cash`` in ``base`` currency, and balances in every other.

    Args:
        name: the account code.
        cash: the starting cash, in the base currency.
        base: the base currency.
        fx: USD per unit of each currency (``{"EUR": 1.08}``), on top of :data:`DEFAULT_FX`.

    Raises:
        ValueError: the base currency has no rate, or a rate is not positive.
    """

    def __init__(self, name: str, cash: float, base: str = "USD", fx: Mapping[str, float] | None = None) -> None:
        self.name = name
        self.base = base
        self.fx = {**DEFAULT_FX, **(fx or {})}
        for ccy, rate in self.fx.items():
            if not rate > 0:
                raise ValueError(f"the rate of {ccy} must be positive, got {rate}")
        if base not in self.fx:
            raise ValueError(f"base currency {base} has no rate: give {base}USD=RATE")
        self.balances: dict[str, float] = {base: float(cash)}
        self.realized: dict[str, float] = {}
        self.positions: dict[str, Position] = {}

    # ------------------------------------------------------------ money
    @property
    def cash(self) -> float:
        """Cash in the base currency (other currencies are in ``balances``)."""
        return self.balances.get(self.base, 0.0)

    @property
    def realized_pnl(self) -> float:
        """Realized P&L of every currency, in the base currency."""
        return sum(v * self.rate(c) for c, v in self.realized.items())

    def rate(self, currency: str) -> float:
        """Base units per one unit of ``currency``.

        Raises:
            KeyError: the currency has no rate.
        """
        return self.fx[currency] / self.fx[self.base]

    def set_rate(self, currency: str, usd_per_unit: float) -> None:
        if not usd_per_unit > 0 or currency == "USD":
            raise ValueError(f"{currency}USD must be a positive rate (USD is 1)")
        self.fx[currency] = float(usd_per_unit)

    # ------------------------------------------------------------ fills
    def apply_fill(self, symbol: str, con_id: int, buy: bool, qty: float, price: float, commission: float,
                   contract: SimContract | None = None) -> float | None:
        """Book a fill (of a USD stock, unless ``contract`` says otherwise); returns the realized
        P&L of the closing part in the contract's currency (None if it only opens)."""
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = _position(symbol, con_id, contract)
        signed = qty if buy else -qty
        unit = price * pos.multiplier
        if not pos.future:
            self._move(pos.currency, -(signed * unit + commission))
        realized: float | None = None
        if pos.qty == 0 or (pos.qty > 0) == buy:
            # opening or adding: commission goes into the average cost
            new_qty = pos.qty + signed
            cost = pos.avg_cost * abs(pos.qty) + qty * unit + commission
            pos.avg_cost = cost / abs(new_qty)
            pos.qty = new_qty
        else:
            closing = min(qty, abs(pos.qty))
            opening = qty - closing
            direction = 1.0 if pos.qty > 0 else -1.0
            close_commission = commission * closing / qty
            realized = (unit - pos.avg_cost) * closing * direction - close_commission
            if opening > 0:  # flipped through zero: the rest opens a new position
                pos.qty = opening if buy else -opening
                pos.avg_cost = (opening * unit + (commission - close_commission)) / opening
            else:
                pos.qty -= direction * closing
                if pos.qty == 0:
                    pos.avg_cost = 0.0
            pos.realized_pnl += realized
            self.realized[pos.currency] = self.realized.get(pos.currency, 0.0) + realized
            if pos.future:
                self._move(pos.currency, realized)
        return realized

    def _move(self, currency: str, amount: float) -> None:
        self.balances[currency] = self.balances.get(currency, 0.0) + amount

    def unrealized(self, symbol: str, price: float) -> float:
        pos = self.positions.get(symbol)
        return pos.unrealized(price) if pos is not None else 0.0

    # ------------------------------------------------------------ values
    def rates(self) -> dict[str, float]:
        return {ccy: self.rate(ccy) for ccy in self.fx}

    def ledger(self, prices: Mapping[str, float]) -> dict[str, dict[str, float]]:
        """Ledger values per currency held and as ``BASE``."""
        return ledger.ledger(self.base, self.rates(), self.balances, self.realized, self.positions.values(), prices)

    def values(self, prices: Mapping[str, float]) -> dict[str, float]:
        """The account-wide numeric values in the base currency, keyed by IB tag."""
        return ledger.account_values(self.ledger(prices), self.rates(), self.positions.values(), prices)

    def value_rows(self, prices: Mapping[str, float]) -> list[tuple[str, str, str]]:
        """``(tag, value, currency)`` rows as IB sends them in updateAccountValue."""
        book = self.ledger(prices)
        return ledger.value_rows(self.base, ledger.account_values(book, self.rates(), self.positions.values(), prices),
                                 book)

    def copies(self) -> dict[str, Position]:
        """Nonzero positions by key (copies)."""
        return {s: replace(p) for s, p in self.positions.items() if p.qty}


def _position(symbol: str, con_id: int, contract: SimContract | None) -> Position:
    if contract is None:
        return Position(symbol, con_id)
    return Position(symbol, con_id, multiplier=float(contract.multiplier), currency=contract.currency,
                    future=contract.is_future, init_margin=contract.init_margin, maint_margin=contract.maint_margin)
