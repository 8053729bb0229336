"""Market data as IB serves it: the data type asked for, what each symbol gets, and why not.

IB sends nothing at all for a symbol the account is not entitled to (354 "not subscribed",
10089 "requires additional subscription", 10168 "delayed data not enabled"): a paper account
without a subscription gets data only after ``reqMarketDataType(3)`` (delayed, announced with
10167). ``auto`` asks for live data and falls back to delayed the first time IB says live is
not subscribed (and says so once). Data can also stop while the subscription stands: another
live session of the account (10197), the data farm dropping (2103 until 2104). Each symbol's
quote carries its source (live, delayed, frozen), its age and IB's last refusal, so the engine
decides what a price may be used for; a previous close is never a price.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from .port import BrokerNotice, Quote, Sink
from .translate import decimal

log = logging.getLogger(__name__)

LIVE_TYPE, DELAYED_TYPE = 1, 3
SOURCES = {1: "live", 2: "frozen", 3: "delayed", 4: "frozen"}   # 4 = delayed-frozen
NOT_ENTITLED = frozenset({354, 10089, 10168})
COMPETING, DELAYED_SHOWN, FARM_BROKEN, FARM_OK = 10197, 10167, 2103, 2104
MARKET_DATA_CODES = NOT_ENTITLED | {COMPETING, DELAYED_SHOWN, FARM_BROKEN, FARM_OK}
TYPES = ("auto", "live", "delayed")


def _price(value: Any) -> Decimal | None:
    """A price from a ticker field (NaN, -1 and 0 mean none)."""
    if value is None or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        return None
    return decimal(value)


class PriceFeed:
    """The market-data subscriptions of one IB connection."""

    def __init__(self, ib: Any, sink: Sink, now: Callable[[], datetime], data_type: str = "auto") -> None:
        if data_type not in TYPES:
            raise ValueError(f"market data type must be one of {', '.join(TYPES)} (got {data_type!r})")
        self.ib, self.sink, self.now, self.data_type = ib, sink, now, data_type
        self.requested = DELAYED_TYPE if data_type == "delayed" else LIVE_TYPE
        self.tickers: dict[str, Any] = {}
        self.refused: dict[str, str] = {}   # symbol → IB's refusal of its data (until data flows again)
        self.farm_down: str | None = None
        self.updated: dict[str, datetime] = {}
        ib.pendingTickersEvent += self._on_tickers

    # ------------------------------------------------------------------ the connection
    def connected(self) -> None:
        """A new connection: IB forgets the type and every subscription."""
        self.tickers.clear()
        self.updated.clear()
        self.farm_down = None
        self.ib.reqMarketDataType(self.requested)

    def subscribe(self, symbol: str, contract: Any) -> None:
        """Ask for the symbol's data; a request IB refused is made again (the entitlement may
        have changed: reconciliation subscribes every few seconds)."""
        old = self.tickers.get(symbol)
        if old is not None and symbol not in self.refused:
            return
        if old is not None:
            self.ib.cancelMktData(old.contract)
        self.tickers[symbol] = self.ib.reqMktData(contract, "", False, False)

    def forget(self) -> None:
        """IB lost our subscriptions (1101): cancel what ib_async still holds; subscribe again later."""
        for ticker in self.tickers.values():
            try:
                self.ib.cancelMktData(ticker.contract)
            except Exception:  # noqa: BLE001 - best effort on a link IB says is broken
                pass
        self.tickers.clear()

    # ------------------------------------------------------------------ IB's news
    def on_error(self, code: int, message: str, contract: Any) -> None:
        symbol = getattr(contract, "symbol", None)
        if code == FARM_BROKEN:
            self.farm_down = f"IB {code}: {message}"
        elif code == FARM_OK:
            self.farm_down = None
        elif symbol is None:
            return
        elif code in NOT_ENTITLED and self.data_type == "auto" and self.requested == LIVE_TYPE:
            self._fall_back(code, message)
        elif code in NOT_ENTITLED or code == COMPETING:
            self.refused[symbol] = f"IB {code}: {message}"
            self.updated.pop(symbol, None)

    def _fall_back(self, code: int, message: str) -> None:
        """Live data is not subscribed: ask for delayed data and subscribe every symbol again."""
        log.warning("IB %s (%s): live market data is not subscribed; using delayed data", code, message)
        self.requested = DELAYED_TYPE
        self.ib.reqMarketDataType(DELAYED_TYPE)
        again = {symbol: ticker.contract for symbol, ticker in self.tickers.items()}
        self.forget()
        for symbol, contract in again.items():
            self.subscribe(symbol, contract)
        self.sink(BrokerNotice("market_data_delayed", code, message))

    def _on_tickers(self, tickers: Any) -> None:
        at = self.now()
        for ticker in tickers:
            symbol = ticker.contract.symbol
            fresh = any(_price(v) for v in (ticker.last, ticker.bid, ticker.ask))
            if fresh and self.tickers.get(symbol) is ticker:
                self.updated[symbol] = at
                self.refused.pop(symbol, None)

    # ------------------------------------------------------------------ what the engine reads
    def quote(self, symbol: str) -> Quote:
        ticker = self.tickers.get(symbol)
        problem = self.refused.get(symbol) or self.farm_down
        if ticker is None:
            return Quote(problem=problem)
        at = self.updated.get(symbol)
        source = SOURCES.get(int(getattr(ticker, "marketDataType", 1) or 1), "live") if at is not None else None
        age = (self.now() - at).total_seconds() if at is not None else None
        return Quote(_price(ticker.bid), _price(ticker.ask), _price(ticker.last), source=source, age=age,
                     problem=problem)

    def last_price(self, symbol: str) -> Decimal | None:
        """The last trade, whatever its source (charts); never the previous close."""
        ticker = self.tickers.get(symbol)
        return _price(ticker.last) if ticker is not None else None

    def kinds(self) -> dict[str, str]:
        """Per subscribed symbol: ``live``, ``delayed``, ``frozen`` or ``none`` (refused, or no data yet)."""
        return {symbol: self.quote(symbol).source or "none" for symbol in self.tickers}
