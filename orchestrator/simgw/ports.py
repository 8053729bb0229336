"""The seams between the gateway's parts, as Protocols with public names.

* :class:`Link`: one client connection, as the request handlers and feeds see it.
* :class:`ConnectionHandler`: what a connection (``server.Connection``) calls on the
  gateway: the accepted startApi, each message after it, the disconnect.
* :class:`GatewayOps`: what the request handlers and feeds need from the gateway.

The gateway implements the last two; nothing below it imports the gateway itself, so the
import graph has no cycle (gateway → handlers/server/faults → ports → book, session, …).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import date, datetime
from typing import Any, Protocol

from .account import Account
from .book import Book, Event
from .contracts import Catalog
from .faults import Faults
from .marketclock import MarketClock
from .session import Session, Sink


class Link(Sink, Protocol):
    """One client connection after startApi."""

    client_id: int | None
    closed: bool
    session: Session

    @property
    def cid(self) -> int: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class ConnectionHandler(Protocol):
    """The gateway, as a connection sees it."""

    def clock(self) -> datetime: ...

    def start_api(self, conn: Link, fields: list[str]) -> None: ...

    def on_message(self, conn: Link, fields: list[str]) -> None: ...

    def on_disconnect(self, conn: Link) -> None: ...


class GatewayOps(Protocol):
    """The gateway, as the request handlers and feeds see it."""

    book: Book
    catalog: Catalog
    faults: Faults
    account: Account
    account_name: str
    link_up: asyncio.Event  # set while IB's connectivity is up; order messages wait while it is lost
    market_clock: MarketClock
    hours_overrides: dict[str, dict[date, str]]  # symbol -> day -> what IB's hours say of it (set_hours)

    def apply(self, events: list[Event]) -> None:
        """Deliver the book's events (journal, wire, account pushes)."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task the gateway cancels when it stops."""

    def changed(self) -> None:
        """Re-check the waiters of ``wait_until`` (something changed)."""

    def clock(self) -> datetime: ...

    def sim_time(self) -> float: ...

    def account_values(self) -> dict[str, float]: ...

    def links(self) -> list[Link]:
        """Every connection that has started the API."""
