"""The cost per plan: P1, P3 and P4 at 100, 1,000, 10,000 and 50,000 live plans.

* **P1 (and P5) at N**: a world (bench/world.py) whose state.db already holds N − ``active``
  live plans waiting for a start in 2099 (bench/stores.py), and whose plan file has ``active``
  limit plans on AAPL. Those are activated one at a time (P5, as in bench/latency.py) and filled
  one at a time (P1), with the probes of bench/breakdown.py installed: each sample is also split
  into its parts (the cost breakdown of docs/benchmarks.md). The probes cost a few µs a sample;
  the headline P1/P5 (bench/latency.py) run without them.
* **P3 and P4 at N**: bench/restart.py and bench/memory.py on a mixed world of N live plans.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import machines
from orchestrator.engine import ActivateRequest

from . import breakdown, memory, restart, stores
from .common import FAR_FUTURE, Figure, parse_ts, pct
from .world import World, plan_toml

SIZES = (100, 1_000, 10_000, 50_000)


async def _p1_world(tmp: Path, live: int, active: int) -> dict[str, Any]:
    spots = [(f"A{i:04d}", round(100.00 - i * 0.01, 2)) for i in range(active)]
    text = "".join(plan_toml(pid, "AAPL", entry_price=px, stop=50.0, target=200.0, start_at=FAR_FUTURE.isoformat())
                   for pid, px in spots)
    stores.pending(tmp / "state.db", live - active, symbol="MSFT")
    activated: dict[str, float] = {}
    committed: dict[str, float] = {}
    async with World(tmp, text, runtime=False) as w:
        t0 = time.perf_counter()
        await w.start_runtime()
        engine = w.engine
        await w.until(lambda: engine.reconciled.is_set() and len(engine.plans) == live, "plans loaded", 300)
        ready = time.perf_counter() - t0
        probes = breakdown.Probes(w.rt)
        engine.commit_hooks.append(lambda plan, event, step: committed.setdefault(plan.id, time.time())
                                   if isinstance(event, machines.EntryFilled) else None)
        await w.settled()
        for pid, _px in spots:
            await w.pacer_free(4)
            activated[pid] = time.time()
            engine.enqueue(ActivateRequest(pid, now=True))
            await w.until(lambda pid=pid: engine.plans[pid].state == machines.State.SUBMITTED, f"{pid} submitted")
            await w.settled()
        placed = {str(r["order_ref"]).split(":")[0]: parse_ts(r["ts"]) for r in w.new_journal_rows()
                  if r["event"] == "placed" and str(r.get("order_ref") or "").endswith(":stop")}
        for pid, px in spots:
            await w.control(cmd="set_price", symbol="AAPL", price=px)
            await w.until(lambda pid=pid: engine.plans[pid].state == machines.State.PROTECTED, f"{pid} protected")
            await w.settled()
        filled = {str(r["order_ref"]).split(":")[0]: parse_ts(r["ts"]) for r in w.new_journal_rows()
                  if r["event"] == "filled" and str(r.get("order_ref") or "").endswith(":entry")}
        live_now = len(engine.live_plans())
    ids = [pid for pid, _px in spots][1:]   # the first activation also looks the contract up
    p1 = [committed[p] - filled[p] for p in ids]
    p5 = [placed[p] - activated[p] for p in ids]
    return {"live": live_now, "ready_s": ready, "p1": p1, "p5": p5,
            "p1_parts": [s for p in ids if (s := probes.p1(p, filled[p], committed[p])) is not None],
            "p5_parts": [s for p in ids if (s := probes.p5(p, placed[p])) is not None]}


def run(sizes: tuple[int, ...] = SIZES, active: int = 40, raw_p99_ms: float | None = None, *,
        headline: int = 10_000, runs: int = 3) -> tuple[list[Figure], dict[str, Any]]:
    """The headline P3 and P4 figures (at ``headline`` live plans, medians of ``runs``), then one
    figure per size and measure (no targets: the curve), and the data for the plot."""
    headline_figures: list[Figure] = []
    figures: list[Figure] = []
    curve: dict[str, list[dict[str, Any]]] = {"p1": [], "p3": [], "p4": []}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{n}-") as tmp:
            out = asyncio.run(_p1_world(Path(tmp), n, active))
        p99 = pct(out["p1"], 99) * 1000
        curve["p1"].append({"plans": n, "p50_ms": pct(out["p1"], 50) * 1000, "p99_ms": p99,
                            "p5_p99_ms": pct(out["p5"], 99) * 1000, "ready_s": out["ready_s"],
                            "p1_parts": breakdown.summary(out["p1_parts"], breakdown.P1_PARTS),
                            "p5_parts": breakdown.summary(out["p5_parts"], breakdown.P5_PARTS)})
        figures.append(Figure(f"P1 at {n:,} live plans, p99 (curve)", p99, "ms", raw_p99_ms,
                              note=f"{len(out['p1'])} fills; P5 p99 {pct(out['p5'], 99) * 1000:.2f} ms; "
                                   f"{n - active} pending + {active} filled; probes on"))
        with tempfile.TemporaryDirectory(prefix=f"bench-restart-{n}-") as tmp:
            config = restart.build(Path(tmp), n)
            if n == headline:
                found, extra = restart.run(config, runs)
                headline_figures.extend(found)
                point = extra["restore"]
                found, extra = memory.run(config, runs)
                headline_figures.extend(found)
                rss = extra["point"]
            else:
                point = restart.restore_point(config, 1)
                rss = memory.point(config, 1)
        curve["p3"].append({"plans": n, **point})
        curve["p4"].append({"plans": n, **rss})
        figures.append(Figure(f"P3 restart to ready at {n:,} live plans (curve)", point["ready"], "s", point["raw"]))
        figures.append(Figure(f"P4 peak RSS at {n:,} live plans (curve)", rss["peak_mb"], "MB", rss["imports_mb"]))
        print(f"bench: scaling {n:,} plans done", flush=True)
    return headline_figures + figures, curve
