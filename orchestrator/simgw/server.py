"""TCP connections of the simulated gateway.

One :class:`Connection` per client socket.  It does the handshake, parses
frames and hands each message to its :class:`~.ports.ConnectionHandler` (the
gateway), and owns one writer task fed by
an in-memory queue: everything sent to a client goes through that queue, so
message order per connection is kept and a slow client never blocks the
gateway or other clients.  A client that lets more than
:data:`MAX_BACKLOG` bytes pile up is disconnected.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable

from . import messages as msg
from .ports import ConnectionHandler
from .session import Session
from .wire import SERVER_VERSION, FrameParser, Handshake, ProtocolError

log = logging.getLogger("orchestrator.simgw")

MAX_BACKLOG = 64 * 1024 * 1024
START_API = "71"


class Connection:
    """One client connection; its subscriptions are in ``session``."""

    _ids = 0

    def __init__(self, handler: ConnectionHandler, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        Connection._ids += 1
        self.conn_id = Connection._ids
        self.handler = handler
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self.client_id: int | None = None
        self.ready = False
        self.closed = False
        self._closing = False
        self._queue: deque[bytes] = deque()
        self._backlog = 0
        self._wake = asyncio.Event()
        self._parser = FrameParser()
        self._writer_task: asyncio.Task[None] | None = None
        self.session = Session()

    @property
    def cid(self) -> int:
        """The client id (only valid once startApi has been accepted)."""
        if self.client_id is None:
            raise RuntimeError(f"{self!r} has not started the API")
        return self.client_id

    def __repr__(self) -> str:
        return f"<client {self.client_id} conn#{self.conn_id} {self.peer}>"

    # ------------------------------------------------------------ sending
    def send(self, frame: bytes) -> None:
        if self._closing:
            return
        self._queue.append(frame)
        self._backlog += len(frame)
        if self._backlog > MAX_BACKLOG:
            log.warning("%r is not reading (%d bytes queued); disconnecting it", self, self._backlog)
            self.abort()
            return
        self._wake.set()

    def send_many(self, frames: Iterable[bytes]) -> None:
        for frame in frames:
            self.send(frame)

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._queue:
                    data = b"".join(self._queue)
                    self._queue.clear()
                    self._backlog = 0
                    self.writer.write(data)
                    await self.writer.drain()
                if self._closing:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self.writer.close()

    # ------------------------------------------------------------ closing
    def close(self) -> None:
        """Flush what is queued, then close."""
        if not self._closing:
            self._closing = True
            self._wake.set()

    def abort(self) -> None:
        """Drop the connection now, without flushing (a network failure)."""
        self._closing = True
        self._queue.clear()
        transport = self.writer.transport
        if transport is not None:
            transport.abort()
        self._wake.set()

    # ------------------------------------------------------------ reading
    async def run(self) -> None:
        self._writer_task = asyncio.create_task(self._write_loop())
        try:
            while not self._closing:
                data = await self.reader.read(65536)
                if not data:
                    break
                for item in self._parser.feed(data):
                    if self._closing:
                        break
                    if isinstance(item, Handshake):
                        self._on_handshake(item)
                    elif not self.ready:
                        if item[0].strip() == START_API:
                            self.handler.start_api(self, item)
                            self.ready = self.client_id is not None
                        else:
                            log.debug("%r: message %s before startApi ignored", self, item[0])
                    else:
                        self.handler.on_message(self, item)
        except ProtocolError as exc:
            log.warning("%r sent bad data (%s); dropping the connection", self, exc)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%r: internal error; dropping the connection", self)
        finally:
            self.close()
            self.closed = True
            self.handler.on_disconnect(self)
            if self._writer_task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self._writer_task), 1.0)
                except Exception:  # noqa: BLE001 - a writer that cannot flush in time is aborted
                    self.abort()

    def _on_handshake(self, hs: Handshake) -> None:
        if not hs.accepts(SERVER_VERSION):
            log.warning("%r offers versions %d..%d, not %d; closing", self, hs.min_version,
                        hs.max_version, SERVER_VERSION)
            self.close()
            return
        self.send(msg.connect_ack(self.handler.clock()))
