"""What the engine does when the connection to IB changes, and when an IB error leaves an
order's fate unclear.

- connected: check the account IB put us on (a gateway may come back logged in to another
  account: that stops all trading for good), then reconcile;
- disconnected, or IB's 1100 (connectivity lost, socket still up): not reconciled any more, so
  no new entries; repricings not yet echoed are forgotten (the reconnect reads back what
  reached IB);
- 1101 / 1102 (restored, data lost / kept): market data is requested again after 1101, then
  reconcile;
- IB's error 100 (it refused messages: too many a second): the trader is told once per
  slow-down of the pacer; once the adapter has checked what it sent against IB's orders (and
  sent again what IB did not carry out), reconcile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import machines
from machines import LIVE_POSITION, Leg, NotifyKind

from ..broker.port import Broker, BrokerNotice, Verify
from ..clock import Clock
from ..errors import OrchestratorError
from ..store.codec import iso
from .flatten import Flattener
from .gate import EntryGate
from .notices import Notices
from .reconcile import Reconciler
from .registry import PlanRegistry
from .status import DaemonStatus

log = logging.getLogger(__name__)
Apply = Callable[[str, Any], Awaitable[bool]]
AccountCheck = Callable[[], None]


class Connection:
    def __init__(self, broker: Broker, reconciler: Reconciler, flatten: Flattener, gate: EntryGate,
                 reconciled: asyncio.Event, notices: Notices, clock: Clock, status: DaemonStatus,
                 account_check: AccountCheck | None = None, maintenance: tuple[Any, ...] = ()) -> None:
        self.broker = broker
        self.reconciler = reconciler
        self.flatten = flatten
        self.gate = gate
        self.reconciled = reconciled
        self.notices = notices
        self.clock = clock
        self.status = status
        self.account_check = account_check  # raises OrchestratorError for an account we must not trade
        self.fatal: OrchestratorError | None = None
        self.fatal_event = asyncio.Event()
        self.lost_since: str | None = None  # when IB was lost (one notice per outage, not per retry)
        self.maintenance = maintenance
        self.ib_lost = False  # this connection heard 1100 and no 1101/1102 since (it may come at the handshake)

    def _lost(self, why: str) -> None:
        if self.lost_since is None:
            self.lost_since = iso(self.clock.now())
            span = self._window()
            if span is not None:   # expected: a notice, not an alarm
                self.notices.report_once(f"connection:lost:{self.lost_since}", NotifyKind.MAINTENANCE_DISCONNECT, {
                    "message": f"IB connection lost ({why}) during {span.name}, expected until "
                               f"{span.end:%Y-%m-%d %H:%M} UTC; reconnecting; protective orders keep working at IB"})
            else:
                self.notices.report_once(f"connection:lost:{self.lost_since}", NotifyKind.CONNECTION_LOST, {
                    "message": f"IB connection lost ({why}) at {self.lost_since}; reconnecting, no new entries "
                               "meanwhile; protective orders keep working at IB"})
        self.status.write()

    def _window(self) -> Any:
        if not self.maintenance:
            return None
        from ..sessions.maintenance import window_at  # lazy: the sessions package loads only when used
        return window_at(self.clock.now(), self.maintenance)

    def _restored(self, how: str) -> None:
        if self.lost_since is not None:
            self.notices.report_once(f"connection:restored:{self.lost_since}", NotifyKind.CONNECTION_RESTORED, {
                "message": f"IB connection restored ({how}); it was lost at {self.lost_since}"})
            self.lost_since = None
        self.status.write()

    async def on_notice(self, notice: BrokerNotice) -> None:
        if notice.kind == "connected":
            if not self.broker.is_connected():
                return  # stale: that connection is gone already; the next one sends its own notice
            if self.account_check is not None:
                try:
                    self.account_check()
                except OrchestratorError as exc:
                    log.error("%s: disconnecting; nothing more is sent", exc)
                    self.fatal = exc
                    self.gate.block(str(exc))
                    await self.broker.close()
                    self.fatal_event.set()
                    return
            if self.ib_lost:   # IB's 1100 came with the handshake: nothing is judged until 1101/1102
                log.warning("connected to the gateway, but IB has lost connectivity: waiting for it to return")
                return
            self._restored("reconnected")
            self.reconciler.link_up.set()
            await self.reconciler.run("connected")
        elif notice.kind == "disconnected":
            self.ib_lost = False   # a new connection starts from what its own handshake says
            self.reconciled.clear()
            self.flatten.forget_reprices()
            log.warning("IB connection lost; reconnecting")
            self._lost("the socket closed")
        elif notice.kind == "connectivity_lost":
            self.reconciled.clear()  # no entries, no trailing until IB is back and reconciled
            self.reconciler.link_up.clear()
            self.ib_lost = True
            log.warning("IB %s: %s", notice.code, notice.message)
            self._lost(f"IB {notice.code}: {notice.message}")
        elif notice.kind == "pacing":   # the adapter sends one per slow-down
            self.notices.report_once(f"pacing:{iso(self.clock.now())}", NotifyKind.PACING_SLOWED,
                                     {"message": notice.message})
        elif notice.kind == "pacing_checked":
            await self.reconciler.run(f"IB error {notice.code}")
        elif notice.kind == "connectivity_restored":
            if notice.code == 1101:  # restored, data lost: market data must be requested again
                self.broker.forget_market_data()
            self.ib_lost = False
            self._restored(f"IB {notice.code}")
            self.reconciler.link_up.set()
            await self.reconciler.run(f"IB {notice.code}")


class Verification:
    """ib_async's local status after an IB error is not evidence: read IB's truth, then tell
    the plan what it means."""

    def __init__(self, registry: PlanRegistry, broker: Broker, reconciler: Reconciler, flatten: Flattener,
                 clock: Clock, apply: Apply) -> None:
        self.registry = registry
        self.broker = broker
        self.reconciler = reconciler
        self.flatten = flatten
        self.clock = clock
        self.apply = apply

    async def verify(self, v: Verify) -> None:
        log.info("verifying %s %s after IB error %s: %s", v.plan_id, v.leg, v.code, v.message)
        plan = self.registry.known(v.plan_id)
        if v.leg is Leg.TARGET and plan is not None and plan.flattening:
            # the take-profit repriced to flatten was refused (or is gone): a market order next
            self.flatten.forget_reprices(v.plan_id, refused=True)
        await self.reconciler.run(f"verify {v.plan_id}")
        plan = self.registry.known(v.plan_id)
        if v.leg is Leg.STOP and plan is not None and plan.state in LIVE_POSITION:
            working = any(o.leg is Leg.STOP and o.state.working for o in self.broker.orders_of(v.plan_id))
            await self.apply(v.plan_id, machines.StopModifyRejected(self.clock.now(), v.code, v.message, working))
