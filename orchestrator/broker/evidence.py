"""PURE rules that turn what IB reports about our orders into machine events.

No I/O and no clock: the adapter calls these from its handlers, and reconciliation on the
orders it reads back. The rules (design.md §3):
- an order counts as accepted only on IB's own status (PreSubmitted/Submitted), never on send;
- an error after IB had accepted an order refuses a *command* (modify, cancel); it does not end
  the order: verify against IB's views first;
- only a confirmed cancel (202 / a status without an error) and, before acceptance, a rejection
  are final; informational codes change nothing (``codes.py`` is the table).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import machines
from machines import Leg

from .codes import LOCATE_HELD, Meaning, explain, meaning
from .port import BrokerFill, BrokerOrder, OrderState, PlanEvent, Verify


def entry_status(order: BrokerOrder, at: datetime) -> PlanEvent | Verify | None:
    """What a status change of an entry order means for its plan."""
    if order.leg is not Leg.ENTRY:
        return None
    code, message, state = order.error_code, order.error_message, order.state
    if state.working:
        return PlanEvent(order.plan_id, machines.EntryAccepted(at, order.order_id, order.perm_id))
    m = meaning(code, order.was_working)
    if state is OrderState.INACTIVE and LOCATE_HELD in order.why_held:
        return None
    if m is Meaning.VERIFY:
        return Verify(order.plan_id, Leg.ENTRY, code, message)
    if m is Meaning.REJECTED or state is OrderState.INACTIVE:
        return PlanEvent(order.plan_id, machines.EntryRejected(at, code or 201, explain(code, message)
                                                               or "order inactive at IB"))
    if state.cancelled:
        if m is Meaning.INFORMATIONAL:  # ib_async's own conclusion from a warning: ask IB
            return Verify(order.plan_id, Leg.ENTRY, code, message)
        return PlanEvent(order.plan_id, machines.EntryCancelled(at, message or "cancelled at IB"))
    return None


def protective_failure(order: BrokerOrder, at: datetime) -> PlanEvent | Verify | None:
    """A stop/target/flatten order that IB rejected, or that ib_async says is gone."""
    if order.leg is Leg.ENTRY:
        return None
    code, message, state = order.error_code, order.error_message, order.state
    m = meaning(code, order.was_working)
    if m is Meaning.VERIFY:
        return Verify(order.plan_id, order.leg, code, message)
    if m is Meaning.INFORMATIONAL:
        return Verify(order.plan_id, order.leg, code, message) if state.cancelled else None
    if order.leg is Leg.FLATTEN:
        if state is OrderState.INACTIVE or m is Meaning.REJECTED:
            return PlanEvent(order.plan_id, machines.FlattenFailed(at, code or 201, explain(code, message)
                                                                   or "flatten order inactive at IB"))
        if state.cancelled:  # we never cancel a flatten: IB did
            return PlanEvent(order.plan_id,
                             machines.FlattenFailed(at, code, message or "flatten order cancelled at IB"))
        return None
    if state is OrderState.INACTIVE or m is Meaning.REJECTED:
        return PlanEvent(order.plan_id, machines.ProtectionFailed(at, order.leg, code or 201,
                                                                  explain(code, message) or "inactive at IB"))
    return None


def status_event(order: BrokerOrder, at: datetime) -> PlanEvent | Verify | None:
    """The event (or verification) a status change of any of our orders calls for."""
    return entry_status(order, at) if order.leg is Leg.ENTRY else protective_failure(order, at)


def commission_event(fill: BrokerFill) -> PlanEvent | None:
    """IB's commission for one of our executions, once it reported it."""
    if fill.commission is None:
        return None
    return PlanEvent(fill.plan_id, machines.CommissionCharged(fill.at, fill.exec_id, fill.commission,
                                                                fill.commission_currency))


def fill_event(fill: BrokerFill, *, own_client: int) -> PlanEvent:
    """One execution of one of our orders (by orderRef), as the machine event of its leg; an exit
    another client placed with the plan's orderRef (``own_client`` is ours) is marked ``theirs``."""
    if fill.leg is Leg.ENTRY:
        return PlanEvent(fill.plan_id, machines.EntryFilled(fill.at, fill.exec_id, fill.quantity, fill.price))
    theirs = fill.client_id is not None and fill.client_id != own_client
    return PlanEvent(fill.plan_id, machines.ExitFilled(fill.at, fill.exec_id, fill.leg, fill.quantity, fill.price,
                                                       theirs))


def refused_cancel(order: BrokerOrder) -> bool:
    """ib_async shows the order ``Cancelled`` only because IB refused a command on it after
    accepting it (10148 on a second cancel, 161, 10147, 100, any code verified after acceptance):
    it may still work at IB, so it is not done until IB's own views or a clean cancel confirmation
    (202) say so. One IB never accepted (refused when sent) cannot be working there."""
    return order.state.cancelled and order.was_working and meaning(order.error_code, True) is Meaning.VERIFY


def confirmed(order: BrokerOrder, ib_state: OrderState | None, cancel_confirmed: bool) -> BrokerOrder:
    """``order`` corrected by what IB itself said after an error marked it cancelled locally: the
    state IB's completed orders report for it (``ib_state``), or its clean 202 (``cancel_confirmed``).
    Without either it stays as ib_async has it (a refused cancel: see ``refused_cancel``)."""
    if not refused_cancel(order):
        return order
    if ib_state is not None and ib_state.done:
        return replace(order, state=ib_state, error_code=0, error_message="")
    if cancel_confirmed:
        return replace(order, error_code=202, error_message="cancel confirmed by IB")
    return order
