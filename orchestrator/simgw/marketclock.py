"""The simulator's session clock: a simulated time and, optionally, an exchange calendar.

The time starts at ``start`` (default: now) and runs at ``speed`` simulated seconds per real
second (0: it stands still until ``set``/``advance``, which tests use). With a ``calendar``
(``XNYS``) the market has IB's regular hours for it: orders without ``outsideRth`` wait for the
open (warning 399), stops do not trigger while closed, DAY orders end at the close. Futures keep
CME Globex hours instead (``future=True``: Sunday 17:00 to Friday 16:00 Chicago with the daily
16:00-17:00 break, ``hours.cme_open``), the hours their contract details carry. Without a
calendar the market never closes, as before the clock existed.

:meth:`MarketClock.crossings` says which session edges the time passed since it was last asked
(``close`` before ``open`` when a jump spans both), so the gateway can act on each once.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .hours import cme_open, next_cme_open

__all__ = ["GTD_FORMAT", "MarketClock", "parse_good_till"]

# how IB writes the zone in its messages
IB_ZONE_NAMES = {"America/New_York": "US/Eastern", "America/Chicago": "US/Central"}
SPAN = timedelta(days=400)
GTD_FORMAT = "a GTD order needs goodTillDate as YYYYMMDD-HH:MM:SS (UTC) or 'YYYYMMDD HH:MM:SS UTC'"


def parse_good_till(text: str) -> datetime | None:
    """IB's goodTillDate in its UTC forms (``20261202-20:45:00``, ``20261202 20:45:00 UTC``)."""
    for form in ("%Y%m%d-%H:%M:%S", "%Y%m%d %H:%M:%S UTC"):
        try:
            return datetime.strptime(text.strip(), form).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _sessions(calendar: str, around: datetime) -> tuple[list[datetime], list[datetime], Any]:
    """The regular sessions' opens and closes (UTC, in order) near ``around``, and the zone."""
    import exchange_calendars as xcals  # type: ignore[import-untyped]  # lazy: pandas loads only with a calendar
    first, last = around - timedelta(days=7), around + SPAN
    cal = xcals.get_calendar(calendar, start=f"{first.year}-01-01", end=f"{last.year}-12-31")
    schedule = cal.schedule.loc[first.date().isoformat():last.date().isoformat()]
    opens = [t.to_pydatetime().astimezone(UTC) for t in schedule["open"]]
    closes = [t.to_pydatetime().astimezone(UTC) for t in schedule["close"]]
    return opens, closes, cal.tz


class MarketClock:
    def __init__(self, start: datetime | None = None, speed: float = 1.0, calendar: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the simulated start time needs a UTC offset or a zone")
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = float(speed)
        self.calendar = calendar
        self._monotonic = monotonic
        self._base = (start or datetime.now(UTC)).astimezone(UTC)
        self._since = monotonic()
        self._opens: list[datetime] = []
        self._closes: list[datetime] = []
        self._zone: Any = None
        self._built = self._base
        self._seen = self._base
        if calendar is not None:
            self._build(self._base)

    def _build(self, around: datetime) -> None:
        self._opens, self._closes, self._zone = _sessions(str(self.calendar), around)
        self._built = around

    def _known(self, t: datetime) -> bool:
        """Whether there is a calendar (its sessions rebuilt around ``t`` when ``t`` is far off)."""
        if self.calendar is None:
            return False
        if not self._built - timedelta(days=6) <= t <= self._built + SPAN / 2:
            self._build(t)
        return True

    def now(self) -> datetime:
        return self._base + timedelta(seconds=(self._monotonic() - self._since) * self.speed)

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a simulated time needs a UTC offset or a zone")
        self._base, self._since = at.astimezone(UTC), self._monotonic()

    def run(self, speed: float) -> None:
        """Run at ``speed`` from now on, from the time it shows now."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._base, self._since, self.speed = self.now(), self._monotonic(), float(speed)

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))

    def _session(self, t: datetime) -> int:
        """The index of the last session that opened at or before ``t`` (-1: none)."""
        return bisect.bisect_right(self._opens, t) - 1

    def is_open(self, t: datetime | None = None, *, future: bool = False) -> bool:
        """Whether the regular session is open at ``t`` (default: now); always, without a calendar.
        The open instant is open, the close instant closed. ``future``: CME Globex's hours."""
        t = t or self.now()
        if not self._known(t):
            return True
        if future:
            return cme_open(t)
        i = self._session(t)
        return i >= 0 and t < self._closes[i]

    def _next_open(self, t: datetime) -> datetime:
        return self._opens[bisect.bisect_right(self._opens, t)]

    def _next_close(self, t: datetime) -> datetime:
        return self._closes[bisect.bisect_right(self._closes, t)]

    def next_open_text(self, *, future: bool = False) -> str:
        """IB's words for the next open: ``2026-12-02 09:30:00 US/Eastern``."""
        now = self.now()
        if not self._known(now):
            return ""
        local = next_cme_open(now) if future else self._next_open(now).astimezone(self._zone)
        zone = str(local.tzinfo)
        return f"{local:%Y-%m-%d %H:%M:%S} {IB_ZONE_NAMES.get(zone, zone)}"

    def crossings(self) -> list[str]:
        """The session edges passed since the last call: ``["close"]``, ``["open"]``, both, or none."""
        now, seen = self.now(), self._seen
        self._seen = now
        if not self._known(now) or now <= seen:
            return []
        out: list[str] = []
        if self._next_close(seen) <= now:
            out.append("close")
        if self.is_open(now) and (not self.is_open(seen) or out):
            out.append("open")
        return out
