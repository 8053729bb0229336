"""The daemon's own status, for readers of state.db (``status``, the console): one ``meta`` row,
``daemon``, rewritten at start, on every connection change, when the entry gate changes, and as a
heartbeat every few seconds. A daemon is running while ``stopped_at`` is empty and the heartbeat
is fresh (its contract: /work/wt/CONTRACTS.md §1, mirrored in the README)."""

from __future__ import annotations

import json
import os
import socket
from decimal import Decimal
from typing import Any

from ..broker.port import Broker
from ..clock import Clock
from ..store import Store
from ..store.codec import iso
from .gate import ALL, EntryGate
from .marketwatch import MarketWatch
from .registry import PlanRegistry

DAEMON_KEY = "daemon"


class DaemonStatus:
    def __init__(self, store: Store, broker: Broker, gate: EntryGate, registry: PlanRegistry, clock: Clock,
                 details: dict[str, Any], risk_cap_pct: Decimal, market: MarketWatch | None = None) -> None:
        self.store = store
        self.broker = broker
        self.gate = gate
        self.registry = registry
        self.clock = clock
        self.details = details  # what the daemon is connected to: ib_host, ib_port, client_id, prefix
        self.risk_cap_pct = risk_cap_pct
        self.market = market
        self.started_at = iso(clock.now())
        self.stopped_at: str | None = None

    def document(self) -> dict[str, Any]:
        live = self.registry.live()
        open_risk = sum((p.open_risk() for p in live), Decimal(0))
        net = self.broker.account_value("NetLiquidation")
        return {
            "pid": os.getpid(), "host": socket.gethostname(), "started_at": self.started_at,
            "heartbeat_at": iso(self.clock.now()), "stopped_at": self.stopped_at,
            "connected": self.broker.is_connected(), "account": self.broker.account or None, **self.details,
            "entries_paused": ALL in self.gate.paused, "paused_symbols": sorted(self.gate.paused - {ALL}),
            "blocked": self.gate.blocked, "blocked_symbols": dict(sorted(self.gate.held.items())),
            "accepted_positions": dict(sorted(self.gate.accepted.items())),
            "beside_positions": dict(sorted(self.gate.beside.items())),   # the trader's, seen, not accepted
            "live_plans": len(live), "open_risk": str(open_risk),
            "account_value": None if net is None else str(net),
            "base_currency": self.broker.base_currency(),
            "open_risk_cap": None if net is None else str(net * self.risk_cap_pct / 100),
            "market_data": self.broker.market_data(),
            "data_holds": dict(sorted(self.market.held.items())) if self.market is not None else {},
        }

    def write(self) -> None:
        self.store.set_meta(DAEMON_KEY, json.dumps(self.document(), sort_keys=True))

    def stopped(self) -> None:
        self.stopped_at = iso(self.clock.now())
        self.write()
