"""P2: persisted transitions per second, the engine's own write path, over many plans.

Every event goes through ``orchestrator.engine.step.apply_event`` with the real ``Store`` (a real
SQLite file) and the real ``PlanMachine``, exactly as ``Engine.apply`` does it: snapshot, step,
one transaction (plan row, journal row, fill, effect and outbox rows), ``version`` bump. Each
plan lives a whole trailing lifecycle (12 transitions: activate, accept, two partial fills,
protection, five price updates of which three move the stop, a confirmed stop, the stop-out);
the plans are interleaved (step k of every plan, then step k+1), so the writes spread over
``plans`` rows as in a busy engine.

Baseline: raw sqlite3 commits of the same rows (plan UPDATE + journal INSERT + outbox INSERT,
bench.common.RawCommits), same pragmas, same schema, in the same run. Runs alternate
(baseline, store, baseline, store, …) and the medians are reported.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import machines
from machines import PlanMachine
from orchestrator.engine.step import apply_event
from orchestrator.store import Store

from .common import Figure, RawCommits, median, spec

T0 = datetime(2026, 11, 27, 14, 35, tzinfo=UTC)


def lifecycle(i: int) -> list[Any]:
    """A long trailing plan from activation to its trailing stop-out (entry 100, stop 90, R = 10)."""
    def at(s: float) -> datetime:
        return T0 + timedelta(seconds=s)
    return [
        machines.Activate(at(1), D(100_000), D(200_000), D(0)),
        machines.EntryAccepted(at(2), 10 + i, 1000 + i),
        machines.EntryFilled(at(3), f"e{i}.1", 40, D("100.00")),
        machines.EntryFilled(at(4), f"e{i}.2", 60, D("100.00")),
        machines.ProtectionStatus(at(5), 100, 100, D("90.00"), D("130.00")),
        machines.PriceUpdate(at(6), D("105.00")),
        machines.PriceUpdate(at(7), D("111.00")),
        machines.PriceUpdate(at(8), D("112.00")),
        machines.PriceUpdate(at(9), D("111.50")),
        machines.PriceUpdate(at(10), D("113.00")),
        machines.StopModified(at(11), D("111.00")),
        machines.ExitFilled(at(12), f"x{i}", machines.Leg.STOP, 100, D("111.00")),
    ]


def store_rate(path: Path, plans: int) -> tuple[float, int]:
    """Transitions per second through apply_event for ``plans`` interleaved lifecycles."""
    store = Store(f"sqlite:///{path}")
    machine = PlanMachine()
    items = []
    for i in range(plans):
        plan = store.insert_plan(spec(f"T{i:05d}", entry="100.00", stop="90.00", target="130.00",
                                      trail=("1.0", "1.00")), at=T0)
        machine.bind(plan)
        items.append((plan, lifecycle(i)))
    steps = len(items[0][1])
    now = T0
    t0 = time.perf_counter()
    for k in range(steps):
        for plan, events in items:
            apply_event(machine, store, plan, events[k], now=now)
    elapsed = time.perf_counter() - t0
    assert all(plan.state == machines.State.CLOSED for plan, _ in items)
    store.close()
    return plans * steps / elapsed, plans * steps


def run(plans: int = 1000, rounds: int = 3) -> tuple[list[Figure], dict[str, Any]]:
    store_rates, raw_rates = [], []
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        for r in range(rounds):
            raw = RawCommits(Path(tmp) / f"raw{r}.db", plans=plans)
            raw.per_second(0.3)  # warm
            raw_rates.append(raw.per_second(1.5))
            raw.close()
            rate, n = store_rate(Path(tmp) / f"store{r}.db", plans)
            store_rates.append(rate)
    figure = Figure("P2 persisted transitions/s (apply_event + Store)", median(store_rates), "/s",
                    median(raw_rates), note=f"{n} transitions over {plans} plans, median of {rounds}")
    return [figure.check(">=", 0.6, on="ratio")], {"store": store_rates, "raw": raw_rates}
