"""Exiting a whole position now: the one home of the flatten policy.

A flatten (a cancel of a filled plan, an emergency exit, a late fill) goes through the plan's
own take-profit while IB reports a stop working for the whole position: the take-profit's limit
is moved to that stop's price *as IB has it* (not as the plan wants it: a refused trail leaves
them apart), which makes it marketable, and take-profit and stop stay one OCA group at IB, so
whichever executes first shrinks the other and the position can never be sold twice (a separate
market order racing the stop could both execute and reverse the position: chaos finding
flatten-overfill). With no working stop or take-profit, or after IB refused the repricing, a
market order inside the plan's OCA group closes it — sent only once IB reports every stop and
take-profit of the plan done: they are cancelled first, and the market order follows IB's
confirmation (the engine checks again on every order status of a flattening plan). A cancel
that loses the race against a fill is then the exit, not a second sale. If IB then refuses the
market order, the plan's machine puts the stop back for the whole position (``flatten_refused``)
and leaves the retry to the trader's cancel; a plan in error whose cancels await IB's
confirmation for such a retry gets its market order here too.

A repricing IB has not echoed yet counts as the exit for ``REPRICE_ECHO_SECONDS``; after that
(or after a disconnect) it is considered lost and the flatten is sent again — re-sending the
repricing is harmless (it sets an absolute price and size), a market order next to it is not.
Plans in ``error`` are a human's: nothing here flattens them on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import machines
from machines import LIVE_POSITION, Leg, Plan, State
from machines import effects as fx

from ..broker import evidence
from ..broker.port import Broker, BrokerOrder, ForeignOrder, OrderGone, OrderState
from ..clock import Clock
from ..errors import UnknownContract
from ..store import Store
from . import legs
from .fills import FillsInFlight
from .holdings import Holdings

WAITING = "waiting"   # a Flatten's result while its market order waits for IB's confirmation (kept in the store)
REPRICE_ECHO_SECONDS = 10.0  # IB echoes a modification within a second; after this, it was lost
Emit = Callable[[str, Any], None]


def _at_or_past(target: BrokerOrder, stop_price: Decimal | None) -> bool:
    """The take-profit's limit is at the stop's price or past it (a long's SELL at or below it,
    a short's BUY at or above it): marketable while the stop has not triggered."""
    limit = target.limit_price
    if limit is None or stop_price is None:
        return False
    return limit <= stop_price if target.action == "SELL" else limit >= stop_price


def _may_still_execute(orders: list[BrokerOrder]) -> list[str]:
    """Our stops and take-profits IB has not reported done: a cancel sent is not a cancel done
    (IB cannot promise it reaches the exchange before a fill), so a market order beside one of
    them could sell the shares a second time (chaos R1201-E4: a stop filled under a flatten). One
    ib_async shows cancelled only because IB refused our cancel (10148, 161, 100 ...) may still work
    there: it is done once IB's own views or a clean 202 say so (the adapter then corrects it)."""
    return [o.ref for o in orders if o.leg in (Leg.STOP, Leg.TARGET)
            and (not o.state.done or evidence.refused_cancel(o))]


class Flattener:
    def __init__(self, broker: Broker, store: Store, clock: Clock, emit: Emit, fills: FillsInFlight,
                 holdings: Holdings) -> None:
        self.broker = broker
        self.holdings = holdings
        self.store = store
        self.clock = clock
        self.emit = emit
        self.fills = fills
        self.changes = legs.OrderChanges(broker, emit, clock)
        self._repriced: dict[str, datetime] = {}  # plan → when its take-profit was repriced to exit
        self._refused: set[str] = set()  # plans whose repricing IB refused: a market order from now on
        self._awaiting: set[str] = set()  # plans whose exits were cancelled for a market order not yet sent
        self._looked: set[str] = set()    # plans in error IB was read again for since they last had an exit

    async def carry_out(self, e: fx.Flatten) -> str:
        """Close ``e.quantity`` now (the effect is already refreshed against the plan)."""
        orders = self.broker.orders_of(e.plan_id)
        for o in legs.live(orders, Leg.ENTRY):
            self.changes.cancel(o)
        covered = sum(o.open_quantity for o in legs.flattens(orders))
        qty = e.quantity - covered
        if qty < 0:   # IB holds less than the market orders sell (shares sold by hand under them)
            return "cut to what IB holds" + self._cut(legs.flattens(orders), e.quantity, legs.entry_filled(orders))
        if qty == 0:
            return f"skipped: flatten orders already cover {covered}"
        stop = legs.working_stop(orders)
        targets = legs.live(orders, Leg.TARGET)
        if (e.price is not None and e.plan_id not in self._refused and targets and not covered
                and stop is not None and stop.open_quantity >= qty):
            t, price = targets[-1], stop.stop_price
            if t.limit_price == price and t.open_quantity == qty:
                return f"take-profit {t.order_id} already repriced to {price} for {qty}"
            try:
                if not self.changes.modify(t, parent_filled=legs.entry_filled(orders), limit_price=price,
                                           quantity=qty):
                    return f"refused: take-profit {t.order_id} is held by client {t.client_id}"
            except OrderGone:  # sent, then found done by the adapter: its status will tell
                return f"take-profit {t.order_id} repriced, but ib_async reports it done"
            self._repriced[e.plan_id] = self.clock.now()
            cut = self._cut([stop], qty, legs.entry_filled(orders))
            return f"exit now: take-profit {t.order_id} repriced to {price} (marketable) for {qty}{cut}"
        for o in [*targets, *legs.live(orders, Leg.STOP)]:  # nothing of ours may sell beside a market order
            if not self.changes.cancel(o):
                return f"refused: {o.leg.value} {o.order_id} is held by client {o.client_id}: no market order beside it"
        if waiting := _may_still_execute(orders):
            self._awaiting.add(e.plan_id)   # carried on at IB's confirmation, for a plan in error too
            return (f"{WAITING}: {', '.join(waiting)} cancelled; the market order follows once IB confirms "
                    "(if one fills instead, it is the exit)")
        try:
            await self.broker.qualify(e.symbol)
        except UnknownContract as exc:
            self.emit(e.plan_id, machines.FlattenFailed(self.clock.now(), 200, str(exc)))
            return f"failed: {exc}"
        attempt = self.store.next_attempt(e.plan_id, Leg.FLATTEN.value)
        order = legs.request(self.broker.next_order_id(), e.plan_id, Leg.FLATTEN, attempt, e.side.exit_action, qty,
                             "MKT", oca=legs.oca_group(e.plan_id))
        self.store.record_intents([legs.intent(e.plan_id, Leg.FLATTEN, attempt, order)], at=self.clock.now())
        self._awaiting.discard(e.plan_id)
        self.broker.place(e.symbol, order)
        return f"placed flatten {order.order_id} for {qty}"

    def _cut(self, exits: list[BrokerOrder], quantity: int, parent_filled: bool) -> str:
        """Cut ``exits`` of ours (largest first) so that together they sell no more than ``quantity``."""
        said, left = [], quantity
        for o in sorted(exits, key=lambda o: o.open_quantity, reverse=True):
            keep = min(o.open_quantity, left)
            left -= keep
            if keep == o.open_quantity:
                continue
            try:
                ok = (self.changes.modify(o, parent_filled=parent_filled, quantity=keep) if keep
                      else self.changes.cancel(o))
            except OrderGone:   # done already: its status will tell
                continue
            said.append(f"{o.leg.value} {o.order_id} cut to {keep}" if ok else
                        f"{o.leg.value} {o.order_id} held by client {o.client_id}")
        return "".join(f"; {s}" for s in said)

    def exit_in_flight(self, plan: Plan) -> bool:
        """IB has (or is being sent) an order that exits the plan's whole position now: a
        flatten order, or the take-profit repriced to (or past) the working stop's price while
        that stop still works — the stop is what makes that price marketable."""
        orders = self.broker.orders_of(plan.id)
        if legs.flattens(orders):
            return True
        if any(o.leg in (Leg.STOP, Leg.TARGET) and o.state is OrderState.PENDING_CANCEL for o in orders):
            return True   # cancelled for a market order: it fills (the exit) or IB confirms, and the order follows
        stop = legs.working_stop(orders)
        if stop is None:
            return False
        sent = self._repriced.get(plan.id)
        pending = sent is not None and (self.clock.now() - sent).total_seconds() < REPRICE_ECHO_SECONDS
        return any(t.open_quantity >= plan.open_qty and (pending or _at_or_past(t, stop.stop_price))
                   for t in legs.live(orders, Leg.TARGET))

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

    def awaiting(self, plan_id: str) -> bool:
        """The plan's exits were cancelled for a market order not sent yet (in memory, or, after a
        restart, from the effect log: the Flatten's result said so and no flatten order followed)."""
        return plan_id in self._awaiting or self.store.flatten_waiting(plan_id, WAITING)

    def stop_cut(self, plan: Plan) -> fx.Protect | None:
        """A plan in error whose stop works at IB for more than the plan holds once every fill
        heard is applied (the stop put back after a refused flatten went out before a fill of that
        flatten was heard: IB's 202 came first): the cut to its open quantity. A stop for more than
        is held would sell short when it triggers."""
        if plan.state != State.ERROR or plan.flattening or self.fills.unapplied(plan):
            return None
        stop = legs.working_stop(self.broker.orders_of(plan.id))
        if stop is None or stop.client_id != self.broker.client_id or stop.open_quantity <= plan.open_qty:
            return None
        return fx.Protect(plan.id, plan.key, plan.spec.side, plan.open_qty, plan.stop_price, plan.target_price,
                          stop_only=True, grow=False)

    def unprotected(self, plan: Plan, pending_effects: list[Any],
                    foreign: list[ForeignOrder]) -> machines.Unprotected | None:
        """Reconciliation's last word on a plan in error: an open position with nothing at IB that
        could sell it (no stop, take-profit or flatten of the plan, none cancelled only on our word,
        no exit of another client reaching past the trader's own shares into the plans'), its fills
        applied, nothing pending for it and no market order owed. The plan is told (a stop goes
        back): never left naked in silence. ``foreign``: every client's working orders, as fresh as
        the caller has them (the trader's stop for their own shares alone protects none of the plan's)."""
        if plan.state != State.ERROR or plan.open_qty <= 0 or self.fills.unapplied(plan) or self.awaiting(plan.id):
            return None
        orders = self.broker.orders_of(plan.id)
        if any(getattr(p, "plan_id", None) == plan.id for p in pending_effects) or legs.flattens(orders) \
                or _may_still_execute(orders):
            return None
        if not self.broker.held(plan.key).settled or \
                self.holdings.trader_exits(plan.key, plan.spec.side, foreign) is not None:
            return None
        return machines.Unprotected(self.clock.now())

    def look_again(self, plan: Plan, pending_effects: list[Any]) -> bool:
        """On an order change of a plan in error: it may be naked (other clients' orders aside: the
        list of them is as old as the last reconciliation), so IB is read again before a stop goes
        back. Once per naked spell, and not after a stop was put back already (a stop cancelled
        again and again waits for the periodic reconciliation: no loop of orders and notices)."""
        if self.unprotected(plan, pending_effects, []) is None:
            self._looked.discard(plan.id)
            return False
        if plan.id in self._looked or machines.sent_a_stop_back(plan):
            return False
        self._looked.add(plan.id)
        return True

    def missing_exit(self, plan: Plan, pending_effects: list[Any]) -> fx.Flatten | None:
        """For a flattening plan whose open position IB shows no exit for (a repricing lost or
        not echoed in time, a stop or take-profit gone): the flatten to carry out again. None
        while its fills are in flight, an exit is working or a flatten is still pending. A plan in
        error only while the flatten a human asked for waits for IB to confirm its exits cancelled."""
        if not plan.flattening:
            self._awaiting.discard(plan.id)
            return None
        if plan.state not in LIVE_POSITION and not (plan.state == State.ERROR and self.awaiting(plan.id)):
            return None
        if plan.open_qty <= 0 or self.fills.unapplied(plan):
            return None  # the fills in flight decide first
        if self.exit_in_flight(plan) or any(isinstance(p, fx.Flatten) and p.plan_id == plan.id
                                            for p in pending_effects):
            return None
        return fx.Flatten(plan.id, plan.key, plan.spec.side, plan.open_qty, "no exit working at IB",
                          plan.stop_price)
