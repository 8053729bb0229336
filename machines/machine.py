"""The one shared transitions.Machine that drives every plan, and ``step``.

``step(plan, event)`` is the only way a plan changes: it fires the event's trigger, collects
the effects the table's actions recorded, adds one ``Notify`` per transition, and returns them.
An event the table does not allow raises ``InvalidEvent`` and leaves the plan exactly as it was.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from transitions import EventData, Machine, MachineError

from . import effects as fx
from .errors import InvalidEvent
from .events import Event
from .plan import Plan
from .table import TRANSITIONS
from .values import State


def _facts(plan: Plan, event: Any) -> dict[str, Any]:
    spec = plan.spec
    facts: dict[str, Any] = {
        "symbol": spec.symbol,
        "side": spec.side.value,
        "entry_type": spec.entry_type.value,
        "entry_price": spec.entry_price,
        "quantity": plan.quantity,
        "filled_qty": plan.filled_qty,
        "exited_qty": plan.exited_qty,
        "open_qty": plan.open_qty,
        "avg_entry_price": plan.avg_entry_price,
        "avg_exit_price": plan.avg_exit_price,
        "stop_price": plan.stop_price,
        "target_price": plan.target_price,
        "risk_amount": plan.risk_amount,
        "portfolio_risk_pct": plan.portfolio_risk_pct,
        "realized_pnl": plan.realized_pnl,
        "exit_reason": plan.exit_reason,
        "reason": plan.reason,
        "error_code": plan.error_code,
        "at": event.at,
        "event": type(event).__name__,
    }
    if plan.exited_qty and plan.avg_entry_price:
        cost = plan.avg_entry_price * plan.exited_qty
        facts["realized_pnl_pct"] = (plan.realized_pnl * 100 / cost).quantize(Decimal("0.01"))
    facts.update(plan.notify_extra)
    return facts


def _after_any(ed: EventData) -> None:
    """Runs after every accepted row: one Notify for every state change or notable event."""
    plan: Plan = ed.model
    event = ed.kwargs["event"]
    plan.updated_at = event.at
    source, dest = ed.transition.source, ed.transition.dest
    changed = dest is not None and dest != source
    if changed or plan.notify_kind is not None:
        kind = plan.notify_kind or str(dest)
        plan.effects.append(fx.Notify(plan.id, kind, source, dest or source, _facts(plan, event)))


def build_machine() -> Machine:
    """A plain synchronous machine with no models: plans are attached with ``bind``."""
    return Machine(
        model=None,
        states=[s.value for s in State],
        transitions=TRANSITIONS,
        initial=State.PENDING.value,
        auto_transitions=False,
        ignore_invalid_triggers=False,
        send_event=True,
        after_state_change=[_after_any],
    )


class PlanMachine:
    """The shared machine plus the step protocol around it."""

    def __init__(self) -> None:
        self.machine = build_machine()

    def bind(self, plan: Plan) -> Plan:
        """Attach a plan in its stored state. Fires no callbacks."""
        self.machine.add_model(plan, initial=plan.state)
        return plan

    def release(self, plan: Plan) -> None:
        """Detach a plan (e.g. once terminal) so the machine keeps no reference to it."""
        self.machine.remove_model(plan)

    def allowed(self, plan: Plan) -> list[str]:
        """Triggers the table has rows for in the plan's state (guards not evaluated)."""
        return self.machine.get_triggers(plan.state)

    def step(self, plan: Plan, event: Event) -> list[Any]:
        """Apply one event. Returns the effects to carry out after the commit.

        Raises:
            InvalidEvent: no row of the table accepts this event in this state; nothing changed.
        """
        trigger = type(event).TRIGGER  # type: ignore[union-attr]
        before = plan.snapshot()
        plan.effects, plan.notify_kind, plan.notify_extra = [], None, {}
        try:
            accepted = self.machine.events[trigger].trigger(plan, event=event)
        except MachineError:
            plan.restore(before)
            raise InvalidEvent(plan.id, before["state"], trigger) from None
        except BaseException:
            plan.restore(before)
            raise
        if not accepted:
            plan.restore(before)
            raise InvalidEvent(plan.id, before["state"], trigger)
        effects, plan.effects = plan.effects, []
        plan.notify_kind, plan.notify_extra = None, {}
        return effects


def restore_state(plan: Plan, state: str) -> None:
    """Put a plan into a stored state without firing anything (used by tests and the store)."""
    plan.state = str(state)
