"""The engine: one consumer applies every event, one at a time, for every plan.

Work arrives on one asyncio queue: machine events translated from IB callbacks, requests from
scheduled jobs (activation, expiry, trailing, reconciliation, plan-file rescans), commands from
the CLI (through state.db) and connection notices. For each plan event the consumer does:
load plan → step machine → commit (state + journal + effects, one transaction) → carry out the
broker effects → mark them done. Nothing else writes plan state, so there is no recursion and no
concurrent writer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import machines
from machines import Plan, PlanMachine, PlanSpec, State

from .broker import translate
from .broker.ib import BrokerNotice, IBBroker
from .clock import Clock
from .codec import dumps
from .errors import BrokerUnavailable, OrchestratorError, StoreError, UnknownContract
from .executor import Executor
from .faultpoints import FaultPoints
from .planfile import load_plan_files
from .scheduler import Jobs
from .stepper import Step, apply_event
from .store import Store
from .tomlread import MAX_BYTES

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ work items
@dataclass(frozen=True, slots=True)
class ActivateRequest:
    plan_id: str


@dataclass(frozen=True, slots=True)
class ExpireRequest:
    plan_id: str


@dataclass(frozen=True, slots=True)
class TrailTick:
    pass


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    reason: str


@dataclass(frozen=True, slots=True)
class RescanRequest:
    pass


@dataclass(frozen=True, slots=True)
class PollCommands:
    pass


@dataclass(frozen=True, slots=True)
class _Stop:
    pass


@dataclass(frozen=True, slots=True)
class _Again:
    """A work item retried after a failed commit."""

    item: Any
    attempt: int


@dataclass(frozen=True, slots=True)
class EngineSettings:
    plan_files: Callable[[], list[Any]]  # the plan files that exist now (globs expanded at each scan)
    limits: machines.RiskLimits
    trailing_interval: float = 5.0
    reconcile_interval: float = 5.0
    rescan_interval: float = 5.0
    command_interval: float = 0.5


def spec_hash(spec: PlanSpec) -> str:
    return hashlib.sha256(dumps(spec).encode()).hexdigest()[:16]


def files_fingerprint(paths: list[Any]) -> bytes | None:
    """A digest of the plan files' names and of the bytes a scan reads from each (None if one
    cannot be read): a scan of files with the same fingerprint finds exactly the same."""
    digest = hashlib.blake2b()
    for path in paths:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)  # what tomlread.read_toml reads
        except (OSError, ValueError):
            return None
        name = os.fsencode(path)
        digest.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.digest()


SCAN_KEY = "plan_files_fingerprint"


class Engine:
    def __init__(self, settings: EngineSettings, store: Store, broker: IBBroker, clock: Clock,
                 machine: PlanMachine | None = None, faults: FaultPoints | None = None) -> None:
        self.settings = settings
        self.store = store
        self.broker = broker
        self.clock = clock
        self.machine = machine or PlanMachine()
        self.faults = faults or FaultPoints()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.plans: dict[str, Plan] = {}
        self.jobs = Jobs(self.enqueue, clock)
        self.executor = Executor(broker, store, clock, emit=lambda pid, ev: self.enqueue(translate.Routed(pid, ev)),
                                 faults=self.faults)
        self.entries_blocked: str | None = None
        self.position_mismatch: str | None = None  # last mismatch seen (blocks when seen twice)
        self.reconciled = asyncio.Event()
        self.changed = asyncio.Event()  # set after every handled work item (waiters re-check their condition)
        self._consumer: asyncio.Task[None] | None = None
        self._reported: set[str] = set()
        self._last_price: dict[str, Decimal] = {}
        self._queued_fills: dict[str, int] = {}  # fills waiting in the queue, per plan
        self._scanned: bytes | None = None  # files_fingerprint of the last complete plan-file scan
        self.on_commit: list[Callable[[], None]] = []  # called after every committed step (e.g. wake the outbox)
        self.stop_timeout = 30.0
        # checks the account IB put us on, at every (re)connect; raising stops all trading
        self.account_check: Callable[[], None] | None = None
        self.fatal: OrchestratorError | None = None
        self.fatal_event = asyncio.Event()
        # Called after every committed step with (plan, event, step), before its effects are carried
        # out (benchmarks and tracing; empty in production, so it costs one empty loop per step).
        self.commit_hooks: list[Callable[[Plan, Any, Step], None]] = []

    # ------------------------------------------------------------------ lifecycle
    def enqueue(self, item: Any) -> None:
        if isinstance(item, translate.Routed) and isinstance(item.event, (machines.EntryFilled, machines.ExitFilled)):
            self._queued_fills[item.plan_id] = self._queued_fills.get(item.plan_id, 0) + 1
        self.queue.put_nowait(item)

    async def start(self) -> None:
        """Restore every live plan, load plan files, start the consumer and the jobs, connect."""
        self.restore()
        self._consumer = asyncio.get_running_loop().create_task(self._consume(), name="engine-consumer")
        self.enqueue(PollCommands())
        await self.broker.connect_with_retry()

    def restore(self) -> None:
        """The part of ``start`` before anything runs or connects: restore every live plan (bind it
        to the machine, rebuild its jobs), load the plan files and start the jobs. Needs a running
        loop (the scheduler); the restart benchmark times it on its own."""
        for plan in self.store.load_plans(machines.LIVE_STATES):
            self._adopt(plan)
        stored = self.store.get_meta(SCAN_KEY)
        self._scanned = bytes.fromhex(stored) if stored else None  # unchanged files need no parse
        self._rescan()
        self.jobs.start()
        self.jobs.every("trail", self.settings.trailing_interval, TrailTick())
        self.jobs.every("reconcile", self.settings.reconcile_interval, ReconcileRequest("periodic"))
        self.jobs.every("plans-rescan", self.settings.rescan_interval, RescanRequest())
        self.jobs.every("commands", self.settings.command_interval, PollCommands())

    async def stop(self) -> None:
        """Finish the current step, stop jobs, disconnect. IB keeps protective orders working."""
        await self.jobs.shutdown()
        if self._consumer is not None and self._consumer.done() and not self._consumer.cancelled():
            self._consumer.exception()  # retrieved: a crash point in a test, already reported
        if self._consumer is not None and not self._consumer.done():
            self.enqueue(_Stop())
            try:
                await asyncio.wait_for(asyncio.shield(self._consumer), self.stop_timeout)
            except asyncio.TimeoutError:
                log.error("the current step did not finish within %.0f s; stopping anyway", self.stop_timeout)
                self._consumer.cancel()
                await asyncio.gather(self._consumer, return_exceptions=True)
        await self.broker.close()

    def live_plans(self) -> list[Plan]:
        return [p for p in self.plans.values() if p.state not in machines.TERMINAL_STATES]

    def idle(self) -> bool:
        """Every plan is terminal and nothing is left to carry out."""
        return not self.live_plans() and not self.store.pending_effects() and self.queue.empty()

    # ------------------------------------------------------------------ plans
    def _adopt(self, plan: Plan) -> None:
        self.machine.bind(plan)
        self.plans[plan.id] = plan
        self._schedule(plan)

    def _schedule(self, plan: Plan) -> None:
        spec = plan.spec
        if plan.state == State.PENDING:
            when = spec.start_at or self.clock.now()
            self.jobs.at(f"activate:{plan.id}", when, ActivateRequest(plan.id))
        if spec.expire_at is not None and plan.state in (State.PENDING, State.SIZED, State.SUBMITTED,
                                                          State.FILLED, State.PROTECTED, State.TRAILING):
            self.jobs.at(f"expire:{plan.id}", spec.expire_at, ExpireRequest(plan.id))

    def _report_once(self, key: str, kind: str, payload: dict[str, Any], plan_id: str | None = None) -> None:
        if key in self._reported:
            return
        self._reported.add(key)
        log.warning("%s: %s", kind, payload.get("message"))
        self.store.add_notice(key, kind, {"kind": kind, "plan_id": plan_id, "facts": payload}, at=self.clock.now(),
                              plan_id=plan_id)

    def _rescan(self) -> None:
        paths = self.settings.plan_files()
        fingerprint = files_fingerprint(paths)
        if fingerprint is not None and fingerprint == self._scanned:
            # The same files with the same bytes as the last complete scan: it would find the same
            # plans (all stored by then) and the same problems (all reported), so nothing to do.
            # Parsing is ~75 µs per plan, and the scan runs every rescan_seconds in the consumer.
            return
        specs, problems = load_plan_files(paths)
        for p in problems:
            self._report_once(f"planfile:{p.format()}", "plan_file_invalid", {"message": p.format()})
        for spec in specs:
            h = spec_hash(spec)
            stored = self.store.plan_exists(spec.id)
            if stored is None:
                plan = self.store.insert_plan(spec, at=self.clock.now(), spec_hash=h)
                log.info("plan %s loaded", spec.id)
                self._adopt(plan)
            elif stored != h:
                self._report_once(f"conflict:{spec.id}:{h}", "plan_conflict", {
                    "message": f"plan {spec.id} changed on disk; the stored plan is kept (a plan id runs once)"},
                    plan_id=spec.id)
        if fingerprint is not None and fingerprint != self._scanned:
            self.store.set_meta(SCAN_KEY, fingerprint.hex())  # a restart need not parse them again
        self._scanned = fingerprint

    def _plan(self, plan_id: str) -> Plan | None:
        plan = self.plans.get(plan_id)
        if plan is None:
            plan = self.store.load_plan(plan_id)
            if plan is not None:
                self.machine.bind(plan)
                self.plans[plan_id] = plan
        return plan

    # ------------------------------------------------------------------ the consumer
    async def _consume(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, _Stop):
                self.queue.task_done()
                return
            try:
                await self._handle(item.item if isinstance(item, _Again) else item)
            except (sqlite3.OperationalError, StoreError) as exc:
                self._again(item, exc)
            except Exception:
                log.exception("engine: failed to handle %r", item)
            finally:
                self.queue.task_done()   # queue.join() waits for work handled, not just taken
            self.changed.set()

    def _again(self, item: Any, exc: BaseException) -> None:
        """Retry work whose commit failed (the plan was rolled back, nothing was written)."""
        attempt = item.attempt + 1 if isinstance(item, _Again) else 1
        inner = item.item if isinstance(item, _Again) else item
        if attempt > 5:
            log.error("engine: giving up on %r after %d failed commits: %s", inner, attempt - 1, exc)
            return
        log.warning("engine: commit failed (%s); retrying %s in %.1f s", exc, type(inner).__name__, 0.2 * attempt)
        if isinstance(inner, translate.Routed) and isinstance(inner.event, (machines.EntryFilled, machines.ExitFilled)):
            self._queued_fills[inner.plan_id] = self._queued_fills.get(inner.plan_id, 0) + 1
        asyncio.get_running_loop().call_later(0.2 * attempt, self.queue.put_nowait, _Again(inner, attempt))

    async def _handle(self, item: Any) -> None:
        if isinstance(item, translate.Routed):
            if item.event is None:
                await self._protection_changed(item.plan_id)
                return
            if isinstance(item.event, (machines.EntryFilled, machines.ExitFilled)):
                self._queued_fills[item.plan_id] -= 1
            await self.apply(item.plan_id, item.event)
            await self._protection_changed(item.plan_id)
        elif isinstance(item, translate.Verify):
            await self._verify(item)
        elif isinstance(item, ActivateRequest):
            await self._activate(item.plan_id)
        elif isinstance(item, ExpireRequest):
            await self.apply(item.plan_id, machines.Expire(self.clock.now()))
        elif isinstance(item, TrailTick):
            await self._trail()
        elif isinstance(item, ReconcileRequest):
            await self._reconcile(item.reason)
        elif isinstance(item, RescanRequest):
            self._rescan()
        elif isinstance(item, PollCommands):
            await self._commands()
        elif isinstance(item, BrokerNotice):
            await self._notice(item)
        else:
            log.error("engine: unknown work item %r", item)

    async def apply(self, plan_id: str, event: Any) -> bool:
        """Step, commit, carry out. False if the event does not apply (logged, nothing changed)."""
        plan = self._plan(plan_id)
        if plan is None:
            log.warning("event %s for unknown plan %s ignored", type(event).__name__, plan_id)
            return False
        try:
            step = apply_event(self.machine, self.store, plan, event, now=self.clock.now())
        except machines.InvalidEvent as exc:
            log.warning("%s", exc)
            return False
        for hook in self.commit_hooks:
            hook(plan, event, step)
        self.changed.set()
        for hook in self.on_commit:
            hook()
        if step.broker:
            self.faults.hit("after_commit", [type(e).__name__ for _i, e in step.broker])
        for effect_id, effect in step.broker:
            await self._carry_out(effect_id, effect)
        if plan.state in machines.TERMINAL_STATES:
            self.jobs.cancel(f"expire:{plan.id}")
        return True

    async def _carry_out(self, effect_id: int, effect: Any) -> None:
        plan = self._plan(effect.plan_id)
        try:
            self.faults.hit("before_broker", [type(effect).__name__])
            result = await self.executor.run(effect, plan)
        except BrokerUnavailable as exc:
            log.warning("effect %s left pending (broker unavailable: %s)", type(effect).__name__, exc)
            return
        except ConnectionError as exc:
            log.warning("effect %s left pending (not connected: %s)", type(effect).__name__, exc)
            return
        except Exception:  # the step is committed: never fail it (or a command) over its effect
            log.exception("effect %s of %s failed; left pending for the next reconciliation",
                          type(effect).__name__, effect.plan_id)
            return
        self.faults.hit("after_broker", [type(effect).__name__])
        self.store.mark_effect_done(effect_id, at=self.clock.now(), result=result)
        log.info("%s %s: %s", effect.plan_id, type(effect).__name__, result)

    # ------------------------------------------------------------------ handlers
    def protection_if_changed(self, plan: Plan) -> machines.ProtectionStatus | None:
        """IB's view of the plan's protection, if it differs from what the plan last recorded."""
        status = translate.protection_status(self.broker.trades_of(plan.id), plan.id, self.clock.now(),
                                             entry_filled=plan.filled_qty > 0)
        same_qty = (status.stop_quantity, status.target_quantity) == (plan.protected_stop_qty, plan.protected_target_qty)
        same_price = status.stop_price is None or status.stop_price == plan.confirmed_stop_price
        now_covers = plan.state == State.FILLED and not plan.flattening and plan.open_qty > 0 \
            and status.stop_quantity == status.target_quantity == plan.open_qty
        if same_qty and same_price and not now_covers:
            return None
        return status

    async def _protection_changed(self, plan_id: str) -> None:
        """Re-derive the plan's protection from IB's orders, once its queued fills are applied
        (IB's order view runs ahead of the queue; judging it against stale fills would
        re-protect a position that is already gone)."""
        plan = self.plans.get(plan_id)
        if plan is None or plan.state not in (State.FILLED, State.PROTECTED, State.TRAILING, State.CLOSED):
            return
        if self._queued_fills.get(plan_id, 0) > 0 or self.executor.unapplied_fills(plan):
            return
        status = self.protection_if_changed(plan)
        if status is not None:
            await self.apply(plan_id, status)

    async def _activate(self, plan_id: str) -> None:
        plan = self.plans.get(plan_id)
        if plan is None or plan.state != State.PENDING:
            return
        if self.entries_blocked or not self.broker.is_connected() or not self.reconciled.is_set():
            return  # retried after the next successful reconciliation
        net = self.broker.account_value("NetLiquidation")
        funds = self.broker.account_value("AvailableFunds")
        if net is None or funds is None:
            log.warning("plan %s: account values not known yet; activation deferred", plan_id)
            return
        others = sum((p.open_risk() for p in self.live_plans() if p.id != plan_id), Decimal(0))
        await self._subscribe(plan)
        await self.apply(plan_id, machines.Activate(self.clock.now(), net, funds, others, self.settings.limits))

    async def _subscribe(self, plan: Plan) -> None:
        """Market data for the plan's symbol (trailing needs it); a failure only logs: the order
        path reports an unknown symbol to the plan itself."""
        try:
            await self.broker.subscribe(plan.spec.symbol)
        except (BrokerUnavailable, UnknownContract) as exc:
            log.warning("plan %s: no market data: %s", plan.id, exc)

    async def _trail(self) -> None:
        for plan in self.live_plans():
            if plan.state not in (State.FILLED, State.PROTECTED, State.TRAILING) or not plan.spec.trails:
                continue
            price = self.broker.last_price(plan.spec.symbol)
            if price is None or self._last_price.get(plan.id) == price:
                continue
            self._last_price[plan.id] = price
            await self.apply(plan.id, machines.PriceUpdate(self.clock.now(), price))

    async def _commands(self) -> None:
        for cid, plan_id, command in self.store.pending_commands():
            if command != "cancel":
                self.store.mark_command_done(cid, at=self.clock.now(), result=f"unknown command {command}")
                continue
            ok = await self.apply(plan_id, machines.CancelRequested(self.clock.now()))
            self.store.mark_command_done(cid, at=self.clock.now(), result="applied" if ok else "not applicable")

    async def _notice(self, notice: BrokerNotice) -> None:
        if notice.kind == "connected":
            if not self.broker.is_connected():
                return  # stale: that connection is gone already; the next one sends its own notice
            if self.account_check is not None:
                try:
                    self.account_check()
                except OrchestratorError as exc:  # e.g. the gateway came back on another account
                    log.error("%s: disconnecting; nothing more is sent", exc)
                    self.fatal, self.entries_blocked = exc, str(exc)
                    await self.broker.close()
                    self.fatal_event.set()
                    return
            await self._reconcile("connected")
        elif notice.kind == "disconnected":
            self.reconciled.clear()
            self.executor.forget_reprices()  # the reconnect reads back what reached IB
            log.warning("IB connection lost; reconnecting")
        elif notice.kind == "connectivity_lost":
            self.reconciled.clear()  # no new entries until IB is back and reconciled
            log.warning("IB %s: %s", notice.code, notice.message)
        elif notice.kind == "connectivity_restored":
            if notice.code == 1101:  # restored, data lost: market data must be requested again
                self.broker.forget_market_data()
            await self._reconcile(f"IB {notice.code}")

    async def _verify(self, v: translate.Verify) -> None:
        """ib_async's local status is not evidence: read IB's truth, then re-derive events."""
        log.info("verifying %s %s after IB error %s: %s", v.plan_id, v.leg, v.code, v.message)
        plan = self.plans.get(v.plan_id)
        if v.leg is machines.Leg.TARGET and plan is not None and plan.flattening:
            # the take-profit repriced to flatten was refused (or is gone): a market order next
            self.executor.forget_reprices(v.plan_id, refused=True)
        await self._reconcile(f"verify {v.plan_id}")
        plan = self.plans.get(v.plan_id)
        if v.leg is machines.Leg.STOP and plan is not None and plan.state in (
                State.FILLED, State.PROTECTED, State.TRAILING):
            working = any(t.orderStatus.status in translate.WORKING
                          for t in self.broker.trades_of(v.plan_id)
                          if (r := translate.ref_of(t.order)) is not None and r[1] is machines.Leg.STOP)
            await self.apply(v.plan_id, machines.StopModifyRejected(self.clock.now(), v.code, v.message, working))

    async def ensure_exit(self, plan: Plan) -> None:
        """A flattening plan's open position must have an exit at IB. Runs at every
        reconciliation. If IB shows none (a repricing lost, or not echoed in time, a stop or
        take-profit gone), the flatten is carried out again: it re-sends the repricing while a
        stop and a take-profit work and IB has not refused it (sending it twice is harmless),
        and a market order otherwise — never a market order next to a repricing that may still
        arrive. Never for a plan in ``error``: that one is a human's (who may be closing it in
        TWS); the trader's ``cancel`` retries its flatten."""
        if not plan.flattening or plan.state not in (State.FILLED, State.PROTECTED, State.TRAILING):
            return
        if plan.open_qty <= 0 or self._queued_fills.get(plan.id, 0) > 0 or self.executor.unapplied_fills(plan):
            return  # the fills in flight decide first
        if self.executor.exit_in_flight(plan) or any(
                isinstance(p.effect, machines.Flatten) and p.effect.plan_id == plan.id
                for p in self.store.pending_effects()):
            return
        log.warning("%s is flattening but IB shows no exit working for its %d shares: flattening again",
                    plan.id, plan.open_qty)
        effect = machines.Flatten(plan.id, plan.spec.symbol, plan.spec.side, plan.open_qty,
                                  "no exit working at IB", plan.stop_price)
        try:
            result = await self.executor.run(effect, plan)
        except (BrokerUnavailable, ConnectionError) as exc:
            log.warning("%s: flatten not carried out (%s); retried at the next reconciliation", plan.id, exc)
            return
        log.info("%s Flatten: %s", plan.id, result)

    # ------------------------------------------------------------------ reconciliation
    async def _reconcile(self, reason: str) -> None:
        if not self.broker.is_connected():
            return
        try:
            snap = await self.broker.snapshot()
        except BrokerUnavailable as exc:
            log.warning("reconciliation (%s) failed: %s", reason, exc)
            return
        from .reconcile import reconcile
        await reconcile(self, snap, reason)
        for plan in self.live_plans():  # (re)subscribe: a reconnect drops every subscription
            if plan.state not in (State.PENDING, State.ERROR):
                await self._subscribe(plan)
        self.reconciled.set()
        for plan in list(self.live_plans()):
            if plan.state == State.PENDING and (plan.spec.start_at is None or plan.spec.start_at <= self.clock.now()):
                await self._activate(plan.id)
