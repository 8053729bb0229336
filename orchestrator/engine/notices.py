"""Notifications that no transition produces (a bad plan file, an unexplained position): each
is written to the outbox once per process and key, and logged."""

from __future__ import annotations

import logging
from typing import Any

from machines import NotifyKind

from ..clock import Clock
from ..store import Store

log = logging.getLogger(__name__)


# notices that tell, rather than warn: logged at INFO
INFORMATIONAL = frozenset({NotifyKind.DAEMON_STARTED, NotifyKind.DAEMON_STOPPED, NotifyKind.CONNECTION_RESTORED,
                           NotifyKind.FOREIGN_POSITIONS, NotifyKind.POSITION_EXPLAINED, NotifyKind.ENTRIES_PAUSED,
                           NotifyKind.ENTRIES_RESUMED, NotifyKind.MARKET_DATA_RESTORED,
                           NotifyKind.MAINTENANCE_DISCONNECT})


class Notices:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._reported: set[str] = set()

    def report_once(self, key: str, kind: NotifyKind, payload: dict[str, Any], plan_id: str | None = None) -> None:
        if key in self._reported:
            return
        self._reported.add(key)
        log.log(logging.INFO if kind in INFORMATIONAL else logging.WARNING, "%s: %s", kind, payload.get("message"))
        self.store.add_notice(key, kind, {"kind": kind, "plan_id": plan_id, "facts": payload}, at=self.clock.now(),
                              plan_id=plan_id)
