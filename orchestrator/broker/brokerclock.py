"""The engine's clock following IB's: config ``[clock] source = "broker"``.

IB answers ``reqCurrentTime`` in whole seconds. :class:`BrokerClock` is a line through the last
measured point, ``broker = at + (machine − since) × rate``, polled every ``every`` seconds while
connected, so a simulated gateway with its own clock (``--clock``, ``--speed``) drives the whole
orchestrator: plans resolve, hold and expire on the simulated day. A poll that lands within a
second of the line (the answer's resolution) changes nothing, so IB's truncation does not make
the clock jitter. One that does not steps the line onto the new point; the rate changes only when
two polls in a row measure the same rate (a gateway running ``--speed 600``), so a single jump of
the broker's time (``set_time``) is a step, never a speed. While the line moves, the next poll
comes sooner (``settle``). ``on_change`` is told every time the line moves (the scheduler re-times
its one-shot jobs on it). Measurements never overlap: ib_async answers every ``reqCurrentTime``
into one slot, so a second request in flight would leave the first waiting for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

RESOLUTION = timedelta(seconds=1)
SAME_RATE = 0.02    # two rates within 2 % (plus the answers' resolution) are the same


class BrokerClock:
    def __init__(self, system: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._system = system
        self.rate = 1.0   # broker seconds per machine second
        self._since = system()
        self._at = self._since
        self._last: tuple[datetime, datetime] | None = None    # the last poll: (machine, broker)
        self._measured: float | None = None   # the rate the last poll measured, if it moved the line
        self.on_change: Callable[[], None] | None = None
        self._asking = asyncio.Lock()

    @property
    def offset(self) -> timedelta:
        """How far IB's time is ahead of the machine's now."""
        return self.now() - self._system()

    def _at_machine(self, machine: datetime) -> datetime:
        return self._at + (machine - self._since) * self.rate

    def now(self) -> datetime:
        return self._at_machine(self._system())

    def seconds_until(self, when: datetime) -> float:
        """Machine seconds until the broker's clock shows ``when`` (the line's rate applied)."""
        return (when - self.now()).total_seconds() / self.rate

    async def sync(self, current_time: Callable[[], Awaitable[datetime]]) -> bool:
        """Measure IB's time once (mid-second, as it truncates) against the machine's at the middle
        of the round trip; True when the line moved."""
        async with self._asking:   # one question at a time: ib_async keeps one answer slot for all
            sent = self._system()      # who ask, so a second asker's request orphans the first's
            answer = await current_time()
            back = self._system()
        machine, broker = sent + (back - sent) / 2, answer.astimezone(UTC) + RESOLUTION / 2
        last, self._last = self._last, (machine, broker)
        if abs(broker - self._at_machine(machine)) < RESOLUTION:
            self._measured = None
            return False
        measured = previous = None
        slack = 0.0
        if last is not None and machine > last[0]:
            span = machine - last[0]
            measured = (broker - last[1]) / span
            previous, slack = self._measured, SAME_RATE * (self._measured or 0) + 2 * RESOLUTION / span
        self._measured = measured
        if measured is not None and previous is not None and measured > 0 and abs(measured - previous) <= slack:
            if abs(measured - self.rate) > SAME_RATE * self.rate:
                log.info("IB's clock runs at %.4g× the machine's", measured)
            self.rate = measured
        self._since, self._at = machine, broker
        if self.on_change is not None:
            self.on_change()
        return True

    async def follow(self, current_time: Callable[[], Awaitable[datetime]], connected: Callable[[], bool],
                     every: float = 5.0, settle: float = 0.5) -> None:
        """Poll while the orchestrator runs (a task of the runtime; cancelled at shutdown)."""
        wait = settle   # the start's sync may have moved the line: look again soon
        while True:
            await asyncio.sleep(wait)
            wait = every
            if not connected():
                continue
            try:
                if await asyncio.wait_for(self.sync(current_time), every):
                    wait = settle
            except (TimeoutError, ConnectionError, OSError) as exc:  # the next poll tries again
                log.warning("IB's current time not read (%s); the clock keeps its offset", exc)
