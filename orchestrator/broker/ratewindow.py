"""A sliding count of messages written, and the margin it must keep for IB's own count.

IB counts a message when it reads it, we count it when we write it. A reader that pauses (a
descheduled gateway, a network stall) reads what waited in one go, compressing our spacing: if
every message's delay from our write to IB's read lies within ``slack`` of every other's, two
messages IB reads less than a second apart were written less than ``interval + slack`` apart.
So a second window guards the first: at most IB's own ``limit`` in any ``interval + slack``
(50 in 1.25 s), and IB never sees more than ``limit`` in a second while the delays vary by up to
``slack`` (``tests/orchestrator/test_pacer_margin.py`` proves it against the gateway's own
counting). The price is the sustained rate: 45 may leave at once, but at most 40 a second go
on for long (50 / 1.25 s).
"""

from __future__ import annotations

from bisect import bisect_right

IB_LIMIT = 50      # messages per second IB accepts from one client
SLACK = 0.25       # how much IB's reading delays may vary, in seconds, before IB could see more than IB_LIMIT


class Window:
    """At most ``size`` messages written in any ``span`` seconds; ``span`` may grow and shrink
    (a slow-down): the write times are kept for ``horizon`` seconds, the longest span it may take."""

    def __init__(self, size: int, span: float, horizon: float | None = None) -> None:
        self.size = size
        self.span = span
        self.horizon = max(span, horizon or span)
        self._times: list[float] = []   # when each message was written (ascending)
        self._head = 0                  # the times before it are older than the horizon

    def _first(self, now: float) -> int:
        """The index of the oldest message still in the span (one written at ``t`` counts while
        ``t + span > now``: the same sum ``fits_at`` answers, so its answer fits to the last bit)."""
        times, span, horizon = self._times, self.span, self.horizon
        cut = bisect_right(times, now, self._head, key=lambda t: t + horizon)
        if cut > 4096 and cut * 2 > len(times):   # compact now and then
            del times[:cut]
            cut = 0
        self._head = cut
        return bisect_right(times, now, cut, key=lambda t: t + span)

    def room(self, now: float) -> int:
        return self.size - (len(self._times) - self._first(now))

    def spend(self, cost: int, now: float) -> None:
        self._times.extend([now] * cost)

    def fits_at(self, cost: int, now: float) -> float:
        """When ``cost`` more messages fit (``now`` if they do)."""
        first = self._first(now)
        short = cost - (self.size - (len(self._times) - first))
        return now if short <= 0 else self._times[first + short - 1] + self.span
