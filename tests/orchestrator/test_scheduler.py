"""The engine's jobs: one-shot jobs in one timer (a plan's start, expiry, flatten time) fire in
their order after the time the engine's clock leaves, a job scheduled again replaces the first, a
cancelled one never fires, and a job whose time has passed runs at once. Waits are on the queue,
bounded; that a job did *not* fire is shown by a later one that did."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from orchestrator.clock import FixedClock
from orchestrator.scheduler import Jobs

from .factories import T0


class Queue:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.arrived = asyncio.Event()

    def put(self, item: Any) -> None:
        self.items.append(item)
        self.arrived.set()

    async def until(self, count: int, timeout: float = 30.0) -> list[Any]:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.items


def _jobs() -> tuple[Jobs, Queue, FixedClock]:
    queue, clock = Queue(), FixedClock(T0)
    return Jobs(queue.put, clock), queue, clock


async def test_one_shot_jobs_fire_in_their_order_replaced_and_cancelled_ones_never() -> None:
    jobs, queue, _clock = _jobs()
    ms = timedelta(milliseconds=1)
    jobs.at("b", T0 + 60 * ms, "b")
    jobs.at("a", T0 + 20 * ms, "a")
    jobs.at("gone", T0 + 10 * ms, "gone")
    jobs.at("moved", T0 + 5 * ms, "moved too early")
    jobs.at("moved", T0 + 40 * ms, "moved")   # the same id again: replaces the first
    jobs.cancel("gone")
    assert jobs.ids() == ["a", "b", "moved"]
    jobs.start()   # scheduled before the start: they count down from now on
    try:
        assert await queue.until(3) == ["a", "moved", "b"]
        assert jobs.ids() == []
    finally:
        await jobs.shutdown()


async def test_a_time_that_has_passed_by_the_engines_clock_runs_at_once() -> None:
    jobs, queue, clock = _jobs()
    jobs.start()
    try:
        jobs.at("later", T0 + timedelta(hours=1), "later")
        clock.advance(7200)   # the engine's clock (IB's) is past it: scheduling it again runs it now
        jobs.at("later", T0 + timedelta(hours=1), "now")
        assert queue.items == ["now"] and jobs.ids() == []
    finally:
        await jobs.shutdown()


async def test_the_time_left_is_the_engines_not_the_machines() -> None:
    """A start 10 ms ahead by the engine's clock fires; one a day ahead by it does not, even
    though the machine's own clock has nothing to do with either."""
    jobs, queue, _clock = _jobs()
    jobs.start()
    try:
        jobs.at("tomorrow", T0 + timedelta(days=1), "tomorrow")
        jobs.at("soon", T0 + timedelta(milliseconds=10), "soon")
        assert await queue.until(1) == ["soon"]
        assert jobs.ids() == ["tomorrow"]
    finally:
        await jobs.shutdown()


async def test_many_jobs_replaced_again_and_again_still_fire_once_each() -> None:
    jobs, queue, _clock = _jobs()
    jobs.start()
    try:
        for round_ in range(5):
            for i in range(100):
                jobs.at(f"p{i}", T0 + timedelta(milliseconds=10 + i // 10), (i, round_))
        assert len(jobs.ids()) == 100
        got = await queue.until(100)
        assert sorted(got) == [(i, 4) for i in range(100)]
        assert jobs.ids() == []
    finally:
        await jobs.shutdown()


async def test_after_shutdown_nothing_fires() -> None:
    jobs, queue, _clock = _jobs()
    jobs.start()
    jobs.at("x", T0 + timedelta(milliseconds=5), "x")
    await jobs.shutdown()
    other, seen, _ = _jobs()
    other.start()
    try:
        other.at("y", T0 + timedelta(milliseconds=50), "y")
        await seen.until(1)   # 50 ms have passed: x, due after 5, would have fired by now
    finally:
        await other.shutdown()
    assert queue.items == []
