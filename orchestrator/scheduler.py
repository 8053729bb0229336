"""APScheduler 3 behind a thin wrapper: jobs only enqueue work for the engine's consumer.

In-memory job store; every job has a stable id and ``replace_existing``; misfire grace and
coalescing are explicit. Jobs are rebuilt from state.db at every start, so nothing depends on
pickled jobs. All times are UTC; one-shot jobs whose time has passed (by the engine's clock) run
at once; the others run after the time left by the engine's clock (which may be IB's, or a
test's), so a job never fires early because the machine's clock disagrees with the engine's. A
clock that runs at another rate (IB's, following a simulator at ``--speed``) says how many machine
seconds that is (``seconds_until``), and :meth:`Jobs.retime` sets every one-shot job again when
that clock moves.
Interval jobs pace work (trailing, reconciliation, rescans, command polls): they run on
APScheduler's wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .clock import Clock


class Jobs:
    """Scheduled work for one engine. ``enqueue`` must be safe to call on the event loop."""

    def __init__(self, enqueue: Callable[[Any], None], clock: Clock) -> None:
        self._enqueue = enqueue
        self._clock = clock
        self._sched = AsyncIOScheduler(timezone=UTC)
        self._dates: dict[str, tuple[datetime, Any]] = {}   # the one-shot jobs waiting: their time and item

    async def _put(self, item: Any) -> None:
        self._enqueue(item() if callable(item) else item)

    def start(self) -> None:
        """Start inside the running loop."""
        self._sched.start()

    async def shutdown(self) -> None:
        """Stop firing, let jobs already started finish (they only enqueue), then shut down:
        APScheduler cancels coroutine jobs still in flight and logs that at ERROR."""
        if self._sched.running:
            self._sched.pause()
            for _ in range(3):
                await asyncio.sleep(0)
            self._sched.shutdown(wait=False)

    async def _fire(self, job_id: str, item: Any) -> None:
        self._dates.pop(job_id, None)
        self._enqueue(item)

    def at(self, job_id: str, when: datetime, item: Any) -> None:
        """Enqueue ``item`` once at ``when`` (at once if it has passed). Runs however late."""
        left = when - self._clock.now()
        if left <= timedelta(0):
            self.cancel(job_id)
            self._enqueue(item)
            return
        seconds_until = getattr(self._clock, "seconds_until", None)   # a clock that may run at another rate
        wait = seconds_until(when) if seconds_until is not None else left.total_seconds()
        self._dates[job_id] = (when, item)
        self._sched.add_job(self._fire, DateTrigger(run_date=datetime.now(UTC) + timedelta(seconds=wait),
                                                    timezone=UTC), args=[job_id, item], id=job_id,
                            replace_existing=True, misfire_grace_time=None, coalesce=True, max_instances=1)

    def retime(self) -> None:
        """The engine's clock moved against the machine's (IB's clock stepped or changed rate):
        every one-shot job waits again for its time by the clock as it is now."""
        if self._sched.running:
            for job_id, (when, item) in list(self._dates.items()):
                self.at(job_id, when, item)

    def every(self, job_id: str, seconds: float, item: Any, *, grace: float | None = None) -> None:
        """Enqueue ``item`` (or ``item()``) every ``seconds``; missed runs coalesce into one."""
        self._sched.add_job(self._put, IntervalTrigger(seconds=seconds, timezone=UTC), args=[item],
                            id=job_id, replace_existing=True, coalesce=True, max_instances=1,
                            misfire_grace_time=int(grace if grace is not None else max(1, seconds * 2)),
                            next_run_time=datetime.now(UTC) + timedelta(seconds=seconds))

    def cancel(self, job_id: str) -> None:
        self._dates.pop(job_id, None)
        if self._sched.get_job(job_id) is not None:
            self._sched.remove_job(job_id)

    def ids(self) -> list[str]:
        return sorted(j.id for j in self._sched.get_jobs())
