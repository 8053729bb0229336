"""Quotes and 5-second bars built from the price path (no I/O).

Each price-path row is a trade at that price.  Bid and ask sit one tick (the
contract's increment at that price) either side of the last trade.  Sizes are
deterministic pseudo-random round lots derived from the symbol and the trade
number, so runs are reproducible.

Bars use *simulated time*: ``sim_epoch + ticks × tick_step`` where
``tick_step`` is the gateway's ``tick_seconds`` (or 1 s with manual ticking),
so a bar closes every 5 simulated seconds whether or not the symbol traded.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

from . import messages as msg

BAR_SECONDS = 5
LIVE_TICKS = {"bid": 1, "ask": 2, "last": 4, "volume": 8, "high": 6, "low": 7, "close": 9}
DELAYED_TICKS = {"bid": 66, "ask": 67, "last": 68, "volume": 74, "high": 72, "low": 73, "close": 75}
_MAX_EMPTY_BARS = 120  # a huge time jump emits at most this many empty bars


def _hash(symbol: str, n: int) -> int:
    return zlib.crc32(f"{symbol}:{n}".encode())


@dataclass(slots=True)
class Quote:
    symbol: str
    last: float
    close: float  # previous close: the first price of the path
    high: float
    low: float
    volume: int = 0
    last_size: int = 100
    bid_size: int = 500
    ask_size: int = 500
    trades: int = 0
    tick: float = 0.01  # the contract's increment at the last price: bid and ask sit one away

    @property
    def bid(self) -> float:
        return round(max(self.last - self.tick, self.tick), 6)

    @property
    def ask(self) -> float:
        return round(self.last + self.tick, 6)


class Quotes:
    """The current quote of every symbol; ``increment(symbol, price)`` is its tick there."""

    def __init__(self, initial: dict[str, float],
                 increment: Callable[[str, float], float] = lambda symbol, price: 0.01) -> None:
        self.increment = increment
        self.quotes = {s: Quote(s, p, p, p, p, tick=increment(s, p)) for s, p in initial.items()}

    def trade(self, symbol: str, price: float) -> Quote:
        q = self.quotes[symbol]
        q.trades += 1
        h = _hash(symbol, q.trades)
        q.last = price
        q.tick = self.increment(symbol, price)
        q.high = max(q.high, price)
        q.low = min(q.low, price)
        q.last_size = (h % 9 + 1) * 100
        q.bid_size = ((h >> 8) % 20 + 1) * 100
        q.ask_size = ((h >> 16) % 20 + 1) * 100
        q.volume += q.last_size
        return q

    def tick_frames(self, req_id: int, symbol: str, full: bool, delayed: bool = False,
                    no_quote: bool = False) -> list[bytes]:
        """tickPrice/tickSize frames for one subscriber (``full`` adds high/low/close).

        ``delayed`` uses the delayed tick types (66–75); ``no_quote`` sends bid and ask as −1
        with size 0, as IB does when a side has no quote (a closed or halted market).
        """
        t = DELAYED_TICKS if delayed else LIVE_TICKS
        q = self.quotes[symbol]
        bid, bid_size, ask, ask_size = (-1.0, 0, -1.0, 0) if no_quote else (q.bid, q.bid_size, q.ask, q.ask_size)
        frames = [
            msg.tick_price(req_id, t["bid"], bid, bid_size, 1),
            msg.tick_price(req_id, t["ask"], ask, ask_size, 1),
            msg.tick_price(req_id, t["last"], q.last, q.last_size, 0),
            msg.tick_size(req_id, t["volume"], q.volume),
        ]
        if full:
            frames += [
                msg.tick_price(req_id, t["high"], q.high, 0, 0),
                msg.tick_price(req_id, t["low"], q.low, 0, 0),
                msg.tick_price(req_id, t["close"], q.close, 0, 0),
            ]
        return frames


@dataclass(frozen=True, slots=True)
class Bar:
    start: int
    open: float
    high: float
    low: float
    close: float
    volume: int
    wap: float
    count: int


class BarBuilder:
    """Aggregates one symbol's trades into 5-second bars of simulated time."""

    def __init__(self, now: float, price: float) -> None:
        self.window = int(now // BAR_SECONDS) * BAR_SECONDS
        self._reset(price)

    def _reset(self, price: float) -> None:
        self.open = self.high = self.low = self.close = price
        self.volume = 0
        self.count = 0
        self.notional = 0.0

    def _close_until(self, now: float) -> list[Bar]:
        bars: list[Bar] = []
        while now >= self.window + BAR_SECONDS:
            if len(bars) < _MAX_EMPTY_BARS or self.count:
                wap = self.notional / self.volume if self.volume else self.close
                bars.append(Bar(self.window, self.open, self.high, self.low, self.close,
                                self.volume, round(wap, 4), self.count))
            self.window += BAR_SECONDS
            self._reset(self.close)
            if now - self.window > BAR_SECONDS * _MAX_EMPTY_BARS:
                self.window = int(now // BAR_SECONDS) * BAR_SECONDS
        return bars

    def trade(self, now: float, price: float, size: int) -> list[Bar]:
        bars = self._close_until(now)
        if self.count == 0:
            self.open = self.high = self.low = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += size
        self.count += 1
        self.notional += price * size
        return bars

    def advance(self, now: float) -> list[Bar]:
        return self._close_until(now)
