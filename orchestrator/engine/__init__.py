"""The engine: every behaviour of the running orchestrator, one module each.

=================  ==========================================================================
``work``           the work items and the one queue they travel on (it counts fills in it)
``consumer``       the one task that handles every item, one at a time (commit retries)
``step``           the unit of work: machine step → one-transaction commit → carry out effects
``registry``       the plans in memory, bound to the shared machine (loaded on first use)
``intake``         plan files → new ``pending`` plans (fingerprinted; a plan id runs once)
``activation``     start and expiry jobs of each plan; activation (sizing) itself
``trailing``       the trailing job: last prices to trailing plans
``commands``       the trader's commands from state.db (``orchestrator cancel``)
``connection``     connect / disconnect / 1100-1102 reactions, account check; verification
                   of orders after an unclear IB error
``reconcile``      reconciliation with IB's truth (start, reconnect, periodic, verify)
``protection``     what protects a position, re-derived from IB's order views
``flatten``        exiting a whole position now (through the take-profit, or a market order)
``executor``       effects → broker port calls, idempotent against what IB already has
``fills``          fills IB reported that a plan has not applied yet
``gate``           whether new entries may be sent (unexplained positions, wrong account)
``holdings``       what a plan can own of IB's settled position (the gate on every exit)
``legs``           a plan's orders by leg; requests and intents of new orders
``notices``        notifications no transition produces, once each
``prices``         the price series behind the console's charts (sampled and written off the
                   event → commit path)
``status``         the daemon's own status document in state.db, for ``status`` and the console
=================  ==========================================================================

:class:`Engine` only wires these together and is what the composition root starts and stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import machines
from machines import Plan, PlanMachine

from ..broker.port import Broker, BrokerNotice, PlanEvent, PositionMoved, ProtectionMayHaveChanged, Verify
from ..clock import Clock
from ..faultpoints import FaultPoints
from ..scheduler import Jobs
from ..store import Store
from ..store.prices import PriceRecorder
from .activation import Activation
from .commands import TraderCommands
from .connection import AccountCheck, Connection, Verification
from .consumer import Consumer
from .contracts import ContractBook
from .executor import Executor
from .fills import FillsInFlight
from .flatten import Flattener
from .gate import EntryGate
from .holdings import Holdings
from .intake import Intake, files_fingerprint, spec_hash
from .markethours import MarketHours
from .marketwatch import DataRules, MarketWatch
from .notices import Notices
from .prices import PriceHistory
from .protection import Protection
from .reconcile import Reconciler
from .registry import PlanRegistry
from .status import DaemonStatus
from .step import Step, UnitOfWork, apply_event
from .trailing import Trailing
from .work import (
    ActivateRequest,
    ExpireRequest,
    FlattenAtRequest,
    Heartbeat,
    PollCommands,
    PriceTick,
    ReconcileRequest,
    RescanRequest,
    Stop,
    TrailTick,
    WorkQueue,
)

log = logging.getLogger(__name__)

__all__ = ["ActivateRequest", "Engine", "EngineSettings", "ExpireRequest", "PollCommands", "ReconcileRequest",
           "RescanRequest", "Step", "TrailTick", "WorkQueue", "apply_event", "files_fingerprint", "spec_hash"]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    plan_files: Callable[[], list[Path]]  # the plan files that exist now (globs expanded at each scan)
    limits: machines.RiskLimits
    trailing_interval: float = 5.0
    reconcile_interval: float = 5.0
    rescan_interval: float = 5.0
    command_interval: float = 0.5
    heartbeat_interval: float = 5.0
    price_interval: float = 5.0
    trail_confirm_seconds: float = 5.0
    trail_max_attempts: int = 5
    market_max_age: float = 60.0          # seconds: an older price is not used for decisions
    market_allow_delayed: bool = False    # delayed prices may trail and size market entries
    maintenance: tuple[Any, ...] = ()     # IB's maintenance windows (orchestrator.sessions.MaintenanceWindow)
    market_hours: bool = False            # a closed market holds market entries and trailing (markethours)
    price_retention_days: int = 30
    details: dict[str, Any] = field(default_factory=dict)  # what the daemon is connected to (status)


class Engine:
    """The wiring of the engine's parts, and its start and stop."""

    def __init__(self, settings: EngineSettings, store: Store, broker: Broker, clock: Clock, queue: WorkQueue, *,
                 machine: PlanMachine | None = None, faults: FaultPoints | None = None,
                 account_check: AccountCheck | None = None) -> None:
        self.settings = settings
        self.store = store
        self.broker = broker
        self.clock = clock
        self.queue = queue
        self.faults = faults or FaultPoints()
        self.changed = asyncio.Event()
        self.reconciled = asyncio.Event()
        self.stop_timeout = 30.0
        self.jobs = Jobs(queue.put, clock)
        self.registry = PlanRegistry(store, machine or PlanMachine())
        self.fills = FillsInFlight(broker, queue)
        self.notices = notices = Notices(store, clock)
        self.gate = EntryGate(notices, self.fills, store)

        def emit(plan_id: str, event: Any) -> None:
            queue.put(PlanEvent(plan_id, event))

        self.market = MarketWatch(broker, notices, clock, DataRules(settings.market_max_age,
                                                                   settings.market_allow_delayed))
        self.holdings = Holdings(broker, self.registry, self.gate, self.fills)
        self.flatten = Flattener(broker, store, clock, emit, self.fills, self.holdings)
        self.executor = Executor(broker, store, clock, emit, self.fills, self.flatten, self.faults, self.holdings)
        self.hours = MarketHours(clock, enforce=settings.market_hours, lookup=store.cached_details,
                                 report=lambda key, kind, message: notices.report_once(key, kind, {"message": message}))
        self.contracts = ContractBook(broker, store, clock, learned=self.hours.learn)
        self.activation = Activation(self.registry, broker, self.jobs, clock, self.gate, self.reconciled,
                                     settings.limits, self._apply, self.market, self.contracts,
                                     maintenance=settings.maintenance, hours=self.hours)
        self.unit = UnitOfWork(self.registry, store, self.executor, clock, self.faults, self.changed,
                               on_ended=self.activation.ended)
        self.protection = Protection(self.registry, broker, self.fills, clock, self.unit.apply)
        self.intake = Intake(settings.plan_files, store, clock, notices, self.activation.adopt,
                             resolve=self.hours.resolve)
        self.trailing = Trailing(self.registry, self.market, clock, self.unit.apply_many,
                                 confirm_seconds=settings.trail_confirm_seconds,
                                 max_attempts=settings.trail_max_attempts, reconciled=self.reconciled,
                                 hours=self.hours)
        self.commands = TraderCommands(store, clock, self.unit.apply, self.registry, self.gate, notices,
                                       self.holdings.settled)
        self.status = DaemonStatus(store, broker, self.gate, self.registry, clock, settings.details,
                                   settings.limits.max_portfolio_risk_pct, self.market)
        self.reconciler = Reconciler(
            registry=self.registry, store=store, broker=broker, clock=clock, apply=self.unit.apply,
            carry_out=self.unit.carry_out, executor=self.executor, fills=self.fills, protection=self.protection,
            flatten=self.flatten, gate=self.gate, commands=self.commands, activation=self.activation,
            reconciled=self.reconciled, holdings=self.holdings)
        self.connection = Connection(broker, self.reconciler, self.flatten, self.gate, self.reconciled, notices,
                                     clock, self.status, account_check, maintenance=settings.maintenance)
        self.verification = Verification(self.registry, broker, self.reconciler, self.flatten, clock, self.unit.apply)
        self.prices = PriceHistory(PriceRecorder(store.db), self.registry, broker, clock,
                                   settings.price_retention_days)
        self.unit.commit_hooks.append(self.prices.committed)
        self.unit.commit_hooks.append(self.registry.risk.committed)  # activation's open-risk total
        self.consumer = Consumer(queue, self._handlers(), self.changed)
        self._task: asyncio.Task[None] | None = None

    async def _apply(self, plan_id: str, event: Any) -> bool:
        return await self.unit.apply(plan_id, event)

    async def _plan_event(self, item: PlanEvent) -> None:
        await self.unit.apply(item.plan_id, item.event)
        await self.reconciler.orders_changed(item.plan_id)

    def _handlers(self) -> dict[type, Callable[[Any], Any]]:
        return {
            PlanEvent: self._plan_event,
            ProtectionMayHaveChanged: lambda i: self.reconciler.orders_changed(i.plan_id),
            Verify: self.verification.verify,
            PositionMoved: lambda i: self.reconciler.position_moved(i.symbol),
            BrokerNotice: self._notice,
            ActivateRequest: lambda i: self.activation.activate(i.plan_id, early=i.now),
            ExpireRequest: lambda i: self.activation.expire(i.plan_id),
            FlattenAtRequest: lambda i: self.activation.flatten_at(i.plan_id),
            TrailTick: lambda i: self.trailing.tick(),
            ReconcileRequest: lambda i: self.reconciler.run(i.reason),
            RescanRequest: self._rescan,
            PollCommands: self._poll_commands,
            Heartbeat: self._heartbeat,
            PriceTick: self._prices,
        }

    async def _notice(self, notice: BrokerNotice) -> None:
        if notice.kind.startswith("market_data"):
            self.market.on_notice(notice)
            self.status.write()
        else:
            await self.connection.on_notice(notice)

    async def _prices(self, item: PriceTick) -> None:
        if item.prune:
            self.prices.prune()
        else:
            self.prices.sample()

    async def _poll_commands(self, _item: Any) -> None:
        await self.commands.poll()

    async def _heartbeat(self, _item: Any) -> None:
        self.status.write()

    async def _rescan(self, _item: Any) -> None:
        await self.hours.fetch_wanted(self.contracts.details_of)   # IB's hours a waiting plan needs
        self.intake.rescan()

    # ------------------------------------------------------------------ the engine's life
    async def start(self) -> None:
        """Restore every live plan, load plan files, start the consumer and the jobs, connect."""
        self.restore()
        self._task = asyncio.get_running_loop().create_task(self.consumer.run(), name="engine-consumer")
        self.queue.put(PollCommands())
        await self.broker.connect_with_retry()

    def restore(self) -> None:
        """The part of ``start`` before anything runs or connects: restore every live plan (bind it
        to the machine, rebuild its jobs), load the plan files and start the jobs. Needs a running
        loop (the scheduler); the restart benchmark times it on its own."""
        for plan in self.store.load_plans(machines.LIVE_STATES):
            self.activation.adopt(plan)
        self.intake.restore()
        self.intake.rescan()
        s = self.settings
        self.jobs.start()
        self.jobs.every("trail", s.trailing_interval, TrailTick())
        self.jobs.every("reconcile", s.reconcile_interval, ReconcileRequest("periodic"))
        self.jobs.every("plans-rescan", s.rescan_interval, RescanRequest())
        self.jobs.every("commands", s.command_interval, PollCommands())
        self.jobs.every("heartbeat", s.heartbeat_interval, Heartbeat())
        self.jobs.every("prices", s.price_interval, PriceTick())
        self.jobs.every("prices-prune", 3600.0, PriceTick(prune=True))
        self.status.write()

    async def stop(self) -> None:
        """Finish the current step, stop jobs, disconnect. IB keeps protective orders working."""
        await self.jobs.shutdown()
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # retrieved: a crash point in a test, already reported
        if task is not None and not task.done():
            self.queue.put(Stop())
            try:
                await asyncio.wait_for(asyncio.shield(task), self.stop_timeout)
            except TimeoutError:
                log.error("the current step did not finish within %.0f s; stopping anyway", self.stop_timeout)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if task is not None:  # it ran: readers learn that it stopped
            self.status.stopped()
        await self.broker.close()

    # ------------------------------------------------------------------ views for the shell and tests
    @property
    def plans(self) -> dict[str, Plan]:
        return self.registry.plans

    def live_plans(self) -> list[Plan]:
        return self.registry.live()

    def enqueue(self, item: Any) -> None:
        self.queue.put(item)

    def idle(self) -> bool:
        """Every plan is terminal and nothing is left to carry out."""
        return not self.live_plans() and not self.store.pending_effects() and self.queue.empty()

    @property
    def entries_blocked(self) -> str | None:
        return self.gate.blocked

    @property
    def fatal(self) -> Any:
        return self.connection.fatal

    @property
    def fatal_event(self) -> asyncio.Event:
        return self.connection.fatal_event

    @property
    def commit_hooks(self) -> list[Any]:
        return self.unit.commit_hooks

    @property
    def on_commit(self) -> list[Callable[[], None]]:
        return self.unit.on_commit
