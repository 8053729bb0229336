"""P1 (fill → committed transition) and P5 (activation → placeOrder at the gateway), live.

One world (bench/world.py) with ``plans`` limit-entry plans on five symbols, resting far below
the market, each due to start in 2099 (pending, with its activation job):

* **P5**: each plan is activated in turn exactly as its activation job would do it (an
  ``ActivateRequest`` on the engine's queue; the time it is enqueued is the start). The end is
  the gateway journal's ``ts`` of the ``placed`` event of the plan's entry order (the gateway
  stamps it on receipt, before answering); the bracket's transmitting stop child is reported
  too. Every activated plan stays live (its entry rests), so the last activation runs with
  ``plans`` live plans and their 3 orders each at IB.
* **P1**: then each plan's entry is filled in turn: ``set_price`` on the control port moves its
  symbol onto exactly that plan's limit. The start is the gateway journal's ``ts`` of the
  ``filled`` event (stamped before the execution is written to the socket); the end is the wall
  time right after the engine committed the ``EntryFilled`` step (``Engine.commit_hooks``).
  Both are UTC wall clock on this machine. One fill at a time, the next once the plan is
  ``protected`` and the engine's queue has been empty for 2 ms.

Baseline for P1: a raw sqlite3 commit of the same rows (bench.common.RawCommits), same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import machines
from orchestrator.engine import ActivateRequest

from .common import FAR_FUTURE, Figure, RawCommits, parse_ts, pct
from .world import SYMBOLS, World, plan_toml


def _layout(plans: int) -> list[tuple[str, str, float]]:
    """(plan id, symbol, limit price): 5 symbols, one cent apart, highest limit first."""
    names = list(SYMBOLS)
    return [(f"L{i:05d}", names[i % len(names)], round(100.00 - (i // len(names)) * 0.01, 2)) for i in range(plans)]


async def _run(tmp: Path, plans: int) -> dict[str, Any]:
    layout = _layout(plans)
    text = "".join(plan_toml(pid, sym, entry_price=px, stop=50.0, target=200.0, start_at=FAR_FUTURE.isoformat())
                   for pid, sym, px in layout)
    activated_at: dict[str, float] = {}
    committed_at: dict[str, float] = {}
    async with World(tmp, text) as w:
        engine = w.engine

        def on_commit(plan: Any, event: Any, step: Any) -> None:
            if isinstance(event, machines.EntryFilled):
                committed_at.setdefault(plan.id, time.time())

        engine.commit_hooks.append(on_commit)
        await w.until(lambda: engine.reconciled.is_set() and len(engine.plans) == plans, "plans loaded")
        await w.settled()
        # P5: activations, one at a time
        t0 = time.perf_counter()
        for pid, _sym, _px in layout:
            activated_at[pid] = time.time()
            engine.enqueue(ActivateRequest(pid))
            await w.until(lambda pid=pid: engine.plans[pid].state == machines.State.SUBMITTED, f"{pid} submitted")
            await w.settled()
        p5_seconds = time.perf_counter() - t0
        # P1: fills, one at a time
        t0 = time.perf_counter()
        for pid, sym, px in layout:
            await w.control(cmd="set_price", symbol=sym, price=px)
            await w.until(lambda pid=pid: engine.plans[pid].state == machines.State.PROTECTED, f"{pid} protected")
            await w.settled()
        p1_seconds = time.perf_counter() - t0
        live = len(engine.live_plans())
        activate_rows = dict(engine.store.db.execute(
            "SELECT plan_id, recorded_at FROM journal WHERE event='Activate'").fetchall())
    journal = w.journal_rows()
    placed: dict[str, dict[str, float]] = {}
    filled: dict[str, float] = {}
    for row in journal:
        ref = str(row.get("order_ref") or "")
        if row["event"] == "placed":
            pid, _, leg = ref.partition(":")
            placed.setdefault(pid, {}).setdefault(leg, parse_ts(row["ts"]))
        elif row["event"] == "filled" and ref.endswith(":entry"):
            filled.setdefault(ref.split(":")[0], parse_ts(row["ts"]))
    ids = [pid for pid, _, _ in layout]
    return {
        "p1": [committed_at[p] - filled[p] for p in ids],
        "p5_entry": [placed[p]["entry"] - activated_at[p] for p in ids],
        "p5_bracket": [placed[p]["stop"] - activated_at[p] for p in ids],
        "p5_from_step": [placed[p]["entry"] - parse_ts(activate_rows[p]) for p in ids],
        "live_plans": live, "p1_seconds": p1_seconds, "p5_seconds": p5_seconds,
    }


def run(plans: int = 1000) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        raw = RawCommits(Path(tmp) / "raw.db")
        raw.latencies(200)  # warm
        base = raw.latencies(2000)
        raw.close()
        out = asyncio.run(_run(Path(tmp), plans))
    ms = 1000.0
    p1, p5e, p5b = out["p1"], out["p5_entry"], out["p5_bracket"]
    n = f"{len(p1)} fills with {out['live_plans']} live plans"
    figures = [
        Figure("P1 fill -> committed, p50", pct(p1, 50) * ms, "ms", pct(base, 50) * ms, note=n),
        Figure("P1 fill -> committed, p99", pct(p1, 99) * ms, "ms", pct(base, 99) * ms, note=n).check("<=", 5),
        Figure("P5 activation -> entry placeOrder at gateway, p50", pct(p5e, 50) * ms, "ms",
               note=f"{len(p5e)} activations, up to {plans} live plans"),
        Figure("P5 activation -> entry placeOrder at gateway, p99", pct(p5e, 99) * ms, "ms").check("<=", 5),
        Figure("P5 activation -> whole bracket at gateway, p99", pct(p5b, 99) * ms, "ms",
               note="to the transmitting stop child"),
    ]
    return figures, out
