"""What protects a plan's position at IB, re-derived from IB's own order views.

``protected`` means IB reports a stop and a take-profit working for the whole open quantity.
Absence is judged only once the plan's fills are applied: IB's order view runs ahead of the
engine's queue, and judging it against stale fills would re-protect a position already gone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import machines
from machines import LIVE_POSITION, Leg, Plan, State

from ..broker.port import Broker, BrokerOrder
from ..clock import Clock
from . import legs
from .fills import FillsInFlight
from .registry import PlanRegistry

Apply = Callable[[str, Any], Awaitable[bool]]


def protection_status(orders: Iterable[BrokerOrder], at: datetime,
                      entry_filled: bool = False) -> machines.ProtectionStatus:
    """What is working to protect the plan whose orders these are.

    Counts the remaining quantity of stop and target orders IB reports working (a warned one
    too) and whose parent, if any, has filled (``entry_filled``: the plan knows of entry fills;
    a completed parent restored after a restart carries no fill count in ib_async).
    """
    mine = list(orders)
    entry_filled = entry_filled or legs.entry_filled(mine)
    stop_qty = target_qty = 0
    stop_price: Decimal | None = None
    target_price: Decimal | None = None
    for o in mine:
        if o.leg not in (Leg.STOP, Leg.TARGET) or not o.state.protecting:
            continue
        if o.parent_id and not entry_filled:
            continue  # a bracket child still held for its parent protects nothing yet
        if o.leg is Leg.STOP:
            stop_qty += o.remaining
            stop_price = o.stop_price
        else:
            target_qty += o.remaining
            target_price = o.limit_price
    return machines.ProtectionStatus(at, stop_qty, target_qty, stop_price, target_price)


class Protection:
    def __init__(self, registry: PlanRegistry, broker: Broker, fills: FillsInFlight, clock: Clock,
                 apply: Apply) -> None:
        self.registry = registry
        self.broker = broker
        self.fills = fills
        self.clock = clock
        self.apply = apply

    def if_changed(self, plan: Plan) -> machines.ProtectionStatus | None:
        """IB's view of the plan's protection, if it differs from what the plan last recorded."""
        orders = self.broker.orders_of(plan.id)
        if plan.state == State.CLOSED:   # its leftovers to cancel: only ours can be (another client's is theirs)
            orders = [o for o in orders if o.client_id == self.broker.client_id]
        status = protection_status(orders, self.clock.now(), entry_filled=plan.filled_qty > 0)
        same_qty = (status.stop_quantity, status.target_quantity) == (plan.protected_stop_qty,
                                                                      plan.protected_target_qty)
        same_price = status.stop_price is None or status.stop_price == plan.confirmed_stop_price
        now_covers = plan.state == State.FILLED and not plan.flattening and plan.open_qty > 0 \
            and status.stop_quantity == status.target_quantity == plan.open_qty
        if same_qty and same_price and not now_covers:
            return None
        return status

    async def changed(self, plan_id: str) -> None:
        """One of the plan's orders changed at IB: re-derive its protection, once its fills are applied."""
        plan = self.registry.known(plan_id)
        if plan is None or (plan.state not in LIVE_POSITION and plan.state != State.CLOSED):
            return
        if self.fills.unapplied(plan):
            return
        status = self.if_changed(plan)
        if status is not None:
            await self.apply(plan_id, status)

    async def rederive(self, plan: Plan) -> None:
        """Reconciliation's check of an open position (its fills already applied)."""
        status = self.if_changed(plan)
        if status is not None:
            await self.apply(plan.id, status)
