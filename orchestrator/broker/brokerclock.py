"""The engine's clock following IB's: config ``[clock] source = "broker"``.

IB answers ``reqCurrentTime`` in whole seconds. :class:`BrokerClock` is the machine's clock plus
the offset last measured, polled every ``every`` seconds while connected, so a simulated gateway
with its own clock (``--clock``, ``--speed``) drives the whole orchestrator: plans resolve, hold
and expire on the simulated day. The offset moves only when it is off by a second or more (the
answer's resolution), so IB's truncation does not make the clock jitter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

RESOLUTION = timedelta(seconds=1)


class BrokerClock:
    def __init__(self, system: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._system = system
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self._system() + self.offset

    async def sync(self, current_time: Callable[[], Awaitable[datetime]]) -> None:
        """Measure the offset once: IB's time (mid-second, as it truncates) against the machine's
        at the middle of the round trip."""
        sent = self._system()
        answer = await current_time()
        back = self._system()
        offset = answer.astimezone(UTC) + RESOLUTION / 2 - (sent + (back - sent) / 2)
        if abs(offset - self.offset) >= RESOLUTION:
            self.offset = offset

    async def follow(self, current_time: Callable[[], Awaitable[datetime]], connected: Callable[[], bool],
                     every: float = 5.0) -> None:
        """Poll while the orchestrator runs (a task of the runtime; cancelled at shutdown)."""
        while True:
            await asyncio.sleep(every)
            if not connected():
                continue
            try:
                await asyncio.wait_for(self.sync(current_time), every)
            except (TimeoutError, ConnectionError, OSError) as exc:  # the next poll tries again
                log.warning("IB's current time not read (%s); the clock keeps its offset", exc)
