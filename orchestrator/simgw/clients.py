"""Client connections: accepting sockets, startApi, client ids, disconnects.

:class:`Clients` is every connection's :class:`~.ports.ConnectionHandler`. It accepts a
socket (or closes it at once while the refuse-connections fault is on), admits a startApi
unless the client id is in use (error 326, then close), greets the client (the gateway's
``greet``), hands every later message to ``dispatch`` and forgets a connection's
subscriptions when it closes. Orders belong to client ids, not connections: they outlive
both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import messages as msg
from .ports import Link
from .server import Connection
from .wire import ProtocolError

log = logging.getLogger("orchestrator.simgw")

CLIENT_ID_IN_USE = "Unable to connect as the client id is already in use. Retry with a unique client id."

Hook = Callable[[Link], None]


class Clients:
    """The gateway's connections, and its clients by id."""

    def __init__(self, *, clock: Callable[[], datetime], greet: Hook, dispatch: Callable[[Link, list[str]], None],
                 forget: Hook, changed: Callable[[], None], refusing: Callable[[], bool]) -> None:
        self.clock = clock
        self._greet, self._dispatch, self._forget = greet, dispatch, forget
        self._changed, self._refusing = changed, refusing
        self.conns: set[Connection] = set()
        self.by_id: dict[int, Link] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

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
            if conn.client_id is not None and self.by_id.get(conn.client_id) is conn:
                del self.by_id[conn.client_id]
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
        if other is not None and not other.closed:
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
        try:
            self._dispatch(conn, fields)
        except (ValueError, IndexError) as exc:
            raise ProtocolError(f"malformed message {fields[:1]}: {exc}") from exc
        self._changed()

    def on_disconnect(self, conn: Link) -> None:
        if conn.client_id is not None and self.by_id.get(conn.client_id) is conn:
            del self.by_id[conn.client_id]
            log.info("client %d disconnected", conn.client_id)
        self._forget(conn)
        self._changed()
