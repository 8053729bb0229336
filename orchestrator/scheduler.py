"""Scheduled work for the engine: jobs only enqueue work for the engine's consumer.

Every job has a stable id; scheduling an id again replaces it. Jobs are rebuilt from state.db at
every start, so nothing depends on pickled jobs. **One-shot jobs** (a plan's start, expiry and
flatten time: one or more per live plan) live in one heap behind one timer of the event loop: a
restart with 10,000 live plans schedules them in milliseconds, where one APScheduler job each
cost about 0.1 ms apiece and a signature inspection (bench/restart.py, P3). Their time is given
by the engine's clock (which may be IB's, or a test's): one whose time has passed runs at once,
the others after the time left by that clock, measured on the monotonic clock, so a job never
fires early because the machine's clock disagrees with the engine's; a late one runs however
late. **Interval jobs** pace work (trailing, reconciliation, rescans, command polls): APScheduler 3
runs them on its wall clock, missed runs coalesced, misfire grace explicit. A clock that runs at
another rate (IB's, following a simulator at ``--speed``) says how many machine seconds the time
left is (``seconds_until``), and :meth:`Jobs.retime` sets every one-shot job again when that
clock moves.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .clock import Clock


class Jobs:
    """Scheduled work for one engine. ``enqueue`` must be safe to call on the event loop."""

    def __init__(self, enqueue: Callable[[Any], None], clock: Clock) -> None:
        self._enqueue = enqueue
        self._clock = clock
        self._sched = AsyncIOScheduler(timezone=UTC)   # the interval jobs
        self._once: dict[str, tuple[int, datetime, Any]] = {}   # one-shot job id → (sequence number, time, item)
        self._heap: list[tuple[float, int, str]] = []   # (monotonic deadline, sequence number, id)
        self._seq = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None   # set while started
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")   # the deadline the timer is set for

    async def _put(self, item: Any) -> None:
        self._enqueue(item() if callable(item) else item)

    def start(self) -> None:
        """Start inside the running loop: jobs scheduled before now start counting down."""
        self._loop = asyncio.get_running_loop()
        self._sched.start()
        self._arm()

    async def shutdown(self) -> None:
        """Stop firing, let jobs already started finish (they only enqueue), then shut down:
        APScheduler cancels coroutine jobs still in flight and logs that at ERROR."""
        self._loop = None
        self._disarm()
        if self._sched.running:
            self._sched.pause()
            for _ in range(3):
                await asyncio.sleep(0)
            self._sched.shutdown(wait=False)

    def at(self, job_id: str, when: datetime, item: Any) -> None:
        """Enqueue ``item`` once at ``when`` (at once if it has passed). Runs however late."""
        left = when - self._clock.now()
        if left <= timedelta(0):
            self.cancel(job_id)
            self._enqueue(item)
            return
        seconds_until = getattr(self._clock, "seconds_until", None)   # a clock that may run at another rate
        wait = seconds_until(when) if seconds_until is not None else left.total_seconds()
        seq = next(self._seq)
        self._once[job_id] = (seq, when, item)
        heapq.heappush(self._heap, (time.monotonic() + wait, seq, job_id))
        if len(self._heap) > 2 * len(self._once) + 64:   # replaced and cancelled entries, dropped now and then
            self._heap = [e for e in self._heap if self._current(e)]
            heapq.heapify(self._heap)
        self._arm()

    def retime(self) -> None:
        """The engine's clock moved against the machine's (IB's clock stepped or changed rate):
        every one-shot job waits again for its time by the clock as it is now."""
        for job_id, (_seq, when, item) in list(self._once.items()):
            self.at(job_id, when, item)

    def every(self, job_id: str, seconds: float, item: Any, *, grace: float | None = None) -> None:
        """Enqueue ``item`` (or ``item()``) every ``seconds``; missed runs coalesce into one."""
        self._sched.add_job(self._put, IntervalTrigger(seconds=seconds, timezone=UTC), args=[item],
                            id=job_id, replace_existing=True, coalesce=True, max_instances=1,
                            misfire_grace_time=int(grace if grace is not None else max(1, seconds * 2)),
                            next_run_time=datetime.now(UTC) + timedelta(seconds=seconds))

    def cancel(self, job_id: str) -> None:
        if self._once.pop(job_id, None) is not None:
            return   # its heap entry is stale now: skipped when it comes up
        if self._sched.get_job(job_id) is not None:
            self._sched.remove_job(job_id)

    def seconds_left(self, job_id: str) -> float | None:
        """Machine seconds until the one-shot job ``job_id`` fires (None when none is waiting)."""
        found = self._once.get(job_id)
        if found is None:
            return None
        deadline = next(d for d, seq, i in self._heap if i == job_id and seq == found[0])
        return deadline - time.monotonic()

    def ids(self) -> list[str]:
        return sorted([*self._once, *(j.id for j in self._sched.get_jobs())])

    # ------------------------------------------------------------------ the one-shot timer
    def _current(self, entry: tuple[float, int, str]) -> bool:
        """The heap entry is the job's latest schedule (not replaced, not cancelled)."""
        found = self._once.get(entry[2])
        return found is not None and found[0] == entry[1]

    def _arm(self) -> None:
        """Set the timer for the earliest pending job (started only)."""
        while self._heap and not self._current(self._heap[0]):
            heapq.heappop(self._heap)
        if self._loop is None or not self._heap:
            self._disarm()
            return
        deadline = self._heap[0][0]
        if self._timer is not None and self._timer_at <= deadline:
            return   # already set for this one or an earlier one (it re-arms when it fires)
        self._disarm()
        self._timer_at = deadline
        self._timer = self._loop.call_later(max(0.0, deadline - time.monotonic()), self._fire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, float("inf")

    def _fire(self) -> None:
        """Enqueue every job whose time has come, earliest first, then set the timer again."""
        self._timer, self._timer_at = None, float("inf")
        try:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                entry = heapq.heappop(self._heap)
                if self._current(entry):
                    _seq, _when, item = self._once.pop(entry[2])
                    self._enqueue(item() if callable(item) else item)
        finally:
            self._arm()
