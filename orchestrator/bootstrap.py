"""The composition root: config → store → work queue → broker adapter → engine → notifier.

Nothing else constructs adapters, and no module connects to anything at import time. ``run``
is what ``orchestrator run`` and the demo call: it takes the store's lock before anything else
(one daemon per store), then builds, connects, checks ownership (``startup.py``) and trades.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, TextIO

from machines import NotifyKind

from .broker.brokerclock import BrokerClock
from .broker.ib import IBBroker
from .broker.translate import Namespace
from .clock import Clock, SystemClock
from .config import Config
from .engine import Engine, EngineSettings, WorkQueue
from .errors import AccountRefused, BrokerUnavailable, OrchestratorError
from .faultpoints import FaultPoints
from .notify import Deliver, OutboxSender, make_deliver
from .ownership import Existing
from .startup import account_check, check_account_mode, take_ownership
from .store import Store, sqlite_path
from .store.lock import StoreLock

log = logging.getLogger(__name__)

@dataclass
class Runtime:
    """Everything one orchestrator process runs, built from config."""

    config: Config
    store: Store
    broker: IBBroker
    engine: Engine
    sender: OutboxSender
    gateway: Any = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    fresh_store: bool = False   # this process created state.db
    clock: Clock = field(default_factory=SystemClock)


async def build(config: Config, *, clock: Clock | None = None, out: TextIO | None = None,
                deliver: Deliver | None = None, host: str | None = None, port: int | None = None,
                faults: FaultPoints | None = None) -> Runtime:
    """Build the runtime. In ``sim`` mode an embedded simulated gateway is started first."""
    if clock is None:
        clock = BrokerClock() if config.clock_source() == "broker" else SystemClock()
    gateway = None
    if config.broker.mode == "sim" and port is None:
        from .simgw import PricePath, SimGateway
        gateway = SimGateway(prices=PricePath.from_csv(config.sim.prices), host="127.0.0.1", port=0,
                             tick_seconds=config.sim.tick_seconds, account_value=float(config.sim.account_value),
                             journal_path=config.sim.journal, partial_fill_max=config.sim.partial_fill_max,
                             clock=config.sim.clock, speed=config.sim.speed, calendar=config.sim.calendar,
                             sim_date=config.sim.clock.astimezone(UTC).date() if config.sim.clock is not None else None,
                             held=True)   # released once the engine runs (``start``)
        await gateway.start()
        host, port = "127.0.0.1", gateway.port
    fresh = not sqlite_path(config.store.url).exists()
    store = Store(config.store.url)
    queue = WorkQueue()  # made first: the broker's handlers and the engine share it
    b = config.broker
    broker = IBBroker(host or b.host, port if port is not None else b.port, b.client_id, clock=clock,
                      sink=queue.put, namespace=Namespace(b.order_ref_prefix), market_data=config.market_data.type,
                      used_order_ids=store.max_order_id, connect_timeout=float(b.connect_timeout_seconds))
    settings = EngineSettings(
        plan_files=config.plans.paths, limits=config.risk_limits(),
        trailing_interval=float(config.trailing.interval_seconds),
        reconcile_interval=float(b.reconcile_seconds),
        rescan_interval=float(config.plans.rescan_seconds),
        price_retention_days=config.store.price_retention_days,
        trail_confirm_seconds=float(config.trailing.confirm_seconds), trail_max_attempts=config.trailing.max_attempts,
        market_max_age=float(config.market_data.max_age_seconds),
        market_allow_delayed=config.market_data.trail_on_delayed, maintenance=config.maintenance_windows(),
        market_hours=config.market_hours(),
        details={"ib_host": broker.host, "ib_port": broker.port, "client_id": b.client_id,
                 "order_ref_prefix": b.order_ref_prefix, "mode": b.mode})
    # checked at every (re)connect: a gateway may come back logged in to another account
    engine = Engine(settings, store, broker, clock, queue, faults=faults or FaultPoints.from_env(),
                    account_check=lambda: account_check(b.mode, store, broker.account))
    sender = OutboxSender(store, clock, deliver or make_deliver(config.discord, clock=clock, out=out or sys.stdout))
    engine.on_commit.append(sender.poke)
    return Runtime(config, store, broker, engine, sender, gateway, fresh_store=fresh, clock=clock)


def starting_line(rt: Runtime) -> str:
    """What this daemon is about to use, logged before it connects (a service started with the
    wrong config or from the wrong folder says so in its first line)."""
    cfg = rt.config
    return (f"starting (pid {os.getpid()}): config {cfg.source}, mode {cfg.broker.mode}, "
            f"IB {rt.broker.host}:{rt.broker.port}, client id {cfg.broker.client_id}, store {rt.store.path}, "
            f"plans.files {', '.join(cfg.plans.files)}")


async def start(rt: Runtime, existing: Existing = Existing.REFUSE) -> None:
    """Start delivering notifications, connect, check the account and the store's ownership,
    then start trading."""
    rt.tasks.append(asyncio.get_running_loop().create_task(rt.sender.run(), name="outbox-sender"))
    delay = 0.2
    while True:
        await rt.broker.connect_with_retry()
        try:
            # before anything is sent
            await take_ownership(rt.config, rt.store, rt.broker, rt.engine, rt.clock, existing)
            break
        except BrokerUnavailable as exc:  # the link dropped while IB was asked: connect and check again
            log.warning("ownership check interrupted (%s); trying again in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        except OrchestratorError as exc:
            await _tell_now(rt, NotifyKind.START_REFUSED, f"orchestrator refused to start: {exc}")
            raise
    missing = rt.config.plan_files_warning()
    if missing is not None:  # logged at start already; told once per start (the log said it before connecting)
        rt.store.add_notice(f"plan-files:{rt.engine.status.started_at}", NotifyKind.PLAN_FILES_MISSING,
                            {"kind": NotifyKind.PLAN_FILES_MISSING, "plan_id": None, "facts": {"message": missing}},
                            at=rt.clock.now())
    if isinstance(rt.clock, BrokerClock):  # follow IB's time from the first step on
        def clock_moved() -> None:   # one-shot jobs and notification waits follow IB's time
            rt.engine.jobs.retime()
            rt.sender.clock_moved()
        rt.clock.on_change = clock_moved
        try:
            await asyncio.wait_for(rt.clock.sync(rt.broker.ib.reqCurrentTimeAsync), 5)
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.warning("IB's current time not read at start (%s); the clock follows it from the next poll", exc)
        rt.tasks.append(asyncio.get_running_loop().create_task(
            rt.clock.follow(rt.broker.ib.reqCurrentTimeAsync, rt.broker.is_connected), name="broker-clock"))
    await rt.engine.start()
    if rt.gateway is not None:  # the embedded gateway's market starts once the engine runs
        rt.gateway.release()
    log.info("running: account %s, %d live plan(s)", rt.broker.account or "?", len(rt.engine.live_plans()))


async def _tell_now(rt: Runtime, kind: NotifyKind, message: str) -> None:
    """A notification delivered at once, without the outbox: a refused start writes nothing to
    the store. Best effort (a few seconds), never an error of its own."""
    try:
        await asyncio.wait_for(rt.sender.deliver({"kind": kind, "plan_id": None, "facts": {"message": message}}), 5)
    except Exception as exc:  # noqa: BLE001 - the refusal itself is what matters; it is logged too
        log.warning("the %s notification could not be delivered: %s", kind, exc)


async def shutdown(rt: Runtime, *, flush_seconds: float = 5.0, reason: str = "stopped") -> None:
    """Finish the current step, deliver what can be delivered, disconnect, close."""
    if rt.engine.status.started_at and rt.engine.reconciled.is_set():
        rt.engine.notices.report_once(f"stopped:{rt.engine.status.started_at}", NotifyKind.DAEMON_STOPPED, {
            "message": f"orchestrator {reason}; IB keeps the protective orders working"})
    await rt.engine.stop()
    try:
        await asyncio.wait_for(rt.sender.drain(), flush_seconds)
    except (TimeoutError, Exception):  # noqa: BLE001 - delivery must never block shutdown
        log.warning("notifications left in the outbox; they are sent at the next start")
    for task in rt.tasks:
        task.cancel()
    await asyncio.gather(*rt.tasks, return_exceptions=True)
    await rt.sender.aclose()
    if rt.gateway is not None:
        await rt.gateway.stop()
    rt.store.close()


async def run(config: Config, *, exit_when_idle: bool = False, out: TextIO | None = None,
              stop: asyncio.Event | None = None, existing: Existing = Existing.REFUSE) -> int:
    """Run until SIGINT/SIGTERM (or, with ``exit_when_idle``, until every plan is terminal).

    Raises:
        StoreLocked: another daemon holds this store (nothing was built or written).
    """
    lock = StoreLock(sqlite_path(config.store.url))
    lock.acquire(now=SystemClock().now())
    try:
        return await _run(config, exit_when_idle=exit_when_idle, out=out, stop=stop, existing=existing)
    finally:
        lock.release()


async def _run(config: Config, *, exit_when_idle: bool, out: TextIO | None, stop: asyncio.Event | None,
               existing: Existing) -> int:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    why: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        if not why:
            log.info("%s received: stopping (the current step finishes; IB keeps the protective orders working)",
                     sig.name)
        why.append(sig.name)
        stop.set()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    rt = await build(config, out=out)
    log.info("%s", starting_line(rt))
    missing = config.plan_files_warning()
    if missing is not None:
        log.warning("%s", missing)
    try:
        # SIGINT/SIGTERM must work while IB cannot be reached yet (start retries forever):
        # nothing has been sent then, so stopping is just giving up the connection attempts.
        starting = asyncio.ensure_future(start(rt, existing))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not starting.done():
            log.warning("stopped before the connection to IB was established")
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return 0
        starting.result()  # its error, if any (e.g. the account does not match the mode)
        while not stop.is_set():
            if rt.engine.fatal is not None:
                raise rt.engine.fatal
            if exit_when_idle and rt.engine.reconciled.is_set() and rt.engine.idle():
                why.append("every plan is terminal")
                break
            rt.engine.changed.clear()
            waiter = asyncio.ensure_future(stop.wait())
            changed = asyncio.ensure_future(rt.engine.changed.wait())
            await asyncio.wait({waiter, changed}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            for f in (waiter, changed):
                f.cancel()
    finally:
        # a run refused before it did anything (wrong account, stopped before IB answered) leaves
        # no empty state.db behind: the next run must not mistake it for one that ran
        unused = rt.fresh_store and rt.store.holds_nothing()
        reason = f"stopped ({why[0]})" if why else "stopped"
        await shutdown(rt, reason=reason)
        if unused:
            path = sqlite_path(config.store.url)
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                leftover.unlink(missing_ok=True)
        log.info("%s%s", reason, "; the unused state.db it created is removed" if unused else "")
    return 0


__all__ = ["AccountRefused", "BrokerUnavailable", "Existing", "Runtime", "build", "check_account_mode", "run",
           "shutdown", "start"]
