"""Carrying out the machine's broker effects against IB, idempotently.

Every effect may be carried out twice (a crash between the commit and the broker call leaves it
pending; it runs again at the next start), so each one first looks at what IB already has for
the plan (by orderRef) and only sends what is missing. Order intents (leg, orderRef, reserved
orderId) are written to state.db before ``placeOrder``.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from ib_async import Order, Trade

import machines
from machines import Leg, Plan, State, order_ref
from machines import effects as fx

from .broker import translate
from .broker.ib import IBBroker
from .clock import Clock
from .errors import BrokerUnavailable, UnknownContract
from .faultpoints import FaultPoints
from .store import Store

log = logging.getLogger(__name__)

DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


def oca_group(plan_id: str) -> str:
    return f"{plan_id}:oca"


def _active(trades: list[Trade], leg: Leg) -> list[Trade]:
    out = []
    for t in trades:
        ref = translate.ref_of(t.order)
        if ref is not None and ref[1] is leg and t.orderStatus.status not in DONE:
            out.append(t)
    return out


REPRICE_ECHO_SECONDS = 10.0  # IB echoes a modification within a second; after this, it was lost


def _working_stop(trades: list[Trade]) -> Trade | None:
    """The stop IB reports working for the plan (the latest, if several; one IB warned about
    still works)."""
    stops = [t for t in _active(trades, Leg.STOP) if t.orderStatus.status in translate.PROTECTING]
    return stops[-1] if stops else None


def _at_or_past(target: Trade, stop_price: Decimal | None) -> bool:
    """The take-profit's limit is at the stop's price or past it (a long's SELL at or below it,
    a short's BUY at or above it): marketable while the stop has not triggered."""
    limit = translate.decimal(target.order.lmtPrice)
    if limit is None or stop_price is None:
        return False
    return limit <= stop_price if target.order.action == "SELL" else limit >= stop_price


def _remaining(t: Trade) -> int:
    total = float(t.order.totalQuantity or 0)
    return int(round(total - float(t.orderStatus.filled or 0)))


class Executor:
    """Turns effects into ib_async calls. ``emit(plan_id, event)`` feeds failures back."""

    def __init__(self, broker: IBBroker, store: Store, clock: Clock,
                 emit: Callable[[str, Any], None], faults: FaultPoints | None = None) -> None:
        self.faults = faults or FaultPoints()
        self.broker = broker
        self.store = store
        self.clock = clock
        self.emit = emit
        # plan → when its take-profit was repriced to exit (IB may not have echoed it yet)
        self._repriced: dict[str, datetime] = {}
        # plans whose repricing IB refused: their flatten is a market order from now on
        self._refused: set[str] = set()

    async def run(self, effect: Any, plan: Plan | None = None) -> str:
        """Carry out one effect; returns a short result for the effect log.

        Raises:
            BrokerUnavailable: not connected (or IB did not answer); the effect stays pending.

        The effect is first brought up to date with the plan as it is *now* (``refresh``): an
        effect committed earlier may run after later fills were applied (a crash, a reconnect),
        and must never trade on the position it was computed for.
        """
        if not self.broker.is_connected():
            raise BrokerUnavailable("not connected to IB")
        if isinstance(effect, (fx.Protect, fx.Flatten)):
            # look the contract up first: a lookup awaits IB, and the quantities below must be
            # read after it (a fill arriving during it would otherwise be traded again)
            try:
                await self.broker.contract(effect.symbol)
            except UnknownContract:
                pass  # reported by the effect itself
        if plan is not None:
            fresh = self.refresh(effect, plan)
            if fresh is None:
                return f"skipped: stale (plan {plan.id} is {plan.state}{', flattening' if plan.flattening else ''})"
            effect = fresh
        if isinstance(effect, fx.Protect):
            return await self._protect(effect)
        if isinstance(effect, fx.Flatten):
            return await self._flatten(effect)
        if isinstance(effect, fx.PlaceBracket):
            return await self._place_bracket(effect)
        if isinstance(effect, fx.ModifyStop):
            return self._modify_stop(effect)
        if isinstance(effect, fx.CancelEntry):
            return self._cancel_legs(effect.plan_id, (Leg.ENTRY,))
        if isinstance(effect, fx.CancelExits):
            return self._cancel_legs(effect.plan_id, (Leg.ENTRY, Leg.STOP, Leg.TARGET))
        raise TypeError(f"not a broker effect: {effect!r}")

    def refresh(self, effect: Any, plan: Plan) -> Any | None:
        """The effect as the plan needs it now, or None if the plan has moved past it."""
        live = (State.FILLED, State.PROTECTED, State.TRAILING, State.ERROR)
        if isinstance(effect, fx.PlaceBracket):
            return effect if plan.state == State.SIZED and not plan.cancel_requested else None
        if isinstance(effect, fx.Protect):
            if plan.state not in live or plan.flattening:
                return None
            return replace(effect, quantity=self.live_open_qty(plan), stop_price=plan.stop_price,
                           target_price=plan.target_price)
        if isinstance(effect, fx.Flatten):
            if not plan.flattening:
                return None
            return replace(effect, quantity=self.live_open_qty(plan),
                           price=plan.stop_price if effect.price is not None else None)
        if isinstance(effect, fx.ModifyStop):
            if plan.state not in live or plan.flattening:
                return None
            return replace(effect, stop_price=plan.stop_price, quantity=self.live_open_qty(plan))
        return effect

    def gaps(self, plan: Plan) -> tuple[int, int]:
        """Shares IB shows filled that the plan has not applied yet: (entry, exit).

        Two sources, whichever says more: executions IB reported that the plan has not seen,
        and the cumulative ``filled`` of the plan's orders (IB may send an orderStatus before
        its execDetails).
        """
        entry_exec = exit_exec = 0
        for fill in self.broker.fills_of(plan.id):
            ex = fill.execution
            ref = translate.parse_order_ref(getattr(ex, "orderRef", "") or "")
            if ref is None or ex.execId in plan.seen_exec_ids:
                continue
            qty = int(round(float(ex.shares)))
            if ref[1] is Leg.ENTRY:
                entry_exec += qty
            else:
                exit_exec += qty
        entry_status = exit_status = 0
        for t in self.broker.trades_of(plan.id):
            ref = translate.ref_of(t.order)
            filled = int(round(float(t.orderStatus.filled or 0)))
            if ref is None or not filled:
                continue
            if ref[1] is Leg.ENTRY:
                entry_status += filled
            else:
                exit_status += filled
        return (max(entry_exec, entry_status - plan.filled_qty, 0),
                max(exit_exec, exit_status - plan.exited_qty, 0))

    def live_open_qty(self, plan: Plan) -> int:
        """The position as IB will soon report it: the plan's plus what IB filled that it has not applied."""
        entry_gap, exit_gap = self.gaps(plan)
        return max(0, plan.open_qty + entry_gap - exit_gap)

    def unapplied_fills(self, plan: Plan) -> bool:
        """IB shows fills of this plan that it has not applied yet."""
        return self.gaps(plan) != (0, 0)

    # ------------------------------------------------------------------ helpers
    def _order(self, plan_id: str, leg: Leg, attempt: int, action: str, qty: int, order_type: str,
               *, lmt: Decimal | None = None, aux: Decimal | None = None, parent_id: int = 0,
               transmit: bool = True, oca: str = "") -> Order:
        order = Order(orderId=self.broker.next_order_id(), action=action, totalQuantity=qty, orderType=order_type,
                      orderRef=order_ref(plan_id, leg, attempt), tif="GTC", transmit=transmit, parentId=parent_id)
        if lmt is not None:
            order.lmtPrice = float(lmt)
        if aux is not None:
            order.auxPrice = float(aux)
        if oca:
            # type 2, "reduce with block": a fill of one member shrinks the others by what filled,
            # so a partly filled flatten (or stop) leaves the rest of the position protected
            order.ocaGroup, order.ocaType = oca, 2
        return order

    def _intent(self, plan_id: str, leg: Leg, attempt: int, order: Order, parent_ref: str | None = None) -> dict[str, Any]:
        return {"order_ref": order.orderRef, "plan_id": plan_id, "leg": leg.value, "attempt": attempt,
                "order_id": order.orderId, "parent_ref": parent_ref, "oca_group": order.ocaGroup or None,
                "action": order.action, "order_type": order.orderType, "quantity": int(order.totalQuantity),
                "lmt_price": translate.decimal(order.lmtPrice) if order.orderType in ("LMT",) else None,
                "aux_price": translate.decimal(order.auxPrice) if order.orderType in ("STP",) else None}

    # ------------------------------------------------------------------ effects
    async def _place_bracket(self, e: fx.PlaceBracket) -> str:
        trades = self.broker.trades_of(e.plan_id)
        if any((r := translate.ref_of(t.order)) is not None and r[1] is Leg.ENTRY for t in trades):
            return "skipped: IB already has this plan's entry"
        try:
            contract = await self.broker.contract(e.symbol)
        except UnknownContract as exc:
            self.emit(e.plan_id, machines.EntryRejected(self.clock.now(), 200, str(exc)))
            return f"rejected: {exc}"
        attempt = self.store.next_attempt(e.plan_id, Leg.ENTRY.value)
        side = e.side
        if e.entry_type is machines.EntryType.MARKET:
            parent = self._order(e.plan_id, Leg.ENTRY, attempt, side.entry_action, e.quantity, "MKT", transmit=False)
        elif e.entry_type is machines.EntryType.LIMIT:
            parent = self._order(e.plan_id, Leg.ENTRY, attempt, side.entry_action, e.quantity, "LMT",
                                 lmt=e.entry_price, transmit=False)
        else:
            parent = self._order(e.plan_id, Leg.ENTRY, attempt, side.entry_action, e.quantity, "STP",
                                 aux=e.entry_price, transmit=False)
        oca = oca_group(e.plan_id)
        target = self._order(e.plan_id, Leg.TARGET, attempt, side.exit_action, e.quantity, "LMT",
                             lmt=e.target_price, parent_id=parent.orderId, transmit=False, oca=oca)
        stop = self._order(e.plan_id, Leg.STOP, attempt, side.exit_action, e.quantity, "STP",
                           aux=e.stop_price, parent_id=parent.orderId, transmit=True, oca=oca)
        self.store.record_intents([
            self._intent(e.plan_id, Leg.ENTRY, attempt, parent),
            self._intent(e.plan_id, Leg.TARGET, attempt, target, parent.orderRef),
            self._intent(e.plan_id, Leg.STOP, attempt, stop, parent.orderRef),
        ], at=self.clock.now())
        await self.broker.place_group(contract, [parent, target, stop])   # one write: IB gets all or none
        self.faults.hit("after_place", ["PlaceBracket"])
        # the stop child transmitted the whole group: none of its orders is held any more (a
        # held order's cancel is only local in ib_async, and a modify must not hold it again)
        parent.transmit = target.transmit = True
        return f"placed bracket {parent.orderId}/{target.orderId}/{stop.orderId}"

    async def _protect(self, e: fx.Protect) -> str:
        trades = self.broker.trades_of(e.plan_id)
        done: list[str] = []
        contract = None
        for leg, price in ((Leg.STOP, e.stop_price), (Leg.TARGET, e.target_price)):
            active = _active(trades, leg)
            if e.quantity <= 0:
                for t in active:
                    self.broker.cancel(t.order)
                    done.append(f"cancelled {leg.value} {t.order.orderId}")
                continue
            if active:
                t = active[-1]
                for extra in active[:-1]:  # never two working stops for one plan
                    self.broker.cancel(extra.order)
                    done.append(f"cancelled extra {leg.value} {extra.order.orderId}")
                if _remaining(t) != e.quantity:
                    self._amend(t, e.plan_id, totalQuantity=float(t.orderStatus.filled or 0) + e.quantity)
                    done.append(f"resized {leg.value} {t.order.orderId} to {e.quantity}")
                continue
            try:
                contract = contract or await self.broker.contract(e.symbol)
            except UnknownContract as exc:
                self.emit(e.plan_id, machines.ProtectionFailed(self.clock.now(), leg, 200, str(exc)))
                return f"failed: {exc}"
            attempt = self.store.next_attempt(e.plan_id, leg.value)
            if leg is Leg.STOP:
                order = self._order(e.plan_id, leg, attempt, e.side.exit_action, e.quantity, "STP", aux=price,
                                    oca=oca_group(e.plan_id))
            else:
                order = self._order(e.plan_id, leg, attempt, e.side.exit_action, e.quantity, "LMT", lmt=price,
                                    oca=oca_group(e.plan_id))
            self.store.record_intents([self._intent(e.plan_id, leg, attempt, order)], at=self.clock.now())
            self.broker.place(contract, order)
            done.append(f"placed {leg.value} {order.orderId} for {e.quantity}")
        return "; ".join(done) or "protection already matches"

    def _modify_stop(self, e: fx.ModifyStop) -> str:
        active = _active(self.broker.trades_of(e.plan_id), Leg.STOP)
        if not active:
            return "skipped: no working stop (protection status will re-protect)"
        t = active[-1]
        if translate.decimal(t.order.auxPrice) == e.stop_price:
            return f"stop {t.order.orderId} already at {e.stop_price}"
        try:
            self._amend(t, e.plan_id, auxPrice=float(e.stop_price))
        except AssertionError:  # ib_async believes the order is done: the status will say why
            return "skipped: ib_async reports the stop done"
        return f"modified stop {t.order.orderId} to {e.stop_price}"

    def _amend(self, t: Trade, plan_id: str, **changes: Any) -> None:
        """Modify a working order in place (same orderId) by sending an amended copy.

        ``trade.order`` is left as IB last confirmed it (ib_async updates it from IB's
        openOrder), so what we read back is IB's word, not our request. A bracket child whose
        parent has filled is sent without the parentId (IB answers a stale parent with 135,
        ib_insync#647), and with transmit on.
        """
        order = copy.copy(t.order)
        for name, value in changes.items():
            setattr(order, name, value)
        order.transmit = True
        if order.parentId and self._entry_filled(plan_id):
            order.parentId = 0
        self.broker.place(t.contract, order)

    def _entry_filled(self, plan_id: str) -> bool:
        for t in self.broker.trades_of(plan_id):
            ref = translate.ref_of(t.order)
            if ref is not None and ref[1] is Leg.ENTRY and (
                    float(t.orderStatus.filled or 0) > 0 or t.orderStatus.status == "Filled"):
                return True
        return False

    def _cancel_legs(self, plan_id: str, legs: tuple[Leg, ...]) -> str:
        trades = self.broker.trades_of(plan_id)
        done = []
        for leg in legs:
            for t in _active(trades, leg):
                if t.orderStatus.status == "PendingCancel":
                    continue
                self.broker.cancel(t.order)
                done.append(f"cancel {leg.value} {t.order.orderId}")
        return "; ".join(done) or "nothing working"

    def exit_in_flight(self, plan: Plan) -> bool:
        """IB has (or is being sent) an order that exits the plan's whole position now: a
        flatten order, or the take-profit repriced to (or past) the working stop's price while
        that stop still works — the stop is what makes that price marketable: the market is
        above a long's stop, or the stop has triggered. A repricing IB has not echoed yet counts
        for ``REPRICE_ECHO_SECONDS``; after that the flatten re-sends it (harmless: it sets an
        absolute price and size), never a market order next to it."""
        trades = self.broker.trades_of(plan.id)
        if _active(trades, Leg.FLATTEN):
            return True
        stop = _working_stop(trades)
        if stop is None:
            return False
        sent = self._repriced.get(plan.id)
        pending = sent is not None and (self.clock.now() - sent).total_seconds() < REPRICE_ECHO_SECONDS
        stop_price = translate.decimal(stop.order.auxPrice)
        return any(t.orderStatus.status != "PendingCancel" and _remaining(t) >= plan.open_qty and (
            pending or _at_or_past(t, stop_price)) for t in _active(trades, Leg.TARGET))

    def forget_reprices(self, plan_id: str | None = None, *, refused: bool = False) -> None:
        """Stop counting on repricings IB has not echoed: the connection dropped (all: what
        reached IB is read back at the reconnect), or IB refused ``plan_id``'s (``refused``:
        that plan's flatten is a market order from now on)."""
        if plan_id is None:
            self._repriced.clear()
            return
        self._repriced.pop(plan_id, None)
        if refused:
            self._refused.add(plan_id)

    async def _flatten(self, e: fx.Flatten) -> str:
        trades = self.broker.trades_of(e.plan_id)
        for t in _active(trades, Leg.ENTRY):
            if t.orderStatus.status != "PendingCancel":
                self.broker.cancel(t.order)
        covered = sum(_remaining(t) for t in _active(trades, Leg.FLATTEN))
        qty = e.quantity - covered
        if qty <= 0:
            return f"skipped: flatten orders already cover {covered}"
        # Through the take-profit only while IB reports a stop working for the whole position:
        # moved to that stop's price (as IB has it, not as the plan wants it: a refused trail
        # leaves them apart) it is marketable, and the two stay one OCA group at IB.
        stop = _working_stop(trades)
        targets = [t for t in _active(trades, Leg.TARGET) if t.orderStatus.status != "PendingCancel"]
        if (e.price is not None and e.plan_id not in self._refused and targets and not covered
                and stop is not None and _remaining(stop) >= qty):
            t, price = targets[-1], translate.decimal(stop.order.auxPrice)
            if translate.decimal(t.order.lmtPrice) == price and _remaining(t) == qty:
                return f"take-profit {t.order.orderId} already repriced to {price} for {qty}"
            try:
                self._amend(t, e.plan_id, lmtPrice=float(price), totalQuantity=float(t.orderStatus.filled or 0) + qty)
            except AssertionError:  # ib_async sent it, then found the order done: its status will tell
                return f"take-profit {t.order.orderId} repriced, but ib_async reports it done"
            self._repriced[e.plan_id] = self.clock.now()
            return f"exit now: take-profit {t.order.orderId} repriced to {price} (marketable) for {qty}"
        for t in targets:  # a market order now: no take-profit (perhaps repriced) may also sell
            self.broker.cancel(t.order)
        try:
            contract = await self.broker.contract(e.symbol)
        except UnknownContract as exc:
            self.emit(e.plan_id, machines.FlattenFailed(self.clock.now(), 200, str(exc)))
            return f"failed: {exc}"
        attempt = self.store.next_attempt(e.plan_id, Leg.FLATTEN.value)
        order = self._order(e.plan_id, Leg.FLATTEN, attempt, e.side.exit_action, qty, "MKT",
                            oca=oca_group(e.plan_id))
        self.store.record_intents([self._intent(e.plan_id, Leg.FLATTEN, attempt, order)], at=self.clock.now())
        self.broker.place(contract, order)
        return f"placed flatten {order.orderId} for {qty}"
