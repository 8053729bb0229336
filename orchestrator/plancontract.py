"""The contract a plan names, checked offline: the keys that must go together, the instrument
they make, and the prices that are off a tick we know without asking IB.

What ``plans check`` can know without IB, and what it cannot:

* the shape: a future needs an exchange and a contract month (or IB's local symbol); a stock
  takes neither; a local symbol of the usual form (``ESH7``) must agree with the month;
* the tick of US stocks (0.0001 below $1, 0.01 from $1) and of ES and MES (0.25): an off-tick
  price of a US stock is an error (the engine sends it as written, IB would refuse it with 110);
  an off-tick future price is a warning that names the price rounded the safe way;
* nothing else: which contract months are listed, a stock's market rule on another exchange,
  multipliers and currencies are IB's to answer through contract details at ``run``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from machines import EntryType, Instrument, MarketRule, PriceRole, SecType, Side, known_rule, round_price
from machines.instruments import rounds_up

# IB's futures month codes
MONTH_CODES = {"F": 1, "G": 2, "H": 3, "J": 4, "K": 5, "M": 6, "N": 7, "Q": 8, "U": 9, "V": 10, "X": 11, "Z": 12}
_ENTRY_ROLES = {EntryType.LIMIT: PriceRole.LIMIT_ENTRY, EntryType.STOP: PriceRole.STOP_ENTRY}


def instrument_of(sec_type: SecType, exchange: str | None, primary_exchange: str | None, currency: str,
                  contract_month: str | None, local_symbol: str | None) -> Instrument:
    """The plan's instrument (call once :func:`contract_problems` found nothing)."""
    return Instrument(sec_type=sec_type, exchange=exchange or "SMART", primary_exchange=primary_exchange,
                      currency=currency, contract_month=contract_month, local_symbol=local_symbol)


def contract_problems(symbol: str, sec_type: SecType, exchange: str | None, contract_month: str | None,
                      local_symbol: str | None) -> list[tuple[str, str]]:
    """The keys that do not go together, as (field, message) pairs."""
    if sec_type is SecType.STK:
        return [(name, 'is only for futures (sec_type = "FUT")')
                for name, value in (("contract_month", contract_month), ("local_symbol", local_symbol))
                if value is not None]
    problems: list[tuple[str, str]] = []
    if exchange is None:
        problems.append(("exchange", 'is required for a future, e.g. exchange = "CME"'))
    elif exchange == "SMART":
        problems.append(("exchange", 'a future is not routed SMART: name its exchange, e.g. exchange = "CME"'))
    if contract_month is None and local_symbol is None:
        problems.append(("contract_month", 'a future needs contract_month = "YYYYMM" or its local_symbol '
                                           '(e.g. "ESH7"); a continuous future cannot be traded'))
    elif contract_month is not None and local_symbol is not None:
        coded = re.fullmatch(re.escape(symbol) + r"([FGHJKMNQUVXZ])(\d)", local_symbol)
        if coded and (MONTH_CODES[coded.group(1)] != int(contract_month[4:]) or coded.group(2) != contract_month[3]):
            problems.append(("local_symbol", f"{local_symbol} is not the contract month {contract_month}"))
    return problems


def price_rule_for_errors(instrument: Instrument) -> MarketRule | None:
    """The grid an off-tick price is an *error* on: a US stock's (its prices go out as written)."""
    return known_rule("", instrument) if instrument.is_us_stock else None


def tick_warnings(symbol: str, instrument: Instrument, side: Side, entry_type: EntryType,
                  prices: Iterable[tuple[str, Decimal]]) -> list[tuple[str, str]]:
    """(field, message) for each price off the tick we know for a non-stock instrument (ES, MES):
    IB would refuse it as written; the message names it rounded the conservative way. A market
    entry's ``entry_price`` is only a sizing reference, never sent: it is not checked."""
    rule = known_rule(symbol, instrument)
    if rule is None or instrument.is_us_stock:
        return []
    roles = {"stop_loss": PriceRole.STOP, "take_profit": PriceRole.TARGET}
    if entry_type in _ENTRY_ROLES:
        roles["entry_price"] = _ENTRY_ROLES[entry_type]
    found: list[tuple[str, str]] = []
    for name, price in prices:
        if name in roles and price.is_finite() and price > 0 and not rule.on_tick(price):
            role = roles[name]
            rounded = round_price(rule, price, role, side)
            way = "up" if rounds_up(role, side) else "down"
            found.append((name, f"{price} is off the {rule.increment_at(price)} tick of {symbol}: IB would refuse "
                                f"it as written (error 110); rounded the safe way ({way}) it is {rounded}"))
    return found
