"""Builders for the plan-machine tests: a fixed clock, specs, plans in any state, and one
canonical example event per trigger.

Everything here is deterministic: the tests never read the clock either.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings

from machines import (
    Activate,
    Adopt,
    CancelRequested,
    CommissionCharged,
    EntryAccepted,
    EntryCancelled,
    EntryFilled,
    EntryRefused,
    EntryRejected,
    EntryType,
    EntryUnseen,
    Event,
    ExitFilled,
    Expire,
    Fault,
    FlattenFailed,
    Hold,
    Leg,
    Plan,
    PlanMachine,
    PlanSpec,
    PositionShortfall,
    PriceUpdate,
    ProtectionFailed,
    ProtectionStatus,
    RiskCategory,
    Side,
    SizedAgain,
    State,
    StopModified,
    StopModifyRejected,
    TraderExits,
    TrailRetry,
    Unprotected,
)

D = Decimal

# --------------------------------------------------------------------------- hypothesis settings

# Per-test settings objects rather than a loaded global profile, so these tests never change
# the settings of anybody else's Hypothesis tests in the same session.
#   HYPOTHESIS_PROFILE=long  -> ten times the examples (nightly / before a release)
#   HYPOTHESIS_PROFILE=dev   -> a quick smoke run
_EXAMPLES = {"ci": 200, "default": 200, "long": 2000, "dev": 30}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
MAX_EXAMPLES = _EXAMPLES.get(PROFILE, 200)


def hsettings(scale: float = 1.0, **extra: Any) -> settings:
    """Settings for one property: the profile's example count × ``scale``, no deadline
    (CI machines are noisy; the suite's total time is watched instead)."""
    return settings(
        max_examples=max(10, int(MAX_EXAMPLES * scale)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        **extra,
    )


# --------------------------------------------------------------------------- time

T0 = datetime(2026, 11, 27, 14, 35, tzinfo=UTC)


def at(seconds: float = 0) -> datetime:
    """A fixed UTC instant ``seconds`` after T0."""
    return T0 + timedelta(seconds=seconds)


# --------------------------------------------------------------------------- specs

ENTRY = D("100.00")
STOP = D("98.00")
TARGET = D("106.00")
QTY = 100


def spec(**overrides: Any) -> PlanSpec:
    """A valid long limit plan: entry 100, stop 98 (R = 2), target 106, trailing 1R / 1.50."""
    fields: dict[str, Any] = dict(
        id="AAPL-20261127-1", symbol="AAPL", side=Side.LONG, entry_type=EntryType.LIMIT,
        entry_price=ENTRY, stop_loss=STOP, take_profit=TARGET, risk=RiskCategory.NORMAL,
        start_at=T0, expire_at=T0 + timedelta(hours=1),
        trail_trigger_r=D("1"), trail_distance=D("1.50"),
    )
    fields.update(overrides)
    return PlanSpec(**fields)


def short_spec(**overrides: Any) -> PlanSpec:
    """The mirror image: short at 100, stop 102, target 94, trailing 1R / 1.50."""
    fields: dict[str, Any] = dict(id="TSLA-20261127-1", symbol="TSLA", side=Side.SHORT,
                                  stop_loss=D("102.00"), take_profit=D("94.00"))
    fields.update(overrides)
    return spec(**fields)


# --------------------------------------------------------------------------- plans

FILLED_STATES = (State.FILLED, State.PROTECTED, State.TRAILING)


def plan_in(state: str, spec_: PlanSpec | None = None, *, seen: Iterable[str] = (), **figures: Any) -> Plan:
    """A plan in ``state`` with figures a real run would have left there.

    Defaults: sized for 100 shares; live-position states fully filled at the entry price;
    ``protected`` / ``trailing`` confirmed at IB for the open quantity; ``trailing`` with the stop
    already moved to 100.50 (long) / 99.50 (short); ``closed`` out at the target; ``error`` holding
    100 shares after a failed emergency flatten. Any figure can be overridden; derived figures
    (entry_done, protected quantities, seen execIds) follow the overrides unless given too.
    """
    st = State(state)
    sp = spec_ or spec()
    sign = sp.side.sign
    base: dict[str, Any] = {}
    if st is not State.PENDING:
        base.update(quantity=QTY, risk_amount=D(200), portfolio_risk_pct=D(2))
    if st in (*FILLED_STATES, State.CLOSED, State.ERROR):
        base.update(filled_qty=QTY, avg_entry_price=sp.entry_price, best_price=sp.entry_price)
    if st in (State.PROTECTED, State.TRAILING):
        base.update(confirmed_stop_price=sp.stop_loss)
    if st is State.TRAILING:
        moved = sp.entry_price + D("0.50") * sign
        base.update(trail_active=True, stop_price=moved, confirmed_stop_price=moved,
                    best_price=sp.entry_price + D(2) * sign)
    if st is State.CLOSED:
        base.update(exited_qty=QTY, avg_exit_price=sp.take_profit, exit_reason="target",
                    realized_pnl=(sp.take_profit - sp.entry_price) * QTY * sign, entry_done=True)
    if st is State.REJECTED:
        base.update(reason="IB rejected the entry: test", error_code=201, entry_done=True)
    if st is State.CANCELLED:
        base.update(reason="cancelled by user", cancel_requested=True, entry_done=True)
    if st is State.ERROR:
        base.update(reason="flatten failed: test", error_code=201, flattening=True)
    base.update(figures)
    if "entry_done" not in base and base.get("filled_qty", 0) > 0:
        base["entry_done"] = base["filled_qty"] >= base.get("quantity", 0)
    plan = Plan(sp, st, **base)
    if st in (State.PROTECTED, State.TRAILING):
        if "protected_stop_qty" not in figures:
            plan.protected_stop_qty = plan.open_qty
        if "protected_target_qty" not in figures:
            plan.protected_target_qty = plan.open_qty
    if plan.filled_qty > 0:
        plan.seen_exec_ids.add("E-prior")
    if plan.exited_qty > 0:
        plan.seen_exec_ids.add("X-prior")
    plan.seen_exec_ids.update(seen)
    return plan


def bound(plan: Plan) -> tuple[PlanMachine, Plan]:
    """A fresh machine with ``plan`` attached in its stored state."""
    m = PlanMachine()
    m.bind(plan)
    return m, plan


# --------------------------------------------------------------------------- events

EXAMPLE_EVENTS: dict[str, Event] = {
    e.TRIGGER: e for e in (
        Activate(T0, account_value=D(10_000), available_funds=D(50_000), open_risk=D(0)),
        EntryAccepted(T0, order_id=11, perm_id=900_001),
        EntryRejected(T0, code=201, message="Order rejected - reason: test"),
        EntryCancelled(T0, reason=""),
        EntryFilled(T0, exec_id="E-new", quantity=QTY, price=ENTRY),
        ExitFilled(T0, exec_id="X-new", leg=Leg.STOP, quantity=QTY, price=STOP),
        ProtectionStatus(T0, stop_quantity=QTY, target_quantity=QTY, stop_price=STOP, target_price=TARGET),
        ProtectionFailed(T0, leg=Leg.STOP, code=201, message="Order rejected - reason: test"),
        PriceUpdate(T0, price=D("100.50")),
        StopModified(T0, stop_price=D("99.00")),
        StopModifyRejected(T0, code=10148, message="modify rejected", stop_working=True),
        CancelRequested(T0),
        Expire(T0),
        FlattenFailed(T0, code=201, message="Order rejected - reason: test"),
        Unprotected(T0),
        Fault(T0, reason="reconciliation: unexplained position"),
        Hold(T0, reason="new entries in AAPL are held: IB holds 10 AAPL that no plan explains"),
        PositionShortfall(T0, held=0, believed=QTY),
        EntryUnseen(T0),
        SizedAgain(T0, why="sized before a restart and never sent: sized again on the live price"),
        EntryRefused(T0, reason="the market 105.00 is already past the entry's price cap 101.00"),
        TraderExits(T0, orders="order 12 of client 0: SELL 100 STP @ 97.00", quantity=QTY),
        TrailRetry(T0, max_attempts=5),
        CommissionCharged(T0, exec_id="E-prior", amount=D("1.00")),
        Adopt(T0, quantity=QTY),
    )
}


def event(kind: type | str, **overrides: Any) -> Any:
    """The canonical example event for an event class (or its trigger), with fields replaced."""
    trigger = kind if isinstance(kind, str) else kind.TRIGGER  # type: ignore[attr-defined]
    return dataclasses.replace(EXAMPLE_EVENTS[trigger], **overrides)


# --------------------------------------------------------------------------- effects

def kinds(effects: Iterable[Any]) -> list[str]:
    """Effect class names, in order (readable in assertion messages)."""
    return [type(e).__name__ for e in effects]


def notify_kinds(effects: Iterable[Any]) -> list[str]:
    return [e.kind for e in effects if type(e).__name__ == "Notify"]


def tighter(side: Side, a: Decimal, b: Decimal) -> bool:
    """Stop ``a`` is strictly tighter (closer to profit) than stop ``b`` for ``side``."""
    return (a - b) * side.sign > 0


def looser(side: Side, a: Decimal, b: Decimal) -> bool:
    return (b - a) * side.sign > 0
