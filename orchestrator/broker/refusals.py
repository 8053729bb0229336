"""What IB may have refused after an error 100, found out from IB's views and sent again.

IB answers a message over its rate limit with error 100 and does not process it; the error
names no message (request id -1), and the messages after it within IB's second are refused
without a word. So every message written from ``LOOKBACK`` seconds before the error until the
check is suspect. ``SETTLE`` seconds after the last error (IB's refusing second is over and the
pacer has slowed down), IB is asked for its open orders: once they are in, IB has answered
every message written before that request, and ib_async's copy of each of our orders is IB's
word. Then, per suspect message (only the newest of each order counts: a newer change of it,
sent or waiting in the pacer, supersedes it):

- a new order IB has not reported (ib_async still shows it ``PendingSubmit``): IB never had
  it; it is sent again under the same id. A group (a bracket) is sent again whole when IB has
  none of it, or its missing children when IB holds their parent; never a parent alone whose
  children IB had (it rejected them: the engine's reconciliation takes it from there);
- a modification IB's view does not match (price, quantity) on an order still working: sent again;
- a cancel of an order IB still reports working: sent again;
- a request awaited with a deadline (``answer``) that is still unanswered is asked again, and a
  market-data subscription made in the window is made again.

Nothing is assumed from the error itself: an order IB shows as wanted is left alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .pacer import Lane
from .port import OrderState

log = logging.getLogger(__name__)

LOOKBACK = 2.0   # seconds before an error 100 whose messages may be the refused ones (a reader pause, the wire)
SETTLE = 1.5     # seconds after the last error 100 before IB's views are read (IB refuses for a second)
KEEP = 120.0     # seconds an order message is remembered from when it was asked for (written or still waiting)


@dataclass(eq=False)
class Sent:
    """One order message: what it asked for, and when it left (None: it waits in the pacer)."""

    kind: str                 # "place" | "modify" | "cancel"
    order: Any                # the ib_async Order sent (for a modify, the amended copy)
    contract: Any
    lane: Lane
    plan_id: str | None
    group: tuple[int, ...] = ()   # the order ids of its group, in sending order (a bracket)
    at: float | None = None
    made: float = 0.0             # when it was asked for


@dataclass(eq=False)
class Awaited:
    """A request something awaits the answer to: ``make`` sends it (again). ``started``, for a
    request ib_async keys by name (one at a time: open orders, completed orders, positions),
    says its answer has begun to arrive: such a request is never asked again then (an answer
    cut in two would be a partial view); any other is asked again under a new id, and the
    first answer to either counts."""

    make: Callable[[], Awaitable[Any]]
    at: float
    started: Callable[[], bool] | None
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    renewed: asyncio.Future[None] | None = None


Resend = Callable[[list[Sent]], Awaitable[None]]


class Refusals:
    """The suspects of the last error 100s, and the check that settles them."""

    def __init__(self, clock: Callable[[], float], trade_of: Callable[[int], Any],
                 open_orders: Callable[[], Awaitable[Any]], resend: Resend,
                 resubscribe: Callable[[str], None], checked: Callable[[int], None]) -> None:
        self.clock = clock
        self.trade_of = trade_of          # ib_async's trade of one of our order ids (None: unknown)
        self.open_orders = open_orders    # asks IB for its open orders, returns once they are in
        self.resend = resend              # sends these messages again, through the pacer
        self.resubscribe = resubscribe
        self.checked = checked            # told how many messages were sent again
        self._sent: OrderedDict[int, Sent] = OrderedDict()   # order id → its newest message
        self._asked: dict[str, float] = {}                   # symbol → when its market data was asked for
        self._awaited: set[Awaited] = set()
        self._since: float | None = None    # the suspect window's start (None: no error 100 pending)
        self._last_error = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ what left
    def record(self, order_id: int, sent: Sent) -> Callable[[], None]:
        """Remember ``sent`` as the newest message of ``order_id``; returns what stamps it written."""
        self._sent.pop(order_id, None)
        self._sent[order_id] = sent
        sent.made = self.clock()
        self._prune()

        def wrote() -> None:
            sent.at = self.clock()
        return wrote

    def asked(self, symbol: str) -> None:
        self._asked[symbol] = self.clock()

    def _prune(self) -> None:
        old = self.clock() - KEEP
        while self._sent and next(iter(self._sent.values())).made < old:   # oldest first
            self._sent.popitem(last=False)

    # ------------------------------------------------------------------ awaited requests
    async def answer(self, make: Callable[[], Awaitable[Any]], deadline: float,
                     started: Callable[[], bool] | None = None) -> Any:
        """The answer to the request ``make`` sends, asked again if an error 100 may have refused
        it; raises TimeoutError when no answer came within ``deadline`` seconds of the last asking."""
        loop = asyncio.get_running_loop()
        entry = Awaited(make, self.clock(), started)
        entry.futures.append(asyncio.ensure_future(make()))
        self._awaited.add(entry)
        try:
            while True:
                entry.renewed = renewed = loop.create_future()
                done, _ = await asyncio.wait({*entry.futures, renewed}, timeout=deadline,
                                             return_when=asyncio.FIRST_COMPLETED)
                for future in entry.futures:
                    if future in done and not future.cancelled():
                        return future.result()
                if renewed not in done:
                    raise TimeoutError
        finally:
            self._awaited.discard(entry)
            for future in entry.futures:
                future.cancel()

    def _ask_again(self, since: float, until: float) -> int:
        again = 0
        for entry in list(self._awaited):
            if not since <= entry.at <= until or any(f.done() for f in entry.futures):
                continue
            if entry.started is not None:
                if entry.started():
                    continue   # its answer is arriving: it was not refused
                for future in entry.futures:   # one at a time: the new request takes the old one's place
                    future.cancel()
                entry.futures = []
            entry.at = self.clock()
            entry.futures.append(asyncio.ensure_future(entry.make()))
            if entry.renewed is not None and not entry.renewed.done():
                entry.renewed.set_result(None)
            again += 1
        for symbol, at in list(self._asked.items()):
            if since <= at <= until:
                self.resubscribe(symbol)
                self._asked[symbol] = self.clock()
                again += 1
        return again

    # ------------------------------------------------------------------ the check
    def refused(self) -> None:
        """IB sent error 100: what left since ``LOOKBACK`` ago is suspect; check it once IB settled."""
        now = self._last_error = self.clock()
        self._since = min(self._since, now - LOOKBACK) if self._since is not None else now - LOOKBACK
        if self._timer is not None:   # a later error puts the check off: IB refuses for a second after each
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(SETTLE, self._start)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done():   # the check under way first
            self._timer = loop.call_later(SETTLE, self._start)
            return
        self._timer = None
        self._task = loop.create_task(self._check(), name="pacing-check")

    def forget(self) -> None:
        """The connection dropped: ib_async forgets the session's orders; the reconnect reads IB."""
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
        self._timer = self._task = self._since = None
        self._sent.clear()
        self._asked.clear()

    async def _check(self) -> None:
        since, until = self._since, self.clock()
        assert since is not None
        self._since = None
        again = self._ask_again(since, min(until, self._last_error + 1.0))   # IB refuses for a second after an error
        try:
            await self.open_orders()
        except Exception as exc:  # noqa: BLE001 - the link's own failure path reconnects; nothing to add here
            log.warning("after IB's error 100, its open orders could not be read (%s); the reconnect reads them", exc)
            return
        suspects = [(oid, s) for oid, s in self._sent.items() if s.at is not None and since <= s.at <= until]
        groups = self.settle(suspects)
        for group in groups:
            await self.resend(group)
        sent = again + sum(len(g) for g in groups)
        log.info("after IB's error 100: %d suspect order messages checked against IB's open orders, %d messages "
                 "sent again", len(suspects), sent)
        self.checked(sent)

    def settle(self, suspects: list[tuple[int, Sent]]) -> list[list[Sent]]:
        """The messages to send again (one list per send: a group goes together), judged on
        ib_async's copy of each order, which IB's open orders just refreshed."""
        out: list[list[Sent]] = []
        groups: dict[tuple[int, ...], list[Sent]] = {}
        for oid, s in suspects:
            trade = self.trade_of(oid)
            if trade is None:
                continue
            state = OrderState.of(str(trade.orderStatus.status))
            if s.kind == "place":
                if state is OrderState.PENDING_SUBMIT:
                    groups.setdefault(s.group or (oid,), []).append(s)
            elif s.kind == "modify":
                if state.working and not _matches(trade.order, s.order):
                    out.append([s])
            elif state.working:   # a cancel IB did not carry out
                out.append([s])
        for ids, unseen in groups.items():
            parent_unseen = any(int(s.order.orderId) == ids[0] for s in unseen)
            if parent_unseen and len(unseen) < len(ids):
                log.warning("after IB's error 100: IB has part of the order group %s but not its parent; "
                            "not sent again (the engine's reconciliation decides)", list(ids))
                continue
            out.append(unseen)
        return out


def _matches(at_ib: Any, sent: Any) -> bool:
    return bool(at_ib.auxPrice == sent.auxPrice and at_ib.lmtPrice == sent.lmtPrice
                and at_ib.totalQuantity == sent.totalQuantity)
