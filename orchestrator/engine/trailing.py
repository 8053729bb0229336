"""The trailing job: feeds each trailing plan the last price; the machine decides the stop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import machines
from machines import LIVE_POSITION

from ..broker.port import Broker
from ..clock import Clock
from .registry import PlanRegistry

Apply = Callable[[str, Any], Awaitable[bool]]


class Trailing:
    def __init__(self, registry: PlanRegistry, broker: Broker, clock: Clock, apply: Apply) -> None:
        self.registry = registry
        self.broker = broker
        self.clock = clock
        self.apply = apply
        self._last_price: dict[str, Decimal] = {}

    async def tick(self) -> None:
        """One price per trailing plan with a position, when it changed since the last tick."""
        for plan in self.registry.live():
            if plan.state not in LIVE_POSITION or not plan.spec.trails:
                continue
            price = self.broker.last_price(plan.spec.symbol)
            if price is None or self._last_price.get(plan.id) == price:
                continue
            self._last_price[plan.id] = price
            await self.apply(plan.id, machines.PriceUpdate(self.clock.now(), price))
