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
from typing import Protocol

from .marketdata import BarBuilder


class Sink(Protocol):
    """Where frames for one client go (a connection)."""

    conn_id: int

    def send(self, frame: bytes) -> None: ...

    def send_many(self, frames: Iterable[bytes]) -> None: ...


class Session:
    """What one connection has subscribed to, and its held-back order messages."""

    def __init__(self) -> None:
        self.mkt: dict[int, str] = {}  # reqId -> symbol (streaming quotes)
        self.bars: dict[int, str] = {}  # reqId -> symbol (5-second bars)
        self.account_updates = False
        self.positions_sub = False
        self.account_multi: set[int] = set()
        # order messages waiting for the ack-delay fault, processed in order
        self.pipeline: deque[tuple[float, list[str]]] = deque()
        self.pipeline_task: asyncio.Task[None] | None = None


Key = tuple[int, int]  # (conn_id, reqId)


class Subscriptions:
    """Streaming quote and bar requests of every connection, by symbol."""

    def __init__(self) -> None:
        self._mkt: dict[str, dict[Key, Sink]] = {}
        self._bars: dict[str, dict[Key, Sink]] = {}
        self.bar_builders: dict[str, BarBuilder] = {}

    # ------------------------------------------------------------ quotes
    def add_quotes(self, sink: Sink, session: Session, req_id: int, symbol: str) -> None:
        session.mkt[req_id] = symbol
        self._mkt.setdefault(symbol, {})[(sink.conn_id, req_id)] = sink

    def remove_quotes(self, sink: Sink, session: Session, req_id: int) -> None:
        symbol = session.mkt.pop(req_id, None)
        if symbol is not None:
            self._mkt.get(symbol, {}).pop((sink.conn_id, req_id), None)

    def quote_subscribers(self, symbol: str) -> Iterator[tuple[int, Sink]]:
        """``(reqId, sink)`` of every streaming quote request for ``symbol``."""
        for (_, req_id), sink in list(self._mkt.get(symbol, {}).items()):
            yield req_id, sink

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
    def drop(self, sink: Sink) -> None:
        """Forget every request of one connection (it closed)."""
        for subs in (*self._mkt.values(), *self._bars.values()):
            for key in [k for k in subs if k[0] == sink.conn_id]:
                del subs[key]
