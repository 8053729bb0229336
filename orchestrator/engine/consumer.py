"""The consumer: one task takes every work item off the queue and handles it, one at a time.

Nothing else writes plan state, so there is no recursion and no concurrent writer. A handler
whose commit fails (state.db busy or refusing) is retried a few times with a growing delay; the
plan was rolled back, nothing was written. Any other failure is logged and the next item runs.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import StoreError
from .work import Again, Stop, WorkQueue

log = logging.getLogger(__name__)
Handler = Callable[[Any], Awaitable[None]]
MAX_ATTEMPTS = 5


class Consumer:
    def __init__(self, queue: WorkQueue, handlers: dict[type, Handler], changed: asyncio.Event) -> None:
        self.queue = queue
        self.handlers = handlers
        self.changed = changed  # set after every handled work item (waiters re-check their condition)

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, Stop):
                self.queue.task_done()
                return
            inner = item.item if isinstance(item, Again) else item
            self.queue.taken(inner)
            try:
                await self.handle(inner)
            except (sqlite3.OperationalError, StoreError) as exc:
                self._again(item, exc)
            except Exception:
                log.exception("engine: failed to handle %r", inner)
            finally:
                self.queue.task_done()   # queue.join() waits for work handled, not just taken
            self.changed.set()

    async def handle(self, item: Any) -> None:
        handler = self.handlers.get(type(item))
        if handler is None:
            log.error("engine: unknown work item %r", item)
            return
        await handler(item)

    def _again(self, item: Any, exc: BaseException) -> None:
        """Retry work whose commit failed (the plan was rolled back, nothing was written)."""
        attempt = item.attempt + 1 if isinstance(item, Again) else 1
        inner = item.item if isinstance(item, Again) else item
        if attempt > MAX_ATTEMPTS:
            log.error("engine: giving up on %r after %d failed commits: %s", inner, attempt - 1, exc)
            return
        log.warning("engine: commit failed (%s); retrying %s in %.1f s", exc, type(inner).__name__, 0.2 * attempt)
        self.queue.put_later(0.2 * attempt, Again(inner, attempt))
