"""A broker behind the port for the few unit tests that need one: it holds ``BrokerOrder`` views
and records every request, and sends nothing anywhere. Everything else runs the real ib_async
adapter over TCP against the simulated gateway."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from machines import Leg, parse_order_ref
from orchestrator.broker.port import (
    Broker,
    BrokerFill,
    BrokerOrder,
    BrokerSnapshot,
    Held,
    OrderRequest,
    OrderState,
    Quote,
)
from orchestrator.contractinfo import ContractDetails
from orchestrator.errors import BrokerUnavailable


def order(ref: str, order_type: str, state: str, total: int, filled: int = 0, *, parent_id: int = 0,
          stop: float | None = None, limit: float | None = None, action: str = "SELL",
          order_id: int = 0) -> BrokerOrder:
    """A view of one of our orders as IB would report it."""
    parsed = parse_order_ref(ref)
    assert parsed is not None, ref
    return BrokerOrder(ref=ref, plan_id=parsed[0], leg=parsed[1], attempt=parsed[2], order_id=order_id or len(ref),
                       perm_id=0, client_id=7, action=action, order_type=order_type, total=total, filled=filled,
                       remaining=total - filled, limit_price=None if limit is None else Decimal(str(limit)),
                       stop_price=None if stop is None else Decimal(str(stop)), parent_id=parent_id, oca_group="",
                       tif="GTC", state=OrderState(state))


@dataclass
class Modified:
    order: BrokerOrder
    parent_filled: bool
    quantity: int | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    urgency: float | None = None


@dataclass
class FakeBroker:
    orders: list[BrokerOrder] = field(default_factory=list)
    connected: bool = True
    placed: list[OrderRequest] = field(default_factory=list)
    modified: list[Modified] = field(default_factory=list)
    cancelled: list[BrokerOrder] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)   # settled positions IB reports
    quotes: dict[str, Quote] = field(default_factory=dict)     # the last prices IB sent, per symbol
    account: str = "DU1234567"
    client_id: int = 7
    _next_id: int = 100

    def is_connected(self) -> bool:
        return self.connected

    async def connect_with_retry(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def qualify(self, symbol: str) -> ContractDetails:
        if not self.connected:
            raise BrokerUnavailable("not connected")
        return ContractDetails(con_id=1, symbol=symbol, sec_type="STK", exchange="SMART", currency="USD")

    def remember(self, key: str, con_id: int) -> None:
        return None

    async def margin_per_unit(self, key: str, action: str) -> Decimal | None:
        return None

    def base_currency(self) -> str | None:
        return "USD"

    def exchange_rates(self) -> dict[str, Decimal]:
        return {}

    async def quote_rate(self, currency: str) -> None:
        return None

    def next_order_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def place_group(self, symbol: str, orders: list[OrderRequest]) -> None:
        self.placed.extend(orders)

    def place(self, symbol: str, order: OrderRequest) -> None:
        self.placed.append(order)

    def modify(self, order: BrokerOrder, *, parent_filled: bool, quantity: int | None = None,
               limit_price: Decimal | None = None, stop_price: Decimal | None = None,
               urgency: float | None = None) -> None:
        self.modified.append(Modified(order, parent_filled, quantity, limit_price, stop_price, urgency))

    def cancel(self, order: BrokerOrder) -> None:
        self.cancelled.append(order)

    def last_sent(self, plan_id: str) -> datetime | None:
        return None

    def orders_of(self, plan_id: str) -> list[BrokerOrder]:
        return [o for o in self.orders if o.plan_id == plan_id]

    def fills_of(self, plan_id: str) -> list[BrokerFill]:
        return []

    async def snapshot(self) -> BrokerSnapshot:
        return BrokerSnapshot(open_orders=[o for o in self.orders if not o.state.done])

    async def subscribe(self, symbol: str) -> None:
        return None

    def forget_market_data(self) -> None:
        return None

    def last_price(self, symbol: str) -> Decimal | None:
        return None

    def quote(self, symbol: str) -> Quote:
        return self.quotes.get(symbol, Quote())

    def market_data(self) -> dict[str, str]:
        return {}

    def held(self, symbol: str) -> Held:
        return Held(self.positions.get(symbol, 0), settled=symbol in self.positions)

    def account_value(self, tag: str) -> Decimal | None:
        return None

    def update(self, ref: str, **changes: Any) -> None:
        """IB reported something new about the order ``ref`` (its echo of a modification, a cancel)."""
        self.orders = [dataclasses.replace(o, **changes) if o.ref == ref else o for o in self.orders]


def _conforms(broker: FakeBroker) -> Broker:
    return broker  # mypy checks that the fake implements the port


__all__ = ["FakeBroker", "Leg", "Modified", "order"]
