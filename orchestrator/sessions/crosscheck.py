"""Two sources of one contract's sessions: where they disagree, and one merged view.

:func:`cross_check` compares the regular hours date by date over the dates both cover and
returns one :class:`Disagreement` per date that differs (a different open or close, a break, or
one source closed). :func:`merge` builds the sessions to trade on: the calendar's days, with
IB's days (its hours, its closures, its extended hours) replacing them for every date IB covers,
as the issue asks ("IB's hours win for the next days"). Disagreements are for a notification;
merging does not need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from .errors import SessionsError
from .model import Interval, Sessions, TradingDay

__all__ = ["Disagreement", "cross_check", "describe_hours", "merge"]


@dataclass(frozen=True, slots=True)
class Disagreement:
    """On ``day``, ``first_source`` says ``first`` and ``second_source`` says ``second`` (empty: closed)."""

    day: date
    first_source: str
    first: tuple[Interval, ...]
    second_source: str
    second: tuple[Interval, ...]
    zone: ZoneInfo

    def describe(self) -> str:
        """One line, e.g. ``2026-11-27: XNYS says 09:30-13:00 ...; IB says 09:30-16:00 ...``."""
        return (f"{self.day.isoformat()}: {self.first_source} says {describe_hours(self.first, self.zone)}; "
                f"{self.second_source} says {describe_hours(self.second, self.zone)}")


def describe_hours(spans: tuple[Interval, ...], zone: ZoneInfo) -> str:
    """``09:30-16:00 America/New_York (14:30-21:00 UTC)``, ``closed``, or several joined by ``,``."""
    if not spans:
        return "closed"
    local = ", ".join(f"{s.start.astimezone(zone):%H:%M}-{s.end.astimezone(zone):%H:%M}" for s in spans)
    utc = ", ".join(f"{s.start:%H:%M}-{s.end:%H:%M}" for s in spans)
    return f"{local} {zone.key} ({utc} UTC)"


def cross_check(first: Sessions, second: Sessions) -> list[Disagreement]:
    """Every date both cover on which their regular hours differ, in date order."""
    start, end = max(first.first, second.first), min(first.last, second.last)
    found: list[Disagreement] = []
    d = start
    while d <= end:
        a, b = _regular(first, d), _regular(second, d)
        if a != b:
            found.append(Disagreement(d, first.source, a, second.source, b, first.zone))
        d += timedelta(days=1)
    return found


def _regular(sessions: Sessions, d: date) -> tuple[Interval, ...]:
    day = sessions.day(d)
    return day.regular if day is not None else ()


def merge(calendar: Sessions, ib: Sessions) -> Sessions:
    """The calendar's sessions with IB's days in place of its own for the dates IB covers.

    The calendar's zone and weekend are kept. Both must cover adjoining or overlapping ranges
    of dates and of instants (otherwise a gap would read as closed): SessionsError if not.
    """
    if ib.first > calendar.last + timedelta(days=1) or calendar.first > ib.last + timedelta(days=1):
        raise SessionsError(f"{ib.source} covers {ib.first} to {ib.last}, which leaves a gap to "
                            f"{calendar.source}'s {calendar.first} to {calendar.last}")
    kept = [d for d in calendar.days if not ib.covers(d.day)]
    replaced = [_with_flags(d, calendar) for d in ib.days]
    return Sessions(
        source=f"{ib.source}+{calendar.source}", zone=calendar.zone,
        first=min(calendar.first, ib.first), last=max(calendar.last, ib.last),
        days=tuple(sorted(kept + replaced, key=lambda d: d.day)),
        regular_known=_union(calendar.regular_known, ib.regular_known, calendar.source, ib.source),
        extended_known=ib.extended_known, extended_dates=ib.extended_dates, weekend=calendar.weekend)


def _with_flags(day: TradingDay, calendar: Sessions) -> TradingDay:
    """IB's day; the calendar's early-close/late-open flags where both agree on the hours."""
    theirs = calendar.day(day.day) if calendar.covers(day.day) else None
    if theirs is not None and theirs.regular == day.regular:
        return TradingDay(day.day, day.regular, day.extended, theirs.early_close, theirs.late_open)
    return day


def _union(a: Interval, b: Interval, a_source: str, b_source: str) -> Interval:
    if b.start > a.end or a.start > b.end:
        raise SessionsError(f"{b_source}'s known hours ({b.start} to {b.end}) leave a gap to "
                            f"{a_source}'s ({a.start} to {a.end})")
    return Interval(min(a.start, b.start), max(a.end, b.end))
