"""The gateway's order journal: one JSON object per line, flushed per line.

Every order event the gateway saw or made is recorded: ``placed``,
``transmitted``, ``modified``, ``activated``, ``resized``, ``triggered``,
``filled``, ``cancelled``, ``rejected``, ``cancel_rejected``, ``rekeyed``, ``what_if_refused`` (a margin
preview refused, e.g. off its tick: error 110); and, for no order, ``pacing_refused`` (error 100 sent to
a client) and ``pacing_dropped`` (a client disconnected for pacing). A refusal carries IB's ``code`` and
``text``; a modification refused for its tick (110) also the prices refused (``refused_lmt_price`` …),
since the order's own prices stay the old ones.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from .orders import OrderEvent

log = logging.getLogger("orchestrator.simgw")


def entry_for(event: OrderEvent, now: datetime | None = None) -> dict[str, object]:
    """The journal line of one book event."""
    o = event.order
    ts = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
    entry: dict[str, object] = {"event": event.kind, "ts": ts, "client_id": event.client_id,
                                "order_id": event.order_id}
    if o is not None:
        entry.update({
            "perm_id": o.perm_id or None,
            "order_ref": o.order_ref,
            "symbol": o.symbol or None,
            "action": o.action or None,
            "order_type": o.order_type or None,
            "quantity": o.total_qty if o.order_type else None,
            "lmt_price": o.lmt_price,
            "aux_price": o.aux_price,
            "trail_stop_price": o.trail_stop_price,
            "parent_id": o.parent_id,
            "oca_group": o.oca_group,
            "status": o.status or None,
            "filled": o.filled,
        })
    e = event.execution
    if e is not None:
        entry.update({
            "exec_id": e.exec_id, "fill_qty": e.shares, "fill_price": e.price, "cum_qty": e.cum_qty,
            "avg_price": round(e.avg_price, 6), "commission": e.commission, "side": e.side,
        })
    if event.code:
        entry["code"] = event.code
        entry["text"] = event.text
    for key, value in event.details.items():
        entry[key] = value
    return entry


class Journal:
    """Writes journal lines to ``path`` (if given) and keeps them in memory."""

    def __init__(self, path: str | Path | None = None, sim_clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path) if path else None
        self.sim_clock = sim_clock   # a session clock: each line also says its simulated time (``sim_ts``)
        self.entries: list[dict[str, object]] = []
        self._file: IO[str] | None = None
        if self.path is not None:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # owner-only from creation
            self._file = os.fdopen(fd, "a", encoding="utf-8")  # noqa: SIM115 - lives with the gateway

    def record(self, event: OrderEvent) -> None:
        if not event.kind:
            return
        entry = entry_for(event)
        if self.sim_clock is not None:
            entry["sim_ts"] = self.sim_clock().isoformat(timespec="microseconds")
        self.entries.append(entry)
        if self._file is not None:
            try:
                self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
                self._file.flush()
            except OSError as exc:  # a full disk must not take trading down
                log.error("journal write to %s failed: %s", self.path, exc)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
