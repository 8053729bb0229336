"""IB's error 100 on the adapter's side: the pacer slows down, the trader hears it once per
slow-down, and the messages ``refusals.py`` found not carried out are sent again.

A message sent again goes through the pacer like the first (its lane, its plan; a trailing move
under its order's key, so a newer move waiting for room replaces it, and one already waiting
makes it unnecessary), under the same order id: IB never had it, or has the order as it was
before the refused change. ib_async's own books already show what was asked (the order, the
amended copy, the pending cancel), so the low-level client writes it again; a modification is
written as the first was (``modify_known``: ib_async then reports IB's acknowledgement of it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .codes import PACING
from .outbound import Outbound
from .pacer import Lane, Pacer
from .port import BrokerNotice, OrderState, Sink
from .refusals import Refusals, Sent
from .session import one_write

log = logging.getLogger(__name__)


class SendAgain:
    def __init__(self, ib: Any, outbound: Outbound, pacer: Pacer, sink: Sink,
                 modify_known: Callable[[Any, Any], None]) -> None:
        self.ib = ib
        self.modify_known = modify_known   # (trade, amended copy): writes a modification of a known order
        self.outbound = outbound
        self.pacer = pacer
        self.sink = sink
        self.refusals: Refusals | None = None   # set once both exist (each needs the other)

    def trade_of(self, order_id: int) -> Any:
        return self.ib.wrapper.trades.get((self.ib.client.clientId, order_id))

    def refused(self, message: str) -> None:
        """IB's error 100: slow down; the first of a slow-down is news for the trader."""
        starts = self.pacer.refused()
        rate, hold = self.pacer.current_rate(), self.pacer.hold
        log.info("IB error %d (%s): the pacer allows %g messages/s for the next %g s", PACING, message, rate, hold)
        if starts:
            self.sink(BrokerNotice("pacing", PACING, (
                f"IB refused messages for exceeding its rate limit (error {PACING}: {message}); the orchestrator "
                f"slowed its requests to {rate:g} a second for {hold:g} s and checks what it had sent against "
                "IB's orders, sending again what IB did not carry out")))

    def checked(self, again: int) -> None:
        self.sink(BrokerNotice("pacing_checked", PACING, f"{again} messages sent again after IB's error {PACING}"))

    async def send(self, group: list[Sent]) -> None:
        """Send these messages again (a group: at once, when the pacer has room for all of it)."""
        if not self.ib.isConnected():
            return
        first = group[0]
        if first.kind == "place" and len(first.group) > 1:
            await self.outbound.group(first.lane, len(group), lambda: self._write_group(group), first.plan_id)
            return
        for sent in group:
            self._one(sent)

    def _one(self, sent: Sent) -> None:
        oid = int(sent.order.orderId)
        moving = ("trail", oid)
        if sent.lane is Lane.TRAIL and self.outbound.queued(moving):
            return   # a newer move of this stop waits for room: it is what IB should get
        wrote = self._record(sent)
        log.info("sending again after IB's error %d: %s of order %d (%s)", PACING, sent.kind, oid, sent.plan_id)
        if sent.kind == "modify" and sent.lane is Lane.TRAIL:
            tag = self.outbound.tagged(Lane.TRAIL, key=moving, plan_id=sent.plan_id, wrote=wrote,
                                       wanted=lambda: _working(self.trade_of(oid)))
        else:
            tag = self.outbound.tagged(sent.lane, plan_id=sent.plan_id, wrote=wrote,
                                       drops=(moving,) if sent.kind == "cancel" else ())
        with tag:
            trade = self.trade_of(oid)
            if sent.kind == "cancel":
                self.ib.client.cancelOrder(oid, "")
            elif sent.kind == "modify" and trade is not None:
                self.modify_known(trade, sent.order)
            else:
                self.ib.client.placeOrder(oid, sent.contract, sent.order)

    def _write_group(self, group: list[Sent]) -> None:
        with one_write(self.ib.client) as batch:
            for sent in group:
                self.ib.client.placeOrder(int(sent.order.orderId), sent.contract, sent.order)
        batch.flush()
        for sent in group:
            self._record(sent)()
        log.info("sent again after IB's error %d: the order group %s (%s)", PACING,
                 [int(s.order.orderId) for s in group], group[0].plan_id)

    def _record(self, sent: Sent) -> Any:
        assert self.refusals is not None
        return self.refusals.record(int(sent.order.orderId), Sent(sent.kind, sent.order, sent.contract, sent.lane,
                                                                  sent.plan_id, sent.group))


def _working(trade: Any) -> bool:
    return trade is not None and OrderState.of(str(trade.orderStatus.status)).working
