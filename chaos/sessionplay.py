"""Session mode's clock in an episode (``chaos/sessiontime.py`` has the timeline): the gateway's
session edges acted on at every market step, the close waited for, the night compressed, the
maintenance window crossed with the disconnect it brings, and the open waited for.

With manual ticks the gateway acts on its session edges (DAY orders end at a close, held orders
go out at an open) when its time is moved: ``advance_time 0`` at every market step and in every
wait here. Each answer says the gateway's time and whether its market is open; every session
event counted (``tally.sessions``) is one the gateway reported, never one assumed from the plan:
a close is an answer saying closed after one saying open, a gap an open whose prices differ from
the prices at the close, a window crossed a time seen inside it and then one past its end.

The night (D1's close to D2 09:05 New York) is a jump of the gateway's clock with the orchestrator
stopped (SIGTERM, as a service manager does), then started again: the engine's clock follows IB's
by polling every 5 s, and a running engine would spend those seconds on the wrong day. No plan
time falls in the night, so nothing of the engine's is skipped by it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import sessionchecks
from .episode import Episode
from .sessiontime import Timeline
from .world import POLL

SLACK = 20.0                  # real seconds a wait for the clock may take beyond its arithmetic
ACTIVATION_WAIT = 4.0         # real seconds D1's plans are given to activate before the market moves
DRAIN_ROOM = timedelta(minutes=30)   # simulated time the drain needs before a close


class SessionClock:
    def __init__(self, ep: Episode, timeline: Timeline, close_step: int, night_step: int) -> None:
        self.ep, self.timeline = ep, timeline
        self.close_step, self.night_step = close_step, night_step
        self.now = timeline.start
        self.open: bool | None = None
        self.close_prices: dict[str, float] = {}
        self.inside_window = False
        self.done: set[str] = set()   # the moments at a step passed (faults may step the market on meanwhile)

    @classmethod
    def of(cls, ep: Episode) -> SessionClock | None:
        """The episode's session clock; None outside session mode."""
        if ep.timeline is None or ep.shape is None:
            return None
        return cls(ep, ep.timeline, ep.shape.close_step, ep.shape.night_step)

    @property
    def sessions(self) -> Any:
        return self.ep.tally.sessions

    async def begin(self) -> None:
        """D1's clock starts as the first orchestrator does (not while the gateway was starting)."""
        assert self.ep.gw is not None
        await self.ep.gw("set_time", at=self.timeline.start.isoformat())
        await self.tick()

    async def activated(self) -> None:
        """Before the market moves, D1's plans are activated (bounded): the market's path must meet
        their entries before the close, whatever the start cost on a loaded machine."""
        day1 = {p for p, k in (self.ep.shape.kind.items() if self.ep.shape else ()) if k in ("hold", "flatten")}

        async def out() -> bool:
            await self.tick()
            rows = self.ep.plans_now()
            return all(p in rows and rows[p]["state"] != "pending" for p in day1)
        if not await self.ep.bounded(out, ACTIVATION_WAIT):
            self.ep.log(f"D1's plans not all activated {ACTIVATION_WAIT:.0f} s after the start; the market moves on")

    def trading(self) -> bool:
        """Whether the trader acts now: only while the market is open, on D1 before the close and
        after the night (their market orders would wait for the open)."""
        return self.open is True and ((self.ep.step < self.close_step and "close" not in self.done)
                                      or "night" in self.done)

    async def tick(self) -> None:
        """Move the gateway's edges on to its time, and note what it says."""
        assert self.ep.gw is not None
        reply = await self.ep.gw("advance_time", seconds=0)
        now, is_open = datetime.fromisoformat(reply["time"]), bool(reply["open"])
        self.now = now
        if self.timeline.in_window(now):
            self.inside_window = True
        elif self.inside_window and now > self.timeline.window[1]:
            self.inside_window = False
            self.sessions["maintenance windows crossed"] += 1
        if self.open is not None and is_open != self.open:
            state = await self.ep.gw.state()
            prices = {s: state["prices"][s] for s in self.ep.symbol_of.values() if s in state["prices"]}
            if not is_open:
                self.sessions["closes"] += 1
                held = [p for p in state["positions"] if p["symbol"] in prices and round(p["quantity"])]
                self.sessions["positions held through a close"] += len(held)
                self.close_prices = prices
                self.ep.log(f"the market closed ({now:%Y-%m-%d %H:%M} UTC)")
                self.ep.tally.checks["day_orders_end_at_close"] += 1   # right after the close, from the gateway
                self.ep.found(sessionchecks.day_orders_end_at_close(await self.ep.gw.journal(), state["orders"],
                                                                    self.timeline, now))
            else:
                self.sessions["opens"] += 1
                moved = [s for s, p in prices.items() if s in self.close_prices and p != self.close_prices[s]]
                if moved:
                    self.sessions["opens with a gap"] += 1
                self.ep.log(f"the market opened ({now:%Y-%m-%d %H:%M} UTC), {len(moved)} symbols gapped")
        self.open = is_open

    async def until(self, done: Callable[[], bool], target: datetime, why: str) -> bool:
        """Tick until ``done()``, for as long as the clock needs to reach ``target`` (and SLACK)."""
        assert self.ep.gw is not None
        await self.tick()
        deadline = time.monotonic() + max(0.0, (target - self.now).total_seconds()) / self.timeline.speed + SLACK
        while not done():
            if time.monotonic() > deadline:
                self.ep.violate("orchestrator_healthy", None, f"session clock: {why} did not come "
                                f"(gateway time {self.now:%Y-%m-%d %H:%M:%S} UTC)")
                return False
            await self.ep.ensure_running()
            await asyncio.sleep(POLL)
            await self.tick()
        return True

    async def at_step(self) -> None:
        """The session's moments that come at a step of the path: the close, the night."""
        if self.ep.step >= self.close_step and "close" not in self.done:
            self.done.add("close")
            await self.until(lambda: self.open is False, self.timeline.close1, "the close")
        if self.ep.step >= self.night_step and "night" not in self.done:
            self.done.add("night")
            await self.night()

    async def night(self) -> None:
        ep, tl = self.ep, self.timeline
        assert ep.gw is not None
        ep.log(f"the night: orchestrator stopped, the clock set to {tl.night_to:%Y-%m-%d %H:%M} UTC")
        await ep.stop_orchestrator()
        await ep.gw("set_time", at=tl.night_to.isoformat())
        await self.tick()
        await ep.start_orchestrator()
        await ep.checkpoint("the night")
        inside = tl.window[0] + (tl.window[1] - tl.window[0]) / 3
        if await self.until(lambda: self.now >= inside, inside, "the maintenance window"):
            ep.log("maintenance window: IB drops every connection")
            ep.went_down()
            await ep.gw("drop_connections")
            self.sessions["disconnects in a maintenance window"] += 1
            await ep.checkpoint("the maintenance disconnect")
        await self.until(lambda: self.open is True, tl.open2, "the open")

    async def before_drain(self) -> None:
        """The drain needs an open market (stops trigger, a cancel's flatten fills): a session too
        near its close is left for the next one, over a night compressed as above."""
        ep = self.ep
        assert ep.gw is not None
        await self.tick()
        close = self.timeline.close_after(self.now)
        if self.open and close - self.now > DRAIN_ROOM:
            return
        target = self.timeline.open_after(self.now) + timedelta(minutes=1)
        ep.log(f"drain: the session ends too soon; the clock set to {target:%Y-%m-%d %H:%M} UTC")
        await ep.stop_orchestrator()
        was_open = self.open
        await ep.gw("set_time", at=target.isoformat())
        await self.tick()
        if was_open:   # the jump closed the session and opened the next one: the gateway acted on both
            self.sessions["sessions ended inside a jump (before the drain)"] += 1
        await ep.start_orchestrator()
        await ep.checkpoint("the next session")
