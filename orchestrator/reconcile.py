"""Reconciliation with IB, at start, after every reconnect and periodically.

Broker reports are authoritative; a missing report is not evidence of anything:
1. executions of our orders (by orderRef) not yet applied are applied once, oldest first;
2. entry orders' IB status (open and completed orders) is fed to the machine as evidence;
3. effects left pending by a crash are carried out (each checks IB before sending);
4. a plan still ``sized`` whose entry IB has never seen is placed (looked up first, never blind);
5. what protects each open position is re-derived from IB's orders (a gap is re-protected);
6. positions are compared per symbol with what the plans hold; anything unexplained stops new
   entries and raises an alert instead of being guessed away.
"""

from __future__ import annotations

import logging
from datetime import timezone
from typing import TYPE_CHECKING, Any

import machines
from machines import Leg, State
from machines import effects as fx

from .broker import translate
from .broker.ib import Snapshot

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)


def _fill_time(fill: Any) -> Any:
    t = fill.execution.time
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


async def reconcile(engine: "Engine", snap: Snapshot, reason: str) -> None:
    now = engine.clock.now()
    # 1. missed fills
    for fill in sorted(snap.fills, key=_fill_time):
        routed = translate.fill_event(fill)
        if routed is None:
            continue
        plan = engine._plan(routed.plan_id)
        if plan is None or routed.event.exec_id in plan.seen_exec_ids:
            continue
        log.info("reconcile (%s): applying missed execution %s of %s", reason, routed.event.exec_id, plan.id)
        await engine.apply(plan.id, routed.event)
    # 2. entry status evidence
    for trade in [*snap.open_trades, *snap.completed_trades]:
        out = translate.entry_status(trade, now)
        if not isinstance(out, translate.Routed):
            continue
        plan, ev = engine.plans.get(out.plan_id), out.event
        if plan is None:
            continue
        accept = isinstance(ev, machines.EntryAccepted) and plan.state == State.SIZED
        ended = isinstance(ev, (machines.EntryCancelled, machines.EntryRejected)) and (
            plan.state in (State.SIZED, State.SUBMITTED)
            or (plan.state in (State.FILLED, State.PROTECTED, State.TRAILING) and not plan.entry_done))
        if accept or ended:
            await engine.apply(out.plan_id, ev)
    # 3. effects a crash left pending
    for pending in engine.store.pending_effects():
        await engine._carry_out(pending.id, pending.effect)
    # 4. entries IB has never seen
    pending_places = {p.plan_id for p in engine.store.pending_effects() if isinstance(p.effect, fx.PlaceBracket)}
    for plan in engine.live_plans():
        if plan.state != State.SIZED or plan.id in pending_places:
            continue
        if any((r := translate.ref_of(t.order)) is not None and r[1] is Leg.ENTRY
               for t in engine.broker.trades_of(plan.id)):
            continue
        spec = plan.spec
        log.warning("reconcile (%s): IB has no entry for %s; placing it", reason, plan.id)
        await engine._carry_out_direct(fx.PlaceBracket(plan.id, spec.symbol, spec.side, plan.quantity,
                                                       spec.entry_type, spec.entry_price, plan.stop_price,
                                                       plan.target_price))
    # 5. protection of open positions, from IB's orders
    for plan in engine.live_plans():
        if plan.state in (State.FILLED, State.PROTECTED, State.TRAILING) and plan.open_qty > 0:
            status = engine.protection_if_changed(plan)
            if status is not None:
                await engine.apply(plan.id, status)
    # 6. positions
    expected: dict[str, int] = {}
    for plan in engine.plans.values():
        if plan.open_qty:
            expected[plan.spec.symbol] = expected.get(plan.spec.symbol, 0) + plan.open_qty * plan.spec.side.sign
    mismatches = {sym: (snap.positions.get(sym, 0), expected.get(sym, 0))
                  for sym in set(snap.positions) | set(expected)
                  if snap.positions.get(sym, 0) != expected.get(sym, 0)}
    if mismatches:
        text = "; ".join(f"{s}: IB holds {ib}, plans hold {ours}" for s, (ib, ours) in sorted(mismatches.items()))
        if engine.entries_blocked != text:
            engine.entries_blocked = text
            engine._report_once(f"positions:{text}", "unexplained_position", {"message": text})
    elif engine.entries_blocked:
        log.warning("positions match again; new entries allowed")
        engine.entries_blocked = None
