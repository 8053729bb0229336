"""P6: 1,000 trailing plans at a 1-second trailing interval: how late do their stops move?

One world (bench/world.py): ``plans`` long market plans on AAPL with a trail (trigger 0.001 R,
distance 1.00), all filled and protected through the gateway first. Then the price rises 0.10
every second for ``ticks`` seconds, so at every trailing tick every plan's stop moves up: one
``PriceUpdate`` step and one ``ModifyStop`` (the same IB order, modified in place) per plan.

The start is the moment the trailing job puts its ``TrailTick`` on the engine's queue (the time
the tick was due, give or take the scheduler's own wake-up); for every plan we take
* the ``PriceUpdate`` commit (``Engine.commit_hooks``) and
* the gateway journal's ``modified`` event of the plan's stop order (the new stop is at IB),
both minus the start of the tick that caused them.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import machines
from orchestrator.engine import TrailTick

from .common import Figure, parse_ts, pct
from .world import World, plan_toml


async def _run(tmp: Path, plans: int, ticks: int) -> dict[str, Any]:
    text = "".join(plan_toml(f"T{i:05d}", "AAPL", entry="market", entry_price=110.0, stop=60.0, target=300.0,
                             trail=(0.001, 1.0)) for i in range(plans))
    tick_times: list[float] = []
    commits: list[tuple[float, str]] = []
    async with World(tmp, text, trailing_interval=1.0) as w:
        engine = w.engine
        await w.until(lambda: len(engine.plans) == plans and all(
            p.state == machines.State.PROTECTED for p in engine.plans.values()), "every plan protected", 120)
        await w.settled()
        def queued(item: Any) -> None:  # the moment a trailing tick is due and queued
            if isinstance(item, TrailTick):
                tick_times.append(time.time())
        engine.queue.observers.append(queued)

        def on_commit(plan: Any, event: Any, step: Any) -> None:
            if isinstance(event, machines.PriceUpdate):
                commits.append((time.time(), plan.id))
        engine.commit_hooks.append(on_commit)
        journal_from = len(w.journal_rows())
        for k in range(1, ticks + 1):
            await w.control(cmd="set_price", symbol="AAPL", price=round(110.0 + 0.10 * k, 2))
            await asyncio.sleep(1.0)
        await asyncio.sleep(1.0)
        await w.settled()
        trailing = sum(p.state == machines.State.TRAILING for p in engine.plans.values())
    modified = [parse_ts(r["ts"]) for r in w.journal_rows()[journal_from:]
                if r["event"] == "modified" and ":stop" in str(r.get("order_ref"))]

    def lag(t: float) -> float:
        due = [s for s in tick_times if s <= t]
        return t - due[-1] if due else float("nan")
    return {"commit_lag": [lag(t) for t, _ in commits], "ib_lag": [lag(t) for t in modified],
            "ticks": len(tick_times), "trailing": trailing, "modified": len(modified)}


def run(plans: int = 1000, ticks: int = 6) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-trailing-") as tmp:
        out = asyncio.run(_run(Path(tmp), plans, ticks))
    ms = 1000.0
    ib, commit = out["ib_lag"], out["commit_lag"]
    note = f"{plans} plans, {out['ticks']} ticks, {len(ib)} stop modifications"
    figures = [
        Figure("P6 trailing tick -> stop modified at gateway, p50", pct(ib, 50) * ms, "ms", note=note),
        Figure("P6 trailing tick -> stop modified at gateway, p99", pct(ib, 99) * ms, "ms").check("<=", 100),
        Figure("P6 trailing tick -> PriceUpdate committed, p99", pct(commit, 99) * ms, "ms",
               note=f"{len(commit)} PriceUpdate steps"),
    ]
    return figures, out
