"""Session anchors to UTC: which trading day a plan means, and the instant each time field names.

The day (:func:`choose_day`), with ``today`` taken in the exchange's zone, never the UTC date:

* ``today``: the session in progress at ``now``; else today's session if it has not opened
  yet; else, when today's is over, the next session. If today has no session (a holiday or a
  weekend), ``on_closed_day`` decides: ``skip``, or ``next`` (the next session).
* ``next``: the first session on a date after today.
* a date: that date's session; a closed date follows ``on_closed_day``; a session (or, with
  ``next``, the session after a closed date) that is already over is skipped as ``past``.

The instant (:func:`anchor_time`) is the chosen day's own open or close plus the offset, so an
early close (13:00 New York on 2026-11-27) and the UTC offset of that very date are honoured;
nothing is computed by adding offsets to a fixed UTC time. A break does not move ``open`` or
``close`` (they are the first and last instants of the day's session).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, TypeAlias

from .errors import HoursUnknown
from .model import Hours, Sessions, TradingDay
from .timefields import OnClosedDay, SessionAnchor, SessionDay, TimeSpec

__all__ = ["Resolved", "SkipReason", "Skipped", "anchor_time", "check_in_session", "choose_day", "resolve_time"]

SkipReason: TypeAlias = Literal["holiday", "weekend", "past", "hours"]   # hours: not known yet


@dataclass(frozen=True, slots=True)
class Resolved:
    """``at`` (aware UTC); ``day`` is the trading day an anchor was resolved on (None: absolute)."""

    at: datetime
    day: date | None
    past: bool  # at <= now: a start in the past arms at once; an expiry in the past is over


@dataclass(frozen=True, slots=True)
class Skipped:
    """Nothing to do on ``day``, because of ``reason``; ``message`` says so in words."""

    reason: SkipReason
    day: date
    message: str


def _closed(sessions: Sessions, d: date) -> Skipped:
    reason = sessions.closed_reason(d)
    what = "a weekend day" if reason == "weekend" else "a holiday"
    return Skipped(reason, d, f"{d.isoformat()} is {what} on {sessions.source} (no session)")


def _over(day: TradingDay, hours: Hours) -> Skipped:
    return Skipped("past", day.day, f"the {day.day.isoformat()} session closed at {_utc(day.close(hours), day.day)}")


def choose_day(rule: SessionDay, on_closed_day: OnClosedDay, sessions: Sessions, now: datetime,
               hours: Hours = "regular") -> TradingDay | Skipped:
    """The trading day a plan's anchors refer to, or why there is none (module docstring)."""
    today = sessions.local_date(now)
    if rule == "next":
        return sessions.next_trading_day(today, hours)
    if rule == "today":
        current = sessions.session_in_progress(now, hours)
        if current is not None:
            return current
        found = sessions.trading_day(today, hours)
        if found is not None:
            return found if now < found.open(hours) else sessions.next_trading_day(today, hours)
        if on_closed_day == "skip":
            return _closed(sessions, today)
        return sessions.next_trading_day(today, hours)
    found = sessions.trading_day(rule, hours)
    if found is None:
        if on_closed_day == "skip":
            return _closed(sessions, rule)
        found = sessions.next_trading_day(rule, hours)
    return found if now < found.close(hours) else _over(found, hours)


def anchor_time(anchor: SessionAnchor, day: TradingDay, hours: Hours = "regular") -> datetime:
    """The instant ``anchor`` names on ``day`` (aware UTC)."""
    edge = day.open(hours) if anchor.edge == "open" else day.close(hours)
    return edge + anchor.offset


def resolve_time(spec: TimeSpec, rule: SessionDay, on_closed_day: OnClosedDay, sessions: Sessions,
                 now: datetime, hours: Hours = "regular") -> Resolved | Skipped:
    """One time field: an absolute time as it is, an anchor on the day :func:`choose_day` picks."""
    if isinstance(spec, datetime):
        return Resolved(spec, None, spec <= now)
    day = choose_day(rule, on_closed_day, sessions, now, hours)
    if isinstance(day, Skipped):
        return day
    at = anchor_time(spec, day, hours)
    return Resolved(at, day.day, at <= now)


def _nearby(sessions: Sessions, d: date, hours: Hours) -> TradingDay | None:
    """A neighbouring date's trading day, None where it is closed or not known (the instant was)."""
    try:
        return sessions.trading_day(d, hours) if sessions.covers(d) else None
    except HoursUnknown:
        return None


def check_in_session(at: datetime, sessions: Sessions, hours: Hours = "regular", *,
                     allow_close: bool = False) -> str | None:
    """None when ``at`` lies inside a session (``open <= at < close``; ``<= close`` with
    ``allow_close``, for an expiry), otherwise why not, in words."""
    if sessions.interval_at(at, hours) is not None:
        return None
    local = sessions.local_date(at)
    shown = f"{at:%Y-%m-%d %H:%M} UTC"
    for d in (local, local - timedelta(days=1), local + timedelta(days=1)):
        day = _nearby(sessions, d, hours)
        if day is None or not day.open(hours) <= at <= day.close(hours):
            continue
        if at == day.close(hours):
            return None if allow_close else f"{shown} is the {d.isoformat()} close itself: the market is closed then"
        return f"{shown} falls in a break of the {d.isoformat()} session"
    day = sessions.trading_day(local, hours)
    if day is None:
        return _closed(sessions, local).message
    kind = " (an early close)" if day.early_close and hours == "regular" else ""
    if at < day.open(hours):
        return f"{shown} is before the {local.isoformat()} open at {_utc(day.open(hours), local)}"
    return f"{shown} is after the {local.isoformat()} close at {_utc(day.close(hours), local)}{kind}"


def _utc(t: datetime, session: date) -> str:
    """``14:30 UTC``, with the date when the UTC date is not the session's (``2026-11-24 01:00 UTC``)."""
    return f"{t:%H:%M} UTC" if t.date() == session else f"{t:%Y-%m-%d %H:%M} UTC"
