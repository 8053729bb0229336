"""The plan: what the trader asked for (PlanSpec) and what has happened so far (Plan).

``Plan`` is the model the shared transitions machine drives. It holds figures only; the
transition table and its callbacks live in ``table.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .values import EntryType, RiskCategory, Side, State

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A validated trade plan as the trader wrote it."""

    id: str
    symbol: str
    side: Side
    entry_type: EntryType
    entry_price: Decimal
    stop_loss: Decimal
    take_profit: Decimal
    risk: RiskCategory
    start_at: datetime | None = None
    expire_at: datetime | None = None
    trail_trigger_r: Decimal | None = None
    trail_distance: Decimal | None = None

    @property
    def trails(self) -> bool:
        return self.trail_distance is not None


# Figures persisted for every plan, with their defaults (the store maps them to columns).
FIGURES: dict[str, Any] = {
    "quantity": 0,               # sized quantity of the entry
    "risk_amount": ZERO,         # dollar risk at sizing
    "portfolio_risk_pct": ZERO,  # total open risk % at sizing, this plan included
    "filled_qty": 0,             # entry shares filled
    "avg_entry_price": None,     # average entry fill price
    "exited_qty": 0,             # exit shares filled (stop, target, flatten)
    "avg_exit_price": None,
    "realized_pnl": ZERO,        # gross, before commissions
    "stop_price": None,          # the stop we want working (moves when trailing)
    "confirmed_stop_price": None,  # the stop IB last confirmed
    "target_price": None,
    "protected_stop_qty": 0,     # stop quantity IB last reported working
    "protected_target_qty": 0,
    "best_price": None,          # best price since the first entry fill (for trailing)
    "trail_active": False,
    "entry_done": False,         # no more entry fills can come (fully filled or remainder gone)
    "cancel_requested": False,
    "flattening": False,
    "exit_reason": None,         # target | stop | trailing_stop | flatten
    "reason": None,              # why the plan is rejected / cancelled / in error
    "error_code": None,
    "updated_at": None,
}


class Plan:
    """One trade plan: its spec, its current ``state`` and its figures.

    ``effects`` collects the effects of the step in progress; ``seen_exec_ids`` makes fills
    idempotent.
    """

    def __init__(self, spec: PlanSpec, state: str = State.PENDING, **figures: Any) -> None:
        unknown = set(figures) - set(FIGURES)
        if unknown:
            raise TypeError(f"unknown plan figures: {sorted(unknown)}")
        self.spec = spec
        self.state = str(state)
        for name, default in FIGURES.items():
            setattr(self, name, figures.get(name, default))
        if self.stop_price is None:
            self.stop_price = spec.stop_loss
        if self.target_price is None:
            self.target_price = spec.take_profit
        self.seen_exec_ids: set[str] = set()
        self.effects: list[Any] = []
        self.notify_kind: str | None = None
        self.notify_extra: dict[str, Any] = {}

    # Typed views of the figures set in __init__ (for readers and type checkers).
    quantity: int
    risk_amount: Decimal
    portfolio_risk_pct: Decimal
    filled_qty: int
    avg_entry_price: Decimal | None
    exited_qty: int
    avg_exit_price: Decimal | None
    realized_pnl: Decimal
    stop_price: Decimal
    confirmed_stop_price: Decimal | None
    target_price: Decimal
    protected_stop_qty: int
    protected_target_qty: int
    best_price: Decimal | None
    trail_active: bool
    entry_done: bool
    cancel_requested: bool
    flattening: bool
    exit_reason: str | None
    reason: str | None
    error_code: int | None
    updated_at: datetime | None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def open_qty(self) -> int:
        """Shares held now: entry fills minus exit fills."""
        return self.filled_qty - self.exited_qty

    def open_risk(self) -> Decimal:
        """Dollar risk this plan holds now: shares at risk × distance from entry to the stop.

        Shares at risk are the open position plus any entry remainder that may still fill. The
        stop is the looser of the one we want and the one IB last confirmed (a modification may
        be in flight or refused). Zero for plans not yet sized or already ended, and once the
        stop is at or past the entry.
        """
        if self.state in (State.PENDING, State.CLOSED, State.REJECTED, State.CANCELLED):
            return ZERO
        at_risk = max(self.open_qty, 0) + (0 if self.entry_done else max(self.quantity - self.filled_qty, 0))
        entry = self.avg_entry_price if self.avg_entry_price is not None else self.spec.entry_price
        stop = self.stop_price
        if self.confirmed_stop_price is not None and \
                (self.confirmed_stop_price - stop) * self.spec.side.sign < 0:
            stop = self.confirmed_stop_price  # IB still holds the looser stop: count that risk
        return max(ZERO, (entry - stop) * self.spec.side.sign) * at_risk

    def figures(self) -> dict[str, Any]:
        """The persisted figures as a dict (state excluded)."""
        return {name: getattr(self, name) for name in FIGURES}

    def snapshot(self) -> dict[str, Any]:
        """Everything mutable, for rolling back a failed step."""
        snap = self.figures()
        snap["state"] = self.state
        snap["seen_exec_ids"] = set(self.seen_exec_ids)
        return snap

    def restore(self, snap: dict[str, Any]) -> None:
        for name, value in snap.items():
            setattr(self, name, copy.copy(value))
        self.effects = []
        self.notify_kind = None
        self.notify_extra = {}

    def __repr__(self) -> str:
        return f"Plan({self.id!r}, state={self.state!r}, filled={self.filled_qty}, exited={self.exited_qty})"
