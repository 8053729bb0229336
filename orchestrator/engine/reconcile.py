"""Reconciliation with IB: at start, after every reconnect or an unclear IB error, periodically.

Broker reports are authoritative; a missing report is not evidence of anything:

0. exits IB executed while the orchestrator was away are applied first (a stop that filled is not
   then "flattened" by a cancel the trader queued meanwhile); then the trader's requests come
   before anything the orchestrator would send;
1. the other executions of our orders (by orderRef) not yet applied are applied once, oldest first;
2. entry orders' IB status (open and completed orders) is fed to the machine as evidence;
3. effects left pending by a crash are carried out (each checks IB before sending);
4. a plan still ``sized`` whose entry was sent but that IB has never seen is not sent again: it
   goes to ``error`` for a human (or to ``cancelled`` if the trader cancelled it meanwhile);
5. a position IB holds less of than its plan believes (settled: IB reported it after our fills)
   changed outside the orchestrator: the plan is told (closed outside, or cut down and to error);
   exit orders that are not ours and could sell a plan's shares make it step back (its own exits
   cancelled, to error: two sets of exits would sell twice);
   then each open position's protection is re-derived from IB's orders (a gap re-protected, an
   excess cut), and a position being flattened has its exit at IB (else the flatten again);
6. our orders still working for plans that have ended are cancelled;
7. positions are compared per symbol with what the plans hold; anything unexplained stops new
   entries and raises an alert instead of being guessed away.

Then market data is asked again where needed, the engine is reconciled, and due plans activate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import machines
from machines import LIVE_POSITION, Plan, State
from machines import effects as fx

from ..broker import evidence
from ..broker.port import Broker, BrokerFill, BrokerOrder, BrokerSnapshot, ForeignOrder, OrderState, PlanEvent
from ..clock import Clock
from ..errors import BrokerUnavailable
from ..store import Store
from . import legs
from .activation import Activation
from .commands import TraderCommands
from .executor import Executor
from .fills import FillsInFlight
from .flatten import Flattener
from .gate import EntryGate
from .holdings import Holdings
from .protection import Protection
from .registry import PlanRegistry

log = logging.getLogger(__name__)
Apply = Callable[[str, Any], Awaitable[bool]]
CarryOut = Callable[[int, Any], Awaitable[None]]


class Reconciler:
    def __init__(self, *, registry: PlanRegistry, store: Store, broker: Broker, clock: Clock, apply: Apply,
                 carry_out: CarryOut, executor: Executor, fills: FillsInFlight, protection: Protection,
                 flatten: Flattener, gate: EntryGate, commands: TraderCommands, activation: Activation,
                 reconciled: asyncio.Event, holdings: Holdings, link_up: asyncio.Event | None = None) -> None:
        self.registry = registry
        self.store = store
        self.broker = broker
        self.clock = clock
        self.apply = apply
        self.carry_out = carry_out
        self.executor = executor
        self.fills = fills
        self.protection = protection
        self.flatten = flatten
        self.gate = gate
        self.commands = commands
        self.activation = activation
        self.reconciled = reconciled
        self.holdings = holdings
        # IB's own connectivity (1100 clears it, 1101/1102 set it): with the socket up but IB's
        # servers away, its answers are not the truth and nothing sent would reach them
        self.link_up = link_up or asyncio.Event()
        self._foreign: list[ForeignOrder] = []   # the working orders not ours, as the last reconciliation read them
        if link_up is None:
            self.link_up.set()

    async def run(self, reason: str) -> None:
        """Read IB's truth and bring every plan in line with it (nothing while not connected)."""
        if not self.broker.is_connected() or not self.link_up.is_set():
            return
        try:
            snap = await self.broker.snapshot()
        except BrokerUnavailable as exc:
            log.warning("reconciliation (%s) failed: %s", reason, exc)
            return
        await self._reconcile(snap, reason)
        if not self.link_up.is_set() or not self.broker.is_connected():
            return  # lost while reconciling: the next reconciliation after IB is back counts
        for plan in self.registry.live():  # (re)subscribe: a reconnect drops every subscription
            if plan.state not in (State.PENDING, State.ERROR):
                await self.activation.subscribe(plan)
        self.reconciled.set()
        for plan in self.activation.due():
            await self.activation.activate(plan.id)

    async def _reconcile(self, snap: BrokerSnapshot, reason: str) -> None:
        now = self.clock.now()
        fills = sorted(snap.fills, key=lambda f: f.at)
        await self._missed_fills(fills, reason)   # 0: what happened while away, entries and exits in their order
        await self.commands.poll()                                                       # 0b
        await self._missed_fills(fills, reason)                                          # 1
        for fill in snap.fills:                                          # 1b: their commissions
            known = self.registry.known(fill.plan_id)
            charged = evidence.commission_event(fill)
            if known is not None and charged is not None and fill.exec_id in known.seen_exec_ids \
                    and fill.exec_id not in known.seen_commission_ids:
                await self.apply(known.id, charged.event)
        for order in [*snap.open_orders, *snap.completed_orders]:        # 2
            out = evidence.entry_status(order, now)
            plan = self.registry.known(order.plan_id)
            if not isinstance(out, PlanEvent) or plan is None:
                continue
            ev = out.event
            accept = isinstance(ev, machines.EntryAccepted) and (plan.state == State.SIZED or plan.entry_unseen)
            ended = isinstance(ev, (machines.EntryCancelled, machines.EntryRejected)) and (
                plan.state in machines.UNFILLED_WORKING or (plan.state in LIVE_POSITION and not plan.entry_done)
                or plan.entry_unseen)
            if accept or ended:
                await self.apply(plan.id, ev)
        for pending in self.store.pending_effects():                     # 3
            if isinstance(pending.effect, fx.PlaceBracket):
                await self._never_sent(pending.effect.plan_id, now)
            await self.carry_out(pending.id, pending.effect)
        await self._unseen_entries(reason, now)                          # 4
        await self._shortfalls(now)                                      # 5
        self._foreign = snap.foreign_orders
        await self._trader_exits(snap.foreign_orders, now)
        for plan in self.registry.live():
            if plan.state in LIVE_POSITION and plan.open_qty > 0 and not self.fills.unapplied(plan):
                await self.protection.rederive(plan)
        for plan in self.registry.live():
            await self.ensure_exit(plan)
        for order in snap.open_orders:                                   # 6
            if order.state.done:
                continue
            ended_plan = self.registry.get(order.plan_id)
            if ended_plan is not None and ended_plan.state in machines.TERMINAL_STATES:
                if self._cancel_already_sent(order):
                    continue  # the plan's own end cancelled it during this reconciliation
                why = legs.foreign(order, self.broker.client_id)
                if why is not None:
                    log.warning("reconcile (%s): %s is %s but %s", reason, ended_plan.id, ended_plan.state, why)
                    continue
                log.warning("reconcile (%s): %s is %s but its order %s is still working at IB; cancelling it",
                            reason, ended_plan.id, ended_plan.state, order.ref)
                self.broker.cancel(order)
        self.gate.check_positions(snap.positions, self.registry, first=reason == "connected")  # 7

    async def _missed_fills(self, fills: list[BrokerFill], reason: str) -> None:
        for fill in fills:
            plan = self.registry.get(fill.plan_id)
            if plan is None or fill.exec_id in plan.seen_exec_ids:
                continue
            log.info("reconcile (%s): applying missed execution %s of %s", reason, fill.exec_id, plan.id)
            await self.apply(plan.id, evidence.fill_event(fill, own_client=self.broker.client_id).event)

    def _cancel_already_sent(self, order: BrokerOrder) -> bool:
        """The snapshot predates the steps above: an order they cancelled is pending cancel or done."""
        for live in self.broker.orders_of(order.plan_id):
            if live.order_id == order.order_id and live.client_id == order.client_id:
                return live.state.done or live.state is OrderState.PENDING_CANCEL
        return False

    async def position_moved(self, symbol: str) -> None:
        """IB reported a position in ``symbol``: a shortfall is acted on now (a take-profit left on
        shares sold by hand would open a short); one that seems to explain a held symbol runs a
        reconciliation (which lifts the hold if the executions agree). Nothing before the first."""
        if self.reconciled.is_set():
            now = self.clock.now()
            await self._shortfalls(now, symbol)
            await self._trader_exits(self._foreign, now, symbol)   # a fill may have grown ours
            held = self.holdings.settled(symbol)
            if held is not None and self.gate.explained(symbol, held, self.registry):
                await self.run(f"IB's position report explains the hold on {symbol}")

    async def _shortfalls(self, now: Any, symbol: str | None = None) -> None:
        """IB holds less than a plan believes (changed outside): the plan is told before anything else."""
        rest = [plan for plan in self.registry.live() if symbol is None or plan.key == symbol]
        self.holdings.note_beside({symbol} if symbol else {p.key for p in rest} | set(self.gate.beside))
        while rest:  # plan by plan, in one pass per symbol until a shortfall changes what is held
            holding = [plan for plan in rest if (plan.state in LIVE_POSITION or plan.state == State.ERROR)
                       and plan.open_qty > 0 and not self.fills.unapplied(plan)]
            ownables = self.holdings.ownable_each(holding)
            rest = []
            for i, plan in enumerate(holding):
                ownable = ownables[plan.id]
                if ownable is not None and ownable < plan.open_qty:
                    log.warning("%s: IB holds %d of the %d shares the plan believes it owns", plan.id,
                                max(ownable, 0), plan.open_qty)
                    await self.apply(plan.id, machines.PositionShortfall(now, max(ownable, 0), plan.open_qty))
                    rest = holding[i + 1:]   # judged again with the plan's new figures
                    break

    async def _trader_exits(self, foreign: list[ForeignOrder], now: Any, symbol: str | None = None) -> None:
        """Exit orders that are not ours could sell the plans' shares: plans step back (their own
        exits cut, or cancelled) rather than leave two sets working. The reach is shared out per
        symbol: what plans that stepped back already left uncovered counts first, then the plans
        still protecting cut in turn, each by no more than it covers."""
        me = self.broker.client_id
        holding: dict[tuple[str, Any], list[tuple[Plan, int]]] = {}
        for plan in self.registry.live():
            if (plan.state not in LIVE_POSITION and plan.state != State.ERROR) or plan.open_qty <= 0 \
                    or self.fills.unapplied(plan) or (symbol is not None and plan.key != symbol):
                continue
            covered = legs.own_exit_quantity(self.broker.orders_of(plan.id), me)
            holding.setdefault((plan.key, plan.spec.side), []).append((plan, covered))
        for (sym, side), plans in holding.items():
            if not any(covered for _, covered in plans):
                continue
            copies = [c for plan, _ in plans for c in legs.others_exits(self.broker.orders_of(plan.id), me, sym)]
            found = self.holdings.trader_exits(sym, side, [*foreign, *copies]) if foreign or copies else None
            copied = legs.copies_reach(copies, side.exit_action)   # for the plans' shares, not the trader's own
            if found is None and (not copied or not self.broker.held(sym).settled):
                continue
            what, left = found if found is not None else ("; ".join(c.describe() for c in copies), 0)
            left = max(left, copied)
            left -= sum(max(plan.open_qty - covered, 0) for plan, covered in plans if plan.state == State.ERROR)
            for plan, covered in plans:
                if left <= 0:
                    break
                cut = min(left, covered)
                if cut <= 0:
                    continue
                left -= cut
                reach = max(plan.open_qty - covered, 0) + cut
                log.warning("%s: exit orders that are not ours could sell %d of its shares (%s): stepping back",
                            plan.id, reach, what)
                await self.apply(plan.id, machines.TraderExits(now, what, reach))

    async def _never_sent(self, plan_id: str, now: Any) -> None:
        """A bracket sized before a crash or a lost connection and never sent is not sent as it
        was: the price, the account, a pause or a window may have changed since. The plan is
        sized again by activation, with all its checks (the pending effect is then stale)."""
        plan = self.registry.known(plan_id)
        if plan is None or plan.state != State.SIZED or self.store.entry_may_be_at_ib(plan_id):
            return
        if plan.cancel_requested:
            await self.apply(plan_id, machines.EntryCancelled(now, "cancelled before the entry reached IB"))
            return
        log.info("reconcile: %s was sized but its entry never left; sizing it again", plan_id)
        await self.apply(plan_id, machines.SizedAgain(now, "sized before a restart or a lost connection and never "
                                                           "sent: sized again on the live price"))

    async def _unseen_entries(self, reason: str, now: Any) -> None:
        pending_places = {p.plan_id for p in self.store.pending_effects() if isinstance(p.effect, fx.PlaceBracket)}
        for plan in self.registry.live():
            if plan.state != State.SIZED or plan.id in pending_places:
                continue
            if legs.has_entry(self.broker.orders_of(plan.id)) or self.fills.queue.verdict_waiting(plan.id):
                continue   # at IB, or refused and not sent (the plan hears it next): not unseen
            if plan.cancel_requested:
                await self.apply(plan.id, machines.EntryCancelled(now, "cancelled before the entry reached IB"))
            else:
                log.error("reconcile (%s): %s was sent but IB shows no trace of its entry", reason, plan.id)
                await self.apply(plan.id, machines.EntryUnseen(now))

    async def orders_changed(self, plan_id: str) -> None:
        """One of the plan's orders changed at IB (or one of its events was applied): protection
        re-derived; a flattening plan whose exits IB reports done gets its market order at once."""
        await self.protection.changed(plan_id)
        plan = self.registry.known(plan_id)
        if plan is not None and self.reconciled.is_set():
            await self.ensure_exit(plan, expected=True)

    async def ensure_exit(self, plan: machines.Plan, *, expected: bool = False) -> None:
        """A flattening plan with no exit at IB is flattened again (``expected``: after an order
        change). A plan in error has a stop for more than it holds cut, and one with nothing at IB
        that could sell gets a stop back (on an order change, from a reconciliation run at once,
        with every client's orders read afresh; a stop put back once waits for the periodic one)."""
        error = plan.state == State.ERROR
        pending = [p.effect for p in self.store.pending_effects()] if plan.flattening or not expected or error else []
        if plan.flattening and (effect := self.flatten.missing_exit(plan, pending)) is not None:
            await self._run(effect, plan, logging.INFO if expected else logging.WARNING, "is flattening but IB "
                            f"shows no exit working for its {plan.open_qty} shares: flattening again")
        elif (cut := self.flatten.stop_cut(plan)) is not None:
            await self._run(cut, plan, logging.WARNING, f"its stop works at IB for more than its {plan.open_qty} "
                                                        "shares: cutting it")
        elif expected:
            if self.flatten.look_again(plan, pending):
                await self.run(f"{plan.id} has nothing working at IB")
        elif (naked := self.flatten.unprotected(plan, pending, self._foreign)) is not None:
            await self.apply(plan.id, naked)   # the plan tells the trader (its reason, an error notice)

    async def _run(self, effect: Any, plan: Plan, level: int, why: str) -> None:
        log.log(level, "%s %s", plan.id, why)
        try:
            result = await self.executor.run(effect, plan)
        except (BrokerUnavailable, ConnectionError) as exc:
            log.warning("%s: %s not carried out (%s); retried at the next reconciliation", plan.id,
                        type(effect).__name__, exc)
            return
        log.info("%s %s: %s", plan.id, type(effect).__name__, result)
