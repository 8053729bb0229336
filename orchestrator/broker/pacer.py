"""One budget for everything a connection sends to IB: at most ``rate`` messages in any
``interval`` (IB refuses more than 50 a second with error 100, then drops the client; the
default here is 45), handed out most urgent first.

IB counts a message when it reads it, we count it when we write it: a second window of IB's
own limit guards the first (``ratewindow.py`` says why and with what margin): 45 may leave at
once, at most 40 a second go on for long.

When IB still complains (error 100: it refused a message), :meth:`Pacer.refused` slows every
window down (their spans doubled, up to four times; the same counts) and, after ``hold``
seconds without another complaint, each step is undone in turn.

What waits is ordered by lane, then urgency, then arrival: an exit before an entry before any
other request (market data, snapshots: something awaits the answer) before a trailing stop
modification; among trailing modifications the smallest urgency (the stop nearest the price,
in R) goes first. An item with a ``key`` replaces the queued item of that key (only the newest
wanted stop of an order is sent), an item may make queued items obsolete (``drops``: a cancel
of an order discards its queued stop move), and ``wanted`` is asked again at the moment an item
would go (an order that filled meanwhile is not modified).

:class:`Pacer` is pure (an injected clock, no event loop): tests drive it directly.
:class:`Drain` releases what waits on the event loop, at the moment there is room for it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import IntEnum

from .ratewindow import IB_LIMIT, SLACK, Window

DEFAULT_RATE = 45  # what the pacer allows itself in a second
SLOWEST = 4        # after repeated error 100s the windows are at most this many times longer
HOLD = 20.0        # seconds without an error 100 before one step of a slow-down is undone


class Lane(IntEnum):
    """What a request is, in the order requests leave when they must wait."""

    EXIT = 0     # protective legs, flattening, cancels, resizes
    ENTRY = 1    # a new entry bracket
    REQUEST = 2  # market data, contract look-ups, snapshots, the start-up handshake
    TRAIL = 3    # a trailing stop moving in place


@dataclass(eq=False)
class Item:
    """Something to send: ``send()`` writes exactly ``cost`` messages."""

    send: Callable[[], None]
    lane: Lane = Lane.REQUEST
    urgency: float = 0.0
    key: Hashable | None = None
    drops: tuple[Hashable, ...] = ()
    cost: int = 1
    plan_id: str | None = None
    wanted: Callable[[], bool] | None = None    # asked when the item would go; False: not sent
    dropped: Callable[[], None] | None = None   # called once it is certain the item will never be sent
    queued_at: float = field(default=0.0, init=False)
    gone: bool = field(default=False, init=False)   # replaced, dropped or sent: skip it in the heap


@dataclass
class PacerStats:
    sent: int = 0            # items released
    messages: int = 0        # messages counted against the window
    coalesced: int = 0       # queued items replaced by a newer one of the same key, or dropped by one
    unwanted: int = 0        # items whose ``wanted`` said no when they would have gone
    discarded: int = 0       # items thrown away by ``clear`` (the connection dropped)
    max_wait: float = 0.0    # the longest an item waited, in clock seconds
    max_backlog: int = 0     # the most items waiting at once
    refusals: int = 0        # IB's error 100s (it refused a message of ours)


class Pacer:
    def __init__(self, rate: int = DEFAULT_RATE, interval: float = 1.0, *, limit: int = IB_LIMIT,
                 slack: float = SLACK, hold: float = HOLD, clock: Callable[[], float]) -> None:
        if not 1 <= rate <= limit or interval <= 0 or slack < 0 or hold <= 0:
            raise ValueError("the pacer needs 1 <= rate <= limit, interval > 0, slack >= 0 and hold > 0")
        self.rate = rate
        self.interval = interval
        self.hold = hold
        self.clock = clock
        self.stats = PacerStats()
        self._spans = (interval, interval + slack)
        self._windows = (Window(rate, interval, SLOWEST * interval),
                         Window(limit, interval + slack, SLOWEST * (interval + slack)))
        self.slowdown = 1                        # the windows' spans are this many times their own
        self.slowed_since: float | None = None   # when the current slow-down began (None: full speed)
        self._undo_at = 0.0                      # when the next step of the slow-down is undone
        self._heap: list[tuple[int, float, int, Item]] = []
        self._seq = itertools.count()
        self._by_key: dict[Hashable, Item] = {}
        self._waiting: dict[str, int] = {}       # plan → items of it in the queue
        self._sent_at: dict[str, float] = {}     # plan → when its newest item left
        self._backlog = 0
        self.sending = False                     # inside a released item's ``send``

    # ------------------------------------------------------------------ the windows
    def room(self) -> int:
        """Messages that may go now."""
        now = self._recover(self.clock())
        return min(w.room(now) for w in self._windows)

    def _spend(self, cost: int, now: float) -> None:
        for w in self._windows:
            w.spend(cost, now)
        self.stats.messages += cost

    def refused(self) -> bool:
        """IB refused a message (error 100): slow down (the windows' spans doubled, up to
        ``SLOWEST`` times) for ``hold`` seconds from now. True if this starts a slow-down."""
        now = self._recover(self.clock())
        self.stats.refusals += 1
        starts = self.slowed_since is None
        if starts:
            self.slowed_since = now
        self._slow(min(self.slowdown * 2, SLOWEST))
        self._undo_at = now + self.hold
        return starts

    def _recover(self, now: float) -> float:
        """Undo one step of a slow-down per ``hold`` seconds without an error 100."""
        while self.slowdown > 1 and now >= self._undo_at:
            self._slow(self.slowdown // 2)
            self._undo_at += self.hold
        if self.slowdown == 1:
            self.slowed_since = None
        return now

    def _slow(self, factor: int) -> None:
        self.slowdown = factor
        for window, span in zip(self._windows, self._spans, strict=True):
            window.span = span * factor

    def current_rate(self) -> float:
        """The sustained rate the windows allow now, in messages per second."""
        self._recover(self.clock())
        return min(w.size / w.span for w in self._windows)

    # ------------------------------------------------------------------ the queue
    def offer(self, item: Item) -> None:
        """Queue ``item`` (nothing is sent here: ``release`` sends)."""
        if item.cost > self.rate:
            raise ValueError(f"an item of {item.cost} messages never fits a window of {self.rate}")
        for key in (*item.drops, item.key):
            old = self._by_key.get(key) if key is not None else None
            if old is not None:
                self._discard(old)
                self.stats.coalesced += 1
        item.queued_at = self.clock()
        if item.key is not None:
            self._by_key[item.key] = item
        if item.plan_id is not None:
            self._waiting[item.plan_id] = self._waiting.get(item.plan_id, 0) + 1
        heapq.heappush(self._heap, (int(item.lane), item.urgency, next(self._seq), item))
        self._backlog += 1
        self.stats.max_backlog = max(self.stats.max_backlog, self._backlog)

    def release(self) -> int:
        """Send, most urgent first, every waiting item there is room for. Returns how many went."""
        went = 0
        heap = self._heap
        while heap:
            item = heap[0][3]
            if item.gone:
                heapq.heappop(heap)
                continue
            if self.room() < item.cost:
                break
            heapq.heappop(heap)
            self._forget(item)
            if item.wanted is not None and not item.wanted():
                self.stats.unwanted += 1
                if item.dropped is not None:
                    item.dropped()
                continue
            now = self.clock()
            self._spend(item.cost, now)
            if item.plan_id is not None:
                self._sent_at[item.plan_id] = now
            self.stats.sent += 1
            self.stats.max_wait = max(self.stats.max_wait, now - item.queued_at)
            went += 1
            self.sending = True
            try:
                item.send()
            finally:
                self.sending = False
        return went

    def _forget(self, item: Item) -> None:
        """Take ``item`` out of the queue's books (it stays in the heap, marked gone)."""
        item.gone = True
        self._backlog -= 1
        if item.key is not None and self._by_key.get(item.key) is item:
            del self._by_key[item.key]
        if item.plan_id is not None:
            left = self._waiting[item.plan_id] - 1
            if left:
                self._waiting[item.plan_id] = left
            else:
                del self._waiting[item.plan_id]

    def withdraw(self, item: Item) -> None:
        """Take a waiting item back (its sender no longer wants it); nothing if it went already."""
        if not item.gone:
            self._forget(item)

    def _discard(self, item: Item) -> None:
        self._forget(item)
        if item.dropped is not None:
            item.dropped()

    def next_due(self) -> float | None:
        """When the most urgent waiting item will fit the window (None: nothing waits)."""
        while self._heap and self._heap[0][3].gone:
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        cost = self._heap[0][3].cost
        now = self._recover(self.clock())
        due = max(w.fits_at(cost, now) for w in self._windows)
        return due if self.slowdown == 1 else min(due, max(now, self._undo_at))  # look again when a step is undone

    def clear(self) -> int:
        """Discard everything waiting (the connection is gone: nothing queued may reach the next
        one). Returns how many items were discarded."""
        waiting = [entry[3] for entry in self._heap if not entry[3].gone]
        self._heap.clear()
        for item in waiting:
            self._discard(item)
        self.stats.discarded += len(waiting)
        return len(waiting)

    # ------------------------------------------------------------------ views
    def backlog(self) -> int:
        return self._backlog

    def queued(self, key: Hashable) -> bool:
        """An item of ``key`` waits."""
        return key in self._by_key

    def waiting(self, plan_id: str) -> bool:
        """Something of this plan waits for room."""
        return plan_id in self._waiting

    def sent_at(self, plan_id: str) -> float | None:
        """When this plan's newest item left (clock time), if one did."""
        return self._sent_at.get(plan_id)


class Drain:
    """Runs ``pacer.release()`` on the event loop whenever the windows next have room for what
    waits: one loop timer, armed for the earliest moment something can go."""

    RETRY = 0.001  # nothing could go although it was due (the loop clock's resolution): try this much later

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self._timer: asyncio.TimerHandle | None = None
        self._at: float | None = None

    def arm(self) -> None:
        """Make sure a timer waits for the next due item (call after every offer)."""
        due = self.pacer.next_due()
        if due is None:
            self.cancel()
            return
        if self._timer is not None and self._at is not None and self._at <= due:
            return
        self.cancel()
        loop = asyncio.get_running_loop()
        self._at = max(due, loop.time())
        self._timer = loop.call_at(self._at, self._fire)

    def _fire(self) -> None:
        self._timer = self._at = None
        went = self.pacer.release()
        due = self.pacer.next_due()
        if due is None:
            return
        loop = asyncio.get_running_loop()
        if not went and due <= loop.time():
            due = loop.time() + self.RETRY
        self._at = due
        self._timer = loop.call_at(due, self._fire)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._at = None
