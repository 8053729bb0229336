"""Every message ib_async writes to IB goes through the connection's pacer.

ib_async frames each request in ``Client.sendMsg``, where its own throttle lives (45 requests a
second, first in first out, nothing coalesced). The gate takes that place on the client: a
message goes out at once when the pacer has room and nothing more urgent waits, else it waits
in the pacer, ordered and coalesced; ib_async's throttle is off, so the pacer is the only budget.
ib_async keeps its own books as before (a ``Trade`` exists from ``placeOrder`` on, whether its
message has left yet or not), so the engine sees an order it asked for at once. A message leaves
before the call returns when the pacer has room for it and nothing more urgent waits; else the
drain sends it when it may go.

The adapter says what the messages it causes are (:meth:`Outbound.tagged`); everything else
ib_async sends (the start-up requests, market data, contract look-ups, snapshots) is a
``REQUEST``. When the connection drops, whatever still waits is discarded: IB never saw it,
ib_async forgets the session's orders, and the reconciliation after the reconnect reads what IB
holds.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..errors import BrokerUnavailable
from .pacer import Drain, Item, Lane, Pacer


@dataclass(frozen=True, slots=True)
class Tag:
    lane: Lane = Lane.REQUEST
    urgency: float = 0.0
    key: Hashable | None = None
    drops: tuple[Hashable, ...] = ()
    plan_id: str | None = None
    wanted: Callable[[], bool] | None = None
    wrote: Callable[[], None] | None = None   # told when the message has been written (``refusals``)


class Outbound:
    """The pacer installed in one ib_async client."""

    def __init__(self, client: Any, pacer: Pacer) -> None:
        self.client = client
        self.pacer = pacer
        self.drain = Drain(pacer)
        self._tag = Tag()
        client.MaxRequests = 0          # ib_async's throttle off: the pacer decides
        client.sendMsg = self._send_msg  # where ib_async hands over each framed request

    @contextmanager
    def tagged(self, lane: Lane, *, urgency: float = 0.0, key: Hashable | None = None,
               drops: tuple[Hashable, ...] = (), plan_id: str | None = None,
               wanted: Callable[[], bool] | None = None, wrote: Callable[[], None] | None = None) -> Iterator[None]:
        """The messages ib_async sends inside the block are of ``lane`` (see :class:`pacer.Item`)."""
        previous = self._tag
        self._tag = Tag(lane, urgency, key, drops, plan_id, wanted, wrote)
        try:
            yield
        finally:
            self._tag = previous

    def _send_msg(self, msg: str | None) -> None:
        if not msg:
            return
        if self.pacer.sending:  # a released item sending what it declared
            self._write(msg)
            return
        t = self._tag
        self.pacer.offer(Item(partial(self._write, msg, t.wrote), t.lane, t.urgency, t.key, t.drops, 1, t.plan_id,
                              t.wanted))
        self.pacer.release()
        self.drain.arm()

    def _write(self, msg: str, wrote: Callable[[], None] | None = None) -> None:
        data = msg.encode()
        self.client.conn.sendMsg(struct.pack(">I", len(data)) + data)
        if wrote is not None:
            wrote()

    def queued(self, key: Hashable) -> bool:
        """An item of ``key`` waits in the pacer."""
        return self.pacer.queued(key)

    async def group(self, lane: Lane, cost: int, build: Callable[[], None], plan_id: str | None = None) -> None:
        """Run ``build`` — which sends exactly ``cost`` messages — once the pacer lets ``cost``
        messages go, and return when it has. ``build``'s exception is raised here.

        Raises:
            BrokerUnavailable: the group was discarded before it could go (the link dropped).
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def send() -> None:
            try:
                build()
            except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
                done.set_exception(exc)
            else:
                done.set_result(None)

        def dropped() -> None:
            if not done.done():
                done.set_exception(BrokerUnavailable("the connection to IB dropped before the orders could be sent"))

        item = Item(send, lane, cost=cost, plan_id=plan_id, dropped=dropped)
        self.pacer.offer(item)
        self.pacer.release()
        self.drain.arm()
        try:
            await done
        except asyncio.CancelledError:
            self.pacer.withdraw(item)
            raise

    def clear(self) -> int:
        """Discard what waits (the connection is gone). Returns how many items were discarded."""
        self.drain.cancel()
        return self.pacer.clear()
