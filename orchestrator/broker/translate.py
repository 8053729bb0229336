"""PURE translation of ib_async's objects into the port's views (``BrokerOrder``, ``BrokerFill``).

No I/O, no clock, and no import of ib_async: the objects are read by their attributes, so tests
build them by hand. What the views *mean* for a plan is decided in ``evidence.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from machines import Leg, order_ref, parse_order_ref

from .port import BrokerFill, BrokerOrder, ForeignOrder, OrderState


class Namespace:
    """Which orderRefs are this orchestrator's: ``<prefix>/<plan>:<leg>[:<n>]`` (or, with no
    prefix configured, ``<plan>:<leg>[:<n>]`` with no prefix at all). Plan ids in ``ignored``
    belong to an earlier store the trader chose to leave alone (``run --ignore-existing``)."""

    def __init__(self, prefix: str = "", ignored: frozenset[str] = frozenset()) -> None:
        self.prefix = prefix
        self.ignored = ignored

    def to_ib(self, ref: str) -> str:
        """The orderRef IB gets for one of our refs."""
        return f"{self.prefix}/{ref}" if self.prefix else ref

    def ours(self, ib_ref: str) -> tuple[str, Leg, int] | None:
        """(plan, leg, attempt) of an orderRef of ours; None for anyone else's."""
        if not ib_ref:
            return None
        if self.prefix:
            head = self.prefix + "/"
            if not ib_ref.startswith(head):
                return None
            ref = ib_ref[len(head):]
        elif "/" in ib_ref:
            return None  # another orchestrator's namespace
        else:
            ref = ib_ref
        parsed = parse_order_ref(ref)
        if parsed is None or parsed[0] in self.ignored:
            return None
        return parsed

    def plan_of(self, ib_ref: str) -> str | None:
        parsed = self.ours(ib_ref)
        return None if parsed is None else parsed[0]

    def with_ignored(self, plan_ids: set[str]) -> Namespace:
        return Namespace(self.prefix, self.ignored | frozenset(plan_ids))


NO_NAMESPACE = Namespace()


def decimal(value: float | int | str | Decimal) -> Decimal:
    """A float from ib_async as an exact Decimal of its shortest repr (180.55, not 180.5499…)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def price(value: Any) -> Decimal | None:
    """An order price field; None when unset (ib_async uses 0, NaN or a huge sentinel)."""
    if value is None or not isinstance(value, (int, float, Decimal)):
        return None
    f = float(value)
    if math.isnan(f) or f == 0 or abs(f) > 1e300:
        return None
    return decimal(value)


def shares(value: Any) -> int:
    """A share count from ib_async's float or Decimal."""
    return int(round(float(value or 0)))


def utc(when: Any) -> datetime:
    """IB's execution time as an aware UTC datetime (naive times are UTC)."""
    return when.replace(tzinfo=UTC) if isinstance(when, datetime) and when.tzinfo is None else when


def _last_error(trade: Any) -> tuple[int, str]:
    log = getattr(trade, "log", None) or []
    if not log:
        return 0, ""
    entry = log[-1]
    return int(getattr(entry, "errorCode", 0) or 0), str(getattr(entry, "message", "") or "")


def _was_working(trade: Any) -> bool:
    log = getattr(trade, "log", None) or []
    return any(OrderState.of(getattr(e, "status", "")).working for e in log[:-1])


def order_view(trade: Any, ns: Namespace = NO_NAMESPACE, state: OrderState | None = None) -> BrokerOrder | None:
    """One of our orders (an ib_async ``Trade``) as the port sees it; None for anyone else's.
    ``state`` overrides the status ib_async holds (for another client's order it no longer
    keeps in sync)."""
    order, status = trade.order, trade.orderStatus
    parsed = ns.ours(getattr(order, "orderRef", "") or "")
    if parsed is None:
        return None
    plan_id, leg, attempt = parsed
    ref = order_ref(plan_id, leg, attempt)
    code, message = _last_error(trade)
    total = shares(order.totalQuantity)
    filled = shares(status.filled)
    return BrokerOrder(
        ref=ref, plan_id=plan_id, leg=leg, attempt=attempt, order_id=int(order.orderId or 0),
        perm_id=int(status.permId or order.permId or 0), client_id=int(getattr(order, "clientId", 0) or 0),
        action=str(order.action), order_type=str(order.orderType), total=total, filled=filled,
        remaining=shares(status.remaining), limit_price=price(order.lmtPrice), stop_price=price(order.auxPrice),
        parent_id=int(order.parentId or 0), oca_group=str(order.ocaGroup or ""), tif=str(order.tif or ""),
        state=state or OrderState.of(str(status.status)), error_code=code, error_message=message,
        was_working=_was_working(trade), why_held=str(getattr(status, "whyHeld", "") or ""),
        avg_fill_price=price(getattr(status, "avgFillPrice", None)), handle=trade)


WORKING_STATUSES = ("PreSubmitted", "Submitted")


def foreign_view(trade: Any, ns: Namespace = NO_NAMESPACE,
                 key_of: Callable[[Any], str] = lambda c: str(c.symbol)) -> ForeignOrder | None:
    """A working order that is none of ours (no orderRef of our namespace); None otherwise.
    ``key_of`` names its contract as the engine does (a US stock: its symbol)."""
    order, status = trade.order, trade.orderStatus
    if ns.ours(getattr(order, "orderRef", "") or "") is not None or str(status.status) not in WORKING_STATUSES:
        return None
    remaining = shares(status.remaining) if status.remaining else shares(order.totalQuantity) - shares(status.filled)
    return ForeignOrder(symbol=key_of(trade.contract), action=str(order.action), order_type=str(order.orderType),
                        remaining=remaining, client_id=int(getattr(order, "clientId", 0) or 0),
                        order_id=int(order.orderId or 0), perm_id=int(status.permId or order.permId or 0),
                        limit_price=price(order.lmtPrice), stop_price=price(order.auxPrice),
                        parent_id=int(order.parentId or 0), oca_group=str(order.ocaGroup or ""))


def fill_view(fill: Any, ns: Namespace = NO_NAMESPACE) -> BrokerFill | None:
    """One execution (an ib_async ``Fill``) of one of our orders; None for anyone else's."""
    execution = fill.execution
    parsed = ns.ours(getattr(execution, "orderRef", "") or "")
    if parsed is None:
        return None
    report = getattr(fill, "commissionReport", None)
    commission = price(getattr(report, "commission", None)) if report is not None else None
    charged_in = (getattr(report, "currency", "") or None) if commission is not None else None
    return BrokerFill(exec_id=str(execution.execId), ref=order_ref(*parsed), plan_id=parsed[0], leg=parsed[1],
                      quantity=shares(execution.shares), price=decimal(execution.price), at=utc(execution.time),
                      order_id=int(getattr(execution, "orderId", 0) or 0), commission=commission,
                      commission_currency=charged_in,
                      client_id=_client_of(execution))


def _client_of(execution: Any) -> int | None:
    client = getattr(execution, "clientId", None)
    return None if client is None else int(client)
