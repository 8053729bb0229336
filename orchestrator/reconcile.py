"""Reconciliation with IB, at start, after every reconnect and periodically.

Broker reports are authoritative; a missing report is not evidence of anything:
1. executions of our orders (by orderRef) not yet applied are applied once, oldest first;
2. entry orders' IB status (open and completed orders) is fed to the machine as evidence;
3. effects left pending by a crash are carried out (each checks IB before sending);
4. a plan still ``sized`` whose entry was sent but that IB has never seen is not sent again: it
   goes to ``error`` for a human (or to ``cancelled`` if the trader cancelled it meanwhile);
5. what protects each open position is re-derived from IB's orders (a gap is re-protected), and a
   position being flattened has its exit working at IB (else a market order closes it);
6. our orders still working for plans that have ended are cancelled;
7. positions are compared per symbol with what the plans hold; anything unexplained stops new
   entries and raises an alert instead of being guessed away.

Requests the trader made while the orchestrator was away (``orchestrator cancel``) are applied
first, before anything pending is sent.
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
    # 0. requests the trader made while we were away come before anything we would send
    await engine._commands()
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
    # 3. effects a crash left pending (each is brought up to date with its plan first)
    for pending in engine.store.pending_effects():
        await engine._carry_out(pending.id, pending.effect)
    # 4. entries IB has never seen: never sent again blindly
    pending_places = {p.plan_id for p in engine.store.pending_effects() if isinstance(p.effect, fx.PlaceBracket)}
    for plan in engine.live_plans():
        if plan.state != State.SIZED or plan.id in pending_places:
            continue
        if any((r := translate.ref_of(t.order)) is not None and r[1] is Leg.ENTRY
               for t in engine.broker.trades_of(plan.id)):
            continue
        if plan.cancel_requested:
            await engine.apply(plan.id, machines.EntryCancelled(now, "cancelled before the entry reached IB"))
        else:
            log.error("reconcile (%s): %s was sent but IB shows no trace of its entry", reason, plan.id)
            await engine.apply(plan.id, machines.Fault(now, (
                "the entry was sent but IB shows no trace of it (open orders, completed orders, today's "
                "executions): check TWS before anything else; it is not sent again")))
    # 5. protection of open positions, from IB's orders
    for plan in engine.live_plans():
        if plan.state in (State.FILLED, State.PROTECTED, State.TRAILING) and plan.open_qty > 0 \
                and not engine.executor.unapplied_fills(plan):
            status = engine.protection_if_changed(plan)
            if status is not None:
                await engine.apply(plan.id, status)
    # 5b. a flattening position must have its exit working at IB (a refused repricing of the
    #     take-profit, or a crash before it reached IB, falls back to a market order)
    for plan in list(engine.live_plans()):
        if plan.flattening:
            await engine.ensure_exit(plan)
    # 6. our orders still working for plans that have ended
    for trade in snap.open_trades:
        ref = translate.ref_of(trade.order)
        if ref is None or trade.orderStatus.status in ("Filled", "Cancelled", "ApiCancelled", "Inactive"):
            continue
        plan = engine._plan(ref[0])
        if plan is not None and plan.state in machines.TERMINAL_STATES:
            log.warning("reconcile (%s): %s is %s but its order %s is still working at IB; cancelling it",
                        reason, plan.id, plan.state, trade.order.orderRef)
            engine.broker.cancel(trade.order)
    # 7. positions
    check_positions(engine, snap, first=reason == "connected")


def check_positions(engine: "Engine", snap: Snapshot, *, first: bool) -> None:
    """Compare IB's positions per symbol with what the plans hold.

    Symbols whose plans still have fills to apply are skipped (positions and executions come
    from different moments). A mismatch blocks new entries when seen right after connecting,
    or twice in a row; it unblocks once everything matches.
    """
    expected: dict[str, int] = {}
    settling: set[str] = set()
    for plan in engine.plans.values():
        if plan.open_qty:
            expected[plan.spec.symbol] = expected.get(plan.spec.symbol, 0) + plan.open_qty * plan.spec.side.sign
        if plan.state not in machines.TERMINAL_STATES and engine.executor.unapplied_fills(plan):
            settling.add(plan.spec.symbol)
    mismatches = {sym: (snap.positions.get(sym, 0), expected.get(sym, 0))
                  for sym in set(snap.positions) | set(expected)
                  if sym not in settling and snap.positions.get(sym, 0) != expected.get(sym, 0)}
    if not mismatches:
        engine.position_mismatch = None
        if engine.entries_blocked:
            log.warning("positions match again; new entries allowed")
            engine.entries_blocked = None
        return
    text = "; ".join(f"{s}: IB holds {ib}, plans hold {ours}" for s, (ib, ours) in sorted(mismatches.items()))
    seen_before = engine.position_mismatch == text
    engine.position_mismatch = text
    if (first or seen_before) and engine.entries_blocked != text:
        engine.entries_blocked = text
        engine._report_once(f"positions:{text}", "unexplained_position", {"message": text})
