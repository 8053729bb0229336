"""A currency's rate to the base from a quote of its pair, when the account gives none.

IB reports an ``ExchangeRate`` row only for the currencies an account holds, so a USD account
that has never held euros has no EUR rate to size a EUR stock with. The fallback is IB's quote of
the currency pair (``EUR.USD``, secType CASH on IDEALPRO): a snapshot's bid/ask midpoint, asked
each time a plan in that currency is about to be sized, so the rate is seconds old. The pair is
written the way the market quotes it (EUR.USD, GBP.USD, USD.JPY, EUR.GBP: the currency earlier in
:data:`QUOTE_ORDER` first), and :func:`machines.pair_rate` turns it either way round into base
units per unit of the currency. No usable quote means no rate: the plan is refused, never sized
at a guessed one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from ib_async import Forex
from ib_async.wrapper import RequestError

from machines import SizingError, pair_rate

from ..errors import BrokerUnavailable
from .marketdata import _price

log = logging.getLogger(__name__)
Answer = Callable[[Callable[[], Awaitable[Any]], str], Awaitable[Any]]   # (sends the request, what it is)

#: Which currency of a pair comes first in the market's quote (IB's forex pairs follow it).
QUOTE_ORDER = ("EUR", "GBP", "AUD", "NZD", "USD", "CAD", "CHF", "NOK", "SEK", "DKK", "HKD", "SGD", "CNH", "JPY")


def pair_of(currency: str, base: str) -> str:
    """The pair as the market writes it: ``EURUSD`` for EUR in a USD account, and for USD in an
    EUR one; a currency not in :data:`QUOTE_ORDER` comes after those that are."""
    rank = {c: i for i, c in enumerate(QUOTE_ORDER)}
    first, second = sorted((currency, base), key=lambda c: (rank.get(c, len(QUOTE_ORDER)), c))
    return first + second


def midpoint(ticker: Any) -> Decimal | None:
    """The bid/ask midpoint of a snapshot (None: no two-sided quote; forex has no last trade)."""
    bid, ask = _price(getattr(ticker, "bid", None)), _price(getattr(ticker, "ask", None))
    return (bid + ask) / 2 if bid is not None and ask is not None and bid <= ask else None


class PairQuotes:
    """The rates last read from pair quotes, by currency (base units per unit)."""

    def __init__(self, ib: Any, answer: Answer) -> None:
        self.ib = ib
        self.answer = answer
        self.rates: dict[str, Decimal] = {}
        self.contracts: dict[str, Any] = {}   # pair → IB's qualified contract

    async def refresh(self, currency: str, base: str) -> Decimal | None:
        """Read ``currency``'s rate to ``base`` from a snapshot of the pair now (None: IB gave no
        usable quote, said in the log; any earlier rate of it is dropped, never reused).

        Raises:
            BrokerUnavailable: IB could not be asked.
        """
        self.rates.pop(currency, None)
        pair = pair_of(currency, base)
        try:
            contract = self.contracts.get(pair)
            if contract is None:  # a snapshot needs the qualified contract (its conId)
                details = await self.answer(lambda: self.ib.reqContractDetailsAsync(Forex(pair)),
                                            f"contract details of {pair}")
                if not details:
                    log.warning("no %s rate from a quote: IB knows no pair %s", currency, pair)
                    return None
                contract = self.contracts[pair] = details[0].contract
            tickers = await self.answer(lambda: self.ib.reqTickersAsync(contract), f"a quote of {pair}")
        except RequestError as exc:
            log.warning("no %s rate from a quote of %s: IB %s %s", currency, pair, exc.code, exc.message)
            return None
        except (ConnectionError, OSError) as exc:
            raise BrokerUnavailable(f"cannot ask a quote of {pair}: {exc or type(exc).__name__}") from None
        try:
            rate = pair_rate(currency, base, pair, midpoint(tickers[0]) if tickers else None)
        except SizingError as exc:
            log.warning("no %s rate from a quote of %s: %s", currency, pair, exc)
            return None
        self.rates[currency] = rate
        return rate
