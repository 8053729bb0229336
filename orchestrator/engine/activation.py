"""When plans start and end: the activation and expiry jobs of each plan, and activation itself.

A pending plan is activated (sized against the account, then sent) at its ``start_at`` — only
while connected and reconciled; otherwise the next reconciliation activates it. While the entry
gate holds the plan's symbol, the plan records why (a ``Hold`` in its journal, its ``reason`` in
``status``) and waits. ``expire_at`` asks the machine to cancel an unfilled entry.

Market hours (``markethours``): a market entry is not sent while its market is closed; the plan
says until when and is tried again at the open. A plan's ``flatten_at`` (resolved to UTC as
``flatten_due``) asks the machine to flatten, as the trader's ``flatten`` does: the position
exits through the OCA-safe flatten path and every working order of the plan is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import machines
from machines import EntryType, Plan, RiskLimits, Side, State

from ..broker.port import Broker
from ..clock import Clock
from ..errors import BrokerUnavailable, UnknownContract
from ..scheduler import Jobs
from .contracts import ContractBook, Terms, contract_terms, prices_on_tick
from .gate import EntryGate
from .markethours import MarketHours
from .marketwatch import MarketWatch
from .registry import PlanRegistry
from .work import ActivateRequest, ExpireRequest, FlattenAtRequest

log = logging.getLogger(__name__)
Apply = Callable[[str, Any], Awaitable[bool]]
EXPIRES = (State.PENDING, *machines.UNFILLED_WORKING, *machines.LIVE_POSITION)
PRICE_RETRY = 0.5  # seconds between looks for a first live price


class Activation:
    def __init__(self, registry: PlanRegistry, broker: Broker, jobs: Jobs, clock: Clock, gate: EntryGate,
                 reconciled: asyncio.Event, limits: RiskLimits, apply: Apply, market: MarketWatch, book: ContractBook,
                 price_wait: float = 10.0, maintenance: tuple[Any, ...] = (),
                 hours: MarketHours | None = None) -> None:
        self.book = book
        self.registry = registry
        self.broker = broker
        self.jobs = jobs
        self.clock = clock
        self.gate = gate
        self.reconciled = reconciled
        self.market = market
        self.maintenance = maintenance
        self.hours = hours or MarketHours(clock, enforce=False)
        self.limits = limits
        self.apply = apply
        self.price_wait = price_wait
        self._waiting: dict[str, datetime] = {}  # plan → since when its activation waits for a price

    def adopt(self, plan: Plan) -> None:
        """Hold a plan (restored or newly loaded) and schedule its start and expiry."""
        self.registry.add(plan)
        self.book.restore(plan)
        spec = plan.spec
        if plan.state == State.PENDING:
            self.jobs.at(f"activate:{plan.id}", spec.start_at or self.clock.now(), ActivateRequest(plan.id))
        if spec.expire_at is not None and plan.state in EXPIRES:
            self.jobs.at(f"expire:{plan.id}", spec.expire_at, ExpireRequest(plan.id))
        if spec.flatten_due is not None and plan.state in EXPIRES:
            self.jobs.at(f"flatten:{plan.id}", spec.flatten_due, FlattenAtRequest(plan.id))

    def ended(self, plan: Plan) -> None:
        self.jobs.cancel(f"expire:{plan.id}")
        self.jobs.cancel(f"flatten:{plan.id}")

    def due(self) -> list[Plan]:
        """Pending plans whose start time has come."""
        now = self.clock.now()
        return [p for p in self.registry.live()
                if p.state == State.PENDING and (p.spec.start_at is None or p.spec.start_at <= now)]

    def _early(self, job: str, when: datetime | None, item: Any) -> bool:
        """A job that came before its time by the engine's clock is set again for the time left."""
        if when is None or when <= self.clock.now():
            return False
        self.jobs.at(job, when, item)
        return True

    async def activate(self, plan_id: str, *, early: bool = False) -> None:
        plan = self.registry.known(plan_id)
        if plan is None or plan.state != State.PENDING:
            return
        if not early and self._early(f"activate:{plan_id}", plan.spec.start_at, ActivateRequest(plan_id)):
            return
        if not self.broker.is_connected() or not self.reconciled.is_set():
            return  # retried after the next successful reconciliation
        if await self._in_maintenance(plan):
            return
        if plan.spec.entry_type is EntryType.MARKET and await self._market_closed(plan):
            return
        held = self.gate.reason(plan.key, plan.spec.symbol)
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
            details = await self.book.qualify(plan)
        except UnknownContract as exc:  # found before sizing: the plan is refused, nothing counts as risk
            await self.apply(plan_id, machines.Activate(self.clock.now(), net, funds, Decimal(0), self.limits,
                                                        refused=str(exc), code=200))
            return
        except BrokerUnavailable as exc:
            log.warning("plan %s: activation deferred (%s)", plan_id, exc)
            return
        terms = contract_terms(plan, details, self.broker.base_currency(), self.broker.exchange_rates())
        prices = prices_on_tick(plan, plan.price_rule) if not isinstance(terms, str) else terms
        if isinstance(terms, str) or isinstance(prices, str):
            await self._refuse(plan, net, funds, prices if isinstance(prices, str) else str(terms))
            return
        await self.subscribe(plan)
        market: Decimal | None = None
        if plan.spec.entry_type is not EntryType.LIMIT:  # sized on the live price (a stop entry: once crossed)
            market, why = self.market.entry_price(plan.key, buying=plan.spec.side is Side.LONG)
            if market is None:
                await self._wait_for_price(plan, why or "no price from IB yet")
                return
        self._waiting.pop(plan_id, None)
        try:  # asked once the plan is about to be sized (not at every look for a price)
            terms = await self._margin(plan, terms)
        except BrokerUnavailable as exc:
            log.warning("plan %s: activation deferred (%s)", plan_id, exc)
            return
        if isinstance(terms, str):
            await self._refuse(plan, net, funds, terms)
            return
        if plan.reason is not None:  # a pending plan's reason is always a hold that has lifted
            await self.apply(plan_id, machines.Hold(self.clock.now(), None))
        others = self.registry.risk.total(excluding=plan_id)  # a running total, not a sum over every plan
        entry, stop, target = prices
        await self.apply(plan_id, machines.Activate(
            self.clock.now(), net, funds, others, self.limits, market_price=market, multiplier=terms.multiplier,
            fx_rate=terms.fx_rate, base_currency=terms.base_currency, margin_per_unit=terms.margin_per_unit,
            entry_price=entry, stop_price=stop, target_price=target))

    async def _refuse(self, plan: Plan, net: Decimal, funds: Decimal, reason: str) -> None:
        """The plan cannot be sized or priced at all: rejected, nothing counts as risk."""
        await self.apply(plan.id, machines.Activate(self.clock.now(), net, funds, Decimal(0), self.limits,
                                                    refused=reason))

    async def _margin(self, plan: Plan, terms: Terms) -> Terms | str:
        """A future's terms with IB's what-if margin per contract (or why there is none)."""
        if not plan.spec.instrument.is_future:
            return terms
        margin = await self.broker.margin_per_unit(plan.key, plan.spec.side.entry_action)
        if margin is None:
            return f"IB gave no what-if margin for {plan.key}: refusing to size rather than guess the buying power"
        return replace(terms, margin_per_unit=margin)

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

    async def _market_closed(self, plan: Plan) -> bool:
        """A market entry waits for its market to open: the plan says until when, and is tried
        again then (a market order sent while closed would be queued by IB to fill after a gap)."""
        if self.hours.enforce:   # IB's hours of the contract first: they win over the calendar's
            try:
                await self.book.qualify(plan)
            except (BrokerUnavailable, UnknownContract):
                pass   # the hours known so far decide; sizing below reports an unknown contract
        now = self.clock.now()
        closed = self.hours.closed_until(plan.spec, now)
        if closed is None:
            return False
        until, why = closed
        reason = f"{why}: a market entry waits for the open"
        if plan.reason != reason:
            await self.apply(plan.id, machines.Hold(now, reason))
        self.jobs.at(f"activate:{plan.id}", until, ActivateRequest(plan.id))
        return True

    async def flatten_at(self, plan_id: str) -> None:
        """The plan's ``flatten_at`` has come: exit the position (or drop the unfilled entry)."""
        plan = self.registry.known(plan_id)
        if plan is None or plan.state not in EXPIRES or \
                self._early(f"flatten:{plan_id}", plan.spec.flatten_due, FlattenAtRequest(plan_id)):
            return
        await self.apply(plan_id, machines.CancelRequested(self.clock.now(), f"flatten_at {plan.spec.flatten_at} "
                                                           f"({plan.spec.flatten_due:%Y-%m-%d %H:%M} UTC) reached"))

    async def _wait_for_price(self, plan: Plan, why: str) -> None:
        """No usable price yet (a subscription's first quote takes a moment; the data may be
        refused, delayed or stale): try again shortly, and after ``price_wait`` seconds say why
        on the plan."""
        now = self.clock.now()
        since = self._waiting.setdefault(plan.id, now)
        if (now - since).total_seconds() >= self.price_wait:
            reason = (f"waiting for a usable price of {plan.key} ({why}): a {plan.spec.entry_type.value} "
                      "entry is sized on the price it would get")
            if plan.reason != reason:
                await self.apply(plan.id, machines.Hold(now, reason))
        self.jobs.at(f"activate:{plan.id}", now + timedelta(seconds=PRICE_RETRY), ActivateRequest(plan.id))

    async def expire(self, plan_id: str) -> None:
        plan = self.registry.known(plan_id)
        if plan is not None and self._early(f"expire:{plan_id}", plan.spec.expire_at, ExpireRequest(plan_id)):
            return
        await self.apply(plan_id, machines.Expire(self.clock.now()))

    async def subscribe(self, plan: Plan) -> None:
        """Market data for the plan's contract (trailing needs it), its details refreshed from IB
        first; a failure only logs: the order path reports an unknown symbol to the plan itself."""
        try:
            await self.book.qualify(plan)
            await self.broker.subscribe(plan.key)
        except (BrokerUnavailable, UnknownContract) as exc:
            log.warning("plan %s: no market data: %s", plan.id, exc)
