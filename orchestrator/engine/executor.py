"""Carrying out the machine's broker effects through the broker port, idempotently.

Every effect may be carried out twice (a crash between the commit and the broker call leaves it
pending; it runs again at the next start), so each one first looks at what IB already has for
the plan (by orderRef) and only sends what is missing. Order intents (leg, orderRef, reserved
orderId) are written to state.db before an order is sent. Exits of the whole position
(``Flatten``) are the flatten module's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import machines
from machines import LIVE_POSITION, Leg, Plan, State
from machines import effects as fx

from ..broker.port import Broker, OrderGone
from ..clock import Clock
from ..errors import BrokerUnavailable, UnknownContract
from ..faultpoints import FaultPoints
from ..store import Store
from . import legs
from .fills import FillsInFlight
from .flatten import Flattener
from .holdings import Holdings

Emit = Callable[[str, Any], None]


class Executor:
    """Turns effects into broker calls. ``emit(plan_id, event)`` feeds failures back."""

    def __init__(self, broker: Broker, store: Store, clock: Clock, emit: Emit, fills: FillsInFlight,
                 flatten: Flattener, faults: FaultPoints | None = None, holdings: Holdings | None = None) -> None:
        self.broker = broker
        self.store = store
        self.clock = clock
        self.emit = emit
        self.fills = fills
        self.flatten = flatten
        self.faults = faults or FaultPoints()
        self.changes = legs.OrderChanges(broker, emit, clock)
        self.holdings = holdings

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
                await self.broker.qualify(effect.symbol)
            except UnknownContract:
                pass  # reported by the effect itself
        if plan is not None:
            fresh = self.refresh(effect, plan)
            if fresh is None:
                return f"skipped: stale (plan {plan.id} is {plan.state}{', flattening' if plan.flattening else ''})"
            effect = fresh
        if isinstance(effect, (fx.Protect, fx.Flatten)) and plan is not None:
            refused = self._short(effect, plan)
            if refused is not None:
                return refused
        if isinstance(effect, (fx.Protect, fx.PlaceBracket)):  # the plan's TIF and outsideRth on each leg
            terms = legs.terms_of(plan.spec if plan is not None else self.store.load_spec(effect.plan_id))
        if isinstance(effect, fx.Protect):
            return await self._protect(effect, terms)
        if isinstance(effect, fx.Flatten):
            return await self.flatten.carry_out(effect)
        if isinstance(effect, fx.PlaceBracket):
            return await self._place_bracket(effect, terms)
        if isinstance(effect, fx.ModifyStop):
            return self._modify_stop(effect, 0.0 if plan is None else self.urgency(effect, plan))
        if isinstance(effect, fx.CancelEntry):
            return self._cancel_legs(effect.plan_id, (Leg.ENTRY,))
        if isinstance(effect, fx.CancelExits):
            return self._cancel_legs(effect.plan_id, (Leg.ENTRY, Leg.STOP, Leg.TARGET))
        raise TypeError(f"not a broker effect: {effect!r}")

    def _short(self, effect: fx.Protect | fx.Flatten, plan: Plan) -> str | None:
        """The position gate: an exit that would place or grow quantity beyond what the plan can
        own of IB's settled position is not sent; the plan learns how much IB holds."""
        if self.holdings is None or (isinstance(effect, fx.Protect) and not effect.grow):
            return None
        ownable = self.holdings.ownable(plan)
        if ownable is None or ownable >= effect.quantity:
            return None
        self.emit(plan.id, machines.PositionShortfall(self.clock.now(), max(ownable, 0), effect.quantity))
        return (f"refused: IB holds {max(ownable, 0)} of the {effect.quantity} shares this exit is for; "
                "nothing new was sent")

    def refresh(self, effect: Any, plan: Plan) -> Any | None:
        """The effect as the plan needs it now, or None if the plan has moved past it."""
        holding = (*LIVE_POSITION, State.ERROR)
        if isinstance(effect, fx.PlaceBracket):
            return effect if plan.state == State.SIZED and not plan.cancel_requested else None
        if isinstance(effect, fx.Protect):
            if plan.state not in holding or plan.flattening:
                return None
            quantity = self.fills.live_open_qty(plan)
            if not effect.grow:  # a cut down to what IB holds stays a cut
                quantity = min(quantity, effect.quantity)
            return replace(effect, quantity=quantity, stop_price=plan.stop_price, target_price=plan.target_price)
        if isinstance(effect, fx.Flatten):
            if not plan.flattening:
                return None
            return replace(effect, quantity=self.fills.live_open_qty(plan),
                           price=plan.stop_price if effect.price is not None else None)
        if isinstance(effect, fx.ModifyStop):   # only the price moves (the quantity is Protect's)
            if plan.state not in holding or plan.flattening:
                return None
            return replace(effect, stop_price=plan.stop_price)
        return effect

    async def _place_bracket(self, e: fx.PlaceBracket, terms: legs.Terms) -> str:
        if legs.has_entry(self.broker.orders_of(e.plan_id)):
            return "skipped: IB already has this plan's entry"
        if self.store.entry_may_be_at_ib(e.plan_id):   # sent before a crash; IB's acks can lag by seconds
            return "skipped: this plan's entry was sent before; IB may not show it yet (never sent twice)"
        try:
            await self.broker.qualify(e.symbol)
        except UnknownContract as exc:
            self.emit(e.plan_id, machines.EntryRejected(self.clock.now(), 200, str(exc)))
            return f"rejected: {exc}"
        if e.entry_type is machines.EntryType.MARKET:
            unsent = self._uncapped(e)
            if unsent is not None:
                return unsent
        attempt = self.store.next_attempt(e.plan_id, Leg.ENTRY.value)
        side, new_id = e.side, self.broker.next_order_id
        if e.entry_type is machines.EntryType.MARKET:   # a marketable limit at the cap, never an unbounded MKT
            parent = legs.request(new_id(), e.plan_id, Leg.ENTRY, attempt, side.entry_action, e.quantity, "LMT",
                                  limit=e.cap, transmit=False, terms=terms)
        elif e.entry_type is machines.EntryType.LIMIT:
            parent = legs.request(new_id(), e.plan_id, Leg.ENTRY, attempt, side.entry_action, e.quantity, "LMT",
                                  limit=e.entry_price, transmit=False, terms=terms)
        else:
            parent = legs.request(new_id(), e.plan_id, Leg.ENTRY, attempt, side.entry_action, e.quantity, "STP",
                                  stop=e.entry_price, transmit=False, terms=terms)
        oca = legs.oca_group(e.plan_id)
        target = legs.request(new_id(), e.plan_id, Leg.TARGET, attempt, side.exit_action, e.quantity, "LMT",
                              limit=e.target_price, parent_id=parent.order_id, transmit=False, oca=oca, terms=terms)
        stop = legs.request(new_id(), e.plan_id, Leg.STOP, attempt, side.exit_action, e.quantity, "STP",
                            stop=e.stop_price, parent_id=parent.order_id, transmit=True, oca=oca, terms=terms)
        self.store.record_intents([
            legs.intent(e.plan_id, Leg.ENTRY, attempt, parent),
            legs.intent(e.plan_id, Leg.TARGET, attempt, target, parent.ref),
            legs.intent(e.plan_id, Leg.STOP, attempt, stop, parent.ref),
        ], at=self.clock.now())
        try:
            await self.broker.place_group(e.symbol, [parent, target, stop])   # one write: IB gets all or none
        except BrokerUnavailable:   # raised before anything was written: a later send is not a second one
            self.store.mark_unsent([parent.ref, target.ref, stop.ref], at=self.clock.now())
            raise
        self.faults.hit("after_place", ["PlaceBracket"])
        return f"placed bracket {parent.order_id}/{target.order_id}/{stop.order_id}"

    def _uncapped(self, e: fx.PlaceBracket) -> str | None:
        """Why a market entry is not sent (None: it goes out at its cap). Without a cap (an effect
        stored before entries were capped) it is sized again; with the live price already past
        the cap, a limit there would not fill now: the plan is refused, as one too far from its
        entry_price is at activation. No usable quote: it is sent, the cap bounds the risk."""
        if e.cap is None:
            self.emit(e.plan_id, machines.SizedAgain(self.clock.now(), "the market entry was sized without a price "
                                                                        "cap: sized again on the live price"))
            return "not sent: no price cap (sized again)"
        quote = self.broker.quote(e.symbol)
        market = quote.to_trade(buying=e.side is machines.Side.LONG)
        if quote.problem or market is None or not machines.past_cap(e.side, e.cap, market):
            return None
        why = machines.cap_refusal(e.side, e.cap, market, e.quantity)
        self.emit(e.plan_id, machines.EntryRefused(self.clock.now(), why))
        return f"refused: {why}"

    async def _protect(self, e: fx.Protect, terms: legs.Terms) -> str:
        orders = self.broker.orders_of(e.plan_id)
        if e.stop_only and legs.flattens(orders):   # never a stop beside a market order that may sell
            return "skipped: a flatten order of the plan may still execute at IB: no stop beside it"
        parent_filled = legs.entry_filled(orders)
        done: list[str] = []
        exits = ((Leg.STOP, e.stop_price),) if e.stop_only else ((Leg.STOP, e.stop_price), (Leg.TARGET, e.target_price))
        for leg, price in exits:
            working = legs.active(orders, leg)
            if e.quantity <= 0:
                for o in working:
                    if self.changes.cancel(o):
                        done.append(f"cancelled {leg.value} {o.order_id}")
                continue
            if working:
                o = working[-1]
                for extra in working[:-1]:  # never two working stops for one plan
                    if self.changes.cancel(extra):
                        done.append(f"cancelled extra {leg.value} {extra.order_id}")
                resize = o.open_quantity > e.quantity or (e.grow and o.open_quantity < e.quantity)
                if resize and self.changes.modify(o, parent_filled=parent_filled, quantity=e.quantity):
                    done.append(f"resized {leg.value} {o.order_id} to {e.quantity}")
                continue
            if not e.grow:
                continue  # a cut never places what is missing
            try:
                await self.broker.qualify(e.symbol)
            except UnknownContract as exc:
                self.emit(e.plan_id, machines.ProtectionFailed(self.clock.now(), leg, 200, str(exc)))
                return f"failed: {exc}"
            attempt = self.store.next_attempt(e.plan_id, leg.value)
            order_type, limit, stop = ("STP", None, price) if leg is Leg.STOP else ("LMT", price, None)
            order = legs.request(self.broker.next_order_id(), e.plan_id, leg, attempt, e.side.exit_action,
                                 e.quantity, order_type, limit=limit, stop=stop, oca=legs.oca_group(e.plan_id),
                                 terms=terms)
            self.store.record_intents([legs.intent(e.plan_id, leg, attempt, order)], at=self.clock.now())
            self.broker.place(e.symbol, order)
            done.append(f"placed {leg.value} {order.order_id} for {e.quantity}")
        return "; ".join(done) or "protection already matches"

    def urgency(self, effect: Any, plan: Plan) -> float:
        """How soon an effect must reach IB, smallest first: every effect but a stop move comes
        first (−inf); a stop move by the distance from the last price to the new stop, in R (the
        stop the price is about to reach moves first)."""
        if not isinstance(effect, fx.ModifyStop):
            return -math.inf
        entry = plan.avg_entry_price if plan.avg_entry_price is not None else plan.spec.entry_price
        r = abs(machines.risk_per_share(plan.spec.side, entry, plan.spec.stop_loss))
        price = self.broker.last_price(plan.key) or plan.best_price
        if price is None or not r:
            return 0.0
        return float((price - effect.stop_price) * plan.spec.side.sign / r)

    def _modify_stop(self, e: fx.ModifyStop, urgency: float) -> str:
        orders = self.broker.orders_of(e.plan_id)
        working = legs.active(orders, Leg.STOP)
        if not working:
            return "skipped: no working stop (protection status will re-protect)"
        o = working[-1]
        if o.stop_price == e.stop_price:
            return f"stop {o.order_id} already at {e.stop_price}"
        try:
            if not self.changes.modify(o, parent_filled=legs.entry_filled(orders), stop_price=e.stop_price,
                                       urgency=urgency):
                return f"refused: stop {o.order_id} is held by client {o.client_id}"
        except OrderGone:  # the adapter believes the order is done: its status will say why
            return "skipped: ib_async reports the stop done"
        return f"modified stop {o.order_id} to {e.stop_price}"

    def _cancel_legs(self, plan_id: str, which: tuple[Leg, ...]) -> str:
        """Cancel the plan's orders of these legs that this connection placed. Another client's
        (the trader's copy with the plan's orderRef) cannot be cancelled from here: it is named in
        the result, and the plan's reason already says whose it is."""
        orders = self.broker.orders_of(plan_id)
        done = []
        for leg in which:
            for o in legs.live(orders, leg):
                if legs.foreign(o, self.broker.client_id) is not None:
                    done.append(f"left {leg.value} {o.order_id} of client {o.client_id}")
                elif self.changes.cancel(o):
                    done.append(f"cancel {leg.value} {o.order_id}")
        return "; ".join(done) or "nothing working"
