"""Inputs to the plan machine. Frozen, each carrying the time it happened (UTC).

The shell translates IB callbacks, scheduled jobs and user commands into these; the machine
never sees an ib_async object. Each class maps to one trigger of the transition table
(``TRIGGER``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Union

from .values import Leg, RiskLimits


@dataclass(frozen=True, slots=True)
class Activate:
    """The plan's start time has come: size it against the account now.

    ``open_risk`` is the dollar risk of every *other* live plan (see rules.open_risk).
    """

    TRIGGER: ClassVar[str] = "activate"
    at: datetime
    account_value: Decimal
    available_funds: Decimal
    open_risk: Decimal
    limits: RiskLimits = RiskLimits()
    market_price: Decimal | None = None  # the live price a market entry is sized on (ask to buy, bid to sell)
    refused: str = ""  # why the plan cannot be sized at all (IB knows no such instrument …); empty: it can
    code: int = 0      # IB's error code behind ``refused`` (200: no security definition)
    # the contract, from IB's details (a US stock before instruments existed: 1, 1, no margin)
    multiplier: Decimal = Decimal(1)      # the contract's multiplier (ES: 50)
    fx_rate: Decimal = Decimal(1)         # base-currency units per unit of the contract's currency
    base_currency: str = ""               # the account's base currency ("": not known, a US account)
    margin_per_unit: Decimal | None = None  # a future: IB's what-if initial margin of one contract, base currency
    # the plan's prices on the contract's tick, rounded the conservative way (None: as written)
    entry_price: Decimal | None = None
    stop_price: Decimal | None = None
    target_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class EntryAccepted:
    """IB evidence (openOrder/orderStatus) that the entry order is working."""

    TRIGGER: ClassVar[str] = "entry_accepted"
    at: datetime
    order_id: int = 0
    perm_id: int = 0


@dataclass(frozen=True, slots=True)
class EntryRejected:
    """IB refused the entry (or the whole bracket) before anything filled."""

    TRIGGER: ClassVar[str] = "entry_rejected"
    at: datetime
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class EntryCancelled:
    """IB confirmed the entry order is cancelled (remainder, if partly filled)."""

    TRIGGER: ClassVar[str] = "entry_cancelled"
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EntryFilled:
    """One execution of the entry order. ``exec_id`` makes it idempotent."""

    TRIGGER: ClassVar[str] = "entry_filled"
    at: datetime
    exec_id: str
    quantity: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class ExitFilled:
    """One execution of an exit order (stop, target or flatten). ``theirs``: the order is another
    client's that carries the plan's orderRef (the trader's copy of its stop in TWS): IB's position
    report may already have taken its shares as gone outside (``outside_qty``)."""

    TRIGGER: ClassVar[str] = "exit_filled"
    at: datetime
    exec_id: str
    leg: Leg
    quantity: int
    price: Decimal
    theirs: bool = False


@dataclass(frozen=True, slots=True)
class ProtectionStatus:
    """What IB says is working to protect the position: remaining quantities and prices.

    Sent by the shell whenever a stop/target order status changes or reconciliation reads them.
    A leg with nothing working has quantity 0.
    """

    TRIGGER: ClassVar[str] = "protection_status"
    at: datetime
    stop_quantity: int
    target_quantity: int
    stop_price: Decimal | None = None
    target_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProtectionFailed:
    """A protective order was rejected or found gone at IB (verified, not a local guess)."""

    TRIGGER: ClassVar[str] = "protection_failed"
    at: datetime
    leg: Leg
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class PriceUpdate:
    """The last trade price, fed by the trailing job."""

    TRIGGER: ClassVar[str] = "price_update"
    at: datetime
    price: Decimal


@dataclass(frozen=True, slots=True)
class StopModified:
    """IB confirmed the stop order now carries ``stop_price``."""

    TRIGGER: ClassVar[str] = "stop_modified"
    at: datetime
    stop_price: Decimal


@dataclass(frozen=True, slots=True)
class StopModifyRejected:
    """IB refused a stop modification. ``stop_working`` says whether IB still shows the stop
    working (verified against open orders), which decides whether the plan stays protected."""

    TRIGGER: ClassVar[str] = "stop_modify_rejected"
    at: datetime
    code: int
    message: str
    stop_working: bool


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """The trader asked to cancel the plan (flatten if anything filled)."""

    TRIGGER: ClassVar[str] = "cancel"
    at: datetime
    reason: str = "cancelled by user"


@dataclass(frozen=True, slots=True)
class Expire:
    """The plan's ``expire_at`` has come: an unfilled entry is cancelled."""

    TRIGGER: ClassVar[str] = "expire"
    at: datetime


@dataclass(frozen=True, slots=True)
class FlattenFailed:
    """The emergency or requested flatten order could not be placed or was rejected."""

    TRIGGER: ClassVar[str] = "flatten_failed"
    at: datetime
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Unprotected:
    """Reconciliation found nothing at IB that could sell a plan in error's open position: no stop,
    take-profit or flatten of ours, no trader's exit (a flatten that waited was lost, a stop was
    cancelled in TWS)."""

    TRIGGER: ClassVar[str] = "unprotected"
    at: datetime


@dataclass(frozen=True, slots=True)
class PositionShortfall:
    """IB holds fewer shares than the plan believes it owns (``held`` of ``believed``, both in the
    plan's direction): the trader closed it in TWS, a stop filled while the orchestrator was away
    and the execution is not visible, another client traded it."""

    TRIGGER: ClassVar[str] = "shortfall"
    at: datetime
    held: int
    believed: int


@dataclass(frozen=True, slots=True)
class TraderExits:
    """Exit orders that are not the orchestrator's (the trader's own stop in TWS, another
    program's) could sell ``quantity`` of the plan's shares: two sets of exits would sell twice."""

    TRIGGER: ClassVar[str] = "trader_exits"
    at: datetime
    orders: str      # what they are, for the reason and the notification
    quantity: int


@dataclass(frozen=True, slots=True)
class TrailRetry:
    """The wanted stop was sent but IB has not confirmed it within the deadline (or refused it)."""

    TRIGGER: ClassVar[str] = "trail_retry"
    at: datetime
    max_attempts: int = 5


@dataclass(frozen=True, slots=True)
class CommissionCharged:
    """IB's commission report for one execution of the plan's orders, in ``currency`` (IB charges
    in the contract's currency; None: the account's base currency, as in journals before it was
    recorded)."""

    TRIGGER: ClassVar[str] = "commission"
    at: datetime
    exec_id: str
    amount: Decimal
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """New entries in the plan's symbol are held (``reason``), or no longer (``reason`` None):
    a pending plan says why it waits."""

    TRIGGER: ClassVar[str] = "hold"
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Adopt:
    """The store lost this plan's history and the trader asked to take it over from IB's
    evidence (``run --adopt-existing``). ``quantity`` is the entry's size at IB; ``entry_qty`` and
    ``exit_qty`` (at their average prices) are fills IB's orders show that no execution visible
    today covers — the visible ones are applied as ordinary fills afterwards."""

    TRIGGER: ClassVar[str] = "adopt"
    at: datetime
    quantity: int
    entry_qty: int = 0
    entry_price: Decimal | None = None
    exit_qty: int = 0
    exit_price: Decimal | None = None
    entry_done: bool = False   # IB shows no entry order that can still fill


@dataclass(frozen=True, slots=True)
class EntryUnseen:
    """The entry was sent but IB shows no trace of it (open orders, completed orders, the day's
    executions). It is not sent again; if IB shows it later after all, the plan carries on."""

    TRIGGER: ClassVar[str] = "entry_unseen"
    at: datetime


@dataclass(frozen=True, slots=True)
class SizedAgain:
    """The entry was sized but never sent (a crash or a lost connection came between): the plan
    goes back to pending and is sized again on the account and the live price as they are when
    it can be sent, through every check of activation (the entry gate, a pause, maintenance)."""

    TRIGGER: ClassVar[str] = "sized_again"
    at: datetime
    why: str


@dataclass(frozen=True, slots=True)
class EntryRefused:
    """The shell did not send a sized entry: the live price had already run past the market
    entry's price cap when it was about to go out. The plan is refused, as a market entry too far
    from its ``entry_price`` is at activation."""

    TRIGGER: ClassVar[str] = "entry_refused"
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Fault:
    """Something a human must look at (e.g. reconciliation found a position it cannot explain)."""

    TRIGGER: ClassVar[str] = "fault"
    at: datetime
    reason: str


Event = Union[
    Activate,
    EntryAccepted,
    EntryRejected,
    EntryCancelled,
    EntryFilled,
    ExitFilled,
    ProtectionStatus,
    ProtectionFailed,
    PriceUpdate,
    StopModified,
    StopModifyRejected,
    CancelRequested,
    Expire,
    FlattenFailed,
    Unprotected,
    PositionShortfall,
    TraderExits,
    TrailRetry,
    CommissionCharged,
    Hold,
    Adopt,
    EntryUnseen,
    SizedAgain,
    EntryRefused,
    Fault,
]

EVENT_TYPES: tuple[type[Any], ...] = Event.__args__  # type: ignore[attr-defined]
EVENT_BY_TRIGGER: dict[str, type[Any]] = {cls.TRIGGER: cls for cls in EVENT_TYPES}
