"""Stories of what Interactive Brokers really does, told as events in, states and effects out.

Each test reads top to bottom like the plan's journal: the event IB (or the trader, or the
scheduler) produced, the state the plan is in afterwards, and exactly what the shell is told to do.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from machines import (
    Activate,
    CancelEntry,
    CancelExits,
    CancelRequested,
    EntryAccepted,
    EntryCancelled,
    EntryFilled,
    EntryRejected,
    ExitFilled,
    Expire,
    Fault,
    Flatten,
    FlattenFailed,
    InvalidEvent,
    Leg,
    ModifyStop,
    Notify,
    PlaceBracket,
    Plan,
    PlanMachine,
    PriceUpdate,
    Protect,
    ProtectionFailed,
    ProtectionStatus,
    RiskLimits,
    State,
    StopModified,
    StopModifyRejected,
)

from .helpers import D, at, bound, kinds, notify_kinds, plan_in, short_spec, spec

S = State


class Story:
    """One plan on its own machine, stepped through events stamped one second apart."""

    def __init__(self, plan: Plan) -> None:
        self.machine, self.plan = bound(plan)
        self.clock = 0

    def now(self) -> Any:
        self.clock += 1
        return at(self.clock)

    def __call__(self, event_cls: type, *args: Any, **kw: Any) -> list[Any]:
        return self.machine.step(self.plan, event_cls(self.now(), *args, **kw))

    # shorthands for the common events
    def fill(self, exec_id: str, qty: int, price: str | Decimal = "100.00") -> list[Any]:
        return self(EntryFilled, exec_id=exec_id, quantity=qty, price=D(price))

    def exit(self, exec_id: str, leg: Leg, qty: int, price: str | Decimal) -> list[Any]:
        return self(ExitFilled, exec_id=exec_id, leg=leg, quantity=qty, price=D(price))

    def status(self, stop_qty: int, target_qty: int | None = None,
               stop_price: str | Decimal | None = None) -> list[Any]:
        target_qty = stop_qty if target_qty is None else target_qty
        price = self.plan.stop_price if stop_price is None else D(stop_price)
        return self(ProtectionStatus, stop_quantity=stop_qty, target_quantity=target_qty, stop_price=price,
                    target_price=self.plan.target_price)

    def price(self, p: str | Decimal) -> list[Any]:
        return self(PriceUpdate, price=D(p))

    @property
    def state(self) -> str:
        return self.plan.state


def only(effects: list[Any], cls: type) -> Any:
    found = [e for e in effects if isinstance(e, cls)]
    assert len(found) == 1, kinds(effects)
    return found[0]


def activate(story: Story, **kw: Any) -> list[Any]:
    args: dict[str, Any] = dict(account_value=D(10_000), available_funds=D(50_000), open_risk=D(0))
    args.update(kw)
    return story(Activate, **args)


# --------------------------------------------------------------------------- the happy paths

def test_long_plan_from_activation_to_take_profit() -> None:
    s = Story(plan_in(S.PENDING))

    fx = activate(s)
    assert s.state == S.SIZED
    bracket = only(fx, PlaceBracket)
    assert (bracket.quantity, bracket.stop_price, bracket.target_price) == (100, D("98.00"), D("106.00"))
    assert notify_kinds(fx) == ["sized"]

    assert notify_kinds(s(EntryAccepted, order_id=11, perm_id=900_001)) == ["submitted"]
    assert s.state == S.SUBMITTED

    fx = s.fill("E1", 100)
    assert s.state == S.FILLED and s.plan.entry_done
    assert only(fx, Protect).quantity == 100

    assert notify_kinds(s.status(100)) == ["protected"]
    assert s.state == S.PROTECTED

    fx = s.exit("X1", Leg.TARGET, 100, "106.00")
    assert s.state == S.CLOSED
    assert kinds(fx) == ["CancelExits", "Notify"]
    note = only(fx, Notify)
    assert note.kind == "take_profit"
    assert note.facts["realized_pnl"] == D(600) and note.facts["realized_pnl_pct"] == D("6.00")


def test_short_plan_trails_and_is_stopped_out_by_the_trailed_stop() -> None:
    s = Story(plan_in(S.PENDING, short_spec()))
    activate(s)
    s(EntryAccepted)
    s.fill("E1", 100, "100.00")
    s.status(100)
    assert s.state == S.PROTECTED

    assert s.price("99.00") == []                # half an R in favour: nothing yet
    fx = s.price("97.90")                        # 1R (2.00) reached at 98: stop to 97.90 + 1.50
    assert s.state == S.TRAILING
    assert only(fx, ModifyStop).stop_price == D("99.40")
    assert notify_kinds(s(StopModified, stop_price=D("99.40"))) == ["trailing"]   # the stop IB now holds
    assert s.plan.confirmed_stop_price == D("99.40")

    assert s.price("98.50") == []                # moved against us: the stop stays
    fx = s.price("97.00")
    assert only(fx, ModifyStop).stop_price == D("98.50")
    s(StopModified, stop_price=D("98.50"))

    fx = s.exit("X1", Leg.STOP, 100, "98.52")
    assert s.state == S.CLOSED
    assert notify_kinds(fx) == ["trailing_stop"]
    assert s.plan.realized_pnl == D("1.48") * 100


# --------------------------------------------------------------------------- partial fills

def test_partial_entry_fills_grow_protection_fill_by_fill() -> None:
    s = Story(plan_in(S.SUBMITTED))

    fx = s.fill("E1", 30)
    assert s.state == S.FILLED and only(fx, Protect).quantity == 30
    s.status(30)
    assert s.state == S.PROTECTED

    fx = s.fill("E2", 50, "100.10")
    assert s.state == S.FILLED and only(fx, Protect).quantity == 80
    assert s.plan.avg_entry_price == (D(30) * 100 + D("100.10") * 50) / 80
    assert s.status(30) == []                    # IB has not resized yet: still only 30 covered
    assert s.state == S.FILLED
    s.status(80)
    assert s.state == S.PROTECTED

    fx = s.fill("E3", 20)
    assert only(fx, Protect).quantity == 100 and s.plan.entry_done
    s.status(100)
    assert s.state == S.PROTECTED


def test_protected_needs_both_exits_for_the_whole_position() -> None:
    s = Story(plan_in(S.FILLED))
    assert s.status(100, 0) == [] and s.state == S.FILLED        # stop only: the target is missing
    assert s.status(0, 100) == [] and s.state == S.FILLED        # target only
    assert s.status(100, 60) == [] and s.state == S.FILLED       # target for part of it
    fx = s.status(120, 120)                                      # more than we hold is not "protected":
    assert s.state == S.FILLED and kinds(fx) == ["Protect", "Notify"]     # the excess is cut down to 100
    assert only(fx, Protect).quantity == 100 and not only(fx, Protect).grow
    assert notify_kinds(s.status(100, 100)) == ["protected"]
    assert s.state == S.PROTECTED


def test_partial_fill_then_the_entry_expires_protects_what_filled() -> None:
    s = Story(plan_in(S.SUBMITTED))
    s.fill("E1", 40)
    s.status(40)

    fx = s(Expire)                               # expire_at: the unfilled 60 must not fill later
    assert s.state == S.PROTECTED
    assert kinds(fx) == ["CancelEntry", "Notify"] and notify_kinds(fx) == ["expired_remainder"]

    fx = s(EntryCancelled, reason="expired")
    assert s.state == S.FILLED and s.plan.entry_done
    assert only(fx, Protect).quantity == 40
    s.status(40)
    assert s.state == S.PROTECTED
    assert s(Expire) == []                       # a second expiry job run: nothing left to do


def test_partial_fill_then_ib_rejects_the_remainder() -> None:
    s = Story(plan_in(S.SUBMITTED))
    s.fill("E1", 40)
    fx = s(EntryRejected, code=201, message="remainder rejected")
    assert s.state == S.FILLED and s.plan.entry_done
    assert only(fx, Protect).quantity == 40


def test_stopped_out_while_the_entry_is_still_partly_working() -> None:
    s = Story(plan_in(S.SUBMITTED))
    s.fill("E1", 40)
    s.status(40)
    fx = s.exit("X1", Leg.STOP, 40, "98.00")
    assert s.state == S.CLOSED
    assert kinds(fx) == ["CancelEntry", "CancelExits", "Notify"]   # the rest of the entry goes too
    # ...but 10 more shares of the entry filled before the cancel reached IB
    fx = s.fill("E2", 10)
    assert s.state == S.FILLED and s.plan.flattening
    assert only(fx, Flatten).quantity == 10
    fx = s.exit("X2", Leg.FLATTEN, 10, "97.95")
    assert s.state == S.CLOSED and s.plan.open_qty == 0
    assert notify_kinds(fx) == ["flattened"]


# --------------------------------------------------------------------------- cancels and late fills

def test_fill_after_the_cancel_ack_is_flattened() -> None:
    s = Story(plan_in(S.SUBMITTED))
    fx = s(CancelRequested)
    assert kinds(fx) == ["CancelEntry", "Notify"] and s.state == S.SUBMITTED
    s(EntryCancelled)
    assert s.state == S.CANCELLED

    fx = s.fill("E1", 25)                        # IB reports an execution after the cancel ack
    assert s.state == S.FILLED and s.plan.flattening
    assert kinds(fx) == ["Flatten", "Notify"]
    assert only(fx, Flatten).quantity == 25 and notify_kinds(fx) == ["late_fill"]

    assert s.status(0) == []                     # the bracket children were cancelled: expected
    fx = s.exit("X1", Leg.FLATTEN, 25, "99.90")
    assert s.state == S.CLOSED and notify_kinds(fx) == ["flattened"]


def test_fill_between_the_cancel_request_and_its_ack_is_flattened() -> None:
    """The trader cancelled an unfilled plan; IB filled part of it before the cancel landed.
    The trader asked to be out: the fill is flattened, not protected and traded."""
    s = Story(plan_in(S.SUBMITTED))
    s(CancelRequested)

    fx = s.fill("E1", 25)
    assert s.state == S.FILLED and s.plan.flattening
    assert not any(isinstance(e, Protect) for e in fx)
    assert only(fx, Flatten).quantity == 25
    assert only(fx, CancelEntry)                 # and the cancel of the rest stands

    assert s(EntryCancelled) == []               # the ack for the remainder
    assert s.plan.entry_done
    fx = s.exit("X1", Leg.FLATTEN, 25, "99.90")
    assert s.state == S.CLOSED


def test_fill_between_expiry_and_its_ack_is_flattened_like_a_fill_after_the_ack() -> None:
    s = Story(plan_in(S.SUBMITTED))
    s(Expire)
    fx = s.fill("E1", 25)
    assert only(fx, Flatten).quantity == 25 and not any(isinstance(e, Protect) for e in fx)

    after_ack = Story(plan_in(S.SUBMITTED))
    after_ack(Expire)
    after_ack(EntryCancelled)
    fx2 = after_ack.fill("E1", 25)
    assert only(fx2, Flatten).quantity == 25
    assert s.state == after_ack.state == S.FILLED


CANCEL_IN_EVERY_STATE = [
    # state, plan figures, expected effect kinds, state after
    (S.PENDING, {}, ["Notify"], S.CANCELLED),
    (S.SIZED, {}, ["CancelEntry", "Notify"], S.SIZED),
    (S.SUBMITTED, {}, ["CancelEntry", "Notify"], S.SUBMITTED),
    (S.FILLED, {"filled_qty": 40}, ["CancelEntry", "Flatten", "Notify"], S.FILLED),
    (S.PROTECTED, {}, ["Flatten", "Notify"], S.PROTECTED),
    (S.TRAILING, {}, ["Flatten", "Notify"], S.TRAILING),
    (S.ERROR, {}, ["Flatten", "Notify"], S.ERROR),
    (S.ERROR, {"filled_qty": 0, "avg_entry_price": None, "flattening": False}, ["CancelEntry", "CancelExits", "Notify"],
     S.CANCELLED),
]


@pytest.mark.parametrize(("state", "figures", "effects", "after"), CANCEL_IN_EVERY_STATE,
                         ids=[f"{s}-{'flat' if f.get('filled_qty') == 0 else f.get('filled_qty', 'full')}"
                              for s, f, _, _ in CANCEL_IN_EVERY_STATE])
def test_user_cancel_in_every_non_terminal_state(state: State, figures: dict[str, Any], effects: list[str],
                                                 after: State) -> None:
    s = Story(plan_in(state, **figures))
    fx = s(CancelRequested, reason="trader changed their mind")
    assert kinds(fx) == effects
    assert s.state == after
    flat = [e for e in fx if isinstance(e, Flatten)]
    if flat:
        assert flat[0].quantity == s.plan.open_qty and flat[0].reason == "trader changed their mind"
    if s.state not in (S.CANCELLED,):
        assert s.plan.cancel_requested
    # asking twice is harmless: no second flatten while one is working
    if state in (S.FILLED, S.PROTECTED, S.TRAILING):
        assert s(CancelRequested) == []


@pytest.mark.parametrize("state", [S.CLOSED, S.CANCELLED, S.REJECTED])
def test_cancel_of_a_finished_plan_changes_nothing(state: State) -> None:
    s = Story(plan_in(state))
    before = s.plan.figures()
    assert s(CancelRequested) == []
    assert s.state == state
    assert {k: v for k, v in s.plan.figures().items() if k != "updated_at"} == \
        {k: v for k, v in before.items() if k != "updated_at"}


def test_cancel_of_a_filled_plan_flattens_then_closes() -> None:
    s = Story(plan_in(S.PROTECTED))
    s(CancelRequested)
    assert s.status(0) == [] and s.state == S.PROTECTED     # OCA cancelled the exits: no re-protect
    assert s(ProtectionFailed, leg=Leg.STOP, code=202, message="cancelled") == []
    fx = s.exit("X1", Leg.FLATTEN, 100, "100.20")
    assert s.state == S.CLOSED and notify_kinds(fx) == ["flattened"]
    assert s.plan.exit_reason == "flatten" and not s.plan.flattening


# --------------------------------------------------------------------------- replays

@pytest.mark.parametrize("state", [S.SUBMITTED, S.FILLED, S.PROTECTED, S.TRAILING, S.CLOSED, S.CANCELLED,
                                   S.ERROR])
def test_replayed_entry_fill_is_a_no_op(state: State) -> None:
    s = Story(plan_in(state, seen={"E-1"}))
    before = s.plan.snapshot()
    assert s.fill("E-1", 100) == []
    after = s.plan.snapshot()
    assert {k: v for k, v in after.items() if k != "updated_at"} == \
        {k: v for k, v in before.items() if k != "updated_at"}


def test_fills_replayed_after_a_reconnect_are_applied_once() -> None:
    s = Story(plan_in(S.SUBMITTED))
    s.fill("E1", 30)
    s.fill("E2", 70)
    s.status(100)
    # reconnect: IB replays the day's executions
    assert s.fill("E1", 30) == [] and s.fill("E2", 70) == []
    assert (s.plan.filled_qty, s.state) == (100, S.PROTECTED)
    s.exit("X1", Leg.TARGET, 100, "106.00")
    assert s.state == S.CLOSED
    # ...and once more after the close: still nothing, no over-exit
    assert s.exit("X1", Leg.TARGET, 100, "106.00") == []
    assert s.fill("E2", 70) == []
    assert (s.state, s.plan.open_qty) == (S.CLOSED, 0)


def test_duplicate_acks_are_no_ops() -> None:
    s = Story(plan_in(S.SIZED))
    s(EntryAccepted)
    assert s(EntryAccepted) == [] and s.state == S.SUBMITTED
    s.fill("E1", 100)
    assert s(EntryAccepted) == []
    assert s(EntryCancelled) == []               # an entry that is done cannot be cancelled again


# --------------------------------------------------------------------------- trailing races

def _trailing_with_pending_modify() -> Story:
    s = Story(plan_in(S.PROTECTED))
    fx = s.price("102.60")
    assert s.state == S.TRAILING and only(fx, ModifyStop).stop_price == D("101.10")
    assert s.plan.confirmed_stop_price == D("98.00")
    return s


def test_exit_fill_while_a_trail_modification_is_pending_wins() -> None:
    s = _trailing_with_pending_modify()
    # the old stop at 98 fills before IB processed the modify
    fx = s.exit("X1", Leg.STOP, 100, "98.00")
    assert s.state == S.CLOSED and kinds(fx) == ["CancelExits", "Notify"]
    assert s.plan.exit_reason == "trailing_stop"
    # then IB refuses the modify of the filled order (104): nothing to do
    assert s(StopModifyRejected, code=104, message="Can't modify a filled order", stop_working=False) == []
    assert s.state == S.CLOSED
    assert s(StopModified, stop_price=D("101.10")) == []       # or a late ack: only recorded


def test_target_fill_while_a_trail_modification_is_pending() -> None:
    s = _trailing_with_pending_modify()
    fx = s.exit("X1", Leg.TARGET, 100, "106.00")
    assert s.state == S.CLOSED and notify_kinds(fx) == ["take_profit"]
    fx = s.status(100, 0, "101.10")                            # the stop is somehow still working
    assert kinds(fx) == ["CancelExits"]


def test_rejected_modify_keeps_the_old_stop_when_ib_still_shows_it() -> None:
    s = _trailing_with_pending_modify()
    fx = s(StopModifyRejected, code=10148, message="rejected", stop_working=True)
    assert s.state == S.TRAILING
    assert kinds(fx) == ["Notify"] and notify_kinds(fx) == ["modify_rejected"]
    assert s.plan.confirmed_stop_price == D("98.00")           # what IB really holds
    assert s.plan.stop_price == D("101.10")                    # what we want is never taken back
    assert s.price("102.60") == []                             # the same best: no second try
    fx = s.price("102.70")                                     # a new best: try again, tighter
    assert only(fx, ModifyStop).stop_price == D("101.20")


def test_a_rejected_modify_never_lets_a_later_protect_loosen_the_stop() -> None:
    """Found by the property run: a trail modify is in flight, a partial fill resizes protection
    carrying the new stop, then IB refuses the modify. The next Protect must not send the old,
    looser stop after the tighter one: IB would apply them in order and loosen its stop."""
    s = Story(plan_in(S.PROTECTED, filled_qty=40))
    assert only(s.price("102.60"), ModifyStop).stop_price == D("101.10")
    assert only(s.fill("E2", 30), Protect).stop_price == D("101.10")      # in flight to IB
    s(StopModifyRejected, code=10148, message="rejected", stop_working=True)
    assert only(s.fill("E3", 30), Protect).stop_price == D("101.10")      # not 98.00
    fx = s(StopModifyRejected, code=135, message="not found", stop_working=False)
    assert s.plan.stop_price == D("101.10")
    assert all(e.stop_price == D("101.10") for e in fx if isinstance(e, Protect))


def test_rejected_modify_with_the_stop_gone_reprotects() -> None:
    s = _trailing_with_pending_modify()
    fx = s(StopModifyRejected, code=135, message="Can't find order", stop_working=False)
    assert s.state == S.FILLED
    protect = only(fx, Protect)
    assert (protect.quantity, protect.stop_price) == (100, D("101.10"))   # a new stop, where we want it
    s.status(100, stop_price="101.10")
    assert s.state == S.TRAILING                               # trailing had started: resume it


def test_rejected_modify_while_flattening_does_not_put_a_stop_back() -> None:
    """The trader cancelled while a trail modification was in flight; the flatten's OCA group
    took the stop away and IB refuses the modify. Placing a fresh stop now could sell the same
    shares twice."""
    s = _trailing_with_pending_modify()
    s(CancelRequested)
    fx = s(StopModifyRejected, code=10148, message="cancelled", stop_working=False)
    assert not any(isinstance(e, (Protect, ModifyStop, PlaceBracket)) for e in fx)
    assert s.plan.flattening
    fx = s.exit("X1", Leg.FLATTEN, 100, "102.00")
    assert s.state == S.CLOSED


def test_trailing_never_moves_while_flattening_or_before_protection() -> None:
    s = Story(plan_in(S.FILLED))
    assert s.price("105.00") == [] and s.plan.best_price == D("105.00")
    s.status(100)
    s(CancelRequested)
    assert s.price("110.00") == [] and s.plan.stop_price == D("98.00")


# --------------------------------------------------------------------------- protection failures

def test_protection_rejected_emergency_flatten_closes_the_plan() -> None:
    s = Story(plan_in(S.SUBMITTED))
    s.fill("E1", 100)
    fx = s(ProtectionFailed, leg=Leg.STOP, code=201, message="Order rejected - margin")
    assert s.state == S.FILLED and s.plan.flattening
    assert only(fx, Flatten).quantity == 100 and notify_kinds(fx) == ["protection_failed"]
    assert s(ProtectionFailed, leg=Leg.TARGET, code=201, message="Order rejected") == []   # the sibling
    fx = s.exit("X1", Leg.FLATTEN, 100, "99.80")
    assert s.state == S.CLOSED and notify_kinds(fx) == ["flattened"]


def test_protection_rejected_and_the_flatten_fails_too_needs_a_human() -> None:
    s = Story(plan_in(S.SUBMITTED))
    s.fill("E1", 100)
    s(ProtectionFailed, leg=Leg.STOP, code=201, message="rejected")
    fx = s(FlattenFailed, code=201, message="no trading permissions")
    assert s.state == S.ERROR
    assert notify_kinds(fx) == ["error"] and s.plan.error_code == 201
    # the trader retries: cancel flattens again
    fx = s(CancelRequested)
    assert s.state == S.ERROR and only(fx, Flatten).quantity == 100
    fx = s.exit("X1", Leg.FLATTEN, 100, "99.00")
    assert s.state == S.CLOSED


def test_protection_rejected_before_any_fill_cancels_the_entry() -> None:
    s = Story(plan_in(S.SUBMITTED))
    fx = s(ProtectionFailed, leg=Leg.STOP, code=201, message="rejected")
    assert s.state == S.SUBMITTED and kinds(fx) == ["CancelEntry", "Notify"]
    s(EntryCancelled)
    assert s.state == S.CANCELLED


def test_protection_lost_while_protected_is_restored() -> None:
    s = Story(plan_in(S.PROTECTED))
    fx = s.status(0, 100)                        # the stop vanished at IB
    assert s.state == S.FILLED and notify_kinds(fx) == ["protection_lost"]
    assert only(fx, Protect).quantity == 100
    s.status(100)
    assert s.state == S.PROTECTED


# --------------------------------------------------------------------------- expiry and rejection

def test_expiry_before_activation_cancels_without_touching_ib() -> None:
    s = Story(plan_in(S.PENDING))
    fx = s(Expire)
    assert s.state == S.CANCELLED and kinds(fx) == ["Notify"]
    assert s.plan.reason == "expired before activation"


def test_unfilled_entry_expires() -> None:
    s = Story(plan_in(S.SUBMITTED))
    fx = s(Expire)
    assert s.state == S.SUBMITTED and only(fx, CancelEntry).reason == "entry expired"
    fx = s(EntryCancelled)
    assert s.state == S.CANCELLED and notify_kinds(fx) == ["cancelled"]
    assert s.plan.reason == "entry expired"


@pytest.mark.parametrize("state", [S.SIZED, S.SUBMITTED])
def test_broker_rejects_the_entry(state: State) -> None:
    s = Story(plan_in(state))
    fx = s(EntryRejected, code=201, message="Order rejected - reason: no permissions")
    assert s.state == S.REJECTED
    assert notify_kinds(fx) == ["rejected"] and s.plan.error_code == 201
    assert "no permissions" in (s.plan.reason or "")
    assert s(EntryCancelled) == []               # the cancel status that follows a rejection
    with pytest.raises(InvalidEvent):
        s(PriceUpdate, price=D(100))


@pytest.mark.parametrize(("kw", "limit"), [
    (dict(open_risk=D(900)), "max_portfolio_risk_pct"),
    (dict(available_funds=D(5_000)), "buying_power"),
    (dict(account_value=D(50)), "size"),
    (dict(limits=RiskLimits(normal_pct=D(0))), "size"),
])
def test_activation_refuses_a_plan_over_a_limit(kw: dict[str, Any], limit: str) -> None:
    s = Story(plan_in(S.PENDING))
    fx = activate(s, **kw)
    assert s.state == S.REJECTED
    assert kinds(fx) == ["Notify"]               # nothing is sent to IB
    assert only(fx, Notify).facts["limit"] == limit
    assert (s.plan.reason or "").startswith(f"risk limit {limit}")


# --------------------------------------------------------------------------- over-exits and faults

def test_exit_fills_beyond_the_position_from_a_live_state_need_a_human() -> None:
    """Stop and target both fill (OCA is not atomic at IB): the position is reversed. That must
    not look like a clean close."""
    s = Story(plan_in(S.PROTECTED))
    s.exit("X1", Leg.TARGET, 60, "106.00")
    fx = s.exit("X2", Leg.STOP, 100, "98.00")    # 160 sold against 100 bought
    assert s.state == S.ERROR
    assert s.plan.open_qty == -60
    assert "reversed" in (s.plan.reason or "")
    assert any(isinstance(e, CancelExits) for e in fx)
    assert notify_kinds(fx) == ["error"]


def test_exit_fill_after_close_reverses_and_needs_a_human() -> None:
    s = Story(plan_in(S.PROTECTED))
    s.exit("X1", Leg.TARGET, 100, "106.00")
    fx = s.exit("X2", Leg.STOP, 100, "98.00")
    assert s.state == S.ERROR and s.plan.open_qty == -100 and notify_kinds(fx) == ["error"]


def test_a_fault_parks_any_plan_in_error() -> None:
    for state in State:
        s = Story(plan_in(state))
        fx = s(Fault, reason="position at IB does not match")
        assert s.state == S.ERROR and notify_kinds(fx) == ["error"]


# --------------------------------------------------------------------------- restore

@pytest.mark.parametrize("state", list(State))
def test_restoring_a_plan_into_its_stored_state_fires_no_callbacks(state: State) -> None:
    m = PlanMachine()
    calls: list[str] = []
    machine = m.machine
    for name, st in machine.states.items():
        st.on_enter.append(lambda ed, name=name: calls.append(f"enter {name}"))
        st.on_exit.append(lambda ed, name=name: calls.append(f"exit {name}"))
    machine.before_state_change.append(lambda ed: calls.append("before"))
    machine.after_state_change.append(lambda ed: calls.append("after"))
    machine.prepare_event.append(lambda ed: calls.append("prepare"))

    plan = plan_in(state)
    before = plan.snapshot()
    assert m.bind(plan) is plan
    assert calls == []
    assert plan.state == state and plan.snapshot() == before
    assert plan.effects == [] and plan.notify_kind is None and plan.updated_at is None
    assert plan in m.machine.models                        # bound: one shared machine holds it
    assert m.machine.is_state(S.PENDING.value, plan) is (state == S.PENDING)  # and sees its state
    plan.state = str(state)  # restoring a stored state is a plain assignment: it fires nothing
    assert calls == [] and plan.snapshot() == before

    # the spies are live: the first real event does fire them
    m.step(plan, Fault(at(1), reason="check"))
    assert "prepare" in calls and "after" in calls


def test_restored_plan_carries_on_where_it_stopped() -> None:
    """A protected plan restored after a crash trails, exits and closes like one never stopped."""
    stored = plan_in(S.PROTECTED)
    figures, seen = stored.figures(), set(stored.seen_exec_ids)
    restored = Plan(spec(), "protected", **figures)
    restored.seen_exec_ids = seen
    s = Story(restored)
    assert s.fill("E-prior", 100) == []          # the pre-crash fill, replayed at reconnect
    assert only(s.price("102.60"), ModifyStop).stop_price == D("101.10")
    s.exit("X1", Leg.STOP, 100, "101.10")
    assert s.state == S.CLOSED and s.plan.realized_pnl == D("110.00")


def test_every_state_change_is_announced_exactly_once() -> None:
    s = Story(plan_in(S.PENDING))
    steps = [
        lambda: activate(s), lambda: s(EntryAccepted), lambda: s.fill("E1", 40), lambda: s.status(40),
        lambda: s.fill("E2", 60), lambda: s.status(100), lambda: s.price("102.60"),
        lambda: s(StopModified, stop_price=D("101.10")), lambda: s.exit("X1", Leg.STOP, 100, "101.10"),
    ]
    for step in steps:
        before = s.state
        fx = step()
        notes = [e for e in fx if isinstance(e, Notify)]
        if s.state != before:
            assert len(notes) == 1 and (notes[0].from_state, notes[0].to_state) == (before, s.state)
    assert s.state == S.CLOSED


def test_one_shared_machine_attaches_and_releases_many_plans() -> None:
    m = PlanMachine()
    plans = [plan_in(S.PROTECTED) for _ in range(50)]
    for p in plans:
        m.bind(p)
        m.bind(p)  # twice is once
    assert len(m.machine.models) == 50
    for p in plans[::2]:
        m.release(p)
    assert m.machine.models == plans[1::2] or sorted(map(id, m.machine.models)) == sorted(map(id, plans[1::2]))
    m.release(plans[0])  # releasing an unbound plan is harmless
    assert len(m.machine.models) == 25
    for p in plans[1::2]:
        assert m.step(p, Fault(at(1), reason="x")) and p.state == S.ERROR
    assert not hasattr(plans[1], "fault")  # nothing is bound onto plan objects
