"""Client connections: accepting sockets, startApi, client ids, disconnects.

:class:`Clients` is every connection's :class:`~.ports.ConnectionHandler`. It accepts a
socket (or closes it at once while the refuse-connections fault is on), admits a startApi
unless the client id is in use (error 326, then close) or still held after an abrupt close
(``hold``), greets the client (the gateway's ``greet``), enforces the message-rate limit
(:mod:`.pacing`; each error 100 and each disconnect for pacing is journaled), hands every
later message to ``dispatch`` and forgets a connection's subscriptions when it closes. Orders
belong to client ids, not connections: they outlive both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import messages as msg
from .journal import Journal
from .orders import OrderEvent
from .pacing import DEFAULT_LIMIT, Verdict, rate_text
from .ports import Link
from .server import Connection
from .wire import ProtocolError

log = logging.getLogger("orchestrator.simgw")

CLIENT_ID_IN_USE = "Unable to connect as the client id is already in use. Retry with a unique client id."

Hook = Callable[[Link], None]


class Clients:
    """The gateway's connections, and its clients by id."""

    def __init__(self, *, clock: Callable[[], datetime], greet: Hook, dispatch: Callable[[Link, list[str]], None],
                 forget: Hook, changed: Callable[[], None], refusing: Callable[[], bool],
                 pacing_limit: int = DEFAULT_LIMIT, now: Callable[[], float] = time.monotonic,
                 journal: Journal | None = None) -> None:
        self.clock = clock
        self.set_pacing_limit(pacing_limit)
        self._journal = journal
        self._now = now
        self._held_until: dict[int, float] = {}  # client id -> occupied until (monotonic)
        self._hold_on_close: dict[int, float] = {}  # client id -> seconds to hold once its socket closes
        self._greet, self._dispatch, self._forget = greet, dispatch, forget
        self._changed, self._refusing = changed, refusing
        self.conns: set[Connection] = set()
        self.by_id: dict[int, Link] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def set_pacing_limit(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("pacing_limit must be >= 1")
        self.pacing_limit = limit

    def links(self) -> list[Link]:
        return list(self.by_id.values())

    # ------------------------------------------------------------ sockets
    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """``asyncio.start_server`` callback: serve one socket until it closes."""
        if self._refusing():
            writer.transport.abort()
            return
        conn = Connection(self, reader, writer)
        self.conns.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        try:
            await conn.run()
        finally:
            self.conns.discard(conn)

    def drop_all(self, reason: str) -> int:
        """Abort every connection now (a network failure); returns how many."""
        conns = list(self.conns)
        for conn in conns:
            conn.abort()
            self._release(conn)
        if conns:
            log.info("%s: dropped %d connection(s)", reason, len(conns))
        return len(conns)

    # ------------------------------------------------------------ ConnectionHandler
    def start_api(self, conn: Link, fields: list[str]) -> None:
        try:
            client_id = int(fields[2])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad startApi {fields!r}") from None
        other = self.by_id.get(client_id)
        if (other is not None and not other.closed) or self._now() < self._held_until.get(client_id, 0.0):
            log.warning("client id %d already in use; refusing %r", client_id, conn)
            conn.send(msg.error(-1, 326, CLIENT_ID_IN_USE))
            conn.close()
            return
        conn.client_id = client_id
        self.by_id[client_id] = conn
        self._greet(conn)
        log.info("client %d connected: %r", client_id, conn)
        self._changed()

    def on_message(self, conn: Link, fields: list[str]) -> None:
        verdict = conn.session.pacing.admit(self._now(), self.pacing_limit)
        if verdict is not Verdict.OK:
            self._over_limit(conn, verdict)
            return
        try:
            self._dispatch(conn, fields)
        except (ValueError, IndexError) as exc:
            raise ProtocolError(f"malformed message {fields[:1]}: {exc}") from exc
        self._changed()

    def on_disconnect(self, conn: Link) -> None:
        if self._release(conn):
            log.info("client %d disconnected", conn.client_id)
        self._forget(conn)
        self._changed()

    def _release(self, conn: Link) -> bool:
        """The connection's client id is free again (unless it is to be held); was it registered?"""
        cid = conn.client_id
        if cid is None or self.by_id.get(cid) is not conn:
            return False
        del self.by_id[cid]
        if (seconds := self._hold_on_close.pop(cid, None)) is not None:
            self._held_until[cid] = self._now() + seconds
            log.info("client id %d stays occupied for %.1f s", cid, seconds)
        return True

    def _over_limit(self, conn: Link, verdict: Verdict) -> None:
        if verdict is Verdict.DROP:
            log.warning("%r keeps exceeding %d messages/s; disconnecting it", conn, self.pacing_limit)
            self._journal_pacing(conn, "pacing_dropped", "disconnected: too many messages refused in a second")
            conn.abort()
            self._release(conn)
            return
        if verdict is Verdict.REFUSE_NOTIFY:
            window = conn.session.pacing
            log.info("%r exceeds %d messages/s; refusing messages", conn, self.pacing_limit)
            text = rate_text(self.pacing_limit, window.received(), window.violations)
            self._journal_pacing(conn, "pacing_refused", text)
            conn.send(msg.error(-1, 100, text))
            self._changed()

    def _journal_pacing(self, conn: Link, kind: str, text: str) -> None:
        if self._journal is not None:
            self._journal.record(OrderEvent(kind, conn.client_id or 0, -1, None, code=100, text=text))

    def hold(self, client_id: int, seconds: float) -> None:
        """Keep ``client_id`` occupied for ``seconds`` (326 to anyone using it): from when its
        connection closes if it is connected now, else from now."""
        if client_id in self.by_id:
            self._hold_on_close[client_id] = float(seconds)
        else:
            self._held_until[client_id] = self._now() + float(seconds)
