"""The account's values as IB reports them, read in the account's base currency.

IB sends the account-wide tags (``NetLiquidation``, ``AvailableFunds`` …) once, in the base
currency's code (``EUR`` for an EUR account: no ``USD`` row), and the ledger tags once per
currency and once as ``BASE``. So a value is read from its ``BASE`` row, else from the row in the
base currency (the currency ``NetLiquidation`` comes in); ``ExchangeRate`` rows give, per
currency, how many base units one unit is worth (``machines.money.fx_rate``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return None
    return value if value.is_finite() else None


class AccountValues:
    def __init__(self, ib: Any) -> None:
        self.ib = ib

    def _rows(self, tag: str) -> list[Any]:
        return [v for v in self.ib.accountValues() if v.tag == tag and not v.modelCode]

    def base_currency(self) -> str | None:
        """The account's base currency: the one ``NetLiquidation`` is reported in (None: not yet)."""
        for v in self._rows("NetLiquidation"):
            if v.currency and v.currency != "BASE":
                return str(v.currency)
        return None

    def value(self, tag: str) -> Decimal | None:
        """``tag`` in the base currency (None: not reported yet, or not a number)."""
        rows = {str(v.currency): v for v in self._rows(tag)}
        base = self.base_currency() or "USD"
        row = rows.get("BASE") or rows.get(base)
        return None if row is None else _number(row.value)

    def exchange_rates(self) -> dict[str, Decimal]:
        """Base units per unit of each currency IB reported a rate for (the base's own is 1)."""
        out: dict[str, Decimal] = {}
        for v in self._rows("ExchangeRate"):
            rate = _number(v.value)
            if v.currency and v.currency != "BASE" and rate is not None:
                out[str(v.currency)] = rate
        return out
