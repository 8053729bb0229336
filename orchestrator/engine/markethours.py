"""When a plan's market is open, and its session fields resolved, for the engine.

One :class:`MarketHours` per engine keeps the XNYS sessions (exchange_calendars, built on first
use and again once the clock nears the end of what they cover) and answers:

* :meth:`closed_until`: None while a plan's market is open (or when hours are not enforced,
  or the plan may work outside regular hours), else the next open. A market entry holds until
  then; trailing does not modify a stop meanwhile. Hours that cannot be known (outside the
  sessions' coverage) count as closed for an hour, never as open: the plan says why.
* :meth:`resolve`: a new plan's session fields on those sessions (``plansessions``).

``enforce`` is config's ``[sessions] market_hours``; anchors are resolved either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from machines import PlanSpec

from ..clock import Clock
from ..plansessions import LOOK_AHEAD, Resolution, calendar_sessions, resolve_spec
from ..sessions.errors import SessionsError
from ..sessions.model import Sessions
from ..sessions.resolve import Skipped
from ..sessions.sessionclock import SessionClock

UNKNOWN_RETRY = timedelta(hours=1)
REBUILD_MARGIN = timedelta(days=20)


class MarketHours:
    def __init__(self, clock: Clock, *, enforce: bool) -> None:
        self.clock = clock
        self.enforce = enforce
        self._sessions: Sessions | None = None
        self._span: tuple[datetime, datetime] | None = None   # when the sessions serve: built, good until

    def sessions(self, now: datetime) -> Sessions:
        """The sessions around ``now``, rebuilt once ``now`` leaves the span they were built for."""
        if self._sessions is None or self._span is None or not self._span[0] <= now < self._span[1]:
            self._sessions = calendar_sessions(now)
            self._span = (now - timedelta(days=6), now + LOOK_AHEAD - REBUILD_MARGIN)
        return self._sessions

    def closed_until(self, spec: PlanSpec, now: datetime) -> tuple[datetime, str] | None:
        """None: the plan's orders may act now. Else (when to look again, why not now)."""
        if not self.enforce or spec.outside_rth or not spec.instrument.is_us_stock:
            return None
        try:
            clock = SessionClock(self.sessions(now))
            if clock.is_open(now, "regular"):
                return None
            opens = clock.next_open(now, "regular")
        except SessionsError as exc:
            return now + UNKNOWN_RETRY, f"the {spec.symbol} market's hours are not known ({exc})"
        return opens, f"the market is closed until {opens:%Y-%m-%d %H:%M} UTC"

    def resolve(self, spec: PlanSpec, now: datetime) -> Resolution | Skipped | list[tuple[str, str]]:
        return resolve_spec(spec, calendar_sessions(now, spec), now)
