"""The broker port: what the engine needs from IB, in the project's own types.

The engine and its executor see IB only through :class:`Broker` and the values below; the
ib_async adapter (``broker/ib.py``) implements it, and tests may put a fake behind it. Broker
truth is read, never assumed: every view is what IB last reported.

IB's order-status strings are spelled here and nowhere else (:class:`OrderState`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from machines import Event, Leg

from ..contractinfo import ContractDetails


class OrderState(StrEnum):
    """An order's status as IB (or ib_async, for ``WARNED``) reports it."""

    PENDING_SUBMIT = "PendingSubmit"
    API_PENDING = "ApiPending"
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    PENDING_CANCEL = "PendingCancel"
    API_CANCELLED = "ApiCancelled"
    CANCELLED = "Cancelled"
    FILLED = "Filled"
    INACTIVE = "Inactive"
    # ib_async's status for a live order IB sent a warning about (e.g. 399 outside regular
    # hours): the order is still working at IB, so it still protects.
    WARNED = "ValidationError"
    UNKNOWN = ""

    @classmethod
    def of(cls, status: str) -> OrderState:
        try:
            return cls(status)
        except ValueError:
            return cls.UNKNOWN

    @property
    def working(self) -> bool:
        """IB has accepted the order and it can still execute (stops wait in PreSubmitted)."""
        return self in (OrderState.PRE_SUBMITTED, OrderState.SUBMITTED)

    @property
    def protecting(self) -> bool:
        """Working, or working with a warning."""
        return self.working or self is OrderState.WARNED

    @property
    def done(self) -> bool:
        """It can never execute again."""
        return self in (OrderState.FILLED, OrderState.CANCELLED, OrderState.API_CANCELLED, OrderState.INACTIVE)

    @property
    def cancelled(self) -> bool:
        return self in (OrderState.CANCELLED, OrderState.API_CANCELLED)


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """One of our orders as IB last reported it (found by its orderRef ``plan:leg[:attempt]``)."""

    ref: str
    plan_id: str
    leg: Leg
    attempt: int
    order_id: int
    perm_id: int
    client_id: int
    action: str                  # BUY | SELL
    order_type: str              # MKT | LMT | STP
    total: int                   # totalQuantity
    filled: int
    remaining: int
    limit_price: Decimal | None
    stop_price: Decimal | None
    parent_id: int
    oca_group: str
    tif: str
    state: OrderState
    error_code: int = 0          # IB's code of the newest status, if an error caused it
    error_message: str = ""
    was_working: bool = False    # IB had accepted it before its newest status
    why_held: str = ""
    avg_fill_price: Decimal | None = None
    handle: Any = field(default=None, compare=False, repr=False)  # the adapter's own object

    @property
    def open_quantity(self) -> int:
        """What is left to execute: the total less what has filled."""
        return self.total - self.filled


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution of one of our orders."""

    exec_id: str
    ref: str
    plan_id: str
    leg: Leg
    quantity: int
    price: Decimal
    at: datetime
    order_id: int = 0
    commission: Decimal | None = None  # IB's commission report for it, once it came
    commission_currency: str | None = None  # the currency IB charged it in (the contract's)
    client_id: int | None = None       # the client whose order it executed (None: IB did not say)


@dataclass(frozen=True, slots=True)
class Quote:
    """The last prices IB sent for a symbol (None: not known), where they come from (``live``,
    ``delayed``, ``frozen``; None before any data), how old they are (seconds), and IB's refusal
    of the symbol's data if it sent one."""

    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    source: str | None = None
    age: float | None = None
    problem: str | None = None

    def to_trade(self, buying: bool) -> Decimal | None:
        """What a market order would pay (buying: the ask) or get (the bid); else the last trade."""
        return (self.ask if buying else self.bid) or self.last


@dataclass(frozen=True, slots=True)
class Held:
    """IB's position in a symbol (signed), and whether it is settled: IB reported it after every
    fill of ours in that symbol that this session has seen (a report can lag a fill by moments)."""

    quantity: int
    settled: bool


@dataclass(frozen=True, slots=True)
class ForeignOrder:
    """A working order at IB that is none of ours (the trader's in TWS, another program's):
    never touched, but counted when it could sell (or buy back) the shares our plans hold."""

    symbol: str
    action: str                  # BUY | SELL
    order_type: str              # LMT | STP | STP LMT | TRAIL ...
    remaining: int
    client_id: int
    order_id: int
    perm_id: int
    limit_price: Decimal | None
    stop_price: Decimal | None
    parent_id: int = 0
    oca_group: str = ""

    @property
    def is_stop(self) -> bool:
        """Triggered by a price moving against a position (a stop, a trailing stop)."""
        return self.order_type.startswith(("STP", "TRAIL"))

    def exclusive_with(self) -> tuple[Any, ...]:
        """Orders with the same key cancel each other when one fills (one OCA group, or the
        children of one bracket): only one of them can sell. Any other two can both fill."""
        if self.oca_group:
            return ("oca", self.client_id, self.oca_group)
        if self.parent_id:
            return ("bracket", self.client_id, self.parent_id)
        return ("order", self.client_id, self.order_id, self.perm_id)

    def describe(self) -> str:
        price = self.stop_price if self.is_stop else self.limit_price
        at = f" @ {price}" if price is not None else ""
        return f"order {self.order_id} of client {self.client_id}: {self.action} {self.remaining} {self.order_type}{at}"


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    """Broker truth read in one go: open and completed orders, today's fills, positions, and the
    working orders that are not ours."""

    open_orders: list[BrokerOrder] = field(default_factory=list)
    completed_orders: list[BrokerOrder] = field(default_factory=list)
    fills: list[BrokerFill] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    foreign_orders: list[ForeignOrder] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to send: the adapter turns it into IB's order object."""

    order_id: int
    ref: str
    action: str
    quantity: int
    order_type: str                  # MKT | LMT | STP
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    parent_id: int = 0
    oca_group: str = ""
    transmit: bool = True
    tif: str = "GTC"
    good_till: datetime | None = None   # tif GTD: when IB cancels the order
    outside_rth: bool = False


# ----------------------------------------------------------------- what the broker tells the engine
@dataclass(frozen=True, slots=True)
class PlanEvent:
    """A machine event for one plan, from IB's evidence."""

    plan_id: str
    event: Event


@dataclass(frozen=True, slots=True)
class Verify:
    """Not an event: a local status cannot be trusted; the engine asks IB what is true."""

    plan_id: str
    leg: Leg
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class ProtectionMayHaveChanged:
    """One of the plan's orders changed at IB: the engine re-derives its protection."""

    plan_id: str


@dataclass(frozen=True, slots=True)
class PositionMoved:
    """IB reported a position in ``symbol``: the plans on it are checked against what IB holds."""

    symbol: str


@dataclass(frozen=True, slots=True)
class BrokerNotice:
    """Connection-level news (not a plan event)."""

    kind: str  # connected | disconnected | connectivity_lost | connectivity_restored
    code: int = 0
    message: str = ""


BrokerItem = PlanEvent | Verify | ProtectionMayHaveChanged | PositionMoved | BrokerNotice
Sink = Callable[[BrokerItem], None]


class OrderGone(Exception):
    """A modification was refused locally: the adapter already knows the order is done."""


class Broker(Protocol):
    """IB as the engine uses it. Every call that sends raises ``BrokerUnavailable`` (or
    ``ConnectionError``) when not connected; contract lookups raise ``UnknownContract``."""

    @property
    def account(self) -> str: ...

    client_id: int  # this connection's client id: only its own orders can be modified or cancelled

    def is_connected(self) -> bool: ...

    async def connect_with_retry(self) -> None: ...

    async def close(self) -> None: ...

    async def qualify(self, symbol: str) -> ContractDetails:
        """Look the contract (a ``machines.contract_key``) up with IB (cached): placing and market
        data need it first; IB's details of it. Raises UnknownContract, BrokerUnavailable."""

    def remember(self, key: str, con_id: int) -> None:
        """A contract qualified in an earlier session: IB's reports of ``con_id`` are ``key``'s."""

    async def margin_per_unit(self, key: str, action: str) -> Decimal | None:
        """IB's what-if initial margin of one unit, in base currency (None: IB gave none)."""

    def next_order_id(self) -> int: ...

    async def place_group(self, symbol: str, orders: list[OrderRequest]) -> None:
        """Send several orders so that IB gets all of them or none."""

    def place(self, symbol: str, order: OrderRequest) -> None:
        """Send one order (the contract must have been qualified)."""

    def modify(self, order: BrokerOrder, *, parent_filled: bool, quantity: int | None = None,
               limit_price: Decimal | None = None, stop_price: Decimal | None = None,
               urgency: float | None = None) -> None:
        """Change a working order in place (same orderId). Raises OrderGone.

        ``urgency`` None: an exit's change, sent before anything else waiting. A number: a
        trailing stop move, sent after exits, entries and other requests when IB's pacing limit
        makes requests wait, the smallest urgency first; it replaces a move of the same order
        still waiting."""

    def cancel(self, order: BrokerOrder) -> None: ...

    def last_sent(self, plan_id: str) -> datetime | None:
        """When the newest request for the plan left for IB: now while one still waits for
        pacing room; None if this session sent none."""

    def orders_of(self, plan_id: str) -> list[BrokerOrder]:
        """Every order of the plan this session knows, oldest first."""

    def fills_of(self, plan_id: str) -> list[BrokerFill]:
        """Every execution of the plan's orders this session has seen."""

    async def snapshot(self) -> BrokerSnapshot: ...

    async def subscribe(self, symbol: str) -> None: ...

    def forget_market_data(self) -> None: ...

    def last_price(self, symbol: str) -> Decimal | None: ...

    def quote(self, symbol: str) -> Quote: ...

    def market_data(self) -> dict[str, str]:
        """Per subscribed symbol: ``live``, ``delayed``, ``frozen`` or ``none``."""
        ...

    def held(self, symbol: str) -> Held: ...

    def account_value(self, tag: str) -> Decimal | None:
        """``tag`` in the account's base currency."""

    def base_currency(self) -> str | None: ...

    def exchange_rates(self) -> dict[str, Decimal]:
        """Base units per unit of each currency: IB's ExchangeRate values, and for a currency the
        account has no row for, the rate :meth:`quote_rate` last read from its pair's quote."""

    async def quote_rate(self, currency: str) -> None:
        """Read ``currency``'s rate from a quote of its pair now, unless the account reports one
        (no usable quote: no rate). Raises BrokerUnavailable when IB cannot be asked."""
