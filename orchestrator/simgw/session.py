"""Per-connection API state and the gateway's index of market-data and bar subscriptions.

A :class:`Session` is what one client connection has asked for (tick and bar request ids,
account and position subscriptions, the order messages held back by the ack-delay fault).
:class:`Subscriptions` indexes the streaming requests of every connection by symbol, so a
trade fans out to its subscribers without scanning every connection, and owns the bar
builders (one per subscribed symbol). Neither knows about sockets: a subscriber is any
:class:`Sink`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from .marketdata import BarBuilder
from .pacing import PaceWindow


class Sink(Protocol):
    """Where frames for one client go (a connection)."""

    conn_id: int

    def send(self, frame: bytes) -> None: ...

    def send_many(self, frames: Iterable[bytes]) -> None: ...


class Session:
    """What one connection has subscribed to, and its held-back order messages."""

    def __init__(self) -> None:
        self.market_data_type = 1  # what reqMarketDataType asked for: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen
        self.mkt: dict[int, str] = {}  # reqId -> symbol (streaming quotes)
        self.bars: dict[int, str] = {}  # reqId -> symbol (5-second bars)
        self.account_updates = False
        self.positions_sub = False
        self.account_multi: set[int] = set()
        # order messages waiting for the ack-delay fault, processed in order
        self.pipeline: deque[tuple[float, list[str]]] = deque()
        self.pipeline_task: asyncio.Task[None] | None = None
        self.pacing = PaceWindow()


Key = tuple[int, int]  # (conn_id, reqId)


@dataclass(slots=True)
class QuoteSub:
    """One streaming quote request: what was asked for and what it gets."""

    sink: Sink
    req_id: int
    symbol: str
    requested: int  # the connection's market-data type when it asked
    data_type: int  # what IB serves it: 1 live, 3 delayed


class Subscriptions:
    """Streaming quote and bar requests of every connection, by symbol."""

    def __init__(self) -> None:
        self._mkt: dict[str, dict[Key, QuoteSub]] = {}
        self._bars: dict[str, dict[Key, Sink]] = {}
        self.bar_builders: dict[str, BarBuilder] = {}

    # ------------------------------------------------------------ quotes
    def add_quotes(self, sink: Sink, session: Session, req_id: int, symbol: str, data_type: int) -> QuoteSub:
        session.mkt[req_id] = symbol
        sub = QuoteSub(sink, req_id, symbol, session.market_data_type, data_type)
        self._mkt.setdefault(symbol, {})[(sink.conn_id, req_id)] = sub
        return sub

    def remove_quotes(self, sink: Sink, session: Session, req_id: int) -> None:
        symbol = session.mkt.pop(req_id, None)
        if symbol is not None:
            self._mkt.get(symbol, {}).pop((sink.conn_id, req_id), None)

    def quote_subscribers(self, symbol: str | None = None) -> list[QuoteSub]:
        """Every streaming quote request (for ``symbol``, or for every symbol)."""
        groups = [self._mkt.get(symbol, {})] if symbol is not None else list(self._mkt.values())
        return [sub for group in groups for sub in group.values()]

    def cancel_quotes(self, sub: QuoteSub, session: Session) -> None:
        session.mkt.pop(sub.req_id, None)
        self._mkt.get(sub.symbol, {}).pop((sub.sink.conn_id, sub.req_id), None)

    def has_quotes(self, symbol: str) -> bool:
        return bool(self._mkt.get(symbol))

    # ------------------------------------------------------------ bars
    def add_bars(self, sink: Sink, session: Session, req_id: int, symbol: str, now: float, price: float) -> None:
        if not self._bars.get(symbol):  # first subscriber: a fresh bar window
            self.bar_builders[symbol] = BarBuilder(now, price)
        session.bars[req_id] = symbol
        self._bars.setdefault(symbol, {})[(sink.conn_id, req_id)] = sink

    def remove_bars(self, sink: Sink, session: Session, req_id: int) -> None:
        symbol = session.bars.pop(req_id, None)
        if symbol is not None:
            self._bars.get(symbol, {}).pop((sink.conn_id, req_id), None)

    def bar_subscribers(self, symbol: str) -> Iterator[tuple[int, Sink]]:
        for (_, req_id), sink in list(self._bars.get(symbol, {}).items()):
            yield req_id, sink

    def bar_symbols(self) -> list[str]:
        """Symbols with at least one bar subscriber (and a builder)."""
        return [s for s, subs in self._bars.items() if subs and s in self.bar_builders]

    # ------------------------------------------------------------ connections
    def drop(self, sink: Sink, session: Session | None = None) -> None:
        """Forget every request of one connection (it closed, or IB lost its data: 1101)."""
        for quotes in self._mkt.values():
            for key in [k for k in quotes if k[0] == sink.conn_id]:
                del quotes[key]
        for bars in self._bars.values():
            for key in [k for k in bars if k[0] == sink.conn_id]:
                del bars[key]
        if session is not None:
            session.mkt.clear()
            session.bars.clear()
