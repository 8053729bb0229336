"""A plan's orders at IB, by leg: the questions the executor, protection and flatten ask of
IB's views, and the request for a new order of ours (orderRef, OCA group, explicit TIF)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import machines
from machines import Leg, PlanSpec, order_ref

from ..broker.codes import Meaning, meaning
from ..broker.port import Broker, BrokerOrder, ForeignOrder, OrderRequest, OrderState
from ..clock import Clock


def foreign(order: BrokerOrder, client_id: int) -> str | None:
    """Why this connection cannot change ``order`` (IB lets only the client that placed an order
    modify or cancel it), or None when it is ours."""
    if order.client_id == client_id:
        return None
    return (f"its {order.leg.value} order {order.order_id} ({order.ref}) is held by IB client {order.client_id}, "
            f"and IB lets only that client change it: finish it from that client or in TWS")


def oca_group(plan_id: str) -> str:
    return f"{plan_id}:oca"


def active(orders: list[BrokerOrder], leg: Leg) -> list[BrokerOrder]:
    """The plan's orders of ``leg`` that can still execute (or are not known to be done)."""
    return [o for o in orders if o.leg is leg and not o.state.done]


def flattens(orders: list[BrokerOrder]) -> list[BrokerOrder]:
    """The plan's flatten orders that may still sell: active, and not refused before IB accepted
    them (ib_async leaves a new order IB refused with 321 ``ValidationError``, not done)."""
    return [o for o in active(orders, Leg.FLATTEN) if meaning(o.error_code, o.was_working) is not Meaning.REJECTED]


def live(orders: list[BrokerOrder], leg: Leg) -> list[BrokerOrder]:
    """Active orders of ``leg`` not already being cancelled."""
    return [o for o in active(orders, leg) if o.state is not OrderState.PENDING_CANCEL]


def working_stop(orders: list[BrokerOrder]) -> BrokerOrder | None:
    """The stop IB reports working for the plan (the latest, if several; one IB warned about
    still works)."""
    stops = [o for o in active(orders, Leg.STOP) if o.state.protecting]
    return stops[-1] if stops else None


def own_exits_working(orders: list[BrokerOrder], client_id: int) -> bool:
    """This connection has a stop, take-profit or flatten of the plan that can still execute."""
    return any(o.client_id == client_id and o.state.protecting and o.leg in (Leg.STOP, Leg.TARGET, Leg.FLATTEN)
               for o in orders)


def own_exit_quantity(orders: list[BrokerOrder], client_id: int) -> int:
    """How many of the plan's shares this connection's working exits could sell (a stop and a
    take-profit of one plan are one OCA group: the larger of the two)."""
    def of(leg: Leg) -> int:
        return sum(o.remaining for o in orders if o.client_id == client_id and o.state.protecting and o.leg is leg)
    return max(of(Leg.STOP), of(Leg.TARGET)) + of(Leg.FLATTEN)


def others_exits(orders: list[BrokerOrder], client_id: int, symbol: str) -> list[ForeignOrder]:
    """Exit orders carrying the plan's orderRef that another client placed (the trader copied
    the plan's stop in TWS): they sell the plan's shares like any foreign exit."""
    return [ForeignOrder(symbol, o.action, o.order_type, o.remaining, o.client_id, o.order_id, o.perm_id,
                         o.limit_price, o.stop_price, o.parent_id, o.oca_group)
            for o in orders if o.client_id != client_id and o.state.protecting
            and o.leg in (Leg.STOP, Leg.TARGET, Leg.FLATTEN)]


def copies_reach(copies: list[ForeignOrder], exit_action: str) -> int:
    """How many shares the trader's copies of plans' exits (their orderRef, another client) can
    sell together. A copy is for its plan's shares, never first for the trader's own: its reach
    is not reduced by what the trader holds beside the plans. Copies that exclude each other (one
    OCA group, one bracket) count once, at the largest."""
    groups: dict[tuple[Any, ...], int] = {}
    for c in copies:
        if c.action == exit_action and c.remaining > 0:
            key = c.exclusive_with()
            groups[key] = max(groups.get(key, 0), c.remaining)
    return sum(groups.values())


def entry_filled(orders: list[BrokerOrder]) -> bool:
    """IB shows the plan's entry (partly) filled."""
    return any(o.leg is Leg.ENTRY and (o.filled > 0 or o.state is OrderState.FILLED) for o in orders)


def has_entry(orders: list[BrokerOrder]) -> bool:
    """IB has (or had) an entry order of the plan, in any state."""
    return any(o.leg is Leg.ENTRY for o in orders)


@dataclass(frozen=True, slots=True)
class Terms:
    """How a plan's orders are sent: the entry's time in force (GTD: IB cancels it at
    ``good_till``, even while the orchestrator is down) and ``outsideRth`` on every leg. Exits are
    always GTC: protection never expires."""

    entry_tif: str = "GTC"
    good_till: datetime | None = None
    outside_rth: bool = False


DEFAULT_TERMS = Terms()


def terms_of(spec: PlanSpec | None) -> Terms:
    if spec is None or not spec.uses_sessions:
        return DEFAULT_TERMS
    tif = spec.tif or "GTC"
    return Terms(tif, spec.expire_at if tif == "GTD" else None, spec.outside_rth)


def request(order_id: int, plan_id: str, leg: Leg, attempt: int, action: str, quantity: int, order_type: str, *,
            limit: Decimal | None = None, stop: Decimal | None = None, parent_id: int = 0, transmit: bool = True,
            oca: str = "", terms: Terms = DEFAULT_TERMS) -> OrderRequest:
    """A new order of ours. Every leg states its TIF (GTC; the entry's from ``terms``) rather than
    take the account's preset."""
    entry = leg is Leg.ENTRY
    return OrderRequest(order_id=order_id, ref=order_ref(plan_id, leg, attempt), action=action, quantity=quantity,
                        order_type=order_type, limit_price=limit, stop_price=stop, parent_id=parent_id,
                        oca_group=oca, transmit=transmit, tif=terms.entry_tif if entry else "GTC",
                        good_till=terms.good_till if entry else None, outside_rth=terms.outside_rth)


def intent(plan_id: str, leg: Leg, attempt: int, order: OrderRequest, parent_ref: str | None = None) -> dict[str, Any]:
    """The store's record of an order about to be sent (written before it is)."""
    return {"order_ref": order.ref, "plan_id": plan_id, "leg": leg.value, "attempt": attempt,
            "order_id": order.order_id, "parent_ref": parent_ref, "oca_group": order.oca_group or None,
            "action": order.action, "order_type": order.order_type, "quantity": order.quantity,
            "lmt_price": order.limit_price if order.order_type == "LMT" else None,
            "aux_price": order.stop_price if order.order_type == "STP" else None}


class OrderChanges:
    """Modifications and cancels of our orders, refused for an order another client holds: the
    plan then goes to ``error`` with the reason (a human must act; placing another exit beside it
    would be a second exit)."""

    def __init__(self, broker: Broker, emit: Callable[[str, Any], None], clock: Clock) -> None:
        self.broker = broker
        self.emit = emit
        self.clock = clock

    def _allowed(self, o: BrokerOrder) -> bool:
        why = foreign(o, self.broker.client_id)
        if why is None:
            return True
        self.emit(o.plan_id, machines.Fault(self.clock.now(), why))
        return False

    def cancel(self, o: BrokerOrder) -> bool:
        """Cancel ``o`` unless a cancel of it is already pending at IB: a second one gets 10148,
        which ib_async turns into a local ``Cancelled`` while the order may still work."""
        if not self._allowed(o):
            return False
        if o.state is not OrderState.PENDING_CANCEL:
            self.broker.cancel(o)
        return True

    def modify(self, o: BrokerOrder, *, parent_filled: bool, quantity: int | None = None,
               limit_price: Decimal | None = None, stop_price: Decimal | None = None,
               urgency: float | None = None) -> bool:
        """Raises OrderGone like the broker's own ``modify`` (``urgency``: see the port's)."""
        if not self._allowed(o):
            return False
        self.broker.modify(o, parent_filled=parent_filled, quantity=quantity, limit_price=limit_price,
                           stop_price=stop_price, urgency=urgency)
        return True
