"""Which prices the engine may act on.

Trailing and the sizing of market entries need a price that is there, fresh (at most
``max_age`` seconds old) and live — or delayed, if the trader allowed it (``allow_delayed``).
A price that is not is never used: the plan waits, protection at IB is untouched, and the
trader is told once when a symbol's price becomes unusable and once when it is back. A symbol
that simply has no quote yet (a new subscription) is given ``grace`` seconds before that counts
as an outage; anything else (IB refused the data, only delayed or frozen prices, an old price)
counts at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from machines import NotifyKind

from ..broker.port import Broker, BrokerNotice, Quote
from ..clock import Clock
from .notices import Notices

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DataRules:
    max_age: float = 60.0
    allow_delayed: bool = False
    grace: float = 10.0


class MarketWatch:
    def __init__(self, broker: Broker, notices: Notices, clock: Clock, rules: DataRules | None = None) -> None:
        self.broker = broker
        self.notices = notices
        self.clock = clock
        self.rules = rules or DataRules()
        self.held: dict[str, str] = {}            # symbol → why its price is not used (an outage told)
        self._unusable_since: dict[str, datetime] = {}

    def why_not(self, quote: Quote, price: Decimal | None) -> str | None:
        """Why ``price`` (taken from ``quote``) must not be used for a decision; None if it may."""
        if quote.problem:
            return f"IB sends no usable market data ({quote.problem})"
        if price is None or quote.source is None:
            return "no price from IB yet"
        if quote.source == "frozen":
            return "IB sends only a frozen price (the market is closed)"
        if quote.source == "delayed" and not self.rules.allow_delayed:
            return ("IB sends delayed prices only (live data is not subscribed) and market_data.trail_on_delayed "
                    "is off")
        if quote.age is not None and quote.age > self.rules.max_age:
            return f"the last price is {quote.age:.0f} s old (market_data.max_age_seconds = {self.rules.max_age:g})"
        return None

    def trail_price(self, symbol: str) -> Decimal | None:
        """The last trade, if trailing may act on it."""
        quote = self.broker.quote(symbol)
        return self._checked(symbol, quote, quote.last)

    def entry_price(self, symbol: str, buying: bool) -> tuple[Decimal | None, str | None]:
        """The price a market entry would get (the ask to buy, the bid to sell), or why not."""
        quote = self.broker.quote(symbol)
        price = quote.to_trade(buying)
        used = self._checked(symbol, quote, price)
        return used, None if used is not None else self.why_not(quote, price)

    def _checked(self, symbol: str, quote: Quote, price: Decimal | None) -> Decimal | None:
        why = self.why_not(quote, price)
        now = self.clock.now()
        if why is None:
            self._unusable_since.pop(symbol, None)
            if self.held.pop(symbol, None) is not None:
                self.notices.report_once(
                    f"market-data:{symbol}:back:{now.isoformat()}", NotifyKind.MARKET_DATA_RESTORED,
                    {"message": f"prices for {symbol} are usable again ({quote.source})", "symbol": symbol})
            return price
        since = self._unusable_since.setdefault(symbol, now)
        waiting = price is None and quote.problem is None   # a first quote may just be on its way
        outage = not waiting or (now - since).total_seconds() >= self.rules.grace
        if outage and symbol not in self.held:
            self.held[symbol] = why
            self.notices.report_once(f"market-data:{symbol}:lost:{now.isoformat()}", NotifyKind.MARKET_DATA_LOST, {
                "message": (f"no usable price for {symbol}: {why}; trailing and market entries in {symbol} wait, "
                            "protective orders at IB are untouched"), "symbol": symbol})
        elif outage:
            self.held[symbol] = why
        return None

    def on_notice(self, notice: BrokerNotice) -> None:
        if notice.kind == "market_data_delayed":
            self.notices.report_once("market-data:delayed", NotifyKind.MARKET_DATA_DELAYED, {"message": (
                f"IB says live market data is not subscribed (IB {notice.code}: {notice.message}); the orchestrator "
                "now asks for delayed data" + ("" if self.rules.allow_delayed else
                                               ", which it does not trail or size on (market_data.trail_on_delayed "
                                               "is off)"))})
