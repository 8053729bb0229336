"""The price series behind the console's charts, recorded by the running engine."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path

from orchestrator.engine.work import PriceTick
from orchestrator.store.prices import read_series

from .harness import World, plan_toml

ALWAYS = ("2000-01-01T00:00:00+00:00", "2100-01-01T00:00:00+00:00")


async def test_fills_stop_moves_and_prices_are_recorded_off_the_commit_path(tmp_path: Path) -> None:
    plans = plan_toml("TR", "NVDA", entry_price=130.00, stop=124.00, target=150.00, trail=(1.0, 3.00))
    async with World(tmp_path, plans) as w:
        await w.state("TR", "protected")
        for price in (136.5, 138.0):
            w.gw.set_price("NVDA", price)
            await w.until(lambda p=price: w.plan("TR").confirmed_stop_price == D(str(p)) - 3, f"stop at {price - 3}")
        w.engine.enqueue(PriceTick())
        await asyncio.wait_for(w.engine.queue.join(), 10)
        series = read_series(w.rt.store.db, "NVDA", *ALWAYS)
        fills = [D(m.price) for m in series.marks if m.kind == "fill"]
        stops = [D(m.price) for m in series.marks if m.kind == "stop"]
        assert fills == [D("130")] and all(m.plan_id == "TR" for m in series.marks)
        assert stops == [D("124"), D("133.5"), D("135")]          # the staircase, in order
        assert series.bars and D(series.bars[-1].close) == D("138")
        w.engine.enqueue(PriceTick(prune=True))
        await asyncio.wait_for(w.engine.queue.join(), 10)
        assert len(read_series(w.rt.store.db, "NVDA", *ALWAYS).marks) == 4  # nothing recent is pruned
