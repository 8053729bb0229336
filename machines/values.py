"""Value types of the pure core: states, sides, legs, and Decimal price helpers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

US_STOCK_TICK = Decimal("0.01")


class State(StrEnum):
    """The states of a plan. Terminal: closed, rejected, cancelled; error waits for a human."""

    PENDING = "pending"
    SIZED = "sized"
    SUBMITTED = "submitted"
    FILLED = "filled"
    PROTECTED = "protected"
    TRAILING = "trailing"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ERROR = "error"


TERMINAL_STATES = frozenset({State.CLOSED, State.REJECTED, State.CANCELLED})
LIVE_STATES = frozenset(State) - TERMINAL_STATES
# ordered tuples: membership tests, and a stable order where the table lists them as row sources
LIVE_POSITION = (State.FILLED, State.PROTECTED, State.TRAILING)  # shares may be held
UNFILLED_WORKING = (State.SIZED, State.SUBMITTED)  # an entry may be working, nothing filled yet


class NotifyKind(StrEnum):
    """Every kind of notification: those a plan's transitions produce, then those the shell
    sends on its own (the formatter has one format for each)."""

    SIZED = "sized"
    SUBMITTED = "submitted"
    FILLED = "filled"
    PROTECTED = "protected"
    TRAILING = "trailing"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    FLATTENED = "flattened"
    PARTIAL_EXIT = "partial_exit"
    CANCELLED = "cancelled"
    CANCEL_REQUESTED = "cancel_requested"
    FLATTEN_REQUESTED = "flatten_requested"
    EXPIRED_REMAINDER = "expired_remainder"
    ENTRY_REMAINDER_CANCELLED = "entry_remainder_cancelled"
    REJECTED = "rejected"
    ERROR = "error"
    PROTECTION_FAILED = "protection_failed"
    PROTECTION_LOST = "protection_lost"
    MODIFY_REJECTED = "modify_rejected"
    LATE_FILL = "late_fill"
    ADOPTED = "adopted"
    CLOSED_OUTSIDE = "closed_outside"
    POSITION_CHANGED = "position_changed"
    EXCESS_PROTECTION = "excess_protection"
    YIELDED_TO_TRADER = "yielded_to_trader"
    ENTRY_FOUND = "entry_found"
    SIZED_AGAIN = "sized_again"
    TRAIL_STUCK = "trail_stuck"
    # notices of the shell, not of a transition
    PLAN_FILE_INVALID = "plan_file_invalid"
    PLAN_CONFLICT = "plan_conflict"
    UNEXPLAINED_POSITION = "unexplained_position"
    POSITION_EXPLAINED = "position_explained"
    FOREIGN_POSITIONS = "foreign_positions"
    MARKET_DATA_LOST = "market_data_lost"
    MARKET_DATA_RESTORED = "market_data_restored"
    MARKET_DATA_DELAYED = "market_data_delayed"
    MAINTENANCE_DISCONNECT = "maintenance_disconnect"
    DAEMON_STARTED = "daemon_started"
    DAEMON_STOPPED = "daemon_stopped"
    START_REFUSED = "start_refused"
    CONNECTION_LOST = "connection_lost"
    CONNECTION_RESTORED = "connection_restored"
    PACING_SLOWED = "pacing_slowed"
    ENTRIES_PAUSED = "entries_paused"
    ENTRIES_RESUMED = "entries_resumed"
    PLAN_FILES_MISSING = "plan_files_missing"
    PLAN_SKIPPED = "plan_skipped"
    HOURS_DISAGREE = "hours_disagree"
    HOURS_UNKNOWN = "hours_unknown"


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for long, -1 for short: profit per share = sign * (exit - entry)."""
        return 1 if self is Side.LONG else -1

    @property
    def entry_action(self) -> str:
        return "BUY" if self is Side.LONG else "SELL"

    @property
    def exit_action(self) -> str:
        return "SELL" if self is Side.LONG else "BUY"


class EntryType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class RiskCategory(StrEnum):
    SMALL = "small"
    NORMAL = "normal"
    LARGE = "large"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Risk settings in percent of account value."""

    small_pct: Decimal = Decimal(1)
    normal_pct: Decimal = Decimal(2)
    large_pct: Decimal = Decimal(3)
    max_portfolio_risk_pct: Decimal = Decimal(10)
    # a market entry (or a stop entry already triggered) is refused when the live price is further
    # than this many R (|entry_price − stop|) from the plan's entry_price
    entry_tolerance_r: Decimal = Decimal("0.5")

    def pct_for(self, category: str) -> Decimal:
        return {"small": self.small_pct, "normal": self.normal_pct, "large": self.large_pct}[category]


class Leg(StrEnum):
    """Which order of a plan an order or fill belongs to; part of orderRef."""

    ENTRY = "entry"
    STOP = "stop"
    TARGET = "target"
    FLATTEN = "flatten"


def round_to_tick(price: Decimal, tick: Decimal = US_STOCK_TICK, mode: str = "nearest") -> Decimal:
    """Round a price to a multiple of ``tick``.

    Args:
        price: the price to round.
        tick: the minimum price increment (0.01 for US stocks).
        mode: ``"nearest"`` (half-even), ``"down"`` (floor) or ``"up"`` (ceiling).
    """
    rounding = {"nearest": ROUND_HALF_EVEN, "down": ROUND_FLOOR, "up": ROUND_CEILING}[mode]
    steps = (price / tick).to_integral_value(rounding=rounding)
    return (steps * tick).quantize(tick)


def order_ref(plan_id: str, leg: Leg | str, attempt: int = 1) -> str:
    """The orderRef every order of ours carries: ``<plan_id>:<leg>`` plus ``:<n>`` for re-sends."""
    base = f"{plan_id}:{Leg(leg).value}"
    return base if attempt == 1 else f"{base}:{attempt}"


def parse_order_ref(ref: str) -> tuple[str, Leg, int] | None:
    """Inverse of :func:`order_ref`; None for a ref that is not ours."""
    parts = ref.rsplit(":", 2)
    try:
        if len(parts) == 3 and parts[2].isdigit():
            return parts[0], Leg(parts[1]), int(parts[2])
        head, leg = ref.rsplit(":", 1)
        return head, Leg(leg), 1
    except ValueError:
        return None
