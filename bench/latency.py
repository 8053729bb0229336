"""P5 (activation → bracket at the gateway), P1 (fill → committed) and P6 (trailing at IB's
pacing limit), live, in one world (bench/world.py).

``plans`` limit-entry plans, each due to start in 2099 (pending, with its activation job):
``plans - 20`` on five symbols, resting far below the market, one cent apart, and 20 on QQQ, all
with a trail (trigger 0.001 R, distance 1.00).

* **baseline for P5**, before the orchestrator connects: a bare ib_async client (its own client
  id, ib_async's own throttle as in production) places ``baseline`` resting brackets on IBM one
  at a time, spaced so the throttle never holds one back. Round trip = the first placeOrder
  called → the stop child's status (PreSubmitted) received. Then it cancels them all.
* **P5**: each plan is activated in turn exactly as its activation job would (an
  ``ActivateRequest`` on the engine's queue; the start), once the pacer has room for a bracket
  (so the figure is the orchestrator's, not a queue at IB's limit). End: the gateway journal's
  ``placed`` of the bracket's transmitting stop child (the whole bracket is at IB; the gateway
  stamps it on receipt). Every plan stays live, so the last activation runs with ``plans`` live
  plans and their 3 orders each at IB.
* **P1**: then each entry is filled in turn (``set_price`` onto exactly that plan's limit).
  Start: the gateway journal's ``filled`` (stamped before the execution is written to the
  socket); end: right after the engine committed ``EntryFilled`` (``Engine.commit_hooks``). Both
  UTC wall clock, same machine. The next fill once the plan is ``protected`` and the queue idle.
* **P6**: bench/trailing.py, on the same plans (all protected by then).

Baseline for P1: a raw sqlite3 commit of the same rows (bench.common.RawCommits), same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from ib_async import IB, LimitOrder, Stock, StopOrder

import machines
from orchestrator.engine import ActivateRequest

from . import trailing
from .common import FAR_FUTURE, Figure, RawCommits, parse_ts, pct
from .world import World, plan_toml

FIVE = ("AAPL", "MSFT", "NVDA", "TSLA", "SPY")
TWENTY = 20  # plans on QQQ, for P6's small-book figure


def layout(plans: int) -> list[tuple[str, str, float]]:
    """(plan id, symbol, limit): five symbols one cent apart, highest first, then 20 on QQQ."""
    many = plans - TWENTY
    out = [(f"L{i:05d}", FIVE[i % 5], round(100.00 - (i // 5) * 0.01, 2)) for i in range(many)]
    return out + [(f"Q{j:05d}", "QQQ", round(100.00 - j * 0.01, 2)) for j in range(TWENTY)]


async def bare_brackets(w: World, n: int) -> dict[str, list[float]]:
    """Round trips (and one-way times to the gateway journal) of ``n`` brackets placed by a bare
    ib_async client."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", w.gw.port, clientId=99, timeout=10)
    (contract,) = await ib.qualifyContractsAsync(Stock("IBM", "SMART", "USD"))
    trips: list[float] = []
    sent_at: dict[str, float] = {}
    for k in range(n):
        await asyncio.sleep(3 / 45 + 0.005)  # ib_async's throttle (45/s) never holds one back
        parent = LimitOrder("BUY", 1, 50.0, tif="GTC", transmit=False, orderId=ib.client.getReqId())
        target = LimitOrder("SELL", 1, 200.0, tif="GTC", transmit=False, parentId=parent.orderId,
                            orderId=ib.client.getReqId())
        stop = StopOrder("SELL", 1, 40.0, tif="GTC", transmit=True, parentId=parent.orderId,
                         orderId=ib.client.getReqId(), orderRef=f"baseline{k}")  # not a plan's ref
        arrived = asyncio.get_running_loop().create_future()
        sent_at[f"baseline{k}"] = time.time()
        t0 = time.perf_counter()
        ib.placeOrder(contract, parent)
        ib.placeOrder(contract, target)
        trade = ib.placeOrder(contract, stop)
        trade.statusEvent += lambda t, f=arrived: f.done() or f.set_result(time.perf_counter())
        trips.append(await asyncio.wait_for(arrived, 10) - t0)
    ib.reqGlobalCancel()
    await w.poll(lambda: all(t.isDone() for t in ib.trades()), "the bare brackets cancelled", 30, 0.01)
    ib.disconnect()
    placed = {r["order_ref"]: parse_ts(r["ts"]) for r in w.new_journal_rows()
              if r["event"] == "placed" and r.get("order_ref") in sent_at}
    return {"round_trip": trips, "one_way": [placed[ref] - t for ref, t in sent_at.items()]}


async def _run(tmp: Path, plans: int, baseline: int, rounds: int) -> dict[str, Any]:
    spots = layout(plans)
    text = "".join(plan_toml(pid, sym, entry_price=px, stop=50.0, target=200.0, start_at=FAR_FUTURE.isoformat(),
                             trail=(0.001, 1.0)) for pid, sym, px in spots)
    activated_at: dict[str, float] = {}
    committed_at: dict[str, float] = {}
    async with World(tmp, text, runtime=False) as w:
        bare = await bare_brackets(w, baseline)
        await w.start_runtime()
        engine = w.engine

        def on_commit(plan: Any, event: Any, step: Any) -> None:
            if isinstance(event, machines.EntryFilled):
                committed_at.setdefault(plan.id, time.time())
        engine.commit_hooks.append(on_commit)
        await w.until(lambda: engine.reconciled.is_set() and len(engine.plans) == plans, "plans loaded")
        await w.settled()
        t0 = time.perf_counter()
        for pid, _sym, _px in spots:   # P5: one activation at a time, each with room for its bracket
            await w.pacer_free(4)
            activated_at[pid] = time.time()
            engine.enqueue(ActivateRequest(pid, now=True))
            await w.until(lambda pid=pid: engine.plans[pid].state == machines.State.SUBMITTED, f"{pid} submitted")
            await w.settled()
        p5_seconds = time.perf_counter() - t0
        p5_rows = w.new_journal_rows()
        t0 = time.perf_counter()
        for pid, sym, px in spots:     # P1: one fill at a time
            await w.control(cmd="set_price", symbol=sym, price=px)
            await w.until(lambda pid=pid: engine.plans[pid].state == machines.State.PROTECTED, f"{pid} protected")
            await w.settled()
        p1_seconds = time.perf_counter() - t0
        p1_rows = w.new_journal_rows()
        live = len(engine.live_plans())
        activate_rows = dict(engine.store.db.execute(
            "SELECT plan_id, recorded_at FROM journal WHERE event='Activate'").fetchall())
        p6 = await trailing.run(w, [pid for pid, _s, _p in spots], [pid for pid, s, _p in spots if s == "QQQ"],
                                rounds)
        p6["pacing_errors"] = w.errors.count(100)
        p6["disconnects"] = w.disconnects
        p6["pacer"] = dict(vars(w.pacer.stats))
    placed: dict[str, dict[str, float]] = {}
    for row in p5_rows:
        ref = str(row.get("order_ref") or "")
        if row["event"] == "placed":
            pid, _, leg = ref.partition(":")
            placed.setdefault(pid, {}).setdefault(leg, parse_ts(row["ts"]))
    filled = {str(r["order_ref"]).split(":")[0]: parse_ts(r["ts"]) for r in p1_rows
              if r["event"] == "filled" and str(r.get("order_ref") or "").endswith(":entry")}
    ids = [pid for pid, _, _ in spots]
    return {
        "p1": [committed_at[p] - filled[p] for p in ids],
        "p5_entry": [placed[p]["entry"] - activated_at[p] for p in ids],
        "p5_bracket": [placed[p]["stop"] - activated_at[p] for p in ids],
        "p5_from_step": [placed[p]["stop"] - parse_ts(activate_rows[p]) for p in ids],
        "bare": bare, "live_plans": live, "p1_seconds": p1_seconds, "p5_seconds": p5_seconds, "p6": p6,
    }


def run(plans: int = 1000, baseline: int = 100, rounds: int = 10) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        raw = RawCommits(Path(tmp) / "raw.db")
        raw.latencies(200)  # warm
        base = raw.latencies(2000)
        raw.close()
        out = asyncio.run(_run(Path(tmp), plans, baseline, rounds))
    ms = 1000.0
    p1, p5e, p5b = out["p1"], out["p5_entry"], out["p5_bracket"]
    trip, one_way = out["bare"]["round_trip"], out["bare"]["one_way"]
    n = f"{len(p1)} fills with {out['live_plans']} live plans"
    p5_p99 = pct(p5b, 99) * ms
    figures = [
        Figure("P1 fill -> committed, p50", pct(p1, 50) * ms, "ms", pct(base, 50) * ms, note=n),
        Figure("P1 fill -> committed, p99", pct(p1, 99) * ms, "ms", pct(base, 99) * ms,
               note=n + "; baseline: raw sqlite3 commit p99").check("<=", 5, on="ratio"),
        Figure("P5 activation -> entry placeOrder at gateway, p99", pct(p5e, 99) * ms, "ms",
               note=f"{len(p5e)} activations, up to {out['live_plans']} live plans"),
        Figure("P5 activation -> whole bracket at gateway, p50", pct(p5b, 50) * ms, "ms", pct(trip, 50) * ms),
        Figure("P5 activation -> whole bracket at gateway, p99", p5_p99, "ms", pct(trip, 99) * ms,
               note=f"baseline: bare ib_async bracket round trip p99 ({len(trip)} brackets; one way "
                    f"p99 {pct(one_way, 99) * ms:.2f} ms)").check("<=", 2, on="ratio"),
        *trailing.figures(out["p6"], p5_p99),
    ]
    return figures, out
