"""The transition table, row by row.

Every (row, source state) pair of ``TRANSITIONS`` has a case here: a plan in that state and an
event for which that row's guards (and no earlier row's) select it, with the resulting state and
the exact effects. A row added without a case, or a source added to a row without extending its
case, fails ``test_every_row_and_source_has_a_case``.

Then the other half of the table: every trigger a state does not list raises ``InvalidEvent``
and leaves the plan exactly as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from machines import (
    TRANSITIONS,
    Activate,
    Adopt,
    CancelEntry,
    CancelExits,
    CancelRequested,
    CommissionCharged,
    EntryAccepted,
    EntryCancelled,
    EntryFilled,
    EntryRefused,
    EntryRejected,
    EntryUnseen,
    ExitFilled,
    Expire,
    Fault,
    Flatten,
    FlattenFailed,
    Hold,
    InvalidEvent,
    Leg,
    ModifyStop,
    Notify,
    PlaceBracket,
    Plan,
    PlanMachine,
    PositionShortfall,
    PriceUpdate,
    Protect,
    ProtectionFailed,
    ProtectionStatus,
    SizedAgain,
    State,
    StopModified,
    StopModifyRejected,
    TraderExits,
    TrailRetry,
    Unprotected,
    guard_names,
    triggers,
)

from .helpers import EXAMPLE_EVENTS, QTY, D, bound, event, kinds, plan_in, short_spec

S = State
UNFILLED = (S.SIZED, S.SUBMITTED)
LIVE = (S.FILLED, S.PROTECTED, S.TRAILING)
ENDED = (S.CLOSED, S.CANCELLED, S.REJECTED)

ExpectedEffect = tuple[type, dict[str, Any]]


# --------------------------------------------------------------------------- row identity

def row_key(r: dict[str, Any]) -> tuple[Any, ...]:
    """A row's identity that survives reordering: trigger, destination, guards and actions."""
    return (r["trigger"], r["dest"], tuple(guard_names(r)), tuple(a.__name__ for a in r["after"]))


def pair_id(r: dict[str, Any], source: str) -> str:
    dest = r["dest"] if r["dest"] is not None else f"{source}(internal)"
    guards = guard_names(r)
    return f"{r['trigger']}:{source}->{dest}" + (f"[{','.join(guards)}]" if guards else "")


def first_matching_row(plan: Plan, e: Any) -> int | None:
    """Which row the machine must pick: the first row for this trigger and state whose guards
    all pass (evaluated here, independently of transitions)."""
    ed = SimpleNamespace(model=plan, kwargs={"event": e})
    for i, r in enumerate(TRANSITIONS):
        if r["trigger"] != type(e).TRIGGER or plan.state not in r["source"]:
            continue
        if all(c(ed) for c in r["conditions"]) and not any(u(ed) for u in r["unless"]):
            return i
    return None


# --------------------------------------------------------------------------- the cases

@dataclass
class Given:
    plan: Plan
    event: Any
    effects: list[ExpectedEffect]
    check: Callable[[Plan], None] | None = None


@dataclass
class RowCase:
    trigger: str
    dest: str | None
    guards: tuple[str, ...]
    actions: tuple[str, ...]
    sources: tuple[str, ...]
    build: Callable[[State], Given] = field(repr=False)

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.trigger, self.dest, self.guards, self.actions)


CASES: list[RowCase] = []


def case(event_cls: type, dest: State | None, guards: str | tuple[str, ...], actions: str | tuple[str, ...],
         sources: tuple[State, ...] | State) -> Callable[[Callable[[State], Given]], Callable[[State], Given]]:
    """Register the case for the row of ``event_cls``'s trigger with this destination, guards and
    actions. ``sources`` must list the row's sources exactly."""
    def register(build: Callable[[State], Given]) -> Callable[[State], Given]:
        CASES.append(RowCase(
            event_cls.TRIGGER, None if dest is None else str(dest),
            (guards,) if isinstance(guards, str) else tuple(guards),
            (actions,) if isinstance(actions, str) else tuple(actions),
            tuple(str(s) for s in (sources if isinstance(sources, tuple) else (sources,))),
            build))
        return build
    return register


def notify(kind: str, **facts: Any) -> ExpectedEffect:
    return (Notify, {"kind": kind, **({"facts": facts} if facts else {})})


NOTHING = "nothing"

# ---- activation

@case(Activate, S.REJECTED, "activation_refused", "reject_unsized", S.PENDING)
def _activate_refused(src: State) -> Given:
    return Given(plan_in(src), event(Activate, refused="IB knows no US stock 'ZZZZ' (SMART/USD)"),
                 [notify("rejected")],
                 lambda p: _assert((p.reason or "").startswith("IB knows no") and p.quantity == 0))


@case(Activate, S.SIZED, "risk_ok", "size_and_place", S.PENDING)
def _activate_sized(src: State) -> Given:
    # 10 000 × 2 % = 200 of risk; |100 − 98| = 2 per share → 100 shares, notional 10 000 ≤ 50 000
    def check(p: Plan) -> None:
        assert (p.quantity, p.risk_amount, p.portfolio_risk_pct) == (100, D(200), D(2))
    return Given(plan_in(src), event(Activate), [
        (PlaceBracket, {"quantity": 100, "entry_price": D("100.00"), "stop_price": D("98.00"),
                        "target_price": D("106.00"), "side": "long", "entry_type": "limit"}),
        notify("sized")], check)


@case(Activate, S.REJECTED, (), "reject_risk", S.PENDING)
def _activate_rejected(src: State) -> Given:
    # 900 open + 200 new = 11 % of 10 000 > 10 %
    def check(p: Plan) -> None:
        assert p.reason is not None and "max_portfolio_risk_pct" in p.reason
        assert p.portfolio_risk_pct == D(11)
    return Given(plan_in(src), event(Activate, open_risk=D(900)), [notify("rejected")], check)


# ---- entry acknowledgements

@case(EntryAccepted, S.SUBMITTED, (), "record_accept", S.SIZED)
def _accepted(src: State) -> Given:
    return Given(plan_in(src), event(EntryAccepted), [notify("submitted")])


@case(EntryAccepted, None, (), NOTHING, (S.SUBMITTED, *LIVE, *ENDED, S.ERROR))
def _accepted_again(src: State) -> Given:
    return Given(plan_in(src), event(EntryAccepted), [])


def _unseen() -> Plan:
    """In error only because IB showed no trace of the entry sent."""
    return plan_in(S.ERROR, filled_qty=0, entry_unseen=True, entry_done=False, reason="no trace")


@case(EntryUnseen, S.ERROR, (), "record_unseen", S.SIZED)
def _entry_unseen(src: State) -> Given:
    return Given(plan_in(src), event(EntryUnseen), [notify("error")],
                 lambda p: _assert(p.entry_unseen and "shows no trace" in (p.reason or "")))


@case(EntryUnseen, None, (), NOTHING, (S.SUBMITTED, *LIVE, *ENDED, S.ERROR, S.PENDING))
def _entry_unseen_later(src: State) -> Given:
    return Given(plan_in(src), event(EntryUnseen), [])


@case(SizedAgain, S.PENDING, (), "unsize", S.SIZED)
def _sized_again(src: State) -> Given:
    def check(p: Plan) -> None:
        assert (p.quantity, p.risk_amount, p.portfolio_risk_pct, p.sized_price) == (0, D(0), D(0), None)
        assert p.open_risk() == 0 and "sized again" in (p.reason or "")
    return Given(plan_in(src), event(SizedAgain), [notify("sized_again")], check)


@case(SizedAgain, None, (), NOTHING, tuple(s for s in S if s != S.SIZED))
def _sized_again_elsewhere(src: State) -> Given:
    return Given(plan_in(src), event(SizedAgain), [])


@case(EntryRefused, S.REJECTED, (), "refuse_entry", S.SIZED)
def _entry_refused(src: State) -> Given:
    def check(p: Plan) -> None:
        assert p.reason == "market entry refused: the market 105.00 is already past the entry's price cap 101.00"
        assert p.entry_done and p.open_risk() == 0
    return Given(plan_in(src), event(EntryRefused), [notify("rejected", limit="market_price")], check)


@case(EntryRefused, None, (), NOTHING, tuple(s for s in S if s != S.SIZED))
def _entry_refused_elsewhere(src: State) -> Given:
    return Given(plan_in(src), event(EntryRefused), [])


@case(EntryAccepted, S.SUBMITTED, "entry_unseen", "entry_found", S.ERROR)
def _accepted_late(src: State) -> Given:
    return Given(_unseen(), event(EntryAccepted), [notify("entry_found")],
                 lambda p: _assert(not p.entry_unseen and p.reason is None))


@case(EntryRejected, S.REJECTED, "entry_unseen", ("entry_found", "record_reject"), S.ERROR)
def _rejected_late(src: State) -> Given:
    return Given(_unseen(), event(EntryRejected), [(CancelEntry, {}), (CancelExits, {}),
                                                    notify("rejected", code=201)])


@case(EntryCancelled, S.CANCELLED, "entry_unseen", ("entry_found", "record_cancelled"), S.ERROR)
def _cancelled_late(src: State) -> Given:
    return Given(_unseen(), event(EntryCancelled), [notify("cancelled")],
                 lambda p: _assert(p.entry_done and p.reason == "entry cancelled at IB"))


@case(EntryFilled, S.FILLED, ("entry_unseen", "!duplicate_fill"), ("entry_found", "record_entry_fill", "protect_fill"),
      S.ERROR)
def _filled_late(src: State) -> Given:
    return Given(_unseen(), event(EntryFilled, quantity=100), [(Protect, {"quantity": 100}), notify("filled")],
        lambda p: _assert(p.open_qty == 100 and not p.entry_unseen and p.reason is None))


@case(EntryRejected, S.REJECTED, (), "record_reject", UNFILLED)
def _rejected(src: State) -> Given:
    def check(p: Plan) -> None:
        assert p.error_code == 201 and p.entry_done and "IB rejected" in (p.reason or "")
    return Given(plan_in(src), event(EntryRejected), [(CancelEntry, {}), (CancelExits, {}),
                                                       notify("rejected", code=201)], check)


@case(EntryRejected, S.FILLED, "!entry_done", "entry_remainder_gone", LIVE)
def _rejected_remainder(src: State) -> Given:
    # 40 of 100 filled, then IB refuses the rest (e.g. a modify of the parent): protect the 40
    plan = plan_in(src, filled_qty=40)
    return Given(plan, event(EntryRejected), [
        (Protect, {"quantity": 40, "stop_price": plan.stop_price, "target_price": plan.target_price}),
        notify("entry_remainder_cancelled")], lambda p: _assert(p.entry_done))


@case(EntryRejected, None, (), NOTHING, (*LIVE, *ENDED, S.ERROR))
def _rejected_after_full_fill(src: State) -> Given:
    return Given(plan_in(src), event(EntryRejected), [])


@case(EntryCancelled, S.CANCELLED, (), "record_cancelled", UNFILLED)
def _cancelled(src: State) -> Given:
    def check(p: Plan) -> None:
        assert p.entry_done and p.reason == "entry cancelled at IB"
    return Given(plan_in(src), event(EntryCancelled), [notify("cancelled")], check)


@case(EntryCancelled, None, "flattening", "entry_remainder_gone", LIVE)
def _cancelled_while_flattening(src: State) -> Given:
    # the remainder's cancel ack while we flatten: nothing to protect, no more entry fills
    return Given(plan_in(src, filled_qty=40, flattening=True), event(EntryCancelled), [],
                 lambda p: _assert(p.entry_done and p.flattening))


@case(EntryCancelled, S.FILLED, "!entry_done", "entry_remainder_gone", LIVE)
def _cancelled_remainder(src: State) -> Given:
    plan = plan_in(src, filled_qty=40)
    return Given(plan, event(EntryCancelled), [
        (Protect, {"quantity": 40, "stop_price": plan.stop_price}), notify("entry_remainder_cancelled")],
        lambda p: _assert(p.entry_done))


@case(EntryCancelled, None, (), NOTHING, (*LIVE, *ENDED, S.ERROR))
def _cancelled_again(src: State) -> Given:
    return Given(plan_in(src), event(EntryCancelled), [])


# ---- entry fills

@case(EntryFilled, None, "duplicate_fill", NOTHING, (*UNFILLED, *LIVE, *ENDED, S.ERROR))
def _fill_replayed(src: State) -> Given:
    return Given(plan_in(src, seen={"E-dup"}), event(EntryFilled, exec_id="E-dup"), [])


@case(EntryFilled, S.FILLED, "cancel_pending", ("record_entry_fill", "flatten_unwanted_fill"), UNFILLED)
def _fill_racing_the_cancel(src: State) -> Given:
    # the trader cancelled (or the entry expired); 25 shares fill before the cancel lands
    plan = plan_in(src, cancel_requested=True, reason="cancelled by user")

    def check(p: Plan) -> None:
        assert p.flattening and not p.entry_done and p.open_qty == 25
    return Given(plan, event(EntryFilled, quantity=25), [
        (CancelEntry, {}), (Flatten, {"quantity": 25}), notify("late_fill")], check)


@case(EntryFilled, S.FILLED, "!flattening", ("record_entry_fill", "protect_fill"), (*UNFILLED, *LIVE))
def _fill_protected(src: State) -> Given:
    if src in UNFILLED:   # first (partial) fill: protect what filled
        plan, fill, open_qty = plan_in(src), 40, 40
    else:                 # more fills: grow protection to everything filled so far
        plan, fill, open_qty = plan_in(src, filled_qty=40), 60, 100

    def check(p: Plan) -> None:
        assert p.filled_qty == open_qty and p.avg_entry_price == D("100.00")
        assert p.entry_done is (open_qty == QTY)
    return Given(plan, event(EntryFilled, quantity=fill), [
        (Protect, {"quantity": open_qty, "stop_price": plan.stop_price, "target_price": plan.target_price}),
        notify("filled", fill_qty=fill)], check)


@case(EntryFilled, S.FILLED, "flattening", ("record_entry_fill", "flatten_more"), LIVE)
def _fill_while_flattening(src: State) -> Given:
    # flattening 40 shares; 30 more fill before the remainder's cancel lands: flatten all 70
    return Given(plan_in(src, filled_qty=40, flattening=True), event(EntryFilled, quantity=30), [
        (CancelEntry, {}), (Flatten, {"quantity": 70}), notify("filled")])


@case(EntryFilled, S.FILLED, (), ("record_entry_fill", "flatten_late_fill"), ENDED)
def _fill_after_end(src: State) -> Given:
    if src is S.CLOSED:   # stopped out of 40; the other 60 of the entry fill after the close
        plan, fill = plan_in(src, filled_qty=40, exited_qty=40), 60
    else:                 # a fill after the cancel ack / rejection
        plan, fill = plan_in(src), 40

    def check(p: Plan) -> None:
        assert p.flattening and p.entry_done and p.open_qty == fill
    return Given(plan, event(EntryFilled, quantity=fill), [
        (Flatten, {"quantity": fill}), notify("late_fill")], check)


@case(EntryFilled, None, (), ("record_entry_fill", "protect_fill"), S.ERROR)
def _fill_in_error(src: State) -> Given:
    return Given(plan_in(src, filled_qty=40), event(EntryFilled, quantity=60), [
        (Protect, {"quantity": 100}), notify("filled")])


# ---- exit fills

@case(ExitFilled, None, "duplicate_fill", NOTHING, (*LIVE, S.CLOSED, S.ERROR))
def _exit_replayed(src: State) -> Given:
    return Given(plan_in(src, seen={"X-dup"}), event(ExitFilled, exec_id="X-dup"), [])


_CLOSE_BY = {  # source -> (leg, price, notify kind)
    S.FILLED: (Leg.STOP, D("98.00"), "stop_loss"),
    S.PROTECTED: (Leg.TARGET, D("106.00"), "take_profit"),
    S.TRAILING: (Leg.STOP, D("100.50"), "trailing_stop"),
    S.ERROR: (Leg.FLATTEN, D("99.00"), "flattened"),
}


@case(ExitFilled, S.ERROR, "overshoots", ("record_exit", "close_out", "over_exit"), (*LIVE, S.ERROR))
def _exit_overshoots(src: State) -> Given:
    # stop and target both filled (OCA is not atomic): 100 bought, 60 + 100 sold
    if src is S.FILLED:   # the entry is still partly working: it must go too
        plan, fx = plan_in(src, filled_qty=40, exited_qty=0), [(CancelEntry, {}), (CancelExits, {})]
        qty = 60
    else:
        plan, fx, qty = plan_in(src, exited_qty=60, seen={"X-prior"}), [(CancelExits, {})], 100

    def check(p: Plan) -> None:
        assert p.open_qty < 0 and "reversed" in (p.reason or "") and not p.flattening
    return Given(plan, event(ExitFilled, quantity=qty), [*fx, notify("error")], check)


@case(ExitFilled, S.CLOSED, "closes_position", ("record_exit", "close_out"), (*LIVE, S.ERROR))
def _exit_closes(src: State) -> Given:
    leg, price, kind = _CLOSE_BY[src]
    if src is S.FILLED:   # 40 of 100 filled, stopped out: the entry remainder must go too
        plan, qty, fx = plan_in(src, filled_qty=40), 40, [(CancelEntry, {}), (CancelExits, {})]
    else:
        plan, qty, fx = plan_in(src), QTY, [(CancelExits, {})]

    def check(p: Plan) -> None:
        assert p.open_qty == 0 and p.entry_done and not p.flattening
        assert p.realized_pnl == (price - D("100.00")) * qty and p.avg_exit_price == price
    return Given(plan, event(ExitFilled, leg=leg, quantity=qty, price=price), [*fx, notify(kind)], check)


@case(ExitFilled, None, (), "record_exit", (*LIVE, S.ERROR))
def _exit_partial(src: State) -> Given:
    def check(p: Plan) -> None:
        # in error the plan is still flattening (a failed emergency flatten): that is its exit
        assert (p.exited_qty, p.open_qty, p.exit_reason) == (40, 60, "flatten" if src is S.ERROR else "target")
        assert p.realized_pnl == D(6) * 40
    return Given(plan_in(src), event(ExitFilled, leg=Leg.TARGET, quantity=40, price=D("106.00")),
                 [notify("partial_exit", fill_qty=40)], check)


def test_a_take_profit_fill_while_flattening_is_the_flatten() -> None:
    """A flatten reprices the take-profit: its fills are the flatten (never announced as a take
    profit, which may be a loss), in error too (the trader's cancel retries the flatten)."""
    for src, reason in ((S.PROTECTED, "flatten"), (S.TRAILING, "flatten"), (S.ERROR, "flatten")):
        plan = plan_in(src, flattening=True)
        PlanMachine().step(plan, event(ExitFilled, leg=Leg.TARGET, quantity=40, price=D("99.00")))
        assert (plan.exit_reason, plan.exited_qty) == (reason, 40), src


@case(ExitFilled, S.ERROR, (), ("record_exit", "over_exit"), S.CLOSED)
def _exit_after_close(src: State) -> Given:
    return Given(plan_in(src), event(ExitFilled, quantity=10), [notify("error")],
                 lambda p: _assert(p.open_qty == -10 and "reversed" in (p.reason or "")))


def _closed_outside_plan(src: State) -> Plan:
    """IB's position report took every share as gone (closed outside); no exit fill applied."""
    return plan_in(src, exited_qty=0, outside_qty=QTY, avg_exit_price=None, realized_pnl=D(0), exit_reason="outside")


@case(ExitFilled, None, "already_outside", "record_outside_fill", S.CLOSED)
def _exit_already_outside(src: State) -> Given:
    # the trader's copy of the plan's stop (another client's order, the plan's orderRef) sold the
    # shares the report took as gone: its execution, heard later, names those very shares
    def check(p: Plan) -> None:
        assert (p.open_qty, p.exited_qty, p.outside_qty, p.exit_reason) == (0, QTY, 0, "outside")
        assert p.realized_pnl == (D("98.00") - D("100.00")) * QTY and p.reason is None
    return Given(_closed_outside_plan(src), event(ExitFilled, quantity=QTY, price=D("98.00"), theirs=True), [], check)


def test_an_exit_fill_of_ours_after_closed_outside_is_still_a_reversal() -> None:
    """Only another client's execution can be the shares IB's report took as gone: our own exit
    filling after the plan closed outside sold more (our cancel came too late)."""
    plan = _closed_outside_plan(S.CLOSED)
    PlanMachine().step(plan, event(ExitFilled, quantity=QTY, theirs=False))
    assert plan.state == S.ERROR and plan.open_qty == -QTY and "reversed" in (plan.reason or "")


def test_their_exit_fill_beyond_what_went_outside_is_a_reversal_by_the_rest() -> None:
    plan = _closed_outside_plan(S.CLOSED)
    PlanMachine().step(plan, event(ExitFilled, quantity=QTY + 10, theirs=True))
    assert (plan.state, plan.open_qty, plan.outside_qty) == (S.ERROR, -10, 0) and "by 10 shares" in (plan.reason or "")


def test_their_exit_fills_after_a_cut_then_a_close_outside_count_each_share_once() -> None:
    """The trader's stop sold 60, then the other 40 (two executions): IB's report cut the plan to 40
    (error), then closed it outside; both executions, heard afterwards, leave it closed and flat."""
    plan = plan_in(S.ERROR, flattening=False)
    machine = PlanMachine()
    machine.step(plan, event(PositionShortfall, held=40, believed=QTY))
    machine.step(plan, event(PositionShortfall, held=0, believed=40))
    assert (plan.state, plan.outside_qty) == (S.CLOSED, QTY)
    machine.step(plan, event(ExitFilled, exec_id="X-1", quantity=60, theirs=True))
    machine.step(plan, event(ExitFilled, exec_id="X-2", quantity=40, theirs=True))
    assert (plan.state, plan.open_qty, plan.exited_qty, plan.outside_qty) == (S.CLOSED, 0, QTY, 0)


def test_their_exit_fill_heard_while_the_plan_still_holds_the_rest_keeps_the_rest() -> None:
    """The report cut the plan to 40 of 100 (60 gone outside); the execution of those 60 is heard:
    the plan still holds 40, as IB does."""
    plan = plan_in(S.ERROR, flattening=False)
    machine = PlanMachine()
    machine.step(plan, event(PositionShortfall, held=40, believed=QTY))
    machine.step(plan, event(ExitFilled, quantity=60, theirs=True))
    assert (plan.state, plan.open_qty, plan.exited_qty, plan.outside_qty) == (S.ERROR, 40, 60, 0)


# ---- protection as IB reports it

STOP_98 = D("98.00")


def _status(qty: int, target: int | None = None, stop_price: Decimal | None = STOP_98) -> Any:
    return event(ProtectionStatus, stop_quantity=qty, target_quantity=qty if target is None else target,
                 stop_price=stop_price)


@case(ProtectionStatus, S.TRAILING, ("protection_matches", "trail_active", "!flattening"),
      "record_protection", S.FILLED)
def _status_back_to_trailing(src: State) -> Given:
    # trailing, then more entry fills resized the stop (-> filled); IB confirms the new size
    plan = plan_in(src, trail_active=True, stop_price=D("100.50"))
    return Given(plan, _status(QTY, stop_price=D("100.50")), [notify("protected")],
                 lambda p: _assert(p.confirmed_stop_price == D("100.50") and p.protected_stop_qty == QTY))


@case(ProtectionStatus, S.PROTECTED, ("protection_matches", "!flattening"), "record_protection", S.FILLED)
def _status_protected(src: State) -> Given:
    return Given(plan_in(src), _status(QTY), [notify("protected")],
                 lambda p: _assert(p.confirmed_stop_price == D("98.00") and p.protected_target_qty == QTY))


@case(ProtectionStatus, None, (), "record_protection", S.FILLED)
def _status_not_yet(src: State) -> Given:
    # the bracket children still cover only the first 40 shares of 100 filled
    return Given(plan_in(src), _status(40), [], lambda p: _assert(p.protected_stop_qty == 40))


@case(ProtectionStatus, None, "protection_matches", "record_protection", (S.PROTECTED, S.TRAILING))
def _status_still_protected(src: State) -> Given:
    plan = plan_in(src)
    return Given(plan, _status(QTY, stop_price=plan.stop_price), [],
                 lambda p: _assert(p.confirmed_stop_price == plan.stop_price))


@case(ProtectionStatus, None, "flattening", "record_protection", (S.PROTECTED, S.TRAILING))
def _status_while_flattening(src: State) -> Given:
    # the flatten's OCA cancelled the exits: expected, do not re-protect
    return Given(plan_in(src, flattening=True), _status(0), [],
                 lambda p: _assert(p.protected_stop_qty == 0 and p.state == src))


@case(ProtectionStatus, S.FILLED, (), "reprotect", (S.PROTECTED, S.TRAILING))
def _status_protection_lost(src: State) -> Given:
    plan = plan_in(src)
    # the message says what IB showed: no stop, the take-profit still for the whole position
    return Given(plan, _status(0, target=QTY), [
        (Protect, {"quantity": QTY, "stop_price": plan.stop_price}),
        notify("protection_lost", stop_quantity=0, target_quantity=QTY, open_qty=QTY)])


@case(ProtectionStatus, None, "has_leftovers", "cancel_leftovers", S.CLOSED)
def _status_leftovers(src: State) -> Given:
    return Given(plan_in(src), _status(QTY, target=0), [(CancelExits, {})])


@case(ProtectionStatus, None, (), NOTHING, (*UNFILLED, *ENDED, S.ERROR))
def _status_ignored(src: State) -> Given:
    return Given(plan_in(src), _status(0) if src is S.CLOSED else _status(QTY), [])


@case(ProtectionFailed, None, "flattening", NOTHING, LIVE)
def _protection_failed_while_flattening(src: State) -> Given:
    return Given(plan_in(src, flattening=True), event(ProtectionFailed), [])


@case(ProtectionFailed, S.FILLED, (), "protection_failed_flatten", LIVE)
def _protection_failed(src: State) -> Given:
    if src is S.FILLED:   # partly filled: the entry remainder must not add unprotected shares
        plan, fx = plan_in(src, filled_qty=40), [(CancelEntry, {}), (Flatten, {"quantity": 40})]
    else:
        plan, fx = plan_in(src), [(Flatten, {"quantity": QTY})]
    return Given(plan, event(ProtectionFailed), [*fx, notify("protection_failed", code=201)],
                 lambda p: _assert(p.flattening and p.error_code == 201))


@case(ProtectionFailed, None, (), "protection_failed_unfilled", UNFILLED)
def _protection_failed_unfilled(src: State) -> Given:
    return Given(plan_in(src), event(ProtectionFailed), [(CancelEntry, {}), notify("protection_failed")],
                 lambda p: _assert(p.cancel_requested))


@case(ProtectionFailed, None, (), NOTHING, (*ENDED, S.ERROR))
def _protection_failed_ignored(src: State) -> Given:
    return Given(plan_in(src), event(ProtectionFailed), [])


# ---- trailing

@case(PriceUpdate, S.TRAILING, "trail_moves", "move_stop", (S.PROTECTED, S.TRAILING))
def _trail_moves(src: State) -> Given:
    # R = 2, trigger 1R: at 102.60 the stop goes to 102.60 − 1.50 = 101.10
    plan = plan_in(src)
    old = plan.stop_price

    def check(p: Plan) -> None:
        assert p.stop_price == D("101.10") and p.trail_active and p.best_price == D("102.60")
        assert p.confirmed_stop_price == old   # not confirmed until IB says so
    told = [notify("trailing", old_stop=old, new_stop=D("101.10"), confirmed=False)] if src is S.PROTECTED else []
    return Given(plan, event(PriceUpdate, price=D("102.60")), [
        (ModifyStop, {"stop_price": D("101.10"), "quantity": QTY}), *told], check)   # later moves: once confirmed


_TRACK = {S.SIZED: (D("101"), None), S.SUBMITTED: (D("101"), None), S.FILLED: (D("103"), D("103")),
          S.PROTECTED: (D("101.90"), D("101.90")), S.TRAILING: (D("101.90"), D("102"))}


@case(PriceUpdate, None, (), "track_price", (*UNFILLED, *LIVE))
def _price_tracked(src: State) -> Given:
    # no fill yet: nothing to track; filled: no trailing before protection is confirmed;
    # below the trigger, or not past the best price: the stop stays
    price, best = _TRACK[src]
    plan = plan_in(src)
    stop = plan.stop_price
    return Given(plan, event(PriceUpdate, price=price), [],
                 lambda p: _assert(p.best_price == best and p.stop_price == stop))


@case(StopModified, None, (), "record_stop", (*LIVE, S.CLOSED, S.ERROR))
def _stop_modified(src: State) -> Given:
    plan = plan_in(src)
    old = plan.confirmed_stop_price
    told = [notify("trailing", old_stop=old, new_stop=D("101.10"), confirmed=True)] if src in LIVE and old else []
    return Given(plan, event(StopModified, stop_price=D("101.10")), told,   # the stop IB holds is what is told
                 lambda p: _assert(p.confirmed_stop_price == D("101.10")))


def _pending_modify(src: State) -> Plan:
    """A plan whose stop was asked to move to 101.10 while IB still confirms the old stop."""
    confirmed = D("100.50") if src is S.TRAILING else D("98.00")
    return plan_in(src, stop_price=D("101.10"), confirmed_stop_price=confirmed)


@case(StopModifyRejected, None, "flattening", "modify_rejected_keep", LIVE)
def _modify_rejected_while_flattening(src: State) -> Given:
    # the flatten's OCA took the stop away: no new stop while the flatten works
    plan = _pending_modify(src)
    plan.flattening = True
    return Given(plan, event(StopModifyRejected, stop_working=False), [notify("modify_rejected")],
                 lambda p: _assert(p.stop_price == D("101.10") and p.flattening))


def _wanted_stop_kept(plan: Plan) -> Callable[[Plan], None]:
    """The wanted stop is never taken back to a looser one; what IB holds is still known."""
    def check(p: Plan) -> None:
        assert p.stop_price == D("101.10")
        assert p.confirmed_stop_price == plan.confirmed_stop_price
    return check


@case(StopModifyRejected, None, "stop_working", "modify_rejected_keep", (*LIVE, S.ERROR))
def _modify_rejected_still_working(src: State) -> Given:
    plan = _pending_modify(src)
    return Given(plan, event(StopModifyRejected, stop_working=True),
                 [notify("modify_rejected", code=10148)], _wanted_stop_kept(plan))


@case(StopModifyRejected, S.FILLED, (), "modify_rejected_reprotect", (S.PROTECTED, S.TRAILING))
def _modify_rejected_gone(src: State) -> Given:
    plan = _pending_modify(src)
    return Given(plan, event(StopModifyRejected, stop_working=False), [
        (Protect, {"quantity": QTY, "stop_price": D("101.10")}), notify("modify_rejected")],
        _wanted_stop_kept(plan))


@case(StopModifyRejected, None, (), "modify_rejected_reprotect", (S.FILLED, S.ERROR))
def _modify_rejected_gone_unconfirmed(src: State) -> Given:
    plan = _pending_modify(src)
    return Given(plan, event(StopModifyRejected, stop_working=False), [
        (Protect, {"quantity": QTY, "stop_price": D("101.10")}), notify("modify_rejected")],
        _wanted_stop_kept(plan))


@case(StopModifyRejected, None, (), NOTHING, S.CLOSED)
def _modify_rejected_after_close(src: State) -> Given:
    # the stop filled while the trail modification was in flight: IB refuses the modify
    return Given(plan_in(src), event(StopModifyRejected, code=104, stop_working=False), [])


# ---- the trader cancels

@case(CancelRequested, S.CANCELLED, (), "cancel_unstarted", S.PENDING)
def _cancel_pending(src: State) -> Given:
    return Given(plan_in(src), event(CancelRequested), [notify("cancelled")],
                 lambda p: _assert(p.reason == "cancelled by user"))


@case(CancelRequested, None, (), "request_cancel", UNFILLED)
def _cancel_unfilled(src: State) -> Given:
    return Given(plan_in(src), event(CancelRequested), [
        (CancelEntry, {"reason": "cancelled by user"}), notify("cancel_requested")],
        lambda p: _assert(p.cancel_requested and p.state == src))


@case(CancelRequested, None, "flattening", NOTHING, LIVE)
def _cancel_while_flattening(src: State) -> Given:
    return Given(plan_in(src, flattening=True), event(CancelRequested), [])


@case(CancelRequested, None, (), "request_flatten", LIVE)
def _cancel_filled(src: State) -> Given:
    if src is S.FILLED:
        plan, fx = plan_in(src, filled_qty=40), [(CancelEntry, {}), (Flatten, {"quantity": 40})]
    else:
        # the exit goes through the take-profit, repriced to the plan's current stop
        plan, fx = plan_in(src), [(Flatten, {"quantity": QTY, "reason": "cancelled by user",
                                             "price": plan_in(src).stop_price})]
    return Given(plan, event(CancelRequested), [*fx, notify("flatten_requested")],
                 lambda p: _assert(p.flattening and p.cancel_requested))


@case(CancelRequested, None, "reversed_position", "refuse_reversed", S.ERROR)
def _cancel_error_reversed(src: State) -> Given:
    # exits filled past the entry: a cancel cannot fix that; the plan stays in error, reason kept
    plan = plan_in(src, exited_qty=QTY + 30, reason="reversed")
    return Given(plan, event(CancelRequested), [notify("error")],
                 lambda p: _assert(p.reason == "reversed"))


@case(CancelRequested, None, "has_position", "request_flatten", S.ERROR)
def _cancel_error_with_position(src: State) -> Given:
    # the emergency flatten failed; the trader retries it by cancelling
    return Given(plan_in(src), event(CancelRequested), [(Flatten, {"quantity": QTY}), notify("flatten_requested")])


@case(CancelRequested, S.CANCELLED, (), "cancel_error_plan", S.ERROR)
def _cancel_error_flat(src: State) -> Given:
    plan = plan_in(src, filled_qty=0, avg_entry_price=None, best_price=None, flattening=False)
    return Given(plan, event(CancelRequested), [(CancelEntry, {}), (CancelExits, {}), notify("cancelled")])


@case(CancelRequested, None, (), NOTHING, ENDED)
def _cancel_ended(src: State) -> Given:
    return Given(plan_in(src), event(CancelRequested), [])


# ---- expiry

@case(Expire, S.CANCELLED, (), "cancel_unstarted", S.PENDING)
def _expire_pending(src: State) -> Given:
    return Given(plan_in(src), event(Expire), [notify("cancelled")],
                 lambda p: _assert(p.reason == "expired before activation"))


@case(Expire, None, (), "request_cancel", UNFILLED)
def _expire_unfilled(src: State) -> Given:
    return Given(plan_in(src), event(Expire), [(CancelEntry, {"reason": "entry expired"}),
                                                 notify("cancel_requested")])


@case(Expire, None, "!entry_done", "expire_remainder", LIVE)
def _expire_remainder(src: State) -> Given:
    return Given(plan_in(src, filled_qty=40), event(Expire), [(CancelEntry, {}), notify("expired_remainder")])


@case(Expire, None, (), NOTHING, (*LIVE, *ENDED, S.ERROR))
def _expire_ignored(src: State) -> Given:
    return Given(plan_in(src), event(Expire), [])


# ---- needs a human

@case(FlattenFailed, S.ERROR, "flattening", "flatten_refused", (*LIVE, S.ERROR))
def _flatten_refused(src: State) -> Given:
    # the stop was cancelled for the market order IB refused: it goes back at once, for a human
    plan = plan_in(src, flattening=True)
    return Given(plan, event(FlattenFailed), [
        (Protect, {"quantity": plan.open_qty, "stop_price": plan.stop_price, "stop_only": True}), notify("error")],
        lambda p: _assert(p.error_code == 201 and not p.flattening and (p.reason or "").startswith(
            "flatten failed: Order rejected - reason: test; a stop for its 100 shares at")
            and "cancel the plan again to retry" in (p.reason or "")))


@case(Unprotected, None, "has_position", "stop_back_unprotected", S.ERROR)
def _unprotected(src: State) -> Given:
    # nothing works at IB for the position of a plan in error (its flatten's wait lost, its stop
    # cancelled in TWS): a stop goes back at once and the trader is told
    plan = plan_in(src, flattening=True, reason="cancelled by user")
    return Given(plan, event(Unprotected), [
        (Protect, {"quantity": plan.open_qty, "stop_price": plan.stop_price, "stop_only": True}), notify("error")],
        lambda p: _assert(not p.flattening and (p.reason or "").startswith(
            "cancelled by user; IB showed nothing working for its 100 shares: a stop for its 100 shares at")
            and "cancel the plan to flatten it" in (p.reason or "")))


@case(Unprotected, None, "told_unprotected", NOTHING, S.ERROR)
def _unprotected_told(src: State) -> Given:
    # IB refused the stop put back (a read-only API): the trader knows; nothing is sent every reconciliation
    told = "flatten failed: test; IB refused the stop sent back too (321: read-only): nothing protects its 100 shares"
    return Given(plan_in(src, reason=told), event(Unprotected), [])


@case(Unprotected, None, (), NOTHING, tuple(S))
def _unprotected_ignored(src: State) -> Given:
    return Given(plan_in(src, exited_qty=QTY) if src is S.ERROR else plan_in(src), event(Unprotected), [])


@case(ProtectionFailed, None, "stop_sent_back", "stop_back_refused", S.ERROR)
def _stop_back_refused(src: State) -> Given:
    # the stop put back after a refused flatten is refused too: the trader learns nothing protects it
    told = "flatten failed: test; a stop for its 100 shares at 98 is sent back to IB; cancel again"
    return Given(plan_in(src, flattening=False, reason=told), event(ProtectionFailed, leg=Leg.STOP),
                 [notify("error")], lambda p: _assert(
                     (p.reason or "").startswith("flatten failed: test; IB refused the stop sent back too")
                     and "nothing protects" in (p.reason or "")))


@case(FlattenFailed, None, "flatten_failure_told", NOTHING, S.ERROR)
def _flatten_failed_again(src: State) -> Given:
    # the same refusal reported twice (IB's error, then the order's status): told once
    return Given(plan_in(src, flattening=False), event(FlattenFailed), [])


@case(FlattenFailed, S.ERROR, (), "record_error", (*LIVE, S.ERROR))
def _flatten_failed(src: State) -> Given:
    return Given(plan_in(src, reason="a fault", flattening=False), event(FlattenFailed), [notify("error")],
                 lambda p: _assert(p.error_code == 201 and (p.reason or "").startswith("flatten failed")))


@case(FlattenFailed, None, (), NOTHING, ENDED)
def _flatten_failed_after_end(src: State) -> Given:
    # the stop or target closed the position before the flatten order could
    return Given(plan_in(src), event(FlattenFailed), [])


# ---- broker truth: IB holds less than the plan believes; more exits than the position

@case(PositionShortfall, S.CLOSED, "position_gone", "close_outside", (*LIVE, S.ERROR))
def _closed_outside(src: State) -> Given:
    effects = [(CancelExits, {}), notify("closed_outside")]
    return Given(plan_in(src), event(PositionShortfall), effects,
                 lambda p: _assert(p.open_qty == 0 and p.outside_qty == QTY and p.exit_reason == "outside"))


@case(PositionShortfall, S.ERROR, (), "trim_to_held", (*LIVE, S.ERROR))
def _position_changed(src: State) -> Given:
    return Given(plan_in(src, flattening=False), event(PositionShortfall, held=40),
                 [(Protect, {"quantity": 40, "grow": False}), notify("position_changed")],
                 lambda p: _assert(p.open_qty == 40 and p.outside_qty == 60 and "IB holds 40 of the 100" in p.reason))


def test_a_shortfall_under_a_flatten_cuts_the_flatten_to_what_is_held() -> None:
    """Shares sold by hand while the plan is being flattened: the exit under way is cut to what IB
    holds (a Protect would be stale for a flattening plan, and the exit would sell the rest short)."""
    for src in (*LIVE, S.ERROR):
        m, plan = bound(plan_in(src, flattening=True))
        effects = m.step(plan, event(PositionShortfall, held=40))
        assert plan.state == S.ERROR and plan.open_qty == 40
        assert [(type(e).__name__, getattr(e, "quantity", None)) for e in effects] == [
            ("Flatten", 40), ("Notify", None)], src


@case(PositionShortfall, None, (), NOTHING, (*UNFILLED, *ENDED, S.PENDING))
def _shortfall_without_a_position(src: State) -> Given:
    return Given(plan_in(src), event(PositionShortfall), [])


@case(TraderExits, S.ERROR, (), "yield_to_trader", (*LIVE, S.ERROR))
def _yielded_to_trader(src: State) -> Given:
    return Given(plan_in(src), event(TraderExits), [(CancelExits, {}), notify("yielded_to_trader")],
                 lambda p: _assert(p.open_qty == QTY and not p.flattening and "order 12 of client 0" in p.reason
                                   and "are cancelled so nothing sells twice" in p.reason))


def test_exits_of_others_for_part_of_the_position_cut_ours_to_the_rest() -> None:
    """The trader's stop for 30 of the 100 shares: ours are cut to 70 (together they sell 100)."""
    m, plan = bound(plan_in(S.PROTECTED))
    effects = m.step(plan, event(TraderExits, quantity=30))
    assert plan.state == S.ERROR and "cut to 70 shares" in plan.reason
    assert [(type(e).__name__, getattr(e, "quantity", None), getattr(e, "grow", None)) for e in effects
            if not isinstance(e, Notify)] == [("Protect", 70, False)]


@case(TraderExits, None, ("stepped_back_alike",), NOTHING, (S.ERROR,))
def _yielded_already(src: State) -> Given:
    first = plan_in(S.PROTECTED)
    m, _ = bound(first)
    m.step(first, event(TraderExits))          # the same orders, the same reach, told once
    return Given(plan_in(src, reason=first.reason), event(TraderExits), [])


def test_stepping_back_cancels_the_unfilled_rest_of_the_entry() -> None:
    m, plan = bound(plan_in(S.PROTECTED, entry_done=False, quantity=2 * QTY))
    effects = m.step(plan, event(TraderExits, quantity=30))
    assert [type(e).__name__ for e in effects if not isinstance(e, Notify)] == ["CancelEntry", "Protect"]


@case(TraderExits, None, (), NOTHING, (*UNFILLED, *ENDED, S.PENDING))
def _trader_exits_without_a_position(src: State) -> Given:
    return Given(plan_in(src), event(TraderExits), [])


@case(ProtectionStatus, None, ("over_protected", "!flattening"), "trim_excess", LIVE)
def _over_protected(src: State) -> Given:
    return Given(plan_in(src), event(ProtectionStatus, stop_quantity=2 * QTY),
                 [(Protect, {"quantity": QTY, "grow": False}), notify("excess_protection")])


@case(TrailRetry, None, ("stop_unconfirmed", "!flattening"), "resend_stop", (S.PROTECTED, S.TRAILING))
def _trail_resent(src: State) -> Given:
    plan = plan_in(src, stop_price=D("99.50"), stop_attempts=2)
    return Given(plan, event(TrailRetry), [(ModifyStop, {"stop_price": D("99.50")})],
                 lambda p: _assert(p.stop_attempts == 3 and p.stop_sent_at is not None))


@case(TrailRetry, None, "stop_given_up", "trail_stuck", (S.PROTECTED, S.TRAILING))
def _trail_stuck(src: State) -> Given:
    plan = plan_in(src, stop_price=D("99.50"), stop_attempts=5)
    return Given(plan, event(TrailRetry), [notify("trail_stuck")], lambda p: _assert(p.stop_attempts == 6))


@case(TrailRetry, None, (), NOTHING, (*UNFILLED, *LIVE, *ENDED, S.ERROR, S.PENDING))
def _trail_retry_idle(src: State) -> Given:
    return Given(plan_in(src), event(TrailRetry), [])


@case(CommissionCharged, None, "new_commission", "record_commission", tuple(State))
def _commission(src: State) -> Given:
    plan = plan_in(src, seen=("E-prior",))
    return Given(plan, event(CommissionCharged), [],
                 lambda p: _assert(p.commissions == D("1.00") and "E-prior" in p.seen_commission_ids))


@case(CommissionCharged, None, (), NOTHING, tuple(State))
def _commission_repeat(src: State) -> Given:
    plan = plan_in(src)
    plan.seen_commission_ids.add("E-prior")
    return Given(plan, event(CommissionCharged), [])


# ---- the entry gate and adoption

@case(Hold, None, (), "record_hold", S.PENDING)
def _hold(src: State) -> Given:
    return Given(plan_in(src), event(Hold), [], lambda p: _assert((p.reason or "").startswith("new entries in AAPL")))


@case(Hold, None, (), NOTHING, (*UNFILLED, *LIVE, *ENDED, S.ERROR))
def _hold_after_activation(src: State) -> Given:
    return Given(plan_in(src), event(Hold), [])


@case(Adopt, S.CLOSED, "adopts_closed", "adopt_closed", S.PENDING)
def _adopt_closed(src: State) -> Given:
    e = event(Adopt, entry_qty=QTY, entry_price=D("100.00"), exit_qty=QTY, exit_price=D("104.00"), entry_done=True)
    return Given(plan_in(src), e, [(CancelExits, {}), notify("adopted")],
                 lambda p: _assert(p.realized_pnl == D("400.00") and p.open_qty == 0 and p.entry_done))


@case(Adopt, S.FILLED, "adopts_position", "adopt_position", S.PENDING)
def _adopt_position(src: State) -> Given:
    e = event(Adopt, entry_qty=60, entry_price=D("100.00"))
    return Given(plan_in(src), e, [(Protect, {"quantity": 60}), notify("adopted")],
                 lambda p: _assert(p.quantity == QTY and p.filled_qty == 60 and not p.entry_done))


@case(Adopt, S.SIZED, (), "adopt_unfilled", S.PENDING)
def _adopt_unfilled(src: State) -> Given:
    return Given(plan_in(src), event(Adopt), [notify("adopted")],
                 lambda p: _assert(p.quantity == QTY and p.filled_qty == 0 and "adopted" in (p.reason or "")))


@case(Fault, S.ERROR, (), "record_error", tuple(State))
def _fault(src: State) -> Given:
    return Given(plan_in(src), event(Fault), [notify("error")],
                 lambda p: _assert(p.reason == "reconciliation: unexplained position"))


def _assert(condition: bool) -> None:
    assert condition


# --------------------------------------------------------------------------- the row tests

CASE_BY_KEY = {c.key: c for c in CASES}
PAIRS = [(i, src) for i, r in enumerate(TRANSITIONS) for src in r["source"]]


def test_rows_have_distinct_keys() -> None:
    keys = [row_key(r) for r in TRANSITIONS]
    assert len(keys) == len(set(keys))
    assert len(CASES) == len(CASE_BY_KEY), "two cases registered for the same row"


def test_every_row_and_source_has_a_case() -> None:
    table_pairs = {(row_key(r), src) for r in TRANSITIONS for src in r["source"]}
    case_pairs = {(c.key, src) for c in CASES for src in c.sources}
    assert sorted(map(str, table_pairs - case_pairs)) == [], "rows/sources without a test case"
    assert sorted(map(str, case_pairs - table_pairs)) == [], "test cases for rows/sources not in the table"


def test_pair_ids_are_unique() -> None:
    ids = [pair_id(TRANSITIONS[i], src) for i, src in PAIRS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("index", "source"), PAIRS, ids=[pair_id(TRANSITIONS[i], s) for i, s in PAIRS])
def test_row(index: int, source: str) -> None:
    r = TRANSITIONS[index]
    c = CASE_BY_KEY.get(row_key(r))
    assert c is not None, f"no case for row {row_key(r)}"
    given = c.build(State(source))
    m, plan = bound(given.plan)
    assert plan.state == source
    before = plan.snapshot()

    # guards are pure, and this row is the one they select
    assert first_matching_row(plan, given.event) == index
    assert plan.snapshot() == before

    effects = m.step(plan, given.event)

    expected_state = r["dest"] if r["dest"] is not None else source
    assert plan.state == expected_state
    assert kinds(effects) == [t.__name__ for t, _ in given.effects]
    for effect, (_, fields) in zip(effects, given.effects):
        for name, want in fields.items():
            if name == "facts":
                for fact, value in want.items():
                    assert effect.facts[fact] == value, (fact, effect.facts)
            else:
                assert getattr(effect, name) == want, (type(effect).__name__, name)
        if isinstance(effect, Notify):
            assert (effect.from_state, effect.to_state) == (source, expected_state)
            assert effect.plan_id == plan.id and effect.facts["at"] == given.event.at
        else:
            assert effect.plan_id == plan.id
    # a Notify, when there is one, is the last effect and the only one
    assert kinds(effects).count("Notify") <= 1
    assert "Notify" not in kinds(effects)[:-1]
    # every state change is announced
    if expected_state != source:
        assert kinds(effects)[-1:] == ["Notify"]

    if c.actions == (NOTHING,):
        after = plan.snapshot()
        after.pop("updated_at"), before.pop("updated_at")
        assert after == before, "a benign repeat must change nothing"
    else:
        assert plan.updated_at == given.event.at
    if given.check is not None:
        given.check(plan)
    # the step leaves no half-collected effects behind
    assert plan.effects == [] and plan.notify_kind is None and plan.notify_extra == {}


@pytest.mark.parametrize(("index", "source"), PAIRS, ids=[pair_id(TRANSITIONS[i], s) for i, s in PAIRS])
def test_row_mirrors_for_a_short_plan(index: int, source: str) -> None:
    """The mirror-image short plan (every price reflected around the entry) takes the same row
    to the same state, with the same effect types."""
    r = TRANSITIONS[index]
    c = CASE_BY_KEY[row_key(r)]
    given = c.build(State(source))
    long_plan, e = given.plan, given.event
    mirror = _mirror(long_plan)
    mirrored_event = _mirror_event(e)
    assert first_matching_row(mirror, mirrored_event) == index
    m, _ = bound(mirror)
    effects = m.step(mirror, mirrored_event)
    assert mirror.state == (r["dest"] or source)
    assert kinds(effects) == [t.__name__ for t, _ in given.effects]
    for effect, (_, fields) in zip(effects, given.effects):
        for name in ("quantity", "stop_price"):
            if name in fields:
                want = fields[name] if name == "quantity" else _flip(fields[name])
                assert getattr(effect, name) == want, (type(effect).__name__, name)


def _flip(price: Decimal | None) -> Decimal | None:
    """Reflect a price around the entry (100): 98 ↔ 102."""
    return None if price is None else D(200) - price


def _mirror(plan: Plan) -> Plan:
    sp = short_spec()
    figures = plan.figures()
    for name in ("avg_entry_price", "avg_exit_price", "stop_price", "confirmed_stop_price", "target_price",
                 "best_price", "sized_price"):
        figures[name] = _flip(figures[name])
    mirror = Plan(sp, plan.state, **figures)
    mirror.seen_exec_ids = set(plan.seen_exec_ids)
    mirror.seen_commission_ids = set(plan.seen_commission_ids)
    return mirror


def _mirror_event(e: Any) -> Any:
    changes = {name: _flip(getattr(e, name)) for name in ("price", "stop_price", "market_price")
               if hasattr(e, name)}
    return dataclasses.replace(e, **changes)


# --------------------------------------------------------------------------- everything else raises

def test_allowed_is_exactly_the_table() -> None:
    for state in State:
        in_table = {r["trigger"] for r in TRANSITIONS if state in r["source"]}
        m, plan = bound(plan_in(state))
        assert set(m.allowed(plan)) == in_table, state


def test_every_trigger_has_an_event_class_and_an_example() -> None:
    from machines import EVENT_BY_TRIGGER
    assert set(triggers()) == set(EVENT_BY_TRIGGER) == set(EXAMPLE_EVENTS)


def test_every_state_is_reachable_from_the_table() -> None:
    dests = {r["dest"] for r in TRANSITIONS if r["dest"] is not None} | {S.PENDING.value}
    assert dests == {s.value for s in State}


def test_terminal_states_accept_no_activation_or_trailing() -> None:
    for state in (*ENDED,):
        m, plan = bound(plan_in(state))
        refused = {Activate.TRIGGER, PriceUpdate.TRIGGER}  # a late EntryAccepted is an explicit no-op row
        assert not refused & set(m.allowed(plan)), state


INVALID = [(state, trigger) for state in State for trigger in triggers()
           if not any(state in r["source"] for r in TRANSITIONS if r["trigger"] == trigger)]


@pytest.mark.parametrize(("state", "trigger"), INVALID, ids=[f"{t}@{s}" for s, t in INVALID])
def test_event_not_in_the_table_raises_and_changes_nothing(state: State, trigger: str) -> None:
    m, plan = bound(plan_in(state, filled_qty=40) if state in LIVE else plan_in(state))
    assert trigger not in m.allowed(plan)
    before = plan.snapshot()
    with pytest.raises(InvalidEvent) as info:
        m.step(plan, EXAMPLE_EVENTS[trigger])
    assert (info.value.plan_id, info.value.state, info.value.event) == (plan.id, state, trigger)
    assert plan.snapshot() == before
    assert plan.state == state
    assert plan.effects == [] and plan.notify_kind is None and plan.notify_extra == {}


def test_the_invalid_pairs_are_the_ones_we_expect() -> None:
    """A readable list of what the machine refuses, so widening or narrowing the table shows up
    in review."""
    refused = {(str(s), t) for s, t in INVALID}
    assert ("closed", PriceUpdate.TRIGGER) in refused      # no trailing once out
    assert ("pending", EntryFilled.TRIGGER) in refused     # nothing was sent
    assert ("submitted", ExitFilled.TRIGGER) in refused    # no position to exit
    assert ("cancelled", Activate.TRIGGER) in refused
    assert all(t != Fault.TRIGGER for _, t in refused)      # a fault is accepted everywhere
    # a pending plan takes only its activation, a cancel, its expiry, a fault, the entry gate's
    # hold and an adoption
    assert {t for s, t in refused if s == "pending"} == set(triggers()) - {
        Activate.TRIGGER, CancelRequested.TRIGGER, Expire.TRIGGER, Fault.TRIGGER, Hold.TRIGGER, Adopt.TRIGGER,
        PositionShortfall.TRIGGER, TraderExits.TRIGGER, EntryUnseen.TRIGGER, TrailRetry.TRIGGER,
        CommissionCharged.TRIGGER, SizedAgain.TRIGGER, EntryRefused.TRIGGER, Unprotected.TRIGGER}
    assert {s for s, t in refused if t == Adopt.TRIGGER} == {str(s) for s in State} - {"pending"}


def test_a_failing_action_rolls_the_plan_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception inside an action (a bug) must not leave a half-applied plan behind."""
    from machines import table

    def boom(ed: Any) -> None:
        ed.model.filled_qty += 1
        raise RuntimeError("boom")

    r = next(r for r in TRANSITIONS if r["trigger"] == EntryFilled.TRIGGER and r["dest"] == "filled"
             and not r["conditions"] and r["unless"])
    monkeypatch.setitem(r, "after", [table.record_entry_fill, boom])
    m, plan = bound(plan_in(S.SUBMITTED))   # machine built after the patch: it sees the new action
    before = plan.snapshot()
    with pytest.raises(RuntimeError):
        m.step(plan, event(EntryFilled))
    assert plan.snapshot() == before


def test_machine_is_shared_and_keeps_plans_apart() -> None:
    m = PlanMachine()
    a = m.bind(plan_in(S.SUBMITTED))
    b = m.bind(plan_in(S.PROTECTED, spec_=short_spec()))
    m.step(a, event(EntryFilled, quantity=40))
    assert (a.state, b.state) == ("filled", "protected")
    assert b.filled_qty == QTY and a.filled_qty == 40
    m.release(a)
    m.release(b)
    assert a not in m.machine.models and b not in m.machine.models
