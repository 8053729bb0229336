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
from machines import effects as fx

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
# only raises the best price, a status echo only touches the time. A trailing plan's best price is
# not quiet: its next stop is computed from it, and a journal without it replays to another stop
# than the one sent (chaos R1201-E7-P1).
QUIET = frozenset({"best_price", "updated_at"})
QUIET_WHEN_TRAILING = frozenset({"updated_at"})


def quiet_figures(plan: Plan) -> frozenset[str]:
    """The figures a step of ``plan`` may change without a journal row."""
    return QUIET_WHEN_TRAILING if plan.spec.trails else QUIET


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
        if plan.state == from_state and not effects and changed <= quiet_figures(plan):
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


def apply_events(machine: PlanMachine, store: Store, pairs: list[tuple[Plan, Any]], *,
                 now: datetime) -> list[tuple[Plan, Any, Step]]:
    """Step every ``(plan, event)`` in order and commit them all in one transaction (a plan may
    appear more than once). An event the table refuses is logged and skipped.

    Raises:
        StoreError / sqlite3.Error: the commit failed; every plan is rolled back to what it was
        before the batch, nothing was written.
    """
    before: dict[str, tuple[Plan, dict[str, Any], int]] = {}
    done: list[tuple[Plan, Any, Step]] = []
    try:
        with store.batch():
            for plan, event in pairs:
                if plan.id not in before:
                    before[plan.id] = (plan, plan.snapshot(), plan.version)
                try:
                    done.append((plan, event, apply_event(machine, store, plan, event, now=now)))
                except machines.InvalidEvent as exc:
                    log.warning("%s", exc)
    except BaseException:
        for plan, snapshot, version in before.values():
            plan.restore(snapshot)
            plan.version = version
        raise
    return done


CommitHook = Callable[[Plan, Any, Step], None]
YIELD_EVERY = 32  # effects of one pass carried out between two turns of the event loop


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

    async def apply_many(self, items: list[tuple[str, Any]]) -> int:
        """Step many plans (``(plan_id, event)`` in order) and commit every step in one
        transaction, then carry out their broker effects, most urgent first, and mark them done
        in one more. A plan's stop moved more than once keeps only its newest move. Returns the
        number of steps applied."""
        pairs = [(plan, event) for plan_id, event in items if (plan := self.registry.get(plan_id)) is not None]
        steps = apply_events(self.registry.machine, self.store, pairs, now=self.clock.now())
        for plan, event, step in steps:
            for hook in self.commit_hooks:
                hook(plan, event, step)
        if steps:
            self.changed.set()
            for wake in self.on_commit:
                wake()
        work = [(plan, effect_id, effect) for plan, _e, step in steps for effect_id, effect in step.broker]
        newest = {plan.id: effect_id for plan, effect_id, effect in work if isinstance(effect, fx.ModifyStop)}
        done: list[tuple[int, str]] = []
        ordered: list[tuple[float, int, int, Any]] = []
        for n, (plan, effect_id, effect) in enumerate(work):
            if isinstance(effect, fx.ModifyStop) and newest[plan.id] != effect_id:
                done.append((effect_id, "superseded by a newer stop of the same plan"))
            else:
                ordered.append((self.executor.urgency(effect, plan), n, effect_id, effect))
        ordered.sort()
        if ordered:
            self.faults.hit("after_commit", [type(e).__name__ for *_x, e in ordered])
        for k, (_u, _n, effect_id, effect) in enumerate(ordered, 1):
            result = await self._carry(effect)
            if result is not None:
                done.append((effect_id, result))
            if k % YIELD_EVERY == 0:
                # let the loop run: IB's socket (and a gateway in this process) gets the first stop
                # moves while the rest are prepared; nothing else writes plan state meanwhile
                await asyncio.sleep(0)
        if done:
            now = self.clock.now()
            with self.store.batch():
                for effect_id, result in done:
                    self.store.mark_effect_done(effect_id, at=now, result=result)
        for plan, _e, _s in steps:
            if plan.state in machines.TERMINAL_STATES:
                self.on_ended(plan)
        return len(steps)

    async def carry_out(self, effect_id: int, effect: Any) -> None:
        """Carry out one committed effect and mark it done; on any failure it stays pending."""
        result = await self._carry(effect)
        if result is not None:
            self.store.mark_effect_done(effect_id, at=self.clock.now(), result=result)

    async def _carry(self, effect: Any) -> str | None:
        """Carry out one committed effect; its result, or None when it stays pending."""
        plan = self.registry.get(effect.plan_id)
        try:
            self.faults.hit("before_broker", [type(effect).__name__])
            result = await self.executor.run(effect, plan)
        except BrokerUnavailable as exc:
            log.warning("effect %s left pending (broker unavailable: %s)", type(effect).__name__, exc)
            return None
        except ConnectionError as exc:
            log.warning("effect %s left pending (not connected: %s)", type(effect).__name__, exc)
            return None
        except Exception:  # the step is committed: never fail it (or a command) over its effect
            log.exception("effect %s of %s failed; left pending for the next reconciliation",
                          type(effect).__name__, effect.plan_id)
            return None
        self.faults.hit("after_broker", [type(effect).__name__])
        log.info("%s %s: %s", effect.plan_id, type(effect).__name__, result)
        return result
