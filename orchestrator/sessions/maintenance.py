"""IB's maintenance windows: is an instant inside one, and when does the current or next one end.

A :class:`MaintenanceWindow` recurs on some weekdays at a wall-clock time in a zone, for a
duration (so ``Friday 23:00 America/New_York for 4h`` ends Saturday 03:00 New York time, in
summer and in winter). Occurrences that overlap or touch are joined into one
:class:`WindowSpan`, so "when does it end" is the end of the whole closed stretch.

IB's published defaults (IB system status page, read for sessions.md §5):

* daily reset, Sunday to Friday: North America 00:15-01:45 ET; Europe 06:25-07:45 CET;
  Asia 04:45-06:05 and 20:15-21:15 HKT;
* weekend maintenance: Friday 23:00 ET to Saturday 03:00 ET.

:data:`IB_DEFAULT_WINDOWS` holds the North American reset and the weekend window (the server
region of a US account); the others are here to pick in config. A Gateway's daily auto-restart
is at a time its user sets: :func:`gateway_restart` makes a window around it. Sunday 01:00 ET
(IB's weekly token expiry, after which a login needs 2FA) is a moment, not a window: not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .timefields import IANA_ZONE_NAME

__all__ = [
    "IB_ASIA_EVENING_RESET", "IB_ASIA_MORNING_RESET", "IB_DEFAULT_WINDOWS", "IB_EUROPE_RESET",
    "IB_NORTH_AMERICA_RESET", "IB_WEEKEND", "MaintenanceWindow", "WindowSpan", "clear_of_windows",
    "gateway_restart", "next_window", "window_at",
]

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
_SUNDAY_TO_FRIDAY = frozenset({SUN, MON, TUE, WED, THU, FRI})
_EVERY_DAY = frozenset(range(7))


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """``name`` recurs on local ``weekdays`` (0 = Monday) at ``start`` in the IANA zone ``zone`` for
    ``duration``. The zone is a name, loaded when first used, so importing this module reads no file."""

    name: str
    zone: str
    weekdays: frozenset[int]
    start: time
    duration: timedelta

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= _EVERY_DAY:
            raise ValueError(f"{self.name}: weekdays must be a non-empty subset of 0-6 (Monday = 0)")
        if not (IANA_ZONE_NAME.fullmatch(self.zone) or self.zone == "UTC"):
            raise ValueError(f"{self.name}: zone must be an IANA zone name such as America/New_York")
        if not timedelta(0) < self.duration < timedelta(days=7):
            raise ValueError(f"{self.name}: duration must be more than 0 and less than 7 days")

    def occurrences(self, around: datetime) -> list[WindowSpan]:
        """Every occurrence starting within eight days either side of ``around``."""
        middle = around.astimezone(ZoneInfo(self.zone)).date()
        spans = []
        for shift in range(-8, 9):
            day = middle + timedelta(days=shift)
            if day.weekday() in self.weekdays:
                spans.append(WindowSpan(self.name, self._at(day, timedelta(0)), self._at(day, self.duration)))
        return spans

    def _at(self, day: date, later: timedelta) -> datetime:
        wall = datetime.combine(day, self.start) + later  # wall-clock arithmetic, then the zone
        return wall.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class WindowSpan:
    """One stretch of maintenance, ``start`` to ``end`` (aware UTC); joined names for overlaps."""

    name: str
    start: datetime
    end: datetime

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end


_NEW_YORK = "America/New_York"
IB_NORTH_AMERICA_RESET = MaintenanceWindow(
    "IB daily reset (North America)", _NEW_YORK, _SUNDAY_TO_FRIDAY, time(0, 15), timedelta(minutes=90))
IB_EUROPE_RESET = MaintenanceWindow(
    "IB daily reset (Europe)", "Europe/Zurich", _SUNDAY_TO_FRIDAY, time(6, 25), timedelta(minutes=80))
IB_ASIA_MORNING_RESET = MaintenanceWindow(
    "IB daily reset (Asia, morning)", "Asia/Hong_Kong", _SUNDAY_TO_FRIDAY, time(4, 45),
    timedelta(minutes=80))
IB_ASIA_EVENING_RESET = MaintenanceWindow(
    "IB daily reset (Asia, evening)", "Asia/Hong_Kong", _SUNDAY_TO_FRIDAY, time(20, 15),
    timedelta(minutes=60))
IB_WEEKEND = MaintenanceWindow("IB weekend maintenance", _NEW_YORK, frozenset({FRI}), time(23, 0), timedelta(hours=4))
IB_DEFAULT_WINDOWS: tuple[MaintenanceWindow, ...] = (IB_NORTH_AMERICA_RESET, IB_WEEKEND)


def gateway_restart(at: time, zone: str = _NEW_YORK, *, before: timedelta = timedelta(minutes=5),
                    after: timedelta = timedelta(minutes=10)) -> MaintenanceWindow:
    """The daily window around a Gateway auto-restart at ``at`` (from ``before`` it to ``after`` it)."""
    start = (datetime.combine(date(2000, 1, 3), at) - before).time()
    return MaintenanceWindow(f"Gateway restart {at:%H:%M} {zone}", zone, _EVERY_DAY, start, before + after)


def _spans(t: datetime, windows: tuple[MaintenanceWindow, ...]) -> list[WindowSpan]:
    """Occurrences near ``t``, sorted, with overlapping or touching ones joined."""
    joined: list[WindowSpan] = []
    for span in sorted((s for w in windows for s in w.occurrences(t)), key=lambda s: s.start):
        if joined and span.start <= joined[-1].end:
            last = joined[-1]
            names = last.name if span.name in last.name.split(" + ") else f"{last.name} + {span.name}"
            joined[-1] = WindowSpan(names, last.start, max(last.end, span.end))
        else:
            joined.append(span)
    return joined


def window_at(t: datetime, windows: tuple[MaintenanceWindow, ...] = IB_DEFAULT_WINDOWS) -> WindowSpan | None:
    """The maintenance stretch ``t`` lies in, or None."""
    return next((s for s in _spans(t, windows) if s.contains(t)), None)


def next_window(t: datetime, windows: tuple[MaintenanceWindow, ...] = IB_DEFAULT_WINDOWS) -> WindowSpan | None:
    """The stretch ``t`` lies in, else the next one to start after ``t`` (None: no windows)."""
    return next((s for s in _spans(t, windows) if t < s.end), None)


def clear_of_windows(t: datetime, windows: tuple[MaintenanceWindow, ...] = IB_DEFAULT_WINDOWS) -> datetime:
    """``t`` itself when outside every window, else the end of the stretch it lies in."""
    span = window_at(t, windows)
    return t if span is None else span.end
