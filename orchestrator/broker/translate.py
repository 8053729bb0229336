"""PURE translation between ib_async objects and the plan machine's events and effects.

No I/O and no clock: every function takes what it needs and returns values. The adapter calls
these from its (synchronous) ib_async handlers and enqueues the results.

IB evidence rules (design.md §3):
- An order counts as accepted only on IB's own status (PreSubmitted/Submitted), never on send.
- ib_async marks a live order ``Cancelled`` locally on almost any error. Only an orderStatus
  from IB (log entry without an error code), error 202 (cancel confirmed) and error 201
  (rejected) are taken as final; any other error-driven status asks for verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable

import machines
from machines import Leg, parse_order_ref

__all__ = ["Leg", "Routed", "Verify", "parse_order_ref"]

WORKING = frozenset({"PreSubmitted", "Submitted"})
# ib_async sets ValidationError on a live order when IB sends a warning (e.g. 399 outside
# regular hours): the order is still working at IB, so it still protects.
PROTECTING = WORKING | {"ValidationError"}
FINAL_CANCEL_CODES = frozenset({0, 202})
REJECT_CODES = frozenset({201})
# Errors that refuse a *command* (modify/cancel) without telling whether the order is gone.
VERIFY_CODES = frozenset({103, 104, 105, 135, 161, 10147, 10148, 10067, 10349})


@dataclass(frozen=True, slots=True)
class Verify:
    """Not an event: ib_async's local status cannot be trusted; ask IB what is true."""

    plan_id: str
    leg: Leg
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Routed:
    """A machine event for one plan."""

    plan_id: str
    event: Any


def decimal(value: float | int | str) -> Decimal:
    """A float from ib_async as an exact Decimal of its shortest repr (180.55, not 180.5499…)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def ref_of(order: Any) -> tuple[str, Leg, int] | None:
    ref = getattr(order, "orderRef", "") or ""
    return parse_order_ref(ref) if ref else None


def last_error(trade: Any) -> tuple[int, str]:
    """The error code and message of the trade's newest log entry (0, '' if it has none)."""
    log = getattr(trade, "log", None) or []
    if not log:
        return 0, ""
    entry = log[-1]
    return int(getattr(entry, "errorCode", 0) or 0), str(getattr(entry, "message", "") or "")


def was_working(trade: Any) -> bool:
    """IB had accepted this order before its newest status: an error now refuses a command
    (modify/cancel), it does not reject the order."""
    log = getattr(trade, "log", None) or []
    return any(getattr(e, "status", "") in WORKING for e in log[:-1])


def entry_status(trade: Any, at: datetime) -> Routed | Verify | None:
    """Translate a status change of an entry order."""
    ref = ref_of(trade.order)
    if ref is None or ref[1] is not Leg.ENTRY:
        return None
    plan_id = ref[0]
    status = trade.orderStatus.status
    code, message = last_error(trade)
    if status in WORKING:
        return Routed(plan_id, machines.EntryAccepted(at, int(trade.order.orderId),
                                                      int(trade.orderStatus.permId or trade.order.permId or 0)))
    if code not in FINAL_CANCEL_CODES and was_working(trade):
        return Verify(plan_id, Leg.ENTRY, code, message)
    if status == "Inactive" and "locate" in (trade.orderStatus.whyHeld or ""):
        return None  # a short sale waiting for a borrow: still alive at IB (ib_insync#363)
    if status == "Inactive" or code in REJECT_CODES:
        return Routed(plan_id, machines.EntryRejected(at, code or 201, message or "order inactive at IB"))
    if status in ("Cancelled", "ApiCancelled"):
        if code in FINAL_CANCEL_CODES:
            return Routed(plan_id, machines.EntryCancelled(at, message or "cancelled at IB"))
        return Verify(plan_id, Leg.ENTRY, code, message)
    return None


def fill_event(fill: Any) -> Routed | None:
    """Translate one execution (ib_async ``Fill``) of one of our orders."""
    execution = fill.execution
    ref = parse_order_ref(getattr(execution, "orderRef", "") or "")
    if ref is None:
        return None
    plan_id, leg, _attempt = ref
    when = execution.time
    if isinstance(when, datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    qty = int(round(float(execution.shares)))
    price = decimal(execution.price)
    if leg is Leg.ENTRY:
        return Routed(plan_id, machines.EntryFilled(when, execution.execId, qty, price))
    return Routed(plan_id, machines.ExitFilled(when, execution.execId, leg, qty, price))


def protection_status(trades: Iterable[Any], plan_id: str, at: datetime,
                      entry_filled: bool = False) -> machines.ProtectionStatus:
    """What is working to protect ``plan_id``, from ib_async's trades of that plan.

    Counts the remaining quantity of stop and target orders IB reports working
    (PreSubmitted or Submitted) and whose parent, if any, has filled (``entry_filled``: the
    plan knows of entry fills; a completed parent restored after a restart carries no fill
    count in ib_async).
    """
    stop_qty = target_qty = 0
    stop_price: Decimal | None = None
    target_price: Decimal | None = None
    legs: list[tuple[Leg, Any]] = []
    for trade in trades:
        ref = ref_of(trade.order)
        if ref is None or ref[0] != plan_id:
            continue
        if ref[1] is Leg.ENTRY:
            entry_filled = entry_filled or float(trade.orderStatus.filled or 0) > 0 \
                or trade.orderStatus.status == "Filled"
        legs.append((ref[1], trade))
    for leg, trade in legs:
        if leg not in (Leg.STOP, Leg.TARGET) or trade.orderStatus.status not in PROTECTING:
            continue
        if int(getattr(trade.order, "parentId", 0) or 0) and not entry_filled:
            continue  # a bracket child still held for its parent protects nothing yet
        remaining = int(round(float(trade.orderStatus.remaining or 0)))
        if leg is Leg.STOP:
            stop_qty += remaining
            stop_price = decimal(trade.order.auxPrice)
        else:
            target_qty += remaining
            target_price = decimal(trade.order.lmtPrice)
    return machines.ProtectionStatus(at, stop_qty, target_qty, stop_price, target_price)


def protective_failure(trade: Any, at: datetime) -> Routed | Verify | None:
    """A stop/target/flatten order that IB rejected, or that ib_async says is gone."""
    ref = ref_of(trade.order)
    if ref is None or ref[1] is Leg.ENTRY:
        return None
    status = trade.orderStatus.status
    code, message = last_error(trade)
    if code not in FINAL_CANCEL_CODES and was_working(trade):
        return Verify(ref[0], ref[1], code, message)
    if ref[1] is Leg.FLATTEN:
        if status == "Inactive" or code in REJECT_CODES:
            return Routed(ref[0], machines.FlattenFailed(at, code or 201, message or "flatten order inactive at IB"))
        if status in ("Cancelled", "ApiCancelled"):  # we never cancel a flatten: IB did
            return Routed(ref[0], machines.FlattenFailed(at, code, message or "flatten order cancelled at IB"))
        return None
    if status == "Inactive" or code in REJECT_CODES:
        return Routed(ref[0], machines.ProtectionFailed(at, ref[1], code or 201, message or "inactive at IB"))
    if status in ("Cancelled", "ApiCancelled") and code not in FINAL_CANCEL_CODES:
        return Verify(ref[0], ref[1], code, message)
    return None
