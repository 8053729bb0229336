"""The outbox sender: delivers notifications in order, at least once, never blocking trading.

It runs as its own task and reads the outbox from state.db; the trading path only ever writes
rows. ``deliver(payload) -> None`` raises ``Retry`` (try again later) or ``Dead`` (never retry).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any, Awaitable, Callable, TextIO

from ..clock import Clock
from ..store import Store
from .format import console_text

log = logging.getLogger(__name__)


class Retry(Exception):
    def __init__(self, reason: str, after: float) -> None:
        super().__init__(reason)
        self.after = after


class Dead(Exception):
    """Never retry this message (e.g. Discord said 400)."""


Deliver = Callable[[dict[str, Any]], Awaitable[None]]


class ConsoleDeliver:
    """With no webhook configured the messages go to the console."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def __call__(self, payload: dict[str, Any]) -> None:
        self.out.write(console_text(payload) + "\n")
        self.out.flush()


class OutboxSender:
    def __init__(self, store: Store, clock: Clock, deliver: Deliver) -> None:
        self.store, self.clock, self.deliver = store, clock, deliver
        self.wake = asyncio.Event()

    async def drain(self, limit: int = 200) -> int:
        """Deliver what is due now. Returns how many were delivered."""
        sent = 0
        blocked: set[str | None] = set()  # per-plan order: a plan whose message waits blocks its later ones
        now = self.clock.now()
        for item in self.store.pending_outbox(limit):
            if item.plan_id in blocked:
                continue
            if item.next_attempt_at is not None and item.next_attempt_at > now:
                blocked.add(item.plan_id)
                continue
            try:
                await self.deliver(item.payload)
            except Retry as exc:
                blocked.add(item.plan_id)
                self.store.mark_retry(item.id, error=str(exc),
                                      next_attempt_at=self.clock.now() + timedelta(seconds=exc.after))
                continue
            except Dead as exc:
                self.store.mark_dead(item.id, error=str(exc), at=self.clock.now())
                log.error("notification %s dead-lettered: %s", item.dedupe_key, exc)
                continue
            self.store.mark_sent(item.id, at=self.clock.now())
            sent += 1
        return sent

    async def run(self, interval: float = 0.5) -> None:
        while True:
            try:
                await self.drain()
            except Exception:  # never let delivery problems reach trading; never notify about them
                log.exception("outbox delivery failed; will retry")
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), interval)
            except asyncio.TimeoutError:
                pass
