"""The trailing job: feeds each trailing plan the last price it may act on (``marketwatch``: there,
fresh, live unless delayed is allowed; the machine decides the stop), and
sends again a stop IB has not confirmed within ``confirm_seconds`` (or refused): the plan keeps
the stop IB confirmed apart from the one it wants, and says so after ``max_attempts`` sends."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import machines
from machines import LIVE_POSITION, Plan

from ..clock import Clock
from .marketwatch import MarketWatch
from .registry import PlanRegistry

Apply = Callable[[str, Any], Awaitable[bool]]


class Trailing:
    def __init__(self, registry: PlanRegistry, market: MarketWatch, clock: Clock, apply: Apply, *,
                 confirm_seconds: float = 5.0, max_attempts: int = 5, reconciled: asyncio.Event | None = None) -> None:
        self.registry = registry
        self.market = market
        self.clock = clock
        self.apply = apply
        self.confirm_seconds = confirm_seconds
        self.max_attempts = max_attempts
        self.reconciled = reconciled  # trailing waits for a reconciled connection (not during IB's 1100)
        self._last_price: dict[str, Decimal] = {}

    async def tick(self) -> None:
        """One price per trailing plan with a position, when it changed since the last tick."""
        if self.reconciled is not None and not self.reconciled.is_set():
            return
        for plan in self.registry.live():
            if plan.state not in LIVE_POSITION or not plan.spec.trails:
                continue
            if self._unconfirmed(plan):
                await self.apply(plan.id, machines.TrailRetry(self.clock.now(), self.max_attempts))
            price = self.market.trail_price(plan.spec.symbol)   # None: no usable price, the stop stays
            if price is None or self._last_price.get(plan.id) == price:
                continue
            self._last_price[plan.id] = price
            await self.apply(plan.id, machines.PriceUpdate(self.clock.now(), price))

    def _unconfirmed(self, plan: Plan) -> bool:
        """The wanted stop was sent and IB has not confirmed it in time."""
        sent = plan.stop_sent_at
        return (sent is not None and plan.stop_price != plan.confirmed_stop_price
                and 0 < plan.stop_attempts <= self.max_attempts
                and (self.clock.now() - sent).total_seconds() >= self.confirm_seconds)
