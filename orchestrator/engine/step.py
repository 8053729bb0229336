"""The unit of work: machine step → one-transaction commit → carry out the broker effects.

If the commit fails the in-memory plan is rolled back to exactly what it was, so memory never
runs ahead of state.db. Effects are carried out only after their step is committed; a failing
effect never fails its step (it stays pending in the effect log and runs again at the next
reconciliation).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import machines
from machines import Plan, PlanMachine

from ..clock import Clock
from ..errors import BrokerUnavailable
from ..faultpoints import FaultPoints
from ..store import Store
from ..store.codec import is_broker_effect
from .executor import Executor
from .registry import PlanRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Step:
    """A committed step: every effect, and the broker effects paired with their effect-log ids."""

    effects: list[Any]
    broker: list[tuple[int, Any]]


# Figures a step may change without it being worth a journal row: a price tick that moves no stop
# only raises the best price, a status echo only touches the time.
QUIET = frozenset({"best_price", "updated_at"})


def apply_event(machine: PlanMachine, store: Store, plan: Plan, event: Any, *, now: datetime) -> Step:
    """Step ``plan`` with ``event`` and commit it. Returns what to carry out.

    A step that keeps the state, has no effect and changes only quiet figures writes no journal
    row (the plan's row keeps its best price; nothing at all is written when only the time
    changed). Journal times never go back within a plan: a broker time earlier than the plan's
    last journaled one is recorded at that one.

    Raises:
        machines.InvalidEvent: the table refuses the event (nothing changed, nothing written).
        StoreError / sqlite3.Error: the commit failed (plan rolled back, nothing written).
    """
    from_state = plan.state
    snapshot = plan.snapshot()
    effects = machine.step(plan, event, before=snapshot)
    changed = {name for name in machines.FIGURES if getattr(plan, name) != snapshot[name]}
    last: datetime | None = snapshot["updated_at"]
    try:
        if plan.state == from_state and not effects and changed <= QUIET:
            plan.updated_at = last  # the plan's time is that of its last journaled event
            if changed - {"updated_at"}:
                store.update_quietly(plan, before=snapshot)
            return Step([], [])
        if last is not None and plan.updated_at is not None and plan.updated_at < last:
            plan.updated_at = last
        ids = store.commit_step(plan, event, from_state, effects, recorded_at=now, before=snapshot,
                                at=plan.updated_at)
    except BaseException:
        plan.restore(snapshot)
        raise
    broker = [e for e in effects if is_broker_effect(e)]
    return Step(effects, list(zip(ids, broker, strict=True)))


CommitHook = Callable[[Plan, Any, Step], None]


class UnitOfWork:
    """``apply(plan_id, event)``: the only way a plan changes in the running engine."""

    def __init__(self, registry: PlanRegistry, store: Store, executor: Executor, clock: Clock,
                 faults: FaultPoints, changed: asyncio.Event, on_ended: Callable[[Plan], None]) -> None:
        self.registry = registry
        self.store = store
        self.executor = executor
        self.clock = clock
        self.faults = faults
        self.changed = changed
        self.on_ended = on_ended
        # called after every committed step with (plan, event, step), before its effects are
        # carried out (benchmarks and tracing; empty in production)
        self.commit_hooks: list[CommitHook] = []
        self.on_commit: list[Callable[[], None]] = []  # e.g. wake the outbox sender

    async def apply(self, plan_id: str, event: Any) -> bool:
        """Step, commit, carry out. False if the event does not apply (logged, nothing changed)."""
        plan = self.registry.get(plan_id)
        if plan is None:
            log.warning("event %s for unknown plan %s ignored", type(event).__name__, plan_id)
            return False
        try:
            step = apply_event(self.registry.machine, self.store, plan, event, now=self.clock.now())
        except machines.InvalidEvent as exc:
            log.warning("%s", exc)
            return False
        for hook in self.commit_hooks:
            hook(plan, event, step)
        self.changed.set()
        for wake in self.on_commit:
            wake()
        if step.broker:
            self.faults.hit("after_commit", [type(e).__name__ for _i, e in step.broker])
        for effect_id, effect in step.broker:
            await self.carry_out(effect_id, effect)
        if plan.state in machines.TERMINAL_STATES:
            self.on_ended(plan)
        return True

    async def carry_out(self, effect_id: int, effect: Any) -> None:
        """Carry out one committed effect and mark it done; on any failure it stays pending."""
        plan = self.registry.get(effect.plan_id)
        try:
            self.faults.hit("before_broker", [type(effect).__name__])
            result = await self.executor.run(effect, plan)
        except BrokerUnavailable as exc:
            log.warning("effect %s left pending (broker unavailable: %s)", type(effect).__name__, exc)
            return
        except ConnectionError as exc:
            log.warning("effect %s left pending (not connected: %s)", type(effect).__name__, exc)
            return
        except Exception:  # the step is committed: never fail it (or a command) over its effect
            log.exception("effect %s of %s failed; left pending for the next reconciliation",
                          type(effect).__name__, effect.plan_id)
            return
        self.faults.hit("after_broker", [type(effect).__name__])
        self.store.mark_effect_done(effect_id, at=self.clock.now(), result=result)
        log.info("%s %s: %s", effect.plan_id, type(effect).__name__, result)
