"""Order, execution and request records of the simulated gateway (no I/O)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from .contracts import ContractSpec

# IB order status strings.  HELD is internal: a transmit=0 order the gateway
# keeps without telling anyone, like TWS does, until its group is transmitted.
HELD = "Held"
PRE_SUBMITTED = "PreSubmitted"
SUBMITTED = "Submitted"
PENDING_CANCEL = "PendingCancel"
FILLED = "Filled"
CANCELLED = "Cancelled"
INACTIVE = "Inactive"
DONE_STATES = frozenset({FILLED, CANCELLED, INACTIVE})
LIVE_STATES = frozenset({PRE_SUBMITTED, SUBMITTED})

ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT", "TRAIL"})
STOP_TYPES = frozenset({"STP", "STP LMT", "TRAIL"})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """The fields of a client's placeOrder message that the gateway uses. ``contract`` is the
    whole contract description when it came off the wire; else it is built from the fields here."""

    order_id: int
    con_id: int
    symbol: str
    action: str
    quantity: float
    order_type: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = ""
    oca_group: str = ""
    oca_type: int = 0
    account: str = ""
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    trail_stop_price: float | None = None
    trailing_percent: float | None = None
    what_if: bool = False
    contract: ContractSpec | None = None
    good_till: str = ""    # goodTillDate as sent (tif GTD)

    def spec(self) -> ContractSpec:
        """The contract description the order names."""
        if self.contract is not None:
            return self.contract
        return ContractSpec(self.con_id, self.symbol, self.sec_type, self.exchange, currency=self.currency)


@dataclass(slots=True)
class SimOrder:
    """Broker truth for one order, keyed by ``(client_id, order_id)``.

    ``total_qty`` is the quantity reported to clients; ``requested_qty`` is what
    the client asked for (they differ only for bracket children, whose
    quantity follows the parent's fills).
    """

    client_id: int
    order_id: int
    perm_id: int
    symbol: str
    con_id: int
    action: str
    total_qty: float
    order_type: str
    requested_qty: float = 0.0
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = "DAY"
    oca_group: str = ""
    oca_type: int = 0
    account: str = ""
    order_ref: str = ""
    parent_id: int = 0
    parent_perm_id: int = 0
    outside_rth: bool = False
    trail_stop_price: float | None = None
    trailing_percent: float | None = None
    good_till: datetime | None = None   # tif GTD: IB cancels the order then
    status: str = HELD
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    commission_paid: float = 0.0
    triggered: bool = False
    extreme_price: float | None = None  # TRAIL: best price seen since activation
    completed_time: datetime | None = None
    reason: str = ""
    original_order_id: int = 0  # the id it was placed with (differs after a restart)
    preset_tif: bool = False  # sent with no TIF: IB's preset (DAY) applied, with warning 10349

    @property
    def remaining(self) -> float:
        return max(0.0, self.total_qty - self.filled)

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATES

    @property
    def is_buy(self) -> bool:
        return self.action == "BUY"

    @property
    def key(self) -> tuple[int, int]:
        return (self.client_id, self.order_id)

    @property
    def reported_status(self) -> str:
        """The status string clients see: a working stop that has not triggered is
        PreSubmitted (IB simulates stops), a held order PendingSubmit (HELD is never sent)."""
        if self.status == SUBMITTED and self.order_type in STOP_TYPES and not self.triggered:
            return PRE_SUBMITTED
        return "PendingSubmit" if self.status == HELD else self.status

    def snapshot(self) -> SimOrder:
        """An independent copy, safe to hand to tests and listeners."""
        return copy.copy(self)

    def to_json(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "order_id": self.order_id,
            "perm_id": self.perm_id,
            "symbol": self.symbol,
            "action": self.action,
            "order_type": self.order_type,
            "quantity": self.total_qty,
            "lmt_price": self.lmt_price,
            "aux_price": self.aux_price,
            "trail_stop_price": self.trail_stop_price,
            "trailing_percent": self.trailing_percent,
            "tif": self.tif,
            "outside_rth": self.outside_rth,
            "oca_group": self.oca_group,
            "oca_type": self.oca_type,
            "order_ref": self.order_ref,
            "parent_id": self.parent_id,
            "original_order_id": self.original_order_id,
            "status": "PendingSubmit" if self.status == HELD else self.status,  # the book's: Submitted = working
            "wire_status": self.reported_status,  # what the owner is told (PreSubmitted for a waiting stop)
            "filled": self.filled,
            "remaining": self.remaining,
            "avg_fill_price": self.avg_fill_price,
        }


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill.  ``exec_id`` is unique and never changes."""

    exec_id: str
    client_id: int
    order_id: int
    perm_id: int
    symbol: str
    con_id: int
    side: str  # BOT / SLD
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    order_ref: str
    time: datetime
    commission: float
    realized_pnl: float | None
    account: str
    venue: str = "ISLAND"

    def to_json(self) -> dict[str, object]:
        return {
            "exec_id": self.exec_id,
            "client_id": self.client_id,
            "order_id": self.order_id,
            "perm_id": self.perm_id,
            "symbol": self.symbol,
            "side": self.side,
            "shares": self.shares,
            "price": self.price,
            "cum_qty": self.cum_qty,
            "avg_price": self.avg_price,
            "order_ref": self.order_ref,
            "time": self.time.isoformat(),
            "commission": self.commission,
            "realized_pnl": self.realized_pnl,
        }


# ---------------------------------------------------------------- book events
# The book reports what happened through these events; the server turns them
# into wire messages for the owning client, the journal into JSON lines.
#
# ``wire`` lists the messages for the owner, in order:
#   "open" openOrder, "status" orderStatus, "exec" execDetails,
#   "commission" commissionReport, "error" error(order_id, code, text).


@dataclass(frozen=True, slots=True)
class OrderEvent:
    kind: str  # journal event name ("" = wire only)
    client_id: int
    order_id: int
    order: SimOrder | None
    wire: tuple[str, ...] = ()
    execution: Execution | None = None
    code: int = 0
    text: str = ""
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PortfolioEvent:
    """A fill changed the position of ``symbol`` (push position/portfolio/account); ``late``: with
    the executions the exec-delay fault holds back."""

    symbol: str
    late: bool = False
