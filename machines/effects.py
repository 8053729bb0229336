"""Outputs of the plan machine: what the shell must do after committing the step.

Effects are declarative and idempotent by design: carrying one out twice (after a crash between
the commit and the broker call) must not duplicate anything at the broker. The shell guarantees
that with orderRefs and by checking broker state first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union

from .values import EntryType, NotifyKind, Side


@dataclass(frozen=True, slots=True)
class PlaceBracket:
    """Send the entry with its stop-loss and take-profit as one IB bracket (OCA children).

    A market entry goes out as a marketable limit at ``cap`` (``machines.entrycap``); a market
    entry without one (an effect stored before entries were capped) is not sent as it was."""

    plan_id: str
    symbol: str
    side: Side
    quantity: int
    entry_type: EntryType
    entry_price: Decimal
    stop_price: Decimal
    target_price: Decimal
    cap: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Protect:
    """Make the working stop and target cover exactly ``quantity`` shares: resize the existing
    orders in place, or place them (one OCA group) if IB has none working. With ``grow`` false
    nothing new is placed and nothing grows: exits beyond ``quantity`` are only cut down."""

    plan_id: str
    symbol: str
    side: Side
    quantity: int
    stop_price: Decimal
    target_price: Decimal
    grow: bool = True
    stop_only: bool = False


@dataclass(frozen=True, slots=True)
class ModifyStop:
    """Move the existing stop order to ``stop_price`` in place (same orderId)."""

    plan_id: str
    stop_price: Decimal
    quantity: int


@dataclass(frozen=True, slots=True)
class CancelEntry:
    """Cancel the (remainder of the) entry order."""

    plan_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Flatten:
    """Close ``quantity`` shares now, and cancel any entry remainder.

    With a ``price`` (the plan's stop when the effect was made) the exit may go through the
    plan's own take-profit: while IB reports a stop working for the position, the take-profit's
    limit is moved to that stop's price as IB has it, which makes it marketable; take-profit and
    stop stay one OCA group at IB, so whichever executes first shrinks the other and the
    position can never be sold twice (a separate market order racing the stop could both
    execute, reversing the position: chaos finding flatten-overfill). With no working stop or
    take-profit, or with ``price`` None, a market order inside the plan's OCA group closes it.
    """

    plan_id: str
    symbol: str
    side: Side
    quantity: int
    reason: str
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelExits:
    """The position is gone: make sure no stop/target/entry of this plan is left working."""

    plan_id: str


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell the trader. ``kind`` selects the message format; ``facts`` carries the figures."""

    plan_id: str
    kind: NotifyKind
    from_state: str
    to_state: str
    facts: dict[str, Any] = field(default_factory=dict)


Effect = Union[PlaceBracket, Protect, ModifyStop, CancelEntry, Flatten, CancelExits, Notify]
EFFECT_TYPES: tuple[type[Any], ...] = Effect.__args__  # type: ignore[attr-defined]
