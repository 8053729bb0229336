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
from decimal import Decimal
from typing import Any

import machines
from machines import Plan, RiskLimits, State

from ..broker.port import Broker
from ..clock import Clock
from ..errors import BrokerUnavailable, UnknownContract
from ..scheduler import Jobs
from .gate import EntryGate
from .registry import PlanRegistry
from .work import ActivateRequest, ExpireRequest

log = logging.getLogger(__name__)
Apply = Callable[[str, Any], Awaitable[bool]]
EXPIRES = (State.PENDING, *machines.UNFILLED_WORKING, *machines.LIVE_POSITION)


class Activation:
    def __init__(self, registry: PlanRegistry, broker: Broker, jobs: Jobs, clock: Clock, gate: EntryGate,
                 reconciled: asyncio.Event, limits: RiskLimits, apply: Apply) -> None:
        self.registry = registry
        self.broker = broker
        self.jobs = jobs
        self.clock = clock
        self.gate = gate
        self.reconciled = reconciled
        self.limits = limits
        self.apply = apply

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
        held = self.gate.reason(plan.spec.symbol)
        if held is not None:
            if plan.reason != held:
                await self.apply(plan_id, machines.Hold(self.clock.now(), held))
            return  # retried at every reconciliation until the hold lifts
        if plan.reason is not None:  # a pending plan's reason is always a hold that has lifted
            await self.apply(plan_id, machines.Hold(self.clock.now(), None))
        net = self.broker.account_value("NetLiquidation")
        funds = self.broker.account_value("AvailableFunds")
        if net is None or funds is None:
            log.warning("plan %s: account values not known yet; activation deferred", plan_id)
            return
        others = sum((p.open_risk() for p in self.registry.live() if p.id != plan_id), Decimal(0))
        await self.subscribe(plan)
        await self.apply(plan_id, machines.Activate(self.clock.now(), net, funds, others, self.limits))

    async def expire(self, plan_id: str) -> None:
        await self.apply(plan_id, machines.Expire(self.clock.now()))

    async def subscribe(self, plan: Plan) -> None:
        """Market data for the plan's symbol (trailing needs it); a failure only logs: the order
        path reports an unknown symbol to the plan itself."""
        try:
            await self.broker.subscribe(plan.spec.symbol)
        except (BrokerUnavailable, UnknownContract) as exc:
            log.warning("plan %s: no market data: %s", plan.id, exc)
