"""One read-only connection to state.db on one worker thread, and the change watcher.

Every read of the console runs on a single thread that owns the connection (sqlite3
connections are bound to their thread); the event loop awaits it. The file is opened once —
``open_readonly`` reads every page to check for damage, too costly per request — and opened
again when it did not exist yet or could not be read.

:class:`Watcher` polls ``PRAGMA data_version`` (it changes whenever another connection
commits) every ``interval`` seconds and wakes every waiting SSE stream when it changes, or when
the store appears, disappears or becomes unreadable.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..errors import SchemaTooNew, StoreCorrupt, StoreMissing
from ..store import sqlite_path
from . import data

T = TypeVar("T")


class Unavailable(Exception):
    """There is no readable state.db (yet): the page says why instead of failing."""

    def __init__(self, message: str, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


class StoreHandle:
    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._conn: sqlite3.Connection | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-db")

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = data.open_readonly(self.url)
            except StoreMissing as exc:
                raise Unavailable(str(exc), missing=True) from None
            except (StoreCorrupt, SchemaTooNew) as exc:
                raise Unavailable(str(exc), missing=False) from None
        return self._conn

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(conn, *args)``; on the worker thread only (see :meth:`call`)."""
        conn = self._connect()
        try:
            return fn(conn, *args)
        except sqlite3.DatabaseError as exc:  # the file changed under us: reopen next time
            self._drop()
            raise Unavailable(f"{self.path}: cannot read the state database: {exc}", missing=False) from None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.run, fn, *args)

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Pass every SQL statement the console runs (parameters expanded) to ``callback``
        (None: stop). For measurements: the benchmark replays them on a bare connection."""
        self._pool.submit(lambda: self._connect().set_trace_callback(callback)).result()

    def _token(self) -> tuple[Any, ...]:
        if not self.path.exists():
            self._drop()
            return ("missing",)
        try:
            return ("version", self.run(data.data_version))
        except Unavailable as exc:
            return ("unavailable", str(exc))

    async def change_token(self) -> tuple[Any, ...]:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._token)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._pool.submit(self._drop).result()
        self._pool.shutdown(wait=True)


class Watcher:
    """Counts changes of the store; SSE streams wait for the count to move."""

    def __init__(self, store: StoreHandle, interval: float = 0.25) -> None:
        self.store = store
        self.interval = interval
        self.count = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="console-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        last = await self.store.change_token()
        while True:
            await asyncio.sleep(self.interval)
            token = await self.store.change_token()
            if token != last:
                last = token
                self.count += 1
                event, self._changed = self._changed, asyncio.Event()
                event.set()

    async def wait(self, seen: int) -> int:
        """The change count once it differs from ``seen``."""
        while self.count == seen:
            await self._changed.wait()
        return self.count
