"""The engine's view of one contract's market: open at ``t``? when does it next open or close?

The semantics follow exchange_calendars (``side="left"``): the open instant is open, the close
instant is closed; :meth:`SessionClock.next_open` at exactly an open is the *following* open,
and :meth:`SessionClock.next_close` at exactly a close is the following close. A break (a
lunch pause, a futures maintenance hour) closes the market: the end of a break is an open.

``hours`` picks the session kind: ``regular`` for orders without ``outsideRth``, ``extended``
for orders with it (IB's trading hours). An instant outside what the sessions know raises
:class:`OutsideCoverage`, so an out-of-date calendar stops trading instead of reading as closed.
The clock reads no time itself: every method takes ``t``. Replace :attr:`sessions` (for
example after the daily refresh of IB's hours) to move the clock's knowledge on.
"""

from __future__ import annotations

from datetime import datetime

from .errors import OutsideCoverage
from .model import Hours, Interval, Sessions, TradingDay

__all__ = ["SessionClock"]


class SessionClock:
    """Open/next-open/next-close questions over one contract's :class:`Sessions`."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def is_open(self, t: datetime, hours: Hours = "regular") -> bool:
        return self.sessions.interval_at(t, hours) is not None

    def next_open(self, t: datetime, hours: Hours = "regular") -> datetime:
        """The first open strictly after ``t``."""
        return self._following(t, hours).start

    def next_close(self, t: datetime, hours: Hours = "regular") -> datetime:
        """The close of the session open at ``t``, else of the next session to open."""
        current = self.sessions.interval_at(t, hours)
        return current.end if current is not None else self._following(t, hours).end

    def _following(self, t: datetime, hours: Hours) -> Interval:
        following = self.sessions.interval_after(t, hours)
        if following is None:  # the next session lies past what the sessions know
            window = self.sessions.known(hours)
            raise OutsideCoverage(window.end, window.start, window.end, self.sessions.source)
        return following

    def session_at(self, t: datetime, hours: Hours = "regular") -> TradingDay | None:
        """The trading day whose session (including its breaks) contains ``t``, or None."""
        self.sessions.check_known(t, hours)
        return self.sessions.session_in_progress(t, hours)
