"""Book events → wire messages for the order's owner.

Each :class:`~.orders.OrderEvent` lists, in order, the messages its owner hears
(openOrder, orderStatus, execDetails, commissionReport, error). Only the client that owns
the order hears them, and only while it is connected. Two faults act here: delayed
executions (execDetails and commissionReport sent later than the orderStatus) and dropped
orderStatus messages. While IB's connectivity is lost (``holding``), events wait and are
delivered, in order, when it comes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from . import messages as msg
from .contracts import Catalog
from .faults import Faults
from .orders import OrderEvent
from .session import Sink

log = logging.getLogger("orchestrator.simgw")

EXEC_PARTS = ("exec", "commission", "late_status")   # held back by the exec-delay fault


class Delivery:
    """Sends each order event's messages to the owner's connection."""

    def __init__(self, catalog: Catalog, faults: Faults, owner: Callable[[int], Sink | None]) -> None:
        self.catalog = catalog
        self.faults = faults
        self.owner = owner
        self.holding = False
        self._held: list[OrderEvent] = []

    def release(self) -> None:
        """Deliver every event held while connectivity was lost."""
        self.holding = False
        held, self._held = self._held, []
        for ev in held:
            self.deliver(ev)

    def deliver(self, ev: OrderEvent) -> None:
        if self.holding:
            self._held.append(ev)
            return
        conn = self.owner(ev.client_id)
        if conn is None or not ev.wire or ev.order is None:
            return
        late = self.faults.exec_delay
        if late and ("exec" in ev.wire or "late_status" in ev.wire):
            # IB does not promise execDetails before orderStatus: send the execution later
            now = tuple(p for p in ev.wire if p not in EXEC_PARTS)
            later = tuple(p for p in ev.wire if p in EXEC_PARTS)
            self.deliver(replace(ev, wire=now))
            snapshot = replace(ev, wire=later, order=replace(ev.order))
            asyncio.get_running_loop().call_later(late, self._deliver_late, snapshot)
            return
        stock = self.catalog.by_key(ev.order.symbol)
        for part in ev.wire:
            if part == "error":
                conn.send(msg.error(ev.order_id, ev.code, ev.text))
            elif stock is None:
                continue
            elif part == "open":
                conn.send(msg.open_order(ev.order, stock))
            elif part in ("status", "late_status"):
                if self.faults.take_drop_status():
                    log.info("fault: dropped orderStatus %s %s for client %s",
                             ev.order.order_id, ev.order.status, ev.client_id)
                    continue
                conn.send(msg.order_status(ev.order))
            elif part == "exec" and ev.execution is not None:
                conn.send(msg.exec_details(-1, ev.execution, stock))
            elif part == "commission" and ev.execution is not None:
                conn.send(msg.commission_report(ev.execution, stock.currency))

    def _deliver_late(self, ev: OrderEvent) -> None:
        conn = self.owner(ev.client_id)
        stock = self.catalog.by_key(ev.order.symbol) if ev.order is not None else None
        if conn is None or stock is None or ev.order is None:
            return
        for part in ev.wire:
            if part == "late_status":   # a status that follows the executions it reports (``Book._cancel_rest``)
                conn.send(msg.order_status(ev.order))
            if ev.execution is None:
                continue
            if part == "exec":
                conn.send(msg.exec_details(-1, ev.execution, stock))
            elif part == "commission":
                conn.send(msg.commission_report(ev.execution, stock.currency))
