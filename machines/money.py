"""Money across instruments and currencies: sizing, risk and P&L in the account's base currency.

A contract's price moves its value by ``price move × multiplier`` in the *contract's* currency
(1 for a stock, 50 for ES, 5 for MES); the account's budget is in its *base* currency. So

    quantity = floor(risk budget in base ÷ (|entry − stop| × multiplier × fx))

where ``fx`` is how many units of the base currency one unit of the contract's currency is worth
(IB's ``ExchangeRate`` account value of that currency, or the pair's quote). A missing, zero or
negative multiplier or rate is refused with the reason, never taken as 1: a rate of 1 assumed for
EUR in a USD account is an 8 % error, a multiplier of 1 assumed for ES a 50× oversize.

Every function takes exact Decimals (IB's strings) and rounds nothing but the final quantity,
always down, and the inverse of a pair quote (``1 / EURUSD`` for an EUR account), always up: at
an exact boundary such a size may come out one unit under the hand figure, never over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from .errors import SizingError
from .values import Side

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


def _positive(value: Decimal | None, what: str) -> Decimal:
    if value is None:
        raise SizingError(f"{what} is not known: refusing to size rather than assume one")
    if not value.is_finite() or value <= 0:
        raise SizingError(f"{what} {value} is not positive")
    return value


def fx_rate(contract_currency: str, base_currency: str, exchange_rates: Mapping[str, Decimal]) -> Decimal:
    """Base units per one unit of ``contract_currency``, from IB's ``ExchangeRate`` values (per
    currency, in base units; the base currency's own is 1). The same currency is exactly 1.

    Raises:
        SizingError: the currency has no rate, or a rate that is not positive.
    """
    if contract_currency == base_currency:
        return ONE
    return _positive(exchange_rates.get(contract_currency),
                     f"the exchange rate {contract_currency} → {base_currency}")


def pair_rate(contract_currency: str, base_currency: str, pair: str, mid: Decimal | None) -> Decimal:
    """Base units per one unit of ``contract_currency`` from a quote of a currency ``pair`` such
    as ``EURUSD`` (``mid`` = USD per EUR), whichever way round the pair is written.

    Raises:
        SizingError: the pair is not made of those two currencies, or the quote is missing or
            not positive.
    """
    if contract_currency == base_currency:
        return ONE
    quote = _positive(mid, f"the {pair} quote")
    if pair == contract_currency + base_currency:
        return quote
    if pair == base_currency + contract_currency:
        with localcontext() as ctx:  # the inverse is rarely exact: err on the larger rate (a smaller size)
            ctx.rounding = ROUND_CEILING
            return ONE / quote
    raise SizingError(f"the pair {pair} does not convert {contract_currency} to {base_currency}")


def risk_budget(account_value_base: Decimal, risk_pct: Decimal) -> Decimal:
    """The base-currency risk budget: account value × risk% (zero for a non-positive percent).

    Raises:
        SizingError: the account value is not positive.
    """
    _positive(account_value_base, "account value")
    return account_value_base * risk_pct / HUNDRED if risk_pct > 0 else ZERO


def risk_per_unit_base(entry: Decimal, stop: Decimal, multiplier: Decimal | None, fx: Decimal | None) -> Decimal:
    """What one contract (one share) loses in base currency from ``entry`` to ``stop``.

    Raises:
        SizingError: entry equals stop, or the multiplier or rate is missing or not positive.
    """
    distance = abs(entry - stop)
    if distance <= 0:
        raise SizingError("entry and stop are equal: the risk per unit is zero")
    return distance * _positive(multiplier, "the contract multiplier") * _positive(fx, "the exchange rate")


def size_in_base(budget_base: Decimal, entry: Decimal, stop: Decimal, multiplier: Decimal | None,
                 fx: Decimal | None) -> int:
    """floor(budget ÷ (|entry − stop| × multiplier × fx)), never negative.

    Raises:
        SizingError: as :func:`risk_per_unit_base`.
    """
    per_unit = risk_per_unit_base(entry, stop, multiplier, fx)
    if budget_base <= 0:
        return 0
    quantity = int((budget_base / per_unit).to_integral_value(rounding=ROUND_FLOOR))
    while quantity > 0 and quantity * per_unit > budget_base:  # a quotient rounded up onto an integer
        quantity -= 1
    return quantity


def risk_in_base(side: Side, entry: Decimal, stop: Decimal, quantity: int, multiplier: Decimal | None,
                 fx: Decimal | None) -> Decimal:
    """Base-currency loss of ``quantity`` entered at ``entry`` if the stop is hit; zero once the
    stop is at or past the entry.

    Raises:
        SizingError: the multiplier or rate is missing or not positive.
    """
    per_unit = max(ZERO, (entry - stop) * side.sign)
    return per_unit * quantity * _positive(multiplier, "the contract multiplier") * _positive(fx, "the exchange rate")


def pnl_in_base(side: Side, entry: Decimal, exit_price: Decimal, quantity: int, multiplier: Decimal | None,
                fx: Decimal | None) -> Decimal:
    """Base-currency profit (negative: loss) of ``quantity`` from ``entry`` to ``exit_price``.

    Raises:
        SizingError: the multiplier or rate is missing or not positive.
    """
    move = (exit_price - entry) * side.sign
    return move * quantity * _positive(multiplier, "the contract multiplier") * _positive(fx, "the exchange rate")


def value_in_base(price: Decimal, quantity: int, multiplier: Decimal | None, fx: Decimal | None) -> Decimal:
    """The notional of ``quantity`` at ``price`` in base currency (for a stock: what it costs).

    Raises:
        SizingError: the multiplier or rate is missing or not positive.
    """
    return price * abs(quantity) * _positive(multiplier, "the contract multiplier") * _positive(fx, "the exchange rate")


def commission_in_base(amount: Decimal, currency: str | None, base: str | None, contract_currency: str,
                       fx: Decimal | None) -> Decimal:
    """IB's commission in base currency. IB charges in the contract's currency: that is converted at
    the plan's rate (the one its P&L uses). One in the base, or with no currency said (journals
    before it was recorded), is taken as it is; so is one in a third currency, for which the plan
    knows no rate (IB charges in the contract's currency, so this is not expected)."""
    if currency is None or base is None or currency == base:
        return amount
    if currency == contract_currency and fx is not None and fx > 0:
        return amount * fx
    return amount
