"""Exits that fill while the entry is still filling (chaos seed 1210, episodes 4, 11, 26, 29: a
sub-dollar stock's market entry of 100 000+ shares filling 1500 a tick, its stop triggered and
buying back 1500 a tick beside it).

* The realized P&L must be IB's cash flow once flat: the average cost of the shares still open,
  not the average of every entry fill so far (which also weighs shares already sold).
* The stop (or target) filling means the trade is over: the rest of the entry must not go on
  filling, or the stop and the entry trade against each other for as long as the entry lasts.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from machines import CancelEntry, EntryFilled, ExitFilled, Leg, State

from .helpers import D, at, bound, hsettings, kinds, plan_in, short_spec

S = State


def _cash_flow(steps: list[tuple[str, int, Decimal]], sign: int) -> Decimal:
    """IB's view: what the exits brought in less what the entries cost, for the plan's side."""
    return sum(((p if leg == "exit" else -p) * q for leg, q, p in steps), Decimal(0)) * sign


def _run(steps: list[tuple[str, int, Decimal]], short: bool = False) -> tuple[object, list[list[object]]]:
    plan = plan_in(S.SUBMITTED, short_spec() if short else None)
    machine, plan = bound(plan)
    effects = []
    for i, (leg, q, p) in enumerate(steps):
        e = (EntryFilled(at(i + 1), exec_id=f"E{i}", quantity=q, price=p) if leg == "entry" else
             ExitFilled(at(i + 1), exec_id=f"X{i}", leg=Leg.STOP, quantity=q, price=p))
        effects.append(machine.step(plan, e))
    return plan, effects


def test_long_realized_pnl_is_the_cash_flow_when_entries_fill_between_exits() -> None:
    steps = [("entry", 40, D("100.00")), ("exit", 20, D("98.00")), ("entry", 20, D("97.50")),
             ("exit", 40, D("97.90"))]
    plan, _ = _run(steps)
    assert plan.state == S.CLOSED and plan.open_qty == 0
    # IB: -4000 - 1950 + 1960 + 3916 = -74 (the average of every entry fill gives -90.67)
    assert plan.realized_pnl == _cash_flow(steps, 1) == D("-74")


def test_short_penny_stock_realized_pnl_is_the_cash_flow() -> None:
    # the shape of R1210-E4-P2: a short entry selling into a rising price, the stop buying beside it
    steps = [("entry", 1500, D("0.7123")), ("entry", 1500, D("0.71306")), ("exit", 1500, D("0.72252")),
             ("entry", 1500, D("0.72323")), ("exit", 1500, D("0.72323")), ("exit", 1500, D("0.72517"))]
    plan, _ = _run(steps, short=True)
    assert plan.state == S.CLOSED
    assert plan.realized_pnl == _cash_flow(steps, -1)


@st.composite
def _interleavings(draw: st.DrawFn) -> list[tuple[str, int, Decimal]]:
    """Entry and exit fills in any order that never exits more than is open, ending flat."""
    steps: list[tuple[str, int, Decimal]] = []
    entered = held = 0
    price = st.integers(9000, 11000).map(lambda c: Decimal(c) / 100)
    while entered < 100 or held:
        can_enter, can_exit = entered < 100, held > 0
        if can_enter and (not can_exit or draw(st.booleans())):
            q = draw(st.integers(1, 100 - entered))
            steps.append(("entry", q, draw(price)))
            entered, held = entered + q, held + q
        else:
            q = draw(st.integers(1, held))
            steps.append(("exit", q, draw(price)))
            held -= q
        if held == 0 and entered and draw(st.booleans()):
            break
    return steps


@hsettings(0.5)
@given(steps=_interleavings(), short=st.booleans())
def test_realized_pnl_once_flat_is_always_the_cash_flow(steps: list[tuple[str, int, Decimal]], short: bool) -> None:
    plan, _ = _run(steps, short)
    assert plan.open_qty == 0
    assert abs(plan.realized_pnl - _cash_flow(steps, -1 if short else 1)) <= D("0.000001")


def test_a_partial_stop_fill_cancels_the_rest_of_the_entry() -> None:
    # 40 of 100 filled and protected; the stop triggers and fills 20 (a stop fills in pieces too)
    plan, effects = _run([("entry", 40, D("100.00")), ("exit", 20, D("98.00"))])
    assert plan.state in (S.FILLED, S.PROTECTED) and plan.open_qty == 20
    assert "CancelEntry" in kinds(effects[1]), kinds(effects[1])   # now: only the exit is booked
    assert plan.entry_done
    assert [e for e in effects[1] if isinstance(e, CancelEntry)][0].plan_id == plan.id
