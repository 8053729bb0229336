"""Prices of the path, mapped onto contracts, on their grid.

A price-path symbol prices every contract of its family (``ES``: each listed month, at the same
price); a key (``ESH7``) prices one. Futures only ever trade on their tick, so a futures price
off it is refused, naming the row (a price file) or the symbol (``set_price``). Stock trades may
print off the quoting grid (mid-point executions), so stock prices are taken as they are.
"""

from __future__ import annotations

from collections.abc import Callable

from .account import Account
from .contracts import Catalog
from .prices import PricePath, PricesError


def off_tick(catalog: Catalog, symbol: str, price: float) -> str:
    """Why ``price`` cannot be a trade of ``symbol``'s contracts, or ``""``."""
    for key in catalog.keys_of(symbol):
        contract = catalog.by_key(key)
        if contract is not None and contract.is_future and not contract.rule.conforms(price):
            return f"{symbol} price {price:g} is off its {contract.rule.increment_at(price)} tick"
    return ""


def initial_prices(catalog: Catalog, path: PricePath) -> dict[str, float]:
    """The first price of every contract.

    Raises:
        PricesError: a futures row of the path is off its tick.
    """
    for row, (symbol, price) in enumerate(path.rows, start=1):
        if problem := off_tick(catalog, symbol, price):
            raise PricesError(f"{path.source}: row {row}: {problem}")
    return {key: price for symbol, price in path.initial_prices().items() for key in catalog.keys_of(symbol)}


def increment_of(catalog: Catalog) -> Callable[[str, float], float]:
    """``(key, price) -> increment``: the tick a quote's bid and ask sit away from the last."""
    def increment(key: str, price: float) -> float:
        contract = catalog.by_key(key)
        return float(contract.rule.increment_at(price)) if contract is not None else 0.01
    return increment


def check_currencies(catalog: Catalog, account: Account) -> None:
    """Every contract's currency needs a rate.

    Raises:
        ValueError: one has none.
    """
    for contract in catalog:
        if contract.currency not in account.fx:
            raise ValueError(f"{contract.symbol} trades in {contract.currency}: give {contract.currency}USD=RATE")
