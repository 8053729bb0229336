"""One episode from start to verdict: faults and the trader's interventions at their seeded steps
while the market moves, one plan cancelled half-way, then the trader's clean-up, the drain, a
SIGTERM, and the judge. Whatever happens (a cancel included), no child outlives the episode."""

from __future__ import annotations

import signal

from . import faults
from .actor import Actor
from .drain import drain
from .episode import Episode
from .exposure import GRACE
from .judge import judge
from .sessionplay import SessionClock
from .world import COVER_SECONDS


async def play(ep: Episode) -> None:
    await ep.setup()
    actor = Actor(ep)
    clock = SessionClock.of(ep)
    try:
        plan = faults.schedule(ep)
        actor.schedule()
        if clock is not None:
            await clock.begin()
        await ep.start_orchestrator()
        await ep.checkpoint("start")
        if clock is not None:
            await clock.activated()
        cancelled = False
        n = len(ep.scenario.steps)
        cancel_at = ep.rng.randint(n // 3, max(n // 3, n - 3))
        while ep.step < n or ep.armed is not None or plan or actor.pending():
            for due in sorted(k for k in plan if k <= ep.step):
                for kind in plan.pop(due):
                    if kind == "kill.random" and ep.kills >= ep.quota.kills:
                        ep.random_kills_left -= 1
                        continue
                    await faults.inject(ep, kind)
            if clock is None or clock.trading():
                await actor.act()
            if ep.step >= cancel_at and not cancelled:
                cancelled = True
                live = ep.live_plans()
                if live:
                    await ep.cancel_plan(ep.rng.choice(sorted(live)))
            if clock is not None:
                await clock.at_step()
            await ep.market_step()
            if clock is not None:
                await clock.tick()
            if ep.orch is not None and not ep.orch.alive():
                await ep.checkpoint("exit")
            if ep.step > n + 60:
                break
        await ep.disarm_if_due(force=True)
        took_back = await actor.cleanup()
        if clock is not None:
            await clock.before_drain()
        await drain(ep, COVER_SECONDS + (GRACE if took_back else 0))
    finally:
        try:
            await actor.stop()
        finally:
            await finish(ep)


async def finish(ep: Episode) -> None:
    try:
        await _finish(ep)
    finally:   # whatever happened (a cancel included), no child outlives the episode
        children = [ep.orch, ep.gw.child if ep.gw is not None else None,
                    ep.trader.child if ep.trader is not None else None]
        for child in children:
            if child is not None and child.alive():
                child.signal(signal.SIGKILL)


async def _finish(ep: Episode) -> None:
    try:
        if ep.orch is not None:
            if ep.orch.alive():
                ep.killed_by_us = True
                rc = await ep.orch.terminate(20)
                if rc != 0:
                    ep.violate("orchestrator_healthy", None, f"SIGTERM: exit code {rc}")
            else:
                await ep.orch.wait(10)
            ep.went_down()
        if ep.gw is not None:
            await judge(ep)
    finally:
        if ep.gw is not None:
            await ep.gw.stop()
        await ep.discord.stop()
