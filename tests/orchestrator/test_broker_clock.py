"""The engine's clock following IB's ``reqCurrentTime`` (``[clock] source = "broker"``), on an
injected machine clock: a gateway running faster (``--speed 600``) is followed at its rate once
two polls agree on it; a single jump of IB's time is a step, never a speed; IB's whole-second
answers at the machine's own pace never move it. One-shot jobs wait the machine seconds the rate
gives, and are set again when the clock moves."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from orchestrator.broker.brokerclock import BrokerClock
from orchestrator.scheduler import Jobs

MACHINE = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
SIM = datetime(2026, 12, 2, 14, 29, tzinfo=UTC)


class Gateway:
    """IB's clock: ``SIM`` at the machine's ``MACHINE``, ``speed`` times faster, whole seconds."""

    def __init__(self, speed: float) -> None:
        self.machine = MACHINE
        self.speed = speed
        self.jump = timedelta(0)

    def system(self) -> datetime:
        return self.machine

    def sim(self) -> datetime:
        return SIM + self.jump + (self.machine - MACHINE) * self.speed

    async def current_time(self) -> datetime:
        return self.sim().replace(microsecond=0)

    def wait(self, seconds: float) -> None:
        self.machine += timedelta(seconds=seconds)


async def test_a_gateway_at_600x_is_followed_at_its_rate_after_two_agreeing_polls() -> None:
    gw = Gateway(600)
    clock = BrokerClock(gw.system)
    assert await clock.sync(gw.current_time)            # a step onto IB's time; the rate is not known yet
    assert clock.rate == 1.0 and abs(clock.now() - gw.sim()) <= timedelta(seconds=1)
    gw.wait(0.5)
    assert await clock.sync(gw.current_time) and clock.rate == 1.0   # one measure of 600x: not yet believed
    gw.wait(0.5)
    assert await clock.sync(gw.current_time)            # a second, agreeing: the rate is IB's
    assert abs(clock.rate - 600) < 600 * 0.01
    gw.wait(5)                                          # between polls the clock runs at IB's pace
    assert abs(clock.now() - gw.sim()) < timedelta(seconds=35)
    assert abs(clock.seconds_until(clock.now() + timedelta(minutes=10)) - 1.0) < 0.02


async def test_a_jump_of_ibs_time_is_a_step_not_a_speed_and_whole_seconds_do_not_move_it() -> None:
    gw = Gateway(1)
    clock = BrokerClock(gw.system)
    await clock.sync(gw.current_time)
    for _ in range(10):                                 # IB's truncated answers at the machine's pace
        gw.wait(0.37)
        assert not await clock.sync(gw.current_time)
    gw.jump = timedelta(days=1)                         # set_time: a day later
    gw.wait(0.5)
    assert await clock.sync(gw.current_time)
    gw.wait(0.5)
    assert not await clock.sync(gw.current_time)        # the next poll agrees with the step
    assert clock.rate == 1.0 and abs(clock.now() - gw.sim()) <= timedelta(seconds=1)


async def test_one_shot_jobs_wait_machine_seconds_and_are_set_again_when_the_clock_moves() -> None:
    gw = Gateway(600)
    clock = BrokerClock(gw.system)
    await clock.sync(gw.current_time)
    jobs = Jobs(lambda item: None, clock)
    clock.on_change = jobs.retime
    jobs.start()
    try:
        when = clock.now() + timedelta(minutes=10)
        jobs.at("flatten:P", when, "item")

        def wait_left() -> float:
            left = jobs.seconds_left("flatten:P")
            assert left is not None
            return left
        assert 590 < wait_left() <= 600                 # at rate 1: ten minutes of the machine's
        for _ in range(2):                              # IB's clock runs at 600x: two polls agree
            gw.wait(0.2)
            await clock.sync(gw.current_time)
        assert abs(clock.rate - 600) < 12
        assert 0.3 < wait_left() < 0.9                  # set again: 6 simulated minutes left, 0.6 s
    finally:
        await jobs.shutdown()


class OneSlot:
    """ib_async's ``reqCurrentTimeAsync``: every request's answer goes to one slot, so a request
    sent while another is in flight orphans the first one's future (it never completes)."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.slot: asyncio.Future[datetime] | None = None
        self.in_flight = 0
        self.most_in_flight = 0

    def current_time(self) -> asyncio.Future[datetime]:
        self.slot = asyncio.get_running_loop().create_future()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        asyncio.get_running_loop().call_soon(self.answer)
        return self.slot

    def answer(self) -> None:
        self.in_flight -= 1
        if self.slot is not None and not self.slot.done():
            self.slot.set_result(self.gw.sim().replace(microsecond=0))


async def test_two_measurements_at_once_are_asked_one_after_the_other_and_both_answered() -> None:
    """The poll and a start-up or test sync at the same moment (seen as a test hung for 60 s)."""
    gw = Gateway(1)
    gw.jump = timedelta(hours=3)
    clock, ib = BrokerClock(system=gw.system), OneSlot(gw)
    moved = await asyncio.wait_for(asyncio.gather(clock.sync(ib.current_time), clock.sync(ib.current_time)), 5)
    assert ib.most_in_flight == 1 and moved == [True, False]
    assert abs(clock.now() - gw.sim()) < timedelta(seconds=1)
