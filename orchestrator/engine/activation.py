"""When plans start and end: the activation and expiry jobs of each plan, and activation itself.

A pending plan is activated (sized against the account, then sent) at its ``start_at`` — only
while connected and reconciled; otherwise the next reconciliation activates it. While the entry
gate holds the plan's symbol, the plan records why (a ``Hold`` in its journal, its ``reason`` in
``status``) and waits. ``expire_at`` asks the machine to cancel an unfilled entry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import machines
from machines import EntryType, Plan, RiskLimits, Side, State

from ..broker.port import Broker
from ..clock import Clock
from ..errors import BrokerUnavailable, UnknownContract
from ..scheduler import Jobs
from .gate import EntryGate
from .marketwatch import MarketWatch
from .registry import PlanRegistry
from .work import ActivateRequest, ExpireRequest

log = logging.getLogger(__name__)
Apply = Callable[[str, Any], Awaitable[bool]]
EXPIRES = (State.PENDING, *machines.UNFILLED_WORKING, *machines.LIVE_POSITION)
PRICE_RETRY = 0.5  # seconds between looks for a first live price


class Activation:
    def __init__(self, registry: PlanRegistry, broker: Broker, jobs: Jobs, clock: Clock, gate: EntryGate,
                 reconciled: asyncio.Event, limits: RiskLimits, apply: Apply, market: MarketWatch,
                 price_wait: float = 10.0, maintenance: tuple[Any, ...] = ()) -> None:
        self.registry = registry
        self.broker = broker
        self.jobs = jobs
        self.clock = clock
        self.gate = gate
        self.reconciled = reconciled
        self.market = market
        self.maintenance = maintenance
        self.limits = limits
        self.apply = apply
        self.price_wait = price_wait
        self._waiting: dict[str, datetime] = {}  # plan → since when its activation waits for a price

    def adopt(self, plan: Plan) -> None:
        """Hold a plan (restored or newly loaded) and schedule its start and expiry."""
        self.registry.add(plan)
        spec = plan.spec
        if plan.state == State.PENDING:
            self.jobs.at(f"activate:{plan.id}", spec.start_at or self.clock.now(), ActivateRequest(plan.id))
        if spec.expire_at is not None and plan.state in EXPIRES:
            self.jobs.at(f"expire:{plan.id}", spec.expire_at, ExpireRequest(plan.id))

    def ended(self, plan: Plan) -> None:
        self.jobs.cancel(f"expire:{plan.id}")

    def due(self) -> list[Plan]:
        """Pending plans whose start time has come."""
        now = self.clock.now()
        return [p for p in self.registry.live()
                if p.state == State.PENDING and (p.spec.start_at is None or p.spec.start_at <= now)]

    async def activate(self, plan_id: str) -> None:
        plan = self.registry.known(plan_id)
        if plan is None or plan.state != State.PENDING:
            return
        if not self.broker.is_connected() or not self.reconciled.is_set():
            return  # retried after the next successful reconciliation
        if await self._in_maintenance(plan):
            return
        held = self.gate.reason(plan.spec.symbol)
        if held is not None:
            if plan.reason != held:
                await self.apply(plan_id, machines.Hold(self.clock.now(), held))
            return  # retried at every reconciliation until the hold lifts
        net = self.broker.account_value("NetLiquidation")
        funds = self.broker.account_value("AvailableFunds")
        if net is None or funds is None:
            log.warning("plan %s: account values not known yet; activation deferred", plan_id)
            return
        try:
            await self.broker.qualify(plan.spec.symbol)
        except UnknownContract as exc:  # found before sizing: the plan is refused, nothing counts as risk
            await self.apply(plan_id, machines.Activate(self.clock.now(), net, funds, Decimal(0), self.limits,
                                                        refused=str(exc), code=200))
            return
        except BrokerUnavailable as exc:
            log.warning("plan %s: activation deferred (%s)", plan_id, exc)
            return
        await self.subscribe(plan)
        market: Decimal | None = None
        if plan.spec.entry_type is not EntryType.LIMIT:  # sized on the live price (a stop entry: once crossed)
            market, why = self.market.entry_price(plan.spec.symbol, buying=plan.spec.side is Side.LONG)
            if market is None:
                await self._wait_for_price(plan, why or "no price from IB yet")
                return
        self._waiting.pop(plan_id, None)
        if plan.reason is not None:  # a pending plan's reason is always a hold that has lifted
            await self.apply(plan_id, machines.Hold(self.clock.now(), None))
        others = sum((p.open_risk() for p in self.registry.live() if p.id != plan_id), Decimal(0))
        await self.apply(plan_id, machines.Activate(self.clock.now(), net, funds, others, self.limits,
                                                    market_price=market))

    async def _in_maintenance(self, plan: Plan) -> bool:
        """Inside one of IB's maintenance windows no entry is activated: the plan says until when,
        and is tried again at the window's end."""
        if not self.maintenance:
            return False
        from ..sessions.maintenance import window_at  # lazy: the sessions package loads only when used
        now = self.clock.now()
        span = window_at(now, self.maintenance)
        if span is None:
            return False
        reason = (f"inside {span.name} until {span.end:%Y-%m-%d %H:%M} UTC: new entries wait for it to end "
                  "(IB may disconnect meanwhile)")
        if plan.reason != reason:
            await self.apply(plan.id, machines.Hold(now, reason))
        self.jobs.at(f"activate:{plan.id}", span.end + timedelta(seconds=1), ActivateRequest(plan.id))
        return True

    async def _wait_for_price(self, plan: Plan, why: str) -> None:
        """No usable price yet (a subscription's first quote takes a moment; the data may be
        refused, delayed or stale): try again shortly, and after ``price_wait`` seconds say why
        on the plan."""
        now = self.clock.now()
        since = self._waiting.setdefault(plan.id, now)
        if (now - since).total_seconds() >= self.price_wait:
            reason = (f"waiting for a usable price of {plan.spec.symbol} ({why}): a {plan.spec.entry_type.value} "
                      "entry is sized on the price it would get")
            if plan.reason != reason:
                await self.apply(plan.id, machines.Hold(now, reason))
        self.jobs.at(f"activate:{plan.id}", now + timedelta(seconds=PRICE_RETRY), ActivateRequest(plan.id))

    async def expire(self, plan_id: str) -> None:
        await self.apply(plan_id, machines.Expire(self.clock.now()))

    async def subscribe(self, plan: Plan) -> None:
        """Market data for the plan's symbol (trailing needs it); a failure only logs: the order
        path reports an unknown symbol to the plan itself."""
        try:
            await self.broker.subscribe(plan.spec.symbol)
        except (BrokerUnavailable, UnknownContract) as exc:
            log.warning("plan %s: no market data: %s", plan.id, exc)
