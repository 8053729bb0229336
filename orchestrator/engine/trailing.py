"""The trailing job: feeds each trailing plan the last price it may act on (``marketwatch``: there,
fresh, live unless delayed is allowed; the machine decides the stop), and
sends again a stop IB has not confirmed within ``confirm_seconds`` (or refused): the plan keeps
the stop IB confirmed apart from the one it wants, and says so after ``max_attempts`` sends.
While a plan's market is closed (``markethours``) its stop is neither trailed nor sent again.

One pass computes every wanted stop and commits them in one transaction; the stop moves then go
to the broker most urgent first (the pacer keeps them in that order, coalesced, under IB's
pacing limit). The confirmation clock of a stop starts when its request actually left: a move
still waiting for pacing room is not late."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import machines
from machines import LIVE_POSITION, Plan

from ..clock import Clock
from .markethours import MarketHours
from .marketwatch import MarketWatch
from .registry import PlanRegistry

ApplyMany = Callable[[list[tuple[str, Any]]], Awaitable[int]]


class Trailing:
    def __init__(self, registry: PlanRegistry, market: MarketWatch, clock: Clock, apply_many: ApplyMany, *,
                 confirm_seconds: float = 5.0, max_attempts: int = 5, reconciled: asyncio.Event | None = None,
                 hours: MarketHours | None = None) -> None:
        self.registry = registry
        self.market = market
        self.clock = clock
        self.apply_many = apply_many
        self.confirm_seconds = confirm_seconds
        self.max_attempts = max_attempts
        self.reconciled = reconciled  # trailing waits for a reconciled connection (not during IB's 1100)
        self.hours = hours
        self._last_price: dict[str, Decimal] = {}

    async def tick(self) -> None:
        """One price per trailing plan with a position, when it changed since the last tick."""
        if self.reconciled is not None and not self.reconciled.is_set():
            return
        now = self.clock.now()
        events: list[tuple[str, Any]] = []
        prices: dict[str, Decimal | None] = {}   # one look at each symbol's price per pass, not one per plan
        for plan in self.registry.live():
            if plan.state not in LIVE_POSITION or not plan.spec.trails:
                continue
            if self.hours is not None and self.hours.closed_until(plan.spec, now) is not None:
                continue  # no modifications on a closed market
            if self._unconfirmed(plan, now):
                events.append((plan.id, machines.TrailRetry(now, self.max_attempts)))
            key = plan.key
            if key not in prices:
                prices[key] = self.market.trail_price(key)   # None: no usable price, the stop stays
            price = prices[key]
            if price is None or self._last_price.get(plan.id) == price:
                continue
            self._last_price[plan.id] = price
            events.append((plan.id, machines.PriceUpdate(now, price)))
        if events:
            await self.apply_many(events)

    def _unconfirmed(self, plan: Plan, now: datetime) -> bool:
        """The wanted stop was sent and IB has not confirmed it in time."""
        sent = plan.stop_sent_at
        if (sent is None or plan.stop_price == plan.confirmed_stop_price
                or not 0 < plan.stop_attempts <= self.max_attempts):
            return False
        left = self.market.broker.last_sent(plan.id)  # later than the step while it waited for pacing room
        if left is not None and left > sent:
            sent = left
        return (now - sent).total_seconds() >= self.confirm_seconds
