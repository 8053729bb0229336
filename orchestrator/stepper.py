"""The step protocol: machine step → one-transaction commit → (caller) carry out effects.

If the commit fails the in-memory plan is rolled back to exactly what it was, so memory never
runs ahead of state.db.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from machines import Plan, PlanMachine

from .codec import is_broker_effect
from .store import Store


@dataclass(frozen=True, slots=True)
class Step:
    """A committed step: every effect, and the broker effects paired with their effect-log ids."""

    effects: list[Any]
    broker: list[tuple[int, Any]]


def apply_event(machine: PlanMachine, store: Store, plan: Plan, event: Any, *, now: datetime) -> Step:
    """Step ``plan`` with ``event`` and commit it. Returns what to carry out.

    Raises:
        machines.InvalidEvent: the table refuses the event (nothing changed, nothing written).
        StoreError / sqlite3.Error: the commit failed (plan rolled back, nothing written).
    """
    from_state = plan.state
    snapshot = plan.snapshot()
    effects = machine.step(plan, event, before=snapshot)
    try:
        ids = store.commit_step(plan, event, from_state, effects, recorded_at=now, before=snapshot)
    except BaseException:
        plan.restore(snapshot)
        raise
    broker = [e for e in effects if is_broker_effect(e)]
    return Step(effects, list(zip(ids, broker)))
