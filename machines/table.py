"""The plan machine's transition table: every (state, event) the machine accepts, as data.

Rule: everything that decides a plan's state lives in this file. Guards are pure predicates
over (plan, event); actions only update the plan's figures and append effects. Nothing here
does I/O. ``orchestrator diagram`` draws this table; the tests walk it row by row.

A row with ``dest=None`` is an internal transition: the state stays, the action still runs
(benign repeats, partial fills, trailing moves). Rows for one trigger and source are tried in
order; the first whose guards all pass wins. An event with no matching row raises.

Broker realities written into the table (IB does all of these):
- a fill can arrive after the cancel ack, or after the plan ended: it is recorded and flattened;
- a fill can race a requested cancel (before its ack): it is flattened too, not protected;
- fills are replayed after reconnects: a known execId is a no-op;
- partial entry fills: protection is resized to what has filled, each time more fills;
- an exit can fill while a stop modification is still pending: the exit wins;
- OCA is not atomic: exits can fill past the position; a reversed position goes to error;
- a rejected stop modification leaves the old stop working: the plan stays protected, and
  the stop we want is not taken back (a Protect carrying it may already be on its way).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from transitions import EventData

from . import effects as fx
from . import events as ev
from . import money
from .entrycap import cap_refusal, entry_cap, past_cap
from .money import risk_budget
from .plan import Plan
from .rules import EntryPrice, decide_size, entry_reference, next_trailing_stop, plan_risk
from .values import LIVE_POSITION, UNFILLED_WORKING, EntryType, Leg, NotifyKind, State

S = State
K = NotifyKind
ENDED = (S.CLOSED, S.CANCELLED, S.REJECTED)


def _p(ed: EventData) -> Plan:
    return cast(Plan, ed.model)


def _source(ed: EventData) -> str:
    assert ed.transition is not None  # transitions sets it for every callback of a row
    return str(ed.transition.source)


def _dest(ed: EventData) -> str | None:
    assert ed.transition is not None
    return None if ed.transition.dest is None else str(ed.transition.dest)


def _e(ed: EventData) -> Any:
    return ed.kwargs["event"]


# --------------------------------------------------------------------------- guards

def _prices(ed: EventData) -> tuple[Decimal, Decimal, Decimal]:
    """Entry, stop and target as they go to IB: on the contract's tick (the Activate event's,
    rounded by the shell the conservative way), else as written."""
    spec, e = _p(ed).spec, _e(ed)
    return (e.entry_price if e.entry_price is not None else spec.entry_price,
            e.stop_price if e.stop_price is not None else spec.stop_loss,
            e.target_price if e.target_price is not None else spec.take_profit)


def _reference(ed: EventData) -> EntryPrice:
    plan, e = _p(ed), _e(ed)
    spec = plan.spec
    entry, stop, target = _prices(ed)
    return entry_reference(side=spec.side, entry_type=spec.entry_type, entry_price=entry,
                           stop=stop, target=target, market=e.market_price,
                           tolerance_r=e.limits.entry_tolerance_r)


def _sizing(ed: EventData) -> Any:
    plan, e = _p(ed), _e(ed)
    spec = plan.spec
    return decide_size(
        side=spec.side, entry=_reference(ed).price, stop=_prices(ed)[1],
        risk_pct=e.limits.pct_for(spec.risk.value), account_value=e.account_value,
        available_funds=e.available_funds, other_open_risk=e.open_risk,
        max_portfolio_risk_pct=e.limits.max_portfolio_risk_pct, multiplier=e.multiplier, fx=e.fx_rate,
        margin_per_unit=e.margin_per_unit)


def _cap(ed: EventData) -> Decimal | None:
    """A market entry's price cap for the quantity sizing gives (None: not a market entry, or
    nothing sized): the worst fill at which its risk stays within the budget × (1 + tolerance),
    on the contract's market rule (``machines.entrycap``)."""
    plan, e = _p(ed), _e(ed)
    spec = plan.spec
    quantity = _sizing(ed).quantity
    if spec.entry_type is not EntryType.MARKET or quantity <= 0:
        return None
    return entry_cap(side=spec.side, stop=_prices(ed)[1],
                     budget=risk_budget(e.account_value, e.limits.pct_for(spec.risk.value)),
                     tolerance=e.limits.entry_tolerance_r, quantity=quantity, multiplier=e.multiplier, fx=e.fx_rate,
                     rule=plan.price_rule)


def _cap_problem(ed: EventData) -> str | None:
    """Why the capped market entry must not go out: the live price is already past its cap."""
    cap, market = _cap(ed), _reference(ed).price
    side = _p(ed).spec.side
    if cap is None or not past_cap(side, cap, market):
        return None
    return cap_refusal(side, cap, market, _sizing(ed).quantity)


def _contract_figures(ed: EventData) -> None:
    """The money figures of the contract the plan is sized with (kept for P&L and open risk)."""
    plan, e = _p(ed), _e(ed)
    plan.multiplier, plan.fx_rate, plan.base_currency = e.multiplier, e.fx_rate, e.base_currency or None


def activation_refused(ed: EventData) -> bool:
    """The shell found, before sizing, that the plan cannot trade (an instrument IB does not know)."""
    return bool(_e(ed).refused)


def risk_ok(ed: EventData) -> bool:
    """The entry may go out at the price it would get, and sizing on that price passes every
    limit (non-zero size, portfolio cap, buying power)."""
    return _reference(ed).problem is None and _sizing(ed).violation is None and _cap_problem(ed) is None


def duplicate_fill(ed: EventData) -> bool:
    """The execution was applied before (replayed after a reconnect)."""
    return _e(ed).exec_id in _p(ed).seen_exec_ids


def flattening(ed: EventData) -> bool:
    return _p(ed).flattening


def _already_outside(plan: Plan, e: Any) -> int:
    """Shares of this exit fill IB's position report already took as gone outside: the trader's
    order carrying the plan's orderRef sold them; its execution, another client's, is heard later
    (at a reconciliation) and names those very shares — counted again, IB's flat position would
    read as reversed."""
    return min(plan.outside_qty, e.quantity) if e.theirs else 0


def _taken_out(plan: Plan, e: Any) -> int:
    """Shares this exit fill takes out of the plan's open position."""
    return int(e.quantity) - _already_outside(plan, e)


def overshoots(ed: EventData) -> bool:
    """This exit fill takes more shares out than went in: the position at IB is reversed."""
    plan = _p(ed)
    return _taken_out(plan, _e(ed)) > plan.open_qty


def already_outside(ed: EventData) -> bool:
    """Every share of this exit fill was already taken as gone outside (see ``_already_outside``)."""
    return _taken_out(_p(ed), _e(ed)) == 0


def cancel_pending(ed: EventData) -> bool:
    """A cancel of the unfilled entry was asked for (trader, expiry, failed protection)."""
    return _p(ed).cancel_requested


def closes_position(ed: EventData) -> bool:
    """This exit fill brings the position to zero (past zero is ``overshoots``, tried first)."""
    plan = _p(ed)
    return _taken_out(plan, _e(ed)) >= plan.open_qty


def protection_matches(ed: EventData) -> bool:
    """IB reports stop and target working for exactly the open quantity."""
    plan, e = _p(ed), _e(ed)
    return plan.open_qty > 0 and e.stop_quantity == plan.open_qty and e.target_quantity == plan.open_qty


def trail_active(ed: EventData) -> bool:
    return _p(ed).trail_active


def has_position(ed: EventData) -> bool:
    return _p(ed).open_qty > 0


def reversed_position(ed: EventData) -> bool:
    """Exits filled past the entry: IB holds the opposite position."""
    return _p(ed).open_qty < 0


def entry_done(ed: EventData) -> bool:
    return _p(ed).entry_done


def stop_working(ed: EventData) -> bool:
    return bool(_e(ed).stop_working)


def has_leftovers(ed: EventData) -> bool:
    e = _e(ed)
    return bool(e.stop_quantity > 0 or e.target_quantity > 0)


def _trail_candidate(ed: EventData) -> Decimal | None:
    plan, e = _p(ed), _e(ed)
    spec = plan.spec
    if not spec.trails or plan.avg_entry_price is None or plan.flattening:
        return None
    best = e.price if plan.best_price is None else (
        max(plan.best_price, e.price) if spec.side.sign > 0 else min(plan.best_price, e.price))
    return next_trailing_stop(
        side=spec.side, entry=plan.avg_entry_price, initial_stop=spec.stop_loss,
        current_stop=plan.stop_price, best_price=best, last_price=e.price,
        trigger_r=spec.trail_trigger_r or Decimal(0), distance=spec.trail_distance or Decimal(0),
        rule=plan.price_rule)


def adopts_closed(ed: EventData) -> bool:
    """IB's evidence shows the adopted plan's position opened and closed again."""
    e = _e(ed)
    return bool(e.entry_qty > 0 and e.exit_qty >= e.entry_qty)


def adopts_position(ed: EventData) -> bool:
    """IB's evidence shows the adopted plan holding a position."""
    e = _e(ed)
    return bool(e.entry_qty > e.exit_qty)


def trail_moves(ed: EventData) -> bool:
    """The trailing rule tightens the stop at this price."""
    return _trail_candidate(ed) is not None


# --------------------------------------------------------------------------- actions

def _emit(plan: Plan, effect: Any) -> None:
    plan.effects.append(effect)


def _kind(plan: Plan, kind: NotifyKind, **extra: Any) -> None:
    plan.notify_kind = kind
    plan.notify_extra.update(extra)


def _protect(plan: Plan) -> None:
    if plan.open_qty <= 0:   # flat or reversed (error): nothing to protect, a human decides
        return
    spec = plan.spec
    _emit(plan, fx.Protect(plan.id, plan.key, spec.side, plan.open_qty, plan.stop_price, plan.target_price))


def _flatten(plan: Plan, reason: str) -> None:
    plan.flattening = True
    spec = plan.spec
    if not plan.entry_done:
        _emit(plan, fx.CancelEntry(plan.id, reason))
    _emit(plan, fx.Flatten(plan.id, plan.key, spec.side, plan.open_qty, reason, plan.stop_price))


def size_and_place(ed: EventData) -> None:
    plan, d = _p(ed), _sizing(ed)
    plan.quantity, plan.risk_amount, plan.portfolio_risk_pct = d.quantity, d.risk_amount, d.portfolio_risk_pct
    plan.sized_price = _reference(ed).price
    plan.entry_cap = _cap(ed)
    _contract_figures(ed)
    entry, plan.stop_price, plan.target_price = _prices(ed)
    spec = plan.spec
    _emit(plan, fx.PlaceBracket(plan.id, plan.key, spec.side, d.quantity, spec.entry_type,
                                entry, plan.stop_price, plan.target_price, plan.entry_cap))
    _kind(plan, K.SIZED)


def reject_unsized(ed: EventData) -> None:
    plan = _p(ed)
    plan.reason = _e(ed).refused
    plan.error_code = _e(ed).code or None
    plan.entry_done = True
    _kind(plan, K.REJECTED, limit="instrument")


def reject_risk(ed: EventData) -> None:
    plan, ref = _p(ed), _reference(ed)
    if ref.problem is not None:
        plan.sized_price = ref.price
        plan.reason = f"market entry refused: {ref.problem}"
        _kind(plan, K.REJECTED, limit="market_price")
        return
    d = _sizing(ed)
    plan.quantity, plan.risk_amount, plan.portfolio_risk_pct = d.quantity, d.risk_amount, d.portfolio_risk_pct
    plan.sized_price = ref.price
    _contract_figures(ed)
    if d.violation is None:   # sized, but the live price is already past the entry's cap
        plan.reason = f"market entry refused: {_cap_problem(ed)}"
        _kind(plan, K.REJECTED, limit="market_price")
        return
    plan.reason = f"risk limit {d.limit}: {d.violation}"
    _kind(plan, K.REJECTED, limit=d.limit)


def refuse_entry(ed: EventData) -> None:
    """The sized entry was not sent: the market ran past its cap before it could go out."""
    plan = _p(ed)
    plan.reason = f"market entry refused: {_e(ed).reason}"
    plan.entry_done = True
    _kind(plan, K.REJECTED, limit="market_price")


def record_accept(ed: EventData) -> None:
    _kind(_p(ed), K.SUBMITTED)


UNSEEN = ("the entry was sent but IB shows no trace of it (open orders, completed orders, today's executions): "
          "check TWS before anything else; it is not sent again")


def record_unseen(ed: EventData) -> None:
    plan = _p(ed)
    plan.reason, plan.entry_unseen = UNSEEN, True
    _kind(plan, K.ERROR)


def unsize(ed: EventData) -> None:
    """Back to pending: nothing was sent, so nothing counts as risk until it is sized again."""
    plan = _p(ed)
    plan.quantity, plan.risk_amount, plan.portfolio_risk_pct, plan.sized_price = 0, Decimal(0), Decimal(0), None
    plan.reason = _e(ed).why
    _kind(plan, K.SIZED_AGAIN)


def entry_unseen(ed: EventData) -> bool:
    """The plan is in error only because IB had shown no trace of its entry."""
    return _p(ed).entry_unseen


def entry_found(ed: EventData) -> None:
    """IB shows the entry after all (it reached IB late): the error was only its absence."""
    plan = _p(ed)
    plan.entry_unseen, plan.reason = False, None
    _kind(plan, K.ENTRY_FOUND)


def record_reject(ed: EventData) -> None:
    """IB refused the entry. Cancels are still sent: an ``Inactive`` order can come back to life
    at IB (ib_insync#363), and a rejected plan must leave nothing working."""
    plan, e = _p(ed), _e(ed)
    plan.reason, plan.error_code = f"IB rejected the entry: {e.message}", e.code
    plan.entry_done = True
    _emit(plan, fx.CancelEntry(plan.id, "entry rejected"))
    _emit(plan, fx.CancelExits(plan.id))
    _kind(plan, K.REJECTED, code=e.code)


def record_cancelled(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.entry_done = True
    if plan.reason is None:
        plan.reason = e.reason or "entry cancelled at IB"
    _kind(plan, K.CANCELLED)


def entry_remainder_gone(ed: EventData) -> None:
    """The unfilled rest of a partly filled entry is gone: protect exactly what filled."""
    plan = _p(ed)
    plan.entry_done = True
    if plan.flattening:
        return
    _protect(plan)
    _kind(plan, K.ENTRY_REMAINDER_CANCELLED)


def record_entry_fill(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.seen_exec_ids.add(e.exec_id)
    prev = plan.filled_qty
    plan.filled_qty = prev + e.quantity
    avg = plan.avg_entry_price or Decimal(0)
    plan.avg_entry_price = (avg * prev + e.price * e.quantity) / plan.filled_qty
    if plan.best_price is None:
        plan.best_price = e.price
    if plan.quantity and plan.filled_qty >= plan.quantity:
        plan.entry_done = True
    plan.actual_risk = plan_risk(plan.spec.side, plan.avg_entry_price, plan.spec.stop_loss,
                                 plan.filled_qty) * plan.money_factor
    _kind(plan, K.FILLED, fill_qty=e.quantity, fill_price=e.price)


def protect_fill(ed: EventData) -> None:
    _protect(_p(ed))


def flatten_late_fill(ed: EventData) -> None:
    plan = _p(ed)
    plan.entry_done = True
    _flatten(plan, f"entry filled after the plan was {_source(ed)}")
    _kind(plan, K.LATE_FILL)


def flatten_more(ed: EventData) -> None:
    _flatten(_p(ed), "entry filled while flattening")


def flatten_unwanted_fill(ed: EventData) -> None:
    """The fill raced the cancel of the entry: nobody wants these shares any more."""
    plan = _p(ed)
    _flatten(plan, f"entry filled after the cancel was requested ({plan.reason})")
    _kind(plan, K.LATE_FILL)


def _open_cost(plan: Plan) -> Decimal:
    """The average cost of the shares still held: what every entry fill cost less the cost of the
    shares already sold (their exit prices less the P&L booked on them). Entry fills that come
    between exits (a stop filling in pieces beside a working entry) so leave the P&L, once flat,
    at IB's cash flow; the average of every entry fill would weigh shares already sold too."""
    entry = plan.avg_entry_price if plan.avg_entry_price is not None else plan.spec.entry_price
    held = plan.filled_qty - plan.exited_qty
    if held <= 0 or plan.exited_qty == 0 or plan.avg_exit_price is None:
        return entry
    sold_cost = plan.avg_exit_price * plan.exited_qty - plan.realized_pnl / (plan.spec.side.sign * plan.money_factor)
    return (entry * plan.filled_qty - sold_cost) / held


def _book_exit(plan: Plan, e: Any) -> None:
    """The fill's shares, price and P&L; what of it IB's position report had taken as gone
    outside is the fill's now."""
    plan.seen_exec_ids.add(e.exec_id)
    plan.outside_qty -= _already_outside(plan, e)
    cost = _open_cost(plan)
    prev = plan.exited_qty
    plan.exited_qty = prev + e.quantity
    avg = plan.avg_exit_price or Decimal(0)
    plan.avg_exit_price = (avg * prev + e.price * e.quantity) / plan.exited_qty
    plan.realized_pnl += (e.price - cost) * e.quantity * plan.spec.side.sign * plan.money_factor


def record_exit(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    _book_exit(plan, e)
    if not plan.entry_done and not e.theirs:   # our exit filled: the trade is over, no more entry
        plan.entry_done = True
        _emit(plan, fx.CancelEntry(plan.id, f"the {e.leg} filled"))
    leg = Leg(e.leg)
    if leg is Leg.STOP:
        plan.exit_reason = "trailing_stop" if plan.trail_active else "stop"
    elif leg is Leg.TARGET:  # a flatten reprices the take-profit to exit now
        plan.exit_reason = "flatten" if plan.flattening else "target"
    else:
        plan.exit_reason = "flatten"
    _kind(plan, K.PARTIAL_EXIT, fill_qty=e.quantity, fill_price=e.price)


def close_out(ed: EventData) -> None:
    plan = _p(ed)
    if not plan.entry_done:
        plan.entry_done = True
        _emit(plan, fx.CancelEntry(plan.id, "position closed"))
    _emit(plan, fx.CancelExits(plan.id))
    plan.flattening = False
    kind = {"target": K.TAKE_PROFIT, "stop": K.STOP_LOSS, "trailing_stop": K.TRAILING_STOP}.get(
        plan.exit_reason or "", K.FLATTENED)
    _kind(plan, kind)


def record_outside_fill(ed: EventData) -> None:
    """The execution of shares the plan already counted as gone outside (it is closed and said
    so): booked, nothing else changes."""
    _book_exit(_p(ed), _e(ed))


def over_exit(ed: EventData) -> None:
    plan = _p(ed)
    plan.reason = (f"exit fills exceed entry fills by {-plan.open_qty} shares: "
                   "the position at IB is reversed, a human must flatten it")
    _kind(plan, K.ERROR)


def _confirmed(plan: Plan, stop: Decimal) -> None:
    plan.confirmed_stop_price = stop
    if stop == plan.stop_price:  # IB holds the stop we want: nothing in flight any more
        plan.stop_sent_at, plan.stop_attempts = None, 0


def record_protection(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.protected_stop_qty, plan.protected_target_qty = e.stop_quantity, e.target_quantity
    if e.stop_price is not None and e.stop_quantity > 0:
        _confirmed(plan, e.stop_price)
    if _dest(ed) in (S.PROTECTED, S.TRAILING):
        _kind(plan, K.PROTECTED)


def reprotect(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    _protect(plan)
    # what IB showed: the trader is told why, not only that
    _kind(plan, K.PROTECTION_LOST, stop_quantity=e.stop_quantity, target_quantity=e.target_quantity)


def cancel_leftovers(ed: EventData) -> None:
    _emit(_p(ed), fx.CancelExits(_p(ed).id))


def protection_failed_flatten(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.reason, plan.error_code = f"{e.leg} order failed: {e.message}", e.code
    _flatten(plan, f"protection failed ({e.code}: {e.message}): emergency flatten")
    _kind(plan, K.PROTECTION_FAILED, code=e.code)


def protection_failed_unfilled(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.reason, plan.error_code = f"{e.leg} order failed before entry fill: {e.message}", e.code
    plan.cancel_requested = True
    _emit(plan, fx.CancelEntry(plan.id, "protection could not be placed"))
    _kind(plan, K.PROTECTION_FAILED, code=e.code)


def track_price(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    if plan.avg_entry_price is None:
        return
    if plan.best_price is None or (e.price - plan.best_price) * plan.spec.side.sign > 0:
        plan.best_price = e.price


def move_stop(ed: EventData) -> None:
    plan = _p(ed)
    new_stop = _trail_candidate(ed)
    assert new_stop is not None  # guarded by trail_moves
    track_price(ed)
    old = plan.stop_price
    plan.stop_price = new_stop
    plan.trail_active = True
    plan.stop_sent_at, plan.stop_attempts = _e(ed).at, 1
    _emit(plan, fx.ModifyStop(plan.id, new_stop, plan.open_qty))
    if _source(ed) == S.PROTECTED:  # the transition to trailing is told at once; later moves once IB confirms
        _kind(plan, K.TRAILING, old_stop=old, new_stop=new_stop, confirmed=False)


def record_stop(ed: EventData) -> None:
    """IB confirms a stop price: the trader hears of the stop IB holds, not the one wanted."""
    plan, e = _p(ed), _e(ed)
    old = plan.confirmed_stop_price
    _confirmed(plan, e.stop_price)
    if old is not None and old != e.stop_price and plan.state in LIVE_POSITION:
        _kind(plan, K.TRAILING, old_stop=old, new_stop=e.stop_price, confirmed=True)


def modify_rejected_keep(ed: EventData) -> None:
    """The wanted stop stays where the trail put it: it is never taken back to a looser price,
    because a Protect carrying it may already be on its way to IB (and a later, looser one would
    then move IB's stop back). Trailing tries again once the price makes a new best."""
    plan, e = _p(ed), _e(ed)
    _kind(plan, K.MODIFY_REJECTED, code=e.code, message=e.message)


def modify_rejected_reprotect(ed: EventData) -> None:
    modify_rejected_keep(ed)
    _protect(_p(ed))


def request_cancel(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.cancel_requested = True
    plan.reason = getattr(e, "reason", None) or "entry expired"
    _emit(plan, fx.CancelEntry(plan.id, plan.reason))
    _kind(plan, K.CANCEL_REQUESTED)


def cancel_unstarted(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.reason = getattr(e, "reason", None) or "expired before activation"
    plan.entry_done = True
    _kind(plan, K.CANCELLED)


def request_flatten(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.cancel_requested = True
    plan.reason = e.reason
    _flatten(plan, e.reason)
    _kind(plan, K.FLATTEN_REQUESTED)


def refuse_reversed(ed: EventData) -> None:
    """A cancel cannot resolve a reversed position: it stays in error, with its reason."""
    _kind(_p(ed), K.ERROR, message="cancel refused: the position at IB is reversed; flatten it by hand")


def cancel_error_plan(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.reason = e.reason
    plan.entry_done = True
    _emit(plan, fx.CancelEntry(plan.id, e.reason))
    _emit(plan, fx.CancelExits(plan.id))
    _kind(plan, K.CANCELLED)


def expire_remainder(ed: EventData) -> None:
    plan = _p(ed)
    _emit(plan, fx.CancelEntry(plan.id, "entry expired"))
    _kind(plan, K.EXPIRED_REMAINDER)


def position_gone(ed: EventData) -> bool:
    """IB holds none of the shares the plan believes it owns."""
    return bool(_e(ed).held <= 0)


def over_protected(ed: EventData) -> bool:
    """IB reports more exit quantity working than the plan holds (a duplicate stop after a false
    "Cancelled", a stop the trader added in TWS with the plan's orderRef)."""
    plan, e = _p(ed), _e(ed)
    return plan.open_qty > 0 and (e.stop_quantity > plan.open_qty or e.target_quantity > plan.open_qty)


def stop_unconfirmed(ed: EventData) -> bool:
    """A stop the trail wants is not confirmed by IB and may be sent again."""
    plan = _p(ed)
    return plan.stop_price != plan.confirmed_stop_price and 0 < plan.stop_attempts < _e(ed).max_attempts


def stop_given_up(ed: EventData) -> bool:
    """The wanted stop failed every send: the trader is told (once) that the confirmed one protects."""
    plan = _p(ed)
    return plan.stop_price != plan.confirmed_stop_price and plan.stop_attempts == _e(ed).max_attempts


def new_commission(ed: EventData) -> bool:
    """A commission report for a fill the plan applied and has not been charged for yet."""
    plan, e = _p(ed), _e(ed)
    return e.exec_id in plan.seen_exec_ids and e.exec_id not in plan.seen_commission_ids


def _outside(plan: Plan, held: int, believed: int) -> None:
    plan.outside_qty += max(0, min(believed, plan.open_qty) - max(held, 0))


def close_outside(ed: EventData) -> None:
    """IB holds none of it: the position was closed outside the orchestrator. Nothing is sent;
    what the plan still has working at IB is cancelled."""
    plan, e = _p(ed), _e(ed)
    _outside(plan, e.held, e.believed)
    plan.reason = (f"closed outside the orchestrator: IB holds none of its {e.believed} shares "
                   "(sold in TWS, or filled while it was away); nothing was sent")
    plan.exit_reason = "outside"
    if not plan.entry_done:
        plan.entry_done = True
        _emit(plan, fx.CancelEntry(plan.id, "position closed outside"))
    _emit(plan, fx.CancelExits(plan.id))
    plan.flattening = False
    _kind(plan, K.CLOSED_OUTSIDE, held=e.held, believed=e.believed)


def trim_to_held(ed: EventData) -> None:
    """IB holds less than the plan believes: nothing new is placed, its exits (or the flatten
    under way) are cut down to what is held, a human decides."""
    plan, e = _p(ed), _e(ed)
    reason = (f"the position changed outside the orchestrator: IB holds {e.held} of the {e.believed} shares "
              f"the plan believes it owns; its exits are cut to {e.held} and nothing new is sent")
    _outside(plan, e.held, e.believed)
    spec = plan.spec
    if plan.flattening:   # the exit under way is cut to what is held (a Protect would be stale)
        _emit(plan, fx.Flatten(plan.id, plan.key, spec.side, max(e.held, 0), "cut to what IB holds",
                               plan.stop_price))
    else:
        _emit(plan, fx.Protect(plan.id, plan.key, spec.side, max(e.held, 0), plan.stop_price, plan.target_price,
                               grow=False))
    if plan.reason != reason:
        plan.reason = reason
        _kind(plan, K.POSITION_CHANGED, held=e.held, believed=e.believed)


def yield_to_trader(ed: EventData) -> None:
    """Someone else's exit orders could sell ``quantity`` of the plan's shares: the orchestrator
    cuts its own exits by as much (all of them if they cover the position), so that every exit at
    IB together never sells more than IB holds, and leaves the position to a human."""
    plan, e = _p(ed), _e(ed)
    keep = max(0, plan.open_qty - e.quantity)
    kept = f"cut to {keep} shares" if keep else "cancelled"
    plan.reason = (f"exit orders that are not the orchestrator's ({e.orders}) could sell {e.quantity} of its "
                   f"{plan.open_qty} shares: its own stop and take-profit are {kept} so nothing sells twice; "
                   "a human decides what happens next")
    plan.flattening = False
    if not plan.entry_done:   # no more shares bought beside the trader's exits
        _emit(plan, fx.CancelEntry(plan.id, "the trader's own exits: the plan stepped back"))
    if keep:
        spec = plan.spec
        _emit(plan, fx.Protect(plan.id, plan.key, spec.side, keep, plan.stop_price, plan.target_price,
                               grow=False))
    else:
        _emit(plan, fx.CancelExits(plan.id))
    _kind(plan, K.YIELDED_TO_TRADER, orders=e.orders, quantity=e.quantity, kept=keep)


def stepped_back_alike(ed: EventData) -> bool:
    """The plan already stepped back for these same orders and this same reach."""
    plan, e = _p(ed), _e(ed)
    return (plan.reason or "").startswith(f"exit orders that are not the orchestrator's ({e.orders}) could sell "
                                          f"{e.quantity} of its {plan.open_qty} shares:")


def trim_excess(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    plan.protected_stop_qty, plan.protected_target_qty = e.stop_quantity, e.target_quantity
    spec = plan.spec
    _emit(plan, fx.Protect(plan.id, plan.key, spec.side, plan.open_qty, plan.stop_price, plan.target_price,
                           grow=False))
    _kind(plan, K.EXCESS_PROTECTION, stop_quantity=e.stop_quantity, target_quantity=e.target_quantity)


def resend_stop(ed: EventData) -> None:
    plan = _p(ed)
    plan.stop_attempts += 1
    plan.stop_sent_at = _e(ed).at
    _emit(plan, fx.ModifyStop(plan.id, plan.stop_price, plan.open_qty))


def trail_stuck(ed: EventData) -> None:
    plan = _p(ed)
    plan.stop_attempts += 1   # past the limit: told once, not sent again until the trail moves
    _kind(plan, K.TRAIL_STUCK, wanted=plan.stop_price, confirmed=plan.confirmed_stop_price)


def record_commission(ed: EventData) -> None:
    """Commissions are kept in the base currency, like the P&L they are taken from: one charged in
    the contract's currency is converted at the rate the plan was sized with."""
    plan, e = _p(ed), _e(ed)
    plan.seen_commission_ids.add(e.exec_id)
    plan.commissions += money.commission_in_base(e.amount, e.currency, plan.base_currency,
                                                 plan.spec.instrument.currency, plan.fx_rate)


ADOPTED = "adopted from IB's evidence at start (state.db did not know this plan)"


def _adopt_figures(ed: EventData) -> Plan:
    plan, e = _p(ed), _e(ed)
    spec = plan.spec
    plan.quantity = e.quantity
    plan.risk_amount = plan_risk(spec.side, spec.entry_price, spec.stop_loss, e.quantity)
    plan.entry_done = bool(e.entry_done)
    plan.reason = ADOPTED
    if e.entry_qty:
        plan.filled_qty = e.entry_qty
        plan.avg_entry_price = e.entry_price if e.entry_price is not None else spec.entry_price
        plan.best_price = plan.avg_entry_price
    if e.exit_qty:
        entry = plan.avg_entry_price or spec.entry_price
        exit_price: Decimal = e.exit_price if e.exit_price is not None else entry
        plan.exited_qty, plan.avg_exit_price = e.exit_qty, exit_price
        plan.realized_pnl = (exit_price - entry) * e.exit_qty * spec.side.sign
    _kind(plan, K.ADOPTED)
    return plan


def adopt_unfilled(ed: EventData) -> None:
    """Nothing filled before today: IB's working entry and today's executions are applied by
    the reconciliation that follows, as for any plan."""
    _adopt_figures(ed)


def adopt_position(ed: EventData) -> None:
    _protect(_adopt_figures(ed))


def adopt_closed(ed: EventData) -> None:
    plan = _adopt_figures(ed)
    plan.entry_done = True
    plan.exit_reason = "flatten"
    _emit(plan, fx.CancelExits(plan.id))


def record_hold(ed: EventData) -> None:
    """A pending plan records why it waits (or that it no longer does)."""
    _p(ed).reason = _e(ed).reason


def record_error(ed: EventData) -> None:
    plan, e = _p(ed), _e(ed)
    if isinstance(e, ev.FlattenFailed):
        plan.reason, plan.error_code = f"flatten failed: {e.message}", e.code
    else:
        plan.reason = e.reason
    _kind(plan, K.ERROR)


def flatten_refused(ed: EventData) -> None:
    """IB refused the market flatten (or its contract): the stop was cancelled for it, so a stop
    for the whole position goes back at once, at the plan's stop; the plan is in error and the
    flatten is not retried on its own (IB refused it: a human looks, and cancels again to retry)."""
    plan, e = _p(ed), _e(ed)
    plan.flattening = False
    plan.error_code = e.code
    plan.reason = f"flatten failed: {e.message}"
    if plan.open_qty > 0:
        spec = plan.spec
        _emit(plan, fx.Protect(plan.id, plan.key, spec.side, plan.open_qty, plan.stop_price, plan.target_price,
                               stop_only=True))
        plan.reason += (f"; a stop for its {plan.open_qty} shares at {plan.stop_price} {STOP_SENT_BACK}; "
                        "the flatten is not retried on its own: cancel the plan again to retry it, "
                        "or close the position in TWS")
    _kind(plan, K.ERROR)


STOP_SENT_BACK = "is sent back to IB"
STOP_BACK_REFUSED = "IB refused the stop sent back too"


def sent_a_stop_back(plan: Plan) -> bool:
    """A stop was put back for the plan in error already (after a refused flatten, or with nothing
    working at IB): the plan's reason says so."""
    return STOP_SENT_BACK in (plan.reason or "")


def told_unprotected(ed: EventData) -> bool:
    """The trader was told already that IB refused the stop put back: nothing new to send or say."""
    return STOP_BACK_REFUSED in (_p(ed).reason or "")


def stop_back_unprotected(ed: EventData) -> None:
    """Nothing works at IB for the open position of a plan in error: a stop for it goes back at
    once, at the plan's stop (a flatten that waited is not sent on its own: the trader cancels
    again for it), and the trader is told."""
    plan = _p(ed)
    plan.flattening = False
    spec = plan.spec
    _emit(plan, fx.Protect(plan.id, plan.key, spec.side, plan.open_qty, plan.stop_price, plan.target_price,
                           stop_only=True))
    told = (plan.reason or "").split("; a stop for its")[0].split("; IB showed nothing working")[0]
    plan.reason = (f"{told}; IB showed nothing working for its {plan.open_qty} shares: a stop for its "
                   f"{plan.open_qty} shares at {plan.stop_price} {STOP_SENT_BACK}; cancel the plan to flatten it, "
                   "or close the position in TWS")
    _kind(plan, K.ERROR)


def stop_back_refused(ed: EventData) -> None:
    """IB refused the stop put back after a refused flatten too (a read-only API refuses all):
    the trader is told that nothing protects the position any more."""
    plan, e = _p(ed), _e(ed)
    told = (plan.reason or "").split("; a stop for its")[0]
    plan.reason = (f"{told}; {STOP_BACK_REFUSED} ({e.code}: {e.message}): nothing protects its "
                   f"{plan.open_qty} shares at IB; close the position in TWS, or cancel the plan again to retry")
    _kind(plan, K.ERROR)


def stop_sent_back(ed: EventData) -> bool:
    """The stop put back after a refused flatten is what IB refused."""
    return Leg(_e(ed).leg) is Leg.STOP and STOP_SENT_BACK in (_p(ed).reason or "")


def flatten_failure_told(ed: EventData) -> bool:
    """The plan is in error for a refused flatten already: another report of it tells nothing new."""
    return (_p(ed).reason or "").startswith("flatten failed: ")


def nothing(ed: EventData) -> None:
    """A benign repeat: explicitly accepted, changes nothing."""


# --------------------------------------------------------------------------- the table

Row = dict[str, Any]


Action = Callable[[EventData], None]


def row(trigger: str, source: Any, dest: State | None, action: Action | tuple[Action, ...],
        *conditions: Callable[[EventData], bool], unless: tuple[Callable[[EventData], bool], ...] = ()) -> Row:
    src = [str(s) for s in (source if isinstance(source, (list, tuple)) else [source])]
    return {"trigger": trigger, "source": src, "dest": None if dest is None else str(dest),
            "conditions": list(conditions), "unless": list(unless),
            "after": list(action) if isinstance(action, tuple) else [action]}


A = ev.Activate.TRIGGER
TRANSITIONS: list[Row] = [
    # activation: size against the account; any violated limit rejects the plan
    row(A, S.PENDING, S.REJECTED, reject_unsized, activation_refused),
    row(A, S.PENDING, S.SIZED, size_and_place, risk_ok),
    row(A, S.PENDING, S.REJECTED, reject_risk),

    # the entry at IB
    row("entry_accepted", S.SIZED, S.SUBMITTED, record_accept),
    row("entry_unseen", S.SIZED, S.ERROR, record_unseen),
    row("sized_again", S.SIZED, S.PENDING, unsize),
    row("sized_again", [s for s in S if s != S.SIZED], None, nothing),
    row("entry_refused", S.SIZED, S.REJECTED, refuse_entry),
    row("entry_refused", [s for s in S if s != S.SIZED], None, nothing),   # the plan moved on meanwhile
    row("entry_unseen", [S.SUBMITTED, *LIVE_POSITION, *ENDED, S.ERROR, S.PENDING], None, nothing),
    # the entry reaches IB after all: an error that was only its absence is over
    row("entry_accepted", S.ERROR, S.SUBMITTED, entry_found, entry_unseen),
    row("entry_rejected", S.ERROR, S.REJECTED, (entry_found, record_reject), entry_unseen),
    row("entry_cancelled", S.ERROR, S.CANCELLED, (entry_found, record_cancelled), entry_unseen),
    row("entry_filled", S.ERROR, S.FILLED, (entry_found, record_entry_fill, protect_fill), entry_unseen,
        unless=(duplicate_fill,)),
    row("entry_accepted", [S.SUBMITTED, *LIVE_POSITION, *ENDED, S.ERROR], None, nothing),  # duplicate/late ack
    row("entry_rejected", UNFILLED_WORKING, S.REJECTED, record_reject),
    row("entry_rejected", LIVE_POSITION, S.FILLED, entry_remainder_gone, unless=(entry_done,)),
    row("entry_rejected", [*LIVE_POSITION, *ENDED, S.ERROR], None, nothing),  # e.g. 201 then Inactive
    row("entry_cancelled", UNFILLED_WORKING, S.CANCELLED, record_cancelled),
    row("entry_cancelled", LIVE_POSITION, None, entry_remainder_gone, flattening),
    row("entry_cancelled", LIVE_POSITION, S.FILLED, entry_remainder_gone, unless=(entry_done,)),
    row("entry_cancelled", [*LIVE_POSITION, *ENDED, S.ERROR], None, nothing),    # duplicate ack

    # entry fills: replayed execIds are no-ops; every new fill is protected (or flattened)
    row("entry_filled", [*UNFILLED_WORKING, *LIVE_POSITION, *ENDED, S.ERROR], None, nothing, duplicate_fill),
    row("entry_filled", UNFILLED_WORKING, S.FILLED, (record_entry_fill, flatten_unwanted_fill),
        cancel_pending),                                                          # fill before the cancel ack
    row("entry_filled", [*UNFILLED_WORKING, *LIVE_POSITION], S.FILLED, (record_entry_fill, protect_fill),
        unless=(flattening,)),
    row("entry_filled", LIVE_POSITION, S.FILLED, (record_entry_fill, flatten_more), flattening),
    row("entry_filled", ENDED, S.FILLED, (record_entry_fill, flatten_late_fill)),   # fill after cancel ack / end
    row("entry_filled", S.ERROR, None, (record_entry_fill, protect_fill)),

    # exit fills: the exit wins over a pending trail modification
    row("exit_filled", [*LIVE_POSITION, S.CLOSED, S.ERROR], None, nothing, duplicate_fill),
    row("exit_filled", [*LIVE_POSITION, S.ERROR], S.ERROR, (record_exit, close_out, over_exit), overshoots),
    row("exit_filled", [*LIVE_POSITION, S.ERROR], S.CLOSED, (record_exit, close_out), closes_position),
    row("exit_filled", [*LIVE_POSITION, S.ERROR], None, record_exit),            # partial exit
    row("exit_filled", S.CLOSED, None, record_outside_fill, already_outside),   # the trader's, already counted
    row("exit_filled", S.CLOSED, S.ERROR, (record_exit, over_exit)),                          # over-exit: reversed

    # protection as IB reports it; more exit quantity than the position is cut down first
    row("protection_status", LIVE_POSITION, None, trim_excess, over_protected, unless=(flattening,)),
    row("protection_status", S.FILLED, S.TRAILING, record_protection, protection_matches, trail_active,
        unless=(flattening,)),
    row("protection_status", S.FILLED, S.PROTECTED, record_protection, protection_matches,
        unless=(flattening,)),
    row("protection_status", S.FILLED, None, record_protection),
    row("protection_status", [S.PROTECTED, S.TRAILING], None, record_protection, protection_matches),
    row("protection_status", [S.PROTECTED, S.TRAILING], None, record_protection, flattening),
    row("protection_status", [S.PROTECTED, S.TRAILING], S.FILLED, reprotect),
    row("protection_status", S.CLOSED, None, cancel_leftovers, has_leftovers),
    row("protection_status", [*UNFILLED_WORKING, *ENDED, S.ERROR], None, nothing),
    row("protection_failed", LIVE_POSITION, None, nothing, flattening),
    row("protection_failed", LIVE_POSITION, S.FILLED, protection_failed_flatten),
    row("protection_failed", UNFILLED_WORKING, None, protection_failed_unfilled),
    row("protection_failed", S.ERROR, None, stop_back_refused, stop_sent_back),
    row("protection_failed", [*ENDED, S.ERROR], None, nothing),

    # broker truth: IB holds fewer shares than the plan believes
    row("shortfall", [*LIVE_POSITION, S.ERROR], S.CLOSED, close_outside, position_gone),
    row("shortfall", [*LIVE_POSITION, S.ERROR], S.ERROR, trim_to_held),
    row("shortfall", [*UNFILLED_WORKING, *ENDED, S.PENDING], None, nothing),
    row("trader_exits", S.ERROR, None, nothing, stepped_back_alike),   # told already: the same orders, the same reach
    row("trader_exits", [*LIVE_POSITION, S.ERROR], S.ERROR, yield_to_trader),
    row("trader_exits", [*UNFILLED_WORKING, *ENDED, S.PENDING], None, nothing),

    # trailing: modify the same stop in place, only ever tighter; an unconfirmed stop is sent again
    row("price_update", [S.PROTECTED, S.TRAILING], S.TRAILING, move_stop, trail_moves),
    row("price_update", [*UNFILLED_WORKING, *LIVE_POSITION], None, track_price),
    row("stop_modified", [*LIVE_POSITION, S.CLOSED, S.ERROR], None, record_stop),
    row("stop_modify_rejected", LIVE_POSITION, None, modify_rejected_keep, flattening),   # no new stop now
    row("stop_modify_rejected", [*LIVE_POSITION, S.ERROR], None, modify_rejected_keep, stop_working),
    row("stop_modify_rejected", [S.PROTECTED, S.TRAILING], S.FILLED, modify_rejected_reprotect),
    row("stop_modify_rejected", [S.FILLED, S.ERROR], None, modify_rejected_reprotect),
    row("stop_modify_rejected", S.CLOSED, None, nothing),
    row("trail_retry", [S.PROTECTED, S.TRAILING], None, resend_stop, stop_unconfirmed, unless=(flattening,)),
    row("trail_retry", [S.PROTECTED, S.TRAILING], None, trail_stuck, stop_given_up),
    row("trail_retry", [*UNFILLED_WORKING, *LIVE_POSITION, *ENDED, S.ERROR, S.PENDING], None, nothing),

    # IB's commission reports
    row("commission", list(S), None, record_commission, new_commission),
    row("commission", list(S), None, nothing),

    # the trader cancels: unfilled → cancel the entry; filled → flatten
    row("cancel", S.PENDING, S.CANCELLED, cancel_unstarted),
    row("cancel", UNFILLED_WORKING, None, request_cancel),
    row("cancel", LIVE_POSITION, None, nothing, flattening),
    row("cancel", LIVE_POSITION, None, request_flatten),
    row("cancel", S.ERROR, None, refuse_reversed, reversed_position),          # a human must flatten
    row("cancel", S.ERROR, None, request_flatten, has_position),
    row("cancel", S.ERROR, S.CANCELLED, cancel_error_plan),
    row("cancel", ENDED, None, nothing),

    # expiry of an unfilled entry
    row("expire", S.PENDING, S.CANCELLED, cancel_unstarted),
    row("expire", UNFILLED_WORKING, None, request_cancel),
    row("expire", LIVE_POSITION, None, expire_remainder, unless=(entry_done,)),
    row("expire", [*LIVE_POSITION, *ENDED, S.ERROR], None, nothing),

    # a pending plan held by the entry gate says why; a plan taken over from IB's evidence
    row("hold", S.PENDING, None, record_hold),
    row("hold", [*UNFILLED_WORKING, *LIVE_POSITION, *ENDED, S.ERROR], None, nothing),  # raced its activation
    row("adopt", S.PENDING, S.CLOSED, adopt_closed, adopts_closed),
    row("adopt", S.PENDING, S.FILLED, adopt_position, adopts_position),
    row("adopt", S.PENDING, S.SIZED, adopt_unfilled),

    # needs a human
    row("flatten_failed", [*LIVE_POSITION, S.ERROR], S.ERROR, flatten_refused, flattening),
    row("unprotected", S.ERROR, None, nothing, told_unprotected),
    row("unprotected", S.ERROR, None, stop_back_unprotected, has_position),
    row("unprotected", [s for s in S], None, nothing),   # the plan moved on, or holds nothing
    row("flatten_failed", S.ERROR, None, nothing, flatten_failure_told),   # the same refusal reported again
    row("flatten_failed", [*LIVE_POSITION, S.ERROR], S.ERROR, record_error),
    row("flatten_failed", ENDED, None, nothing),               # the position was already gone
    row("fault", [s for s in S], S.ERROR, record_error),
]


def guard_names(r: Row) -> list[str]:
    """Guards of a row as text, ``!name`` for an ``unless`` guard (for diagrams and tests)."""
    return [c.__name__ for c in r["conditions"]] + [f"!{c.__name__}" for c in r["unless"]]


def triggers() -> list[str]:
    """Every trigger in the table, in table order."""
    seen: dict[str, None] = {}
    for r in TRANSITIONS:
        seen.setdefault(r["trigger"], None)
    return list(seen)
