"""The step protocol: machine step → one-transaction commit → (caller) carry out effects.

If the commit fails the in-memory plan is rolled back to exactly what it was, so memory never
runs ahead of state.db.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from machines import Plan, PlanMachine

from .store import Store


def apply_event(machine: PlanMachine, store: Store, plan: Plan, event: Any, *, now: datetime) -> list[Any]:
    """Step ``plan`` with ``event`` and commit it. Returns the effects to carry out.

    Raises:
        machines.InvalidEvent: the table refuses the event (nothing changed, nothing written).
        StoreError / sqlite3.Error: the commit failed (plan rolled back, nothing written).
    """
    from_state = plan.state
    snapshot = plan.snapshot()
    effects = machine.step(plan, event)
    try:
        store.commit_step(plan, event, from_state, effects, recorded_at=now)
    except BaseException:
        plan.restore(snapshot)
        raise
    return effects
