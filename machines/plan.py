"""The plan: what the trader asked for (PlanSpec) and what has happened so far (Plan).

``Plan`` is the model the shared transitions machine drives. It holds figures only; the
transition table and its callbacks live in ``table.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from .instruments import US_STOCK, Instrument, MarketRule, contract_key
from .rules import plan_risk
from .values import TERMINAL_STATES, EntryType, NotifyKind, RiskCategory, Side, State

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
    # exchange sessions, as written (``start = "open+5m"``); all absent on a plan written before
    # them, which keeps its spec_hash (the hash leaves these out at their defaults). The engine
    # resolves them on a session: ``start_at``/``expire_at`` hold the resolved UTC instants then.
    start: str | None = None
    expire: str | None = None
    flatten_at: str | None = None
    session_day: str | None = None
    on_closed_day: str | None = None
    outside_rth: bool = False
    tif: str | None = None
    flatten_due: datetime | None = None  # flatten_at resolved to UTC

    @property
    def trails(self) -> bool:
        return self.trail_distance is not None

    @property
    def uses_sessions(self) -> bool:
        """Whether the plan names any session field (so it is resolved on the market's sessions)."""
        return any(getattr(self, name) != default for name, default in SESSION_FIELDS.items())

    @property
    def instrument(self) -> Instrument:
        """The contract besides the symbol: a plain ``PlanSpec`` is a US stock on SMART in USD."""
        return US_STOCK


SESSION_FIELDS: dict[str, object] = {"start": None, "expire": None, "flatten_at": None, "session_day": None,
                                     "on_closed_day": None, "outside_rth": False, "tif": None, "flatten_due": None}
"""The spec's session fields and their defaults ("absent")."""


@dataclass(frozen=True, slots=True)
class InstrumentPlanSpec(PlanSpec):
    """A plan on any other instrument (a future, a stock in another currency or with a primary
    exchange). A class of its own so that a plain stock plan keeps exactly the fields, the stored
    columns and the serialized form (hence the ``spec_hash``) it had before instruments existed."""

    instrument: Instrument = field(default=US_STOCK)


def _figure(default: Any, doc: str) -> Any:
    """A persisted figure of the plan: the store keeps one column per figure."""
    return field(default=default, metadata={"figure": True, "doc": doc})


def _scratch(factory: Any) -> Any:
    """Per-process bookkeeping: not persisted, not an argument of ``Plan(...)``."""
    return field(default_factory=factory, init=False, repr=False, compare=False)


@dataclass(eq=False)
class Plan:
    """One trade plan: its spec, its current ``state`` and its figures.

    The figures are declared once, here, as the fields marked ``_figure``: ``FIGURES`` and the
    store's column codecs are derived from them. ``effects``, ``notify_kind`` and
    ``notify_extra`` collect the output of the step in progress; ``seen_exec_ids`` makes fills
    idempotent; ``version`` is the store's optimistic-lock counter (the last journal seq).
    """

    spec: PlanSpec
    state: str = State.PENDING
    quantity: int = _figure(0, "sized quantity of the entry")
    risk_amount: Decimal = _figure(ZERO, "dollar risk at sizing")
    portfolio_risk_pct: Decimal = _figure(ZERO, "total open risk % at sizing, this plan included")
    filled_qty: int = _figure(0, "entry shares filled")
    avg_entry_price: Decimal | None = _figure(None, "average entry fill price")
    exited_qty: int = _figure(0, "exit shares filled (stop, target, flatten)")
    avg_exit_price: Decimal | None = _figure(None, "average exit fill price")
    realized_pnl: Decimal = _figure(ZERO, "gross, before commissions")
    commissions: Decimal = _figure(ZERO, "commissions IB charged on the plan's fills")
    outside_qty: int = _figure(0, "shares that left the position outside the orchestrator (sold in TWS …)")
    sized_price: Decimal | None = _figure(None, "the price sizing used (the live price for a market entry)")
    entry_cap: Decimal | None = _figure(None, "a market entry's limit: the worst fill its risk budget allows")
    actual_risk: Decimal | None = _figure(None, "risk from the average fill price and the stop, once filled")
    stop_price: Decimal = _figure(None, "the stop we want working (moves when trailing)")
    confirmed_stop_price: Decimal | None = _figure(None, "the stop IB last confirmed")
    stop_sent_at: datetime | None = _figure(None, "when the wanted stop was last sent and not yet confirmed")
    stop_attempts: int = _figure(0, "sends of the wanted stop IB has not confirmed")
    target_price: Decimal = _figure(None, "the take-profit we want working")
    protected_stop_qty: int = _figure(0, "stop quantity IB last reported working")
    protected_target_qty: int = _figure(0, "target quantity IB last reported working")
    best_price: Decimal | None = _figure(None, "best price since the first entry fill (for trailing)")
    trail_active: bool = _figure(False, "the stop has been trailed at least once")
    entry_done: bool = _figure(False, "no more entry fills can come (fully filled or remainder gone)")
    cancel_requested: bool = _figure(False, "a cancel of the unfilled entry was asked for")
    flattening: bool = _figure(False, "an exit of the whole position is under way")
    exit_reason: str | None = _figure(None, "target | stop | trailing_stop | flatten")
    reason: str | None = _figure(None, "why the plan is rejected / cancelled / in error")
    error_code: int | None = _figure(None, "IB's error code behind the reason, if any")
    entry_unseen: bool = _figure(False, "in error because IB showed no trace of the entry sent (until it does)")
    updated_at: datetime | None = _figure(None, "the time of the last accepted event")
    multiplier: Decimal = _figure(Decimal(1), "the contract's multiplier (IB's contract details; a stock: 1)")
    fx_rate: Decimal | None = _figure(None, "base-currency units per unit of the contract's currency, at sizing")
    base_currency: str | None = _figure(None, "the account's base currency at sizing (None: not recorded)")
    price_rule: MarketRule | None = field(default=None, init=False, repr=False, compare=False)  # IB's market rule
    seen_exec_ids: set[str] = _scratch(set)
    seen_commission_ids: set[str] = _scratch(set)
    effects: list[Any] = _scratch(list)
    notify_kind: NotifyKind | None = field(default=None, init=False, repr=False, compare=False)
    notify_extra: dict[str, Any] = _scratch(dict)
    version: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.state = str(self.state)
        if self.stop_price is None:
            self.stop_price = self.spec.stop_loss
        if self.target_price is None:
            self.target_price = self.spec.take_profit

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def key(self) -> str:
        """The contract this plan trades, as the engine keys it (a US stock: its symbol)."""
        return contract_key(self.spec.symbol, self.spec.instrument)

    @property
    def money_factor(self) -> Decimal:
        """What one unit of price move of one contract is worth in base currency: multiplier × FX."""
        return self.multiplier * (self.fx_rate if self.fx_rate is not None else Decimal(1))

    @property
    def open_qty(self) -> int:
        """Shares held now: entry fills minus exit fills, less what left outside the orchestrator."""
        return self.filled_qty - self.exited_qty - self.outside_qty

    @property
    def net_pnl(self) -> Decimal:
        """Realized P&L less the commissions IB charged."""
        return self.realized_pnl - self.commissions

    def open_risk(self) -> Decimal:
        """Dollar risk this plan holds now: shares at risk × distance from entry to the stop.

        Shares at risk are the open position plus any entry remainder that may still fill. The
        stop is the looser of the one we want and the one IB last confirmed (a modification may
        be in flight or refused). Zero for plans not yet sized or already ended, and once the
        stop is at or past the entry.
        """
        if self.state == State.PENDING or self.state in TERMINAL_STATES:
            return ZERO
        at_risk = max(self.open_qty, 0) + (0 if self.entry_done else max(self.quantity - self.filled_qty, 0))
        entry = self.avg_entry_price if self.avg_entry_price is not None else self.spec.entry_price
        stop = self.stop_price
        if self.confirmed_stop_price is not None and \
                (self.confirmed_stop_price - stop) * self.spec.side.sign < 0:
            stop = self.confirmed_stop_price  # IB still holds the looser stop: count that risk
        return plan_risk(self.spec.side, entry, stop, at_risk) * self.money_factor

    def figures(self) -> dict[str, Any]:
        """The persisted figures as a dict (state excluded)."""
        return {name: getattr(self, name) for name in FIGURES}

    def snapshot(self) -> dict[str, Any]:
        """Everything mutable, for rolling back a failed step."""
        snap = self.figures()
        snap["state"] = self.state
        snap["seen_exec_ids"] = set(self.seen_exec_ids)
        snap["seen_commission_ids"] = set(self.seen_commission_ids)
        return snap

    def restore(self, snap: dict[str, Any]) -> None:
        for name, value in snap.items():
            setattr(self, name, copy.copy(value))
        self.effects = []
        self.notify_kind = None
        self.notify_extra = {}

    def __repr__(self) -> str:
        return f"Plan({self.id!r}, state={self.state!r}, filled={self.filled_qty}, exited={self.exited_qty})"


# The persisted figures with their defaults, derived from the fields above (the store maps
# each to a column).
FIGURES: dict[str, Any] = {f.name: f.default for f in fields(Plan) if f.metadata.get("figure")}
