"""Hypothesis runs of the whole machine: random but plausible broker event streams from a random
start, checking after every step the promises the orchestrator makes with money.

The stream comes from a tiny model of IB (``Broker``) that only produces what IB could send at
that point: fills within the order's size with fresh or replayed execIds, protection reports of
what it was told to hold, acks for modifications that were requested (in order), price ticks,
cancels, expiries, rejections and the odd fault. An event the table refuses is skipped, after
checking it changed nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import given, note
from hypothesis import strategies as st

from machines import (
    TERMINAL_STATES,
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
    RiskCategory,
    Side,
    State,
    StopModified,
    StopModifyRejected,
)

from .helpers import D, at, hsettings, looser, plan_in, short_spec, spec, tighter

S = State
LIVE = (S.FILLED, S.PROTECTED, S.TRAILING)
WORKING_ORDER_EFFECTS = (PlaceBracket, Protect, ModifyStop)
QUANTITY_EFFECTS = (PlaceBracket, Protect, ModifyStop, Flatten)


# --------------------------------------------------------------------------- the start

@dataclass(frozen=True)
class Start:
    """Everything needed to build the same starting plan twice."""

    side: Side
    state: State
    r: Decimal
    trail: tuple[Decimal, Decimal] | None
    partial: bool

    def plan(self) -> Plan:
        sign = self.side.sign
        make = spec if self.side is Side.LONG else short_spec
        trail_r, distance = self.trail if self.trail else (None, None)
        sp = make(stop_loss=D(100) - self.r * sign, take_profit=D(100) + 3 * self.r * sign,
                  trail_trigger_r=trail_r, trail_distance=distance, risk=RiskCategory.NORMAL)
        figures: dict[str, Any] = {}
        if self.state in LIVE and self.partial:
            figures["filled_qty"] = 40
        if self.state is S.TRAILING and not self.trail:
            return plan_in(S.PROTECTED, sp, **figures)
        return plan_in(self.state, sp, **figures)


starts = st.builds(
    Start,
    side=st.sampled_from(list(Side)),
    state=st.sampled_from([S.PENDING, S.SIZED, S.SUBMITTED, S.FILLED, S.PROTECTED, S.TRAILING]),
    r=st.sampled_from([D(1), D(2), D(5)]),
    trail=st.one_of(st.none(), st.tuples(st.sampled_from([D(0), D("0.5"), D(1), D(2)]),
                                         st.sampled_from([D("0.25"), D("0.75"), D("1.50"), D(3)]))),
    partial=st.booleans(),
)


# --------------------------------------------------------------------------- a plausible IB

@dataclass
class Broker:
    """What IB has been told and could therefore report.

    Stop requests (a ModifyStop, or the stop of a Protect) are processed by IB in the order they
    were sent; only processed ones show up in acks and protection reports. Once IB says the stop
    order is gone, later modifications of it are refused until a Protect places a new one.
    """

    entry_sent: bool
    entry_refused: bool = False
    stop: Decimal | None = None                           # the stop price IB holds
    stop_alive: bool = True
    requests: list[tuple[str, Decimal]] = field(default_factory=list)   # ("modify" | "protect", price)
    flatten_sent: bool = False
    fills: list[Any] = field(default_factory=list)        # every execution so far, for replays
    last: Decimal = D(100)                                # the last trade price
    n: int = 0

    def exec_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def apply(self, effects: list[Any]) -> None:
        for e in effects:
            if isinstance(e, PlaceBracket):
                self.entry_sent, self.stop = True, e.stop_price
            elif isinstance(e, Protect):
                self.requests.append(("protect", e.stop_price))
            elif isinstance(e, ModifyStop):
                self.requests.append(("modify", e.stop_price))
            elif isinstance(e, Flatten):
                self.flatten_sent = True

    # IB processing the oldest stop request (called when that event is drawn)
    def ack_modify(self, when: Any) -> Any:
        _, price = self.requests.pop(0)
        self.stop = price
        return StopModified(when, stop_price=price)

    def refuse_modify(self, when: Any, still_working: bool) -> Any:
        self.requests.pop(0)
        self.stop_alive = self.stop_alive and still_working
        return StopModifyRejected(when, code=10148, message="rejected", stop_working=self.stop_alive)

    def place_protection(self, when: Any, qty: int, target: Decimal) -> Any:
        _, price = self.requests.pop(0)
        self.stop, self.stop_alive = price, True
        return ProtectionStatus(when, stop_quantity=qty, target_quantity=qty, stop_price=price, target_price=target)


def draw_event(data: st.DataObject, plan: Plan, ib: Broker, t: int, boost: dict[str, int] | None = None) -> Any:
    """One event IB, the trader or the scheduler could plausibly produce now. ``boost``
    multiplies the weight of some kinds of event, to steer a property into a corner."""
    when = at(t)
    state = S(plan.state)
    options: list[tuple[str, Callable[[], Any]]] = []

    def add(name: str, make: Callable[[], Any], weight: int = 1) -> None:
        options.extend([(name, make)] * (weight * (boost or {}).get(name, 1)))

    if state is S.PENDING:
        add("activate", lambda: Activate(
            when, account_value=data.draw(st.sampled_from([D(1_000), D(10_000), D(100_000)])),
            available_funds=data.draw(st.sampled_from([D(5_000), D(50_000), D(1_000_000)])),
            open_risk=data.draw(st.sampled_from([D(0), D(500), D(900)]))), 10)
    if ib.entry_sent and not ib.entry_refused:
        remaining = plan.quantity - plan.filled_qty
        if remaining > 0:
            add("entry fill", lambda: EntryFilled(
                when, exec_id=ib.exec_id("E"), quantity=data.draw(st.integers(1, remaining)),
                price=D(100) + data.draw(st.integers(-20, 20)) * D("0.01")), 12)
        add("entry ack", lambda: EntryAccepted(when, order_id=7, perm_id=9), 3)
        add("entry cancelled", lambda: EntryCancelled(when, reason=data.draw(st.sampled_from(["", "expired"]))), 3)
        if plan.filled_qty == 0 or state in LIVE:
            add("entry rejected", lambda: EntryRejected(when, code=201, message="rejected"), 2)
    if ib.fills:
        add("replayed fill", lambda: data.draw(st.sampled_from(ib.fills)), 4)
    open_qty = plan.open_qty
    if open_qty > 0:
        leg = data.draw(st.sampled_from([Leg.STOP, Leg.TARGET, Leg.FLATTEN] if ib.flatten_sent
                                        else [Leg.STOP, Leg.TARGET]))
        add("exit fill", lambda: ExitFilled(
            when, exec_id=ib.exec_id("X"), leg=leg, quantity=data.draw(st.integers(1, open_qty)),
            price=D(100) + data.draw(st.integers(-600, 600)) * D("0.01")), 6)
        # OCA is not atomic at IB: now and then both exits fill
        add("over-exit", lambda: ExitFilled(
            when, exec_id=ib.exec_id("X"), leg=leg, quantity=open_qty + data.draw(st.integers(1, 50)),
            price=D(100)), 1)
    if state is S.CLOSED and plan.protected_stop_qty + plan.protected_target_qty > 0:
        # the other leg of the OCA pair fills too, after the close
        add("late exit", lambda: ExitFilled(
            when, exec_id=ib.exec_id("X"), leg=Leg.TARGET, quantity=data.draw(st.integers(1, plan.filled_qty or 1)),
            price=plan.target_price), 1)
    if state is not S.PENDING and ib.entry_sent:
        def status() -> Any:
            choices = sorted({max(open_qty, 0), plan.protected_stop_qty, 0, plan.filled_qty})
            stop_qty = data.draw(st.sampled_from(choices))
            target_qty = data.draw(st.sampled_from([stop_qty, *choices]))
            if not ib.stop_alive:
                stop_qty = 0
            return ProtectionStatus(when, stop_quantity=stop_qty, target_quantity=target_qty,
                                    stop_price=ib.stop if stop_qty else None, target_price=plan.target_price)
        add("protection status", status, 8)
        add("protection failed", lambda: ProtectionFailed(
            when, leg=data.draw(st.sampled_from([Leg.STOP, Leg.TARGET])), code=201, message="rejected"), 2)
    if state is not S.PENDING:
        def price() -> Any:
            # mostly a random walk in steps of R/10, drifting in the plan's favour (so trailing
            # gets exercised); now and then a gap anywhere within ±7.50
            if data.draw(st.integers(0, 9)) == 0:
                ib.last = D(100) + data.draw(st.integers(-150, 150)) * D("0.05")
            else:
                r = abs(plan.spec.entry_price - plan.spec.stop_loss)
                move = data.draw(st.integers(-3, 5)) * r / 10 * plan.spec.side.sign
                ib.last = max(D("0.05"), (ib.last + move).quantize(D("0.01")))
            return PriceUpdate(when, price=ib.last)
        add("price", price, 15)
    if ib.requests and ib.requests[0][0] == "modify":
        if ib.stop_alive:
            add("modify acked", lambda: ib.ack_modify(when), 8)
        add("modify rejected", lambda: ib.refuse_modify(when, data.draw(st.booleans())), 5)
    if ib.requests and ib.requests[0][0] == "protect":
        add("protection placed", lambda: ib.place_protection(when, max(open_qty, 0), plan.target_price), 10)
    if ib.flatten_sent:
        add("flatten failed", lambda: FlattenFailed(when, code=201, message="rejected"), 2)
    add("cancel", lambda: CancelRequested(when), 2)
    add("expire", lambda: Expire(when), 2)
    add("fault", lambda: Fault(when, reason="reconciliation mismatch"), 1)

    name, make = data.draw(st.sampled_from(options), label="event kind")
    event = make()
    note(f"t={t}: {plan.state} <- {name}: {event}")
    return event


def broker_saw(ib: Broker, event: Any) -> None:
    """IB's side of an event the plan accepted: refusals and fills are remembered."""
    if isinstance(event, EntryRejected) and not ib.fills:
        ib.entry_refused = True
    elif isinstance(event, (EntryFilled, ExitFilled)) and event not in ib.fills:
        ib.fills.append(event)


# --------------------------------------------------------------------------- one run

@dataclass
class Outcome:
    state: str
    figures: dict[str, Any]
    seen: set[str]
    effects: list[Any] | None      # None: the event was refused


def run(start: Start, events: list[Any] | None, data: st.DataObject | None, steps: int = 0,
        boost: dict[str, int] | None = None) -> tuple[list[Any], list[Outcome]]:
    """Step a fresh plan through ``events`` (or through ``steps`` freshly drawn ones), checking
    every invariant after every step. Returns the events and what each did."""
    m = PlanMachine()
    plan = m.bind(start.plan())
    ib = Broker(entry_sent=plan.state != S.PENDING, stop=None if plan.state == S.PENDING else plan.stop_price)
    if plan.filled_qty:
        ib.fills.append(EntryFilled(at(0), exec_id="E-prior", quantity=plan.filled_qty, price=D(100)))
    drawn: list[Any] = []
    outcomes: list[Outcome] = []
    sent: dict[str, Any] = {"stop": None if plan.state == S.PENDING else plan.stop_price}
    count = len(events) if events is not None else steps
    for i in range(count):
        if events is not None:
            event = events[i]
        else:
            assert data is not None
            event = draw_event(data, plan, ib, i + 1, boost)
        drawn.append(event)
        before = plan.snapshot()
        allowed = set(m.allowed(plan))
        try:
            effects = m.step(plan, event)
        except InvalidEvent:
            assert plan.snapshot() == before, "a refused event changed the plan"
            assert type(event).TRIGGER not in allowed, (
                f"{type(event).TRIGGER} is listed for {before['state']} but no row accepted it")
            outcomes.append(Outcome(plan.state, plan.figures(), set(plan.seen_exec_ids), None))
            continue
        check_step(plan, before, event, effects, sent)
        broker_saw(ib, event)
        ib.apply(effects)
        outcomes.append(Outcome(plan.state, plan.figures(), set(plan.seen_exec_ids), effects))
        if plan.state == S.CANCELLED and plan.open_qty < 0:
            # the trader ended an error plan whose position IB shows reversed (see the report on
            # cancel_error_plan): from here the position is theirs, not the machine's
            break
    return drawn, outcomes


# --------------------------------------------------------------------------- the invariants

def check_step(plan: Plan, before: dict[str, Any], event: Any, effects: list[Any],
               sent: dict[str, Any]) -> None:
    """Every promise, after one accepted step. ``sent`` carries the tightest stop sent so far."""
    side = plan.spec.side
    initial = plan.spec.stop_loss
    src, dst = before["state"], plan.state
    open_qty = plan.open_qty

    # every new entry fill that leaves shares open is covered by a protect or a flatten, for all of them
    if isinstance(event, EntryFilled) and event.exec_id not in before["seen_exec_ids"] and open_qty > 0:
        cover = [e for e in effects if isinstance(e, (Protect, Flatten))]
        assert cover, f"unprotected fill: {event} in {src} -> {effects}"
        assert cover[-1].quantity == open_qty, (cover, open_qty)

    # a replayed execution changes nothing
    if isinstance(event, (EntryFilled, ExitFilled)) and event.exec_id in before["seen_exec_ids"]:
        assert effects == []
        after = plan.snapshot()
        assert {k: v for k, v in after.items() if k != "updated_at"} == \
            {k: v for k, v in before.items() if k != "updated_at"}

    # the stop never loosens: not the one we want, not any we send, not the one IB holds
    confirmed = before["confirmed_stop_price"]
    for e in effects:
        if isinstance(e, ModifyStop):
            assert tighter(side, e.stop_price, before["stop_price"]), (e, before["stop_price"])
            assert confirmed is None or tighter(side, e.stop_price, confirmed), (e, confirmed)
        if isinstance(e, (ModifyStop, Protect, PlaceBracket)):
            assert not looser(side, e.stop_price, initial), (e, initial)
            assert confirmed is None or not looser(side, e.stop_price, confirmed), (
                f"{type(e).__name__} would loosen the stop IB confirmed at {confirmed}: {e}")
            if sent.get("stop") is not None:
                assert not looser(side, e.stop_price, sent["stop"]), (
                    f"{type(e).__name__} sends a looser stop than the {sent['stop']} sent before: {e}")
            sent["stop"] = e.stop_price
    assert not looser(side, plan.stop_price, initial)
    assert not looser(side, plan.stop_price, before["stop_price"]), (before["stop_price"], plan.stop_price)
    if confirmed is not None and plan.confirmed_stop_price is not None:
        assert not looser(side, plan.confirmed_stop_price, confirmed), "the stop IB holds loosened"
    if plan.confirmed_stop_price is not None:
        assert not looser(side, plan.stop_price, plan.confirmed_stop_price), (
            "the plan wants a looser stop than IB holds", plan.stop_price, plan.confirmed_stop_price)

    # quantities
    assert plan.filled_qty >= 0 and plan.exited_qty >= 0
    assert plan.filled_qty >= before["filled_qty"] and plan.exited_qty >= before["exited_qty"]
    if open_qty < 0:
        # a reversed position is never closed out by the machine on its own: it parks in error,
        # and only the trader's cancel of the error plan (having fixed it at IB) ends it
        human_ended_it = src == S.ERROR and dst == S.CANCELLED and isinstance(event, CancelRequested)
        assert dst == S.ERROR or human_ended_it or before["filled_qty"] - before["exited_qty"] < 0, (
            f"reversed position ({open_qty}) in {dst}")
    if dst == S.CLOSED:
        assert open_qty == 0, f"closed with {open_qty} shares open"
    if dst in LIVE:
        assert open_qty > 0
    for e in effects:
        if isinstance(e, QUANTITY_EFFECTS):
            assert e.quantity > 0, e
        if isinstance(e, (Protect, Flatten, ModifyStop)):
            assert e.quantity == open_qty, (e, open_qty)

    # "protected" means IB confirmed both exits working for exactly the open quantity
    if dst in (S.PROTECTED, S.TRAILING) and src not in (S.PROTECTED, S.TRAILING):
        assert isinstance(event, ProtectionStatus), event
        assert event.stop_quantity == event.target_quantity == open_qty, (event, open_qty)
        assert not plan.flattening

    # finished plans and plans being flattened place nothing new
    if dst in TERMINAL_STATES:
        assert all(isinstance(e, (CancelEntry, CancelExits, Notify)) for e in effects), effects
    if src in TERMINAL_STATES:
        assert all(isinstance(e, (CancelEntry, CancelExits, Flatten, Notify)) for e in effects), effects
    if before["flattening"] and src in LIVE and isinstance(event, FlattenFailed):
        # IB refused the flatten: a stop (alone) goes back for the whole position, nothing more
        assert [e for e in effects if isinstance(e, WORKING_ORDER_EFFECTS)] == [
            Protect(plan.id, plan.key, plan.spec.side, open_qty, plan.stop_price, plan.target_price, stop_only=True)]
        assert dst == S.ERROR and not plan.flattening
    elif before["flattening"] and src in LIVE:
        assert not any(isinstance(e, WORKING_ORDER_EFFECTS) for e in effects), (src, effects)

    # one Notify per change, last, saying where from and where to
    notes = [e for e in effects if isinstance(e, Notify)]
    assert len(notes) <= 1 and all(isinstance(e, Notify) for e in effects[len(effects) - len(notes):])
    if dst != src:
        assert len(notes) == 1 and (notes[0].from_state, notes[0].to_state) == (src, dst)
    assert plan.updated_at == event.at
    assert plan.effects == [] and plan.notify_kind is None


# --------------------------------------------------------------------------- the properties

TRAILING_RACES = {"price": 4, "modify acked": 3, "modify rejected": 4, "protection placed": 2, "fault": 0,
                  "over-exit": 0, "entry fill": 1}
trailing_starts = st.builds(
    Start, side=st.sampled_from(list(Side)), state=st.sampled_from([S.PROTECTED, S.TRAILING]),
    r=st.sampled_from([D(1), D(2)]),
    trail=st.tuples(st.sampled_from([D(0), D("0.5"), D(1)]), st.sampled_from([D("0.10"), D("0.25"), D("0.75")])),
    partial=st.booleans())

@hsettings()
@given(start=starts, steps=st.integers(1, 40), data=st.data())
def test_random_broker_streams_keep_every_promise(start: Start, steps: int, data: st.DataObject) -> None:
    run(start, None, data, steps)


@hsettings(scale=0.5)
@given(start=starts, steps=st.integers(1, 40), data=st.data())
def test_replaying_the_same_stream_gives_the_same_plan_and_effects(start: Start, steps: int,
                                                                   data: st.DataObject) -> None:
    events, first = run(start, None, data, steps)
    _, second = run(start, events, None)
    assert second == first


@hsettings(scale=0.5)
@given(start=starts, steps=st.integers(1, 30), data=st.data())
def test_every_fill_applied_twice_is_applied_once(start: Start, steps: int, data: st.DataObject) -> None:
    """Run a stream, then the same stream with every new execution delivered twice in a row
    (a reconnect replay): same states, same figures, and the duplicates produce no effects."""
    events, first = run(start, None, data, steps)
    doubled: list[Any] = []
    for e in events:
        doubled.append(e)
        if isinstance(e, (EntryFilled, ExitFilled)):
            doubled.append(dataclasses.replace(e))
    _, second = run(start, doubled, None)
    it = iter(second)
    for e, outcome in zip(events, first):
        got = next(it)
        assert (got.state, got.figures, got.seen, got.effects) == \
            (outcome.state, outcome.figures, outcome.seen, outcome.effects)
        if isinstance(e, (EntryFilled, ExitFilled)):
            dup = next(it)
            if outcome.effects is not None:
                assert dup.effects == [] and dup.state == outcome.state
                assert {k: v for k, v in dup.figures.items() if k != "updated_at"} == \
                    {k: v for k, v in outcome.figures.items() if k != "updated_at"}


@hsettings(scale=0.5)
@given(start=trailing_starts, steps=st.integers(5, 40), data=st.data())
def test_trailing_races_never_loosen_the_stop(start: Start, steps: int, data: st.DataObject) -> None:
    """The same promises, steered into trailing: many price ticks, modifications acked and
    refused in the order sent, partial fills resizing protection while modifications fly."""
    run(start, None, data, steps, TRAILING_RACES)
