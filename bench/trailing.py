"""P6: trailing at IB's pacing limit (on the world of bench/latency.py, every plan protected).

* **all at once**: every symbol jumps to 110.00, so every plan's wanted stop moves (to 109.00):
  one modification per plan, far more than IB's 50 messages/s allow at once. Start: the first
  ``TrailTick`` queued once ib_async has the new prices (the bench queues one as the trailing
  job would; the job's own, if it comes first, counts). End: the gateway journal's last
  ``modified`` of a stop to its wanted price, once every plan's stop is confirmed there (and the
  gateway's book shows every stop at 109.00). The floor is what the pacer allows: the number of
  modifications sent ÷ its rate (45/s). Error 100 (pacing) and dropped connections are counted
  over the whole world.
* **a small book**: only QQQ moves (+0.10 a round), so its 20 plans' stops move; each round
  starts when the pacer has room for them (every stop move leaves at once) and measures, per
  stop, the tick → the gateway journal's ``modified``. Its target is relative to P5's p99.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import machines
from orchestrator.engine import TrailTick

from .common import Figure, parse_ts, pct
from .world import World


class Ticks:
    """When trailing ticks are put on the engine's queue."""

    def __init__(self, w: World) -> None:
        self.at: list[float] = []
        w.engine.queue.observers.append(lambda item: self.at.append(time.time()) if isinstance(item, TrailTick)
                                        else None)

    def first_after(self, t: float) -> float:
        return next(s for s in self.at if s >= t)


async def _moved(w: World, symbols: list[str], price: float, ticks: Ticks) -> float:
    """Move ``symbols`` to ``price``; once ib_async has it, queue a tick. Returns the tick's time."""
    for s in symbols:
        await w.control(cmd="set_price", symbol=s, price=price)
    broker = w.rt.broker  # type: ignore[union-attr]
    want = Decimal(f"{price:.2f}")
    await w.poll(lambda: all(broker.last_price(s) == want for s in symbols), "the new prices at ib_async")
    seen = time.time()
    w.engine.enqueue(TrailTick())
    return ticks.first_after(seen)


def _stop_moves(rows: list[dict[str, Any]], price: float) -> list[tuple[str, float]]:
    return [(str(r["order_ref"]).split(":")[0], parse_ts(r["ts"])) for r in rows
            if r["event"] == "modified" and str(r.get("order_ref") or "").endswith(":stop")
            and abs(float(r.get("aux_price") or 0) - price) < 1e-9]


async def all_at_once(w: World, plan_ids: list[str], ticks: Ticks) -> dict[str, Any]:
    engine = w.engine
    await w.settled()
    rate = w.pacer.current_rate()   # what the windows sustain (40/s), not the 45 that may leave at once
    await w.poll(lambda: w.pacer.backlog() == 0 and w.pacer.room() >= rate, "an idle pacer", every=0.01)
    w.new_journal_rows()
    symbols = sorted({engine.plans[p].spec.symbol for p in plan_ids})
    start = await _moved(w, symbols, 110.0, ticks)
    wanted = Decimal("109.00")
    await w.until(lambda: all(engine.plans[p].confirmed_stop_price == wanted for p in plan_ids),
                  "every stop confirmed at 109.00", 180)
    rows = w.new_journal_rows()
    moves = _stop_moves(rows, 109.0)
    all_mods = [r for r in rows if r["event"] == "modified"]
    book = (await w.control(cmd="state"))["state"]["orders"]
    stops = {str(o["order_ref"]).split(":")[0]: o["aux_price"] for o in book
             if str(o.get("order_ref") or "").endswith(":stop") and o["status"] not in ("Cancelled", "Filled")}
    return {"seconds": max(t for _p, t in moves) - start, "modifications": len(all_mods),
            "at_wanted": sum(1 for p in plan_ids if stops.get(p) == 109.0), "plans": len(plan_ids), "rate": rate,
            "first": min(t for _p, t in moves) - start}


async def small_book(w: World, plan_ids: list[str], ticks: Ticks, rounds: int) -> list[float]:
    engine = w.engine
    samples: list[float] = []
    price = 110.0
    for _ in range(rounds):
        await w.settled()
        await w.pacer_free(len(plan_ids) + 4)
        w.new_journal_rows()
        price = round(price + 0.10, 2)
        start = await _moved(w, ["QQQ"], price, ticks)
        wanted = Decimal(f"{price - 1.0:.2f}")
        await w.until(lambda wanted=wanted: all(engine.plans[p].confirmed_stop_price == wanted for p in plan_ids),
                      f"QQQ stops confirmed at {wanted}")
        samples.extend(t - start for _p, t in _stop_moves(w.new_journal_rows(), float(wanted)))
    return samples


async def run(w: World, plan_ids: list[str], small: list[str], rounds: int) -> dict[str, Any]:
    assert all(w.engine.plans[p].state == machines.State.PROTECTED for p in plan_ids)
    ticks = Ticks(w)
    burst = await all_at_once(w, plan_ids, ticks)
    return {"burst": burst, "small": await small_book(w, small, ticks, rounds)}


def figures(out: dict[str, Any], p5_p99_ms: float) -> list[Figure]:
    b = out["burst"]
    floor = b["modifications"] / b["rate"]
    small = out["small"]
    return [
        Figure(f"P6 {b['plans']:,} stops moving at once -> all at wanted price at gateway", b["seconds"], "s", floor,
               note=f"{b['modifications']} modifications; floor = modifications / {b['rate']}/s; "
                    f"{b['at_wanted']} of {b['plans']} stops at 109.00 in the gateway's book; first after "
                    f"{b['first'] * 1000:.0f} ms").check("<=", 1.1, on="ratio"),
        Figure("P6 pacing errors (error 100) + dropped connections", out["pacing_errors"] + out["disconnects"], "",
               note=f"error 100: {out['pacing_errors']}, dropped: {out['disconnects']}; pacer: "
                    f"{out['pacer']['messages']} messages, {out['pacer']['coalesced']} coalesced, "
                    f"longest wait {out['pacer']['max_wait']:.1f} s").check("<=", 0),
        Figure("P6 20 trailing plans: tick -> stop modified at gateway, p99", pct(small, 99) * 1000, "ms", p5_p99_ms,
               note=f"{len(small)} stop moves; baseline: P5's p99").check("<=", 2, on="ratio"),
    ]
