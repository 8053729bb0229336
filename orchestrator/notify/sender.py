"""The outbox sender: delivers notifications in order, at least once, never blocking trading.

It runs as its own task and reads the outbox from state.db; the trading path only ever writes
rows. A deliverer is ``async deliver(payload) -> None`` that returns when the message was
delivered or raises:

* :class:`Retry` — try again later: after ``after`` seconds, or (``after=None``) on the
  backoff schedule of :class:`RetryPolicy`. ``count_attempt=False`` (rate limits) does not
  bring the message closer to the dead-letter; ``pause_all=True`` stops *all* sending until
  the wait is over (the channel is rate limited or down), otherwise only the message's plan
  waits.
* :class:`Dead` — never retry this message (e.g. Discord said 400): it is dead-lettered.
* :class:`Disabled` — the channel is unusable (webhook deleted, token wrong): nothing is sent
  any more, every message stays pending for when it is fixed (a restart with a new URL).

A deliverer may expose ``not_before`` (an aware datetime or None): no delivery is attempted
before it (Discord's ``X-RateLimit-Remaining: 0`` + ``Reset-After``).

Order: messages go out in outbox order; a plan whose message waits blocks that plan's later
messages, so each plan's messages arrive in the order its transitions happened. Time comes
from the injected ``Clock``, waiting from the injected ``sleep``: tests drive both.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TextIO

from tenacity import RetryCallState, wait_exponential_jitter

from ..clock import Clock
from ..store import Store
from ..store.outbox import OutboxItem
from .format import console_text

log = logging.getLogger(__name__)


class Retry(Exception):
    """Deliver this message later (see the module docstring)."""

    def __init__(self, reason: str, after: float | None = None, *, count_attempt: bool = True,
                 pause_all: bool = False) -> None:
        super().__init__(reason)
        self.after = after
        self.count_attempt = count_attempt
        self.pause_all = pause_all


class Dead(Exception):
    """Never retry this message (e.g. Discord said 400)."""


class Disabled(Exception):
    """The channel is unusable until the configuration is fixed; keep every message pending."""


Deliver = Callable[[dict[str, Any]], Awaitable[None]]
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for failed attempts (5xx, timeouts, connection errors), then the dead-letter.

    Attempt n waits ``min(first * 2**(n-1) + U(0, jitter), cap)`` seconds (tenacity's
    ``wait_exponential_jitter``): 1, 2, 4, 8, 16, 32, 60, 60, 60 s (+ up to 1 s) by default;
    the 10th failed attempt dead-letters the message (about 4 minutes of failures).
    """

    max_attempts: int = 10
    first: float = 1.0
    cap: float = 60.0
    jitter: float = 1.0

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = max(1, attempt)
        return float(wait_exponential_jitter(multiplier=self.first, max=self.cap, jitter=self.jitter)(state))


class ConsoleDeliver:
    """With no webhook configured the messages go to the console."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def __call__(self, payload: dict[str, Any]) -> None:
        self.out.write(console_text(payload) + "\n")
        self.out.flush()

    def __repr__(self) -> str:
        return "ConsoleDeliver()"


class OutboxSender:
    def __init__(self, store: Store, clock: Clock, deliver: Deliver, *, policy: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.store, self.clock, self.deliver = store, clock, deliver
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.wake = asyncio.Event()
        self.disabled: str | None = None          # why the channel is off (401/403/404), until restart
        self.paused_until: datetime | None = None  # no delivery before this (429, 5xx, timeouts)
        self._lock = asyncio.Lock()
        self._restored = False

    # ------------------------------------------------------------------ state
    def resume_at(self) -> datetime | None:
        """The earliest time the next delivery may be attempted (None: now)."""
        gates = [t for t in (self.paused_until, getattr(self.deliver, "not_before", None)) if t is not None]
        return max(gates) if gates else None

    def resume(self) -> None:
        """Turn a disabled channel back on (after its configuration was fixed)."""
        self.disabled = None
        enable = getattr(self.deliver, "enable", None)
        if callable(enable):
            enable()
        self.wake.set()

    def clock_moved(self) -> None:
        """The clock stepped (IB's time, followed): a wait measured on the old time means nothing on
        the new one (a retry set on the machine's December is months away on a simulator's April),
        so every pending message is due now; a wait still owed is learned again from Discord."""
        self.paused_until = None
        self._restored = True   # the rows' waits are the old clock's too
        self.store.outbox_due(self.clock.now())
        moved = getattr(self.deliver, "clock_moved", None)
        if callable(moved):
            moved()
        self.wake.set()

    def poke(self) -> None:
        """New rows were written: look at the outbox now rather than at the next poll."""
        self.wake.set()

    async def aclose(self) -> None:
        close = getattr(self.deliver, "aclose", None)
        if callable(close):
            await close()

    # ------------------------------------------------------------------ delivery
    async def drain(self, limit: int = 200) -> int:
        """Deliver what is due now. Returns how many were delivered.

        Drains never overlap (shutdown's flush may run while the task is mid-drain): a message is
        never sent twice by one process unless Discord's reply to the first send was lost.
        """
        async with self._lock:
            return await self._drain(limit)

    def _paused(self, now: datetime) -> bool:
        resume = self.resume_at()
        return resume is not None and now < resume

    async def _drain(self, limit: int) -> int:
        if self.disabled is not None:
            return 0
        items = self.store.pending_outbox(limit)
        if not self._restored:
            # After a restart: a wait that was pending (429 retry_after, backoff) still holds.
            self._restored = True
            now = self.clock.now()
            waits = [i.next_attempt_at for i in items if i.next_attempt_at is not None and i.next_attempt_at > now]
            if waits:
                self.paused_until = max(waits)
        sent = 0
        blocked: set[str | None] = set()  # per-plan order: a plan whose message waits blocks its later ones
        for item in items:
            now = self.clock.now()
            if self._paused(now):
                break
            if item.plan_id in blocked:
                continue
            if item.next_attempt_at is not None and item.next_attempt_at > now:
                blocked.add(item.plan_id)
                continue
            try:
                await self.deliver(item.payload)
            except Retry as exc:
                self._retry(item, exc)
                if exc.pause_all:
                    break
                blocked.add(item.plan_id)
                continue
            except Dead as exc:
                self._dead(item, str(exc))
                continue
            except Disabled as exc:
                self.disabled = str(exc)
                self.store.mark_retry(item.id, error=str(exc), next_attempt_at=self.clock.now(), count_attempt=False)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in formatting or delivery: retried, then dead-lettered
                log.warning("notification %s: delivery raised %s", item.dedupe_key, type(exc).__name__,
                            exc_info=True)
                self._retry(item, Retry(f"internal error: {type(exc).__name__}: {exc}"[:500]))
                blocked.add(item.plan_id)
                continue
            self.store.mark_sent(item.id, at=self.clock.now())
            sent += 1
        return sent

    def _retry(self, item: OutboxItem, exc: Retry) -> None:
        now = self.clock.now()
        reason = str(exc)
        attempt = item.attempts + 1
        if exc.count_attempt and attempt >= self.policy.max_attempts:
            self._dead(item, f"gave up after {attempt} attempts: {reason}")
            return
        after = exc.after if exc.after is not None else self.policy.wait(attempt)
        if not math.isfinite(after) or after < 0:
            after = 0.0
        when = now + timedelta(seconds=after)
        self.store.mark_retry(item.id, error=reason, next_attempt_at=when, count_attempt=exc.count_attempt)
        if exc.pause_all:
            self.paused_until = max(when, self.paused_until) if self.paused_until else when
        log.info("notification %s not delivered (%s); next attempt in %.1f s", item.dedupe_key, reason, after)

    def _dead(self, item: OutboxItem, reason: str) -> None:
        self.store.mark_dead(item.id, error=reason, at=self.clock.now())
        log.error("notification %s dead-lettered: %s", item.dedupe_key, reason)

    # ------------------------------------------------------------------ the task
    def _delay(self, interval: float) -> float:
        resume = self.resume_at()
        if resume is None or self.disabled is not None:
            return interval
        return max(0.0, min(interval, (resume - self.clock.now()).total_seconds()))

    async def run(self, interval: float = 0.5) -> None:
        """Deliver until cancelled: poll every ``interval`` s, or sooner when a wait ends or on ``poke``."""
        while True:
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let delivery problems reach trading; never notify about them
                log.exception("outbox delivery failed; will retry")
            await self._nap(self._delay(interval))

    async def _nap(self, seconds: float) -> None:
        if self.wake.is_set():
            self.wake.clear()
            await asyncio.sleep(0)
            return
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waker = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, waker):
                t.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)
        self.wake.clear()
