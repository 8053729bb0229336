"""The trailing pass on its own: every wanted stop committed in one transaction (all or nothing),
the re-send of an unconfirmed stop timed from when its request actually left (not while it
waits for pacing room), and activation's open-risk total kept as a running total."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import machines
from machines import Plan, PlanMachine, State
from orchestrator.broker.port import Quote
from orchestrator.clock import FixedClock
from orchestrator.engine.marketwatch import MarketWatch
from orchestrator.engine.notices import Notices
from orchestrator.engine.openrisk import OpenRisk
from orchestrator.engine.registry import PlanRegistry
from orchestrator.engine.step import apply_events
from orchestrator.engine.trailing import Trailing
from orchestrator.errors import StoreError
from orchestrator.store import Store
from orchestrator.store.codec import event_from_json
from orchestrator.store.plans import plan_from_row, spec_from_row

from ..fakes import FakeBroker
from ..orchestrator.factories import at, spec


def _trailing_plans(store: Store, machine: PlanMachine, n: int) -> list[Plan]:
    plans = []
    for i in range(n):
        plan = machine.bind(store.insert_plan(spec(f"T{i}", trail=("0.5", "1.00")), at=at()))
        for event in (machines.Activate(at(1), D(100000), D(200000), D(0), market_price=D("180.00")),
                      machines.EntryAccepted(at(2), 10 + i, 1000 + i),
                      machines.EntryFilled(at(3), f"e{i}", 100, D("180.00")),
                      machines.ProtectionStatus(at(4), 100, 100, D("176.00"), D("188.00"))):
            apply_events(machine, store, [(plan, event)], now=at(4))
        assert plan.state == State.PROTECTED
        plans.append(plan)
    return plans


def test_every_wanted_stop_of_a_pass_is_committed_in_one_transaction(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    machine = PlanMachine()
    plans = _trailing_plans(store, machine, 5)
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    steps = apply_events(machine, store, [(p, machines.PriceUpdate(at(10), D("185.00"))) for p in plans], now=at(10))
    store.db.set_trace_callback(None)
    assert [s for s in statements if s in ("BEGIN IMMEDIATE", "COMMIT")] == ["BEGIN IMMEDIATE", "COMMIT"]
    assert all(p.state == State.TRAILING and p.stop_price == D("184.00") for p in plans)
    assert [type(e).__name__ for _p, _e, step in steps for _i, e in step.broker] == ["ModifyStop"] * 5
    stored = dict(store.db.execute("SELECT id, stop_price FROM plans").fetchall())
    assert all(D(stored[p.id]) == D("184.00") for p in plans)
    store.close()


def test_a_pass_whose_commit_fails_changes_no_plan_in_memory_or_in_the_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    machine = PlanMachine()
    plans = _trailing_plans(store, machine, 3)
    before = [(p.state, p.stop_price, p.version, p.best_price) for p in plans]
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    other.execute("UPDATE plans SET version = version + 1 WHERE id = 'T2'")   # another writer: T2 is stale
    other.close()
    with pytest.raises(StoreError):
        apply_events(machine, store, [(p, machines.PriceUpdate(at(10), D("185.00"))) for p in plans], now=at(10))
    assert [(p.state, p.stop_price, p.version, p.best_price) for p in plans] == before
    rows = store.db.execute("SELECT id, state, stop_price FROM plans ORDER BY id").fetchall()
    assert [(r[1], D(r[2])) for r in rows] == [("protected", D("176.00"))] * 3
    assert store.db.execute("SELECT count(*) FROM journal WHERE event='PriceUpdate'").fetchone()[0] == 0
    store.close()


class Paced(FakeBroker):
    """A broker whose requests may wait for pacing room: ``sent[plan]`` is when its last left."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, datetime] = {}
        self.price = D("185.00")

    def last_sent(self, plan_id: str) -> datetime | None:
        return self.sent.get(plan_id)

    def last_price(self, symbol: str) -> D | None:
        return self.price

    def quote(self, symbol: str) -> Quote:
        return Quote(last=self.price, source="live", age=0.0)


def test_an_unconfirmed_stop_is_sent_again_confirm_seconds_after_its_request_left(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    registry = PlanRegistry(store, PlanMachine())
    (plan,) = _trailing_plans(store, registry.machine, 1)
    registry.add(plan)
    clock, broker = FixedClock(at(10)), Paced()
    passes: list[list[tuple[str, Any]]] = []

    async def apply_many(items: list[tuple[str, Any]]) -> int:
        passes.append(items)
        apply_events(registry.machine, store, [(registry.plans[i], e) for i, e in items], now=clock.now())
        return len(items)

    job = Trailing(registry, MarketWatch(broker, Notices(store, clock), clock), clock, apply_many,
                   confirm_seconds=5.0, max_attempts=3)
    asyncio.run(job.tick())   # the price moves the stop: sent at 10 s (by the machine's clock)
    assert [type(e).__name__ for _i, e in passes[-1]] == ["PriceUpdate"] and plan.stop_attempts == 1
    broker.sent["T0"] = at(10)
    clock.set(at(16))
    broker.sent["T0"] = at(16)   # still waiting for pacing room: the adapter says "now"
    asyncio.run(job.tick())
    assert len(passes) == 1
    broker.sent["T0"] = at(14)   # it left at 14 s
    clock.set(at(18.9))
    asyncio.run(job.tick())
    assert len(passes) == 1
    clock.set(at(19))
    asyncio.run(job.tick())
    assert [type(e).__name__ for _i, e in passes[-1]] == ["TrailRetry"] and plan.stop_attempts == 2
    store.close()


# ---------------------------------------------------------------------- the open-risk total
figures = st.fixed_dictionaries({
    "state": st.sampled_from(["pending", "sized", "submitted", "filled", "protected", "trailing", "closed"]),
    "quantity": st.integers(0, 5000), "filled_qty": st.integers(0, 5000),
    "avg_entry_price": st.one_of(st.none(), st.decimals("100", "200", places=6)),
    "stop_price": st.decimals("90", "210", places=2),
    "confirmed_stop_price": st.one_of(st.none(), st.decimals("90", "210", places=2)),
})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), figures), min_size=1, max_size=60))
def test_the_running_open_risk_is_the_sum_of_every_plans_risk(changes: list[tuple[int, dict[str, Any]]]) -> None:
    risk = OpenRisk()
    plans = {i: Plan(spec(f"P{i}"), state="pending") for i in range(10)}
    for plan in plans.values():
        risk.update(plan)
    for i, change in changes:
        plan = plans[i]
        for name, value in change.items():
            setattr(plan, name, value)
        risk.update(plan)
        exact = sum((p.open_risk() for p in plans.values()), D(0))
        assert risk.total() == +exact
        assert risk.total(excluding=plan.id) == +(exact - plan.open_risk())


def test_the_registry_counts_a_plan_from_the_moment_it_holds_it(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    registry = PlanRegistry(store, PlanMachine())
    plans = _trailing_plans(store, registry.machine, 2)
    for plan in plans:
        registry.add(plan)
    assert registry.risk.total() == sum((p.open_risk() for p in plans), D(0)) > 0
    store.close()


def test_every_figure_a_trailing_decision_reads_is_journalled(tmp_path: Path) -> None:
    """A trailing stop's move is modified at IB; while IB echoes it the plan is ``filled`` and a
    new best price arrives; the next move is computed from that best price. The best price used
    to be a quiet figure (no journal row): the plan's journal then replayed to another stop than
    the one stored and sent (chaos R1201-E7-P1: stored 294.16, replayed 296.40). Replaying the
    journal must give the stored plan, figure by figure."""
    path = tmp_path / "state.db"
    store = Store(f"sqlite:///{path}")
    machine = PlanMachine()
    [plan] = _trailing_plans(store, machine, 1)
    for event in (machines.PriceUpdate(at(10), D("185.00")),             # trailing: stop 184
                  machines.ProtectionStatus(at(11), 0, 100, None, D("188.00")),   # the move in flight
                  machines.PriceUpdate(at(12), D("187.00")),             # a new best, nothing else
                  machines.ProtectionStatus(at(13), 100, 100, D("184.00"), D("188.00")),
                  machines.PriceUpdate(at(14), D("186.50"))):            # trails from the best: 186
        apply_events(machine, store, [(plan, event)], now=event.at)
    assert (plan.state, plan.stop_price) == (State.TRAILING, D("186.00"))
    store.close()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    row = db.execute("SELECT * FROM plans WHERE id = ?", (plan.id,)).fetchone()
    journal = db.execute("SELECT event, payload FROM journal WHERE plan_id = ? ORDER BY seq", (plan.id,)).fetchall()
    db.close()
    replayed = machine.bind(Plan(spec_from_row(row)))
    for r in journal[1:]:
        machine.step(replayed, event_from_json(r["event"], r["payload"]))
    stored = plan_from_row(row)
    differ = {name: (getattr(stored, name), getattr(replayed, name)) for name in machines.FIGURES
              if name != "updated_at" and getattr(stored, name) != getattr(replayed, name)}
    assert differ == {}
