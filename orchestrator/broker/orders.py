"""Building IB's order objects from the port's requests, and amended copies for modifications.

IB's rules for the shape of an order live here:
- every order of a plan's exits shares one OCA group of type 2 ("reduce with block"): a fill of
  one member shrinks the others by what filled, so a partly filled exit leaves the rest of the
  position protected;
- a modification is an amended *copy* sent under the same orderId: the ``Trade`` keeps what IB
  last confirmed, so what the engine reads back is IB's word, not our request;
- a bracket child whose parent has filled is modified without the ``parentId`` (IB answers a
  stale parent with error 135, ib_insync#647), and with ``transmit`` on (a held order's
  modification must not hold it again).
"""

from __future__ import annotations

import copy
from datetime import UTC
from decimal import Decimal
from typing import Any

from ib_async import Order

from machines import parse_order_ref

from .port import OrderRequest, OrderState

OCA_REDUCE_WITH_BLOCK = 2


def build(request: OrderRequest, order_ref: str) -> Order:
    """IB's order for a request; ``order_ref`` is the request's ref in this orchestrator's namespace."""
    order = Order(orderId=request.order_id, action=request.action, totalQuantity=request.quantity,
                  orderType=request.order_type, orderRef=order_ref, tif=request.tif, transmit=request.transmit,
                  parentId=request.parent_id)
    if request.limit_price is not None:
        order.lmtPrice = float(request.limit_price)
    if request.stop_price is not None:
        order.auxPrice = float(request.stop_price)
    if request.oca_group:
        order.ocaGroup, order.ocaType = request.oca_group, OCA_REDUCE_WITH_BLOCK
    if request.good_till is not None:
        order.goodTillDate = f"{request.good_till.astimezone(UTC):%Y%m%d-%H:%M:%S}"  # IB's UTC form
    order.outsideRth = request.outside_rth
    return order


def amended(confirmed: Order, *, filled: int, parent_filled: bool, quantity: int | None = None,
            limit_price: Decimal | None = None, stop_price: Decimal | None = None) -> Order:
    """A copy of the order IB confirmed, with the changes. ``quantity`` is what should be left
    to execute: the total sent is what already filled plus that."""
    order = copy.copy(confirmed)
    if quantity is not None:
        order.totalQuantity = float(filled + quantity)
    if limit_price is not None:
        order.lmtPrice = float(limit_price)
    if stop_price is not None:
        order.auxPrice = float(stop_price)
    order.transmit = True
    if order.parentId and parent_filled:
        order.parentId = 0
    return order


def plan_of(ref: str) -> str | None:
    """The plan an orderRef of ours names."""
    parsed = parse_order_ref(ref)
    return None if parsed is None else parsed[0]


def still_working(trade: Any) -> bool:
    """ib_async's trade can still be changed: not done and not being cancelled."""
    state = OrderState.of(str(trade.orderStatus.status))
    return not state.done and state is not OrderState.PENDING_CANCEL
