"""PURE translation of ib_async's objects into the port's views (``BrokerOrder``, ``BrokerFill``).

No I/O, no clock, and no import of ib_async: the objects are read by their attributes, so tests
build them by hand. What the views *mean* for a plan is decided in ``evidence.py``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from machines import parse_order_ref

from .port import BrokerFill, BrokerOrder, OrderState


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


def order_view(trade: Any) -> BrokerOrder | None:
    """One of our orders (an ib_async ``Trade``) as the port sees it; None for a foreign order."""
    order, status = trade.order, trade.orderStatus
    ref = getattr(order, "orderRef", "") or ""
    parsed = parse_order_ref(ref) if ref else None
    if parsed is None:
        return None
    plan_id, leg, attempt = parsed
    code, message = _last_error(trade)
    total = shares(order.totalQuantity)
    filled = shares(status.filled)
    return BrokerOrder(
        ref=ref, plan_id=plan_id, leg=leg, attempt=attempt, order_id=int(order.orderId or 0),
        perm_id=int(status.permId or order.permId or 0), client_id=int(getattr(order, "clientId", 0) or 0),
        action=str(order.action), order_type=str(order.orderType), total=total, filled=filled,
        remaining=shares(status.remaining), limit_price=price(order.lmtPrice), stop_price=price(order.auxPrice),
        parent_id=int(order.parentId or 0), oca_group=str(order.ocaGroup or ""), tif=str(order.tif or ""),
        state=OrderState.of(str(status.status)), error_code=code, error_message=message,
        was_working=_was_working(trade), why_held=str(getattr(status, "whyHeld", "") or ""), handle=trade)


def fill_view(fill: Any) -> BrokerFill | None:
    """One execution (an ib_async ``Fill``) of one of our orders; None for a foreign one."""
    execution = fill.execution
    ref = getattr(execution, "orderRef", "") or ""
    parsed = parse_order_ref(ref) if ref else None
    if parsed is None:
        return None
    return BrokerFill(exec_id=str(execution.execId), ref=ref, plan_id=parsed[0], leg=parsed[1],
                      quantity=shares(execution.shares), price=decimal(execution.price), at=utc(execution.time),
                      order_id=int(getattr(execution, "orderId", 0) or 0))
