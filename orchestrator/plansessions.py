"""A plan's session fields resolved on its market's sessions: UTC instants, or why not.

The plan file keeps what the trader wrote (``start = "open+5m"``, see :mod:`.planfields`); this
turns it into instants on one trading day with :func:`.sessions.resolve_plan_times`, for
``plans check`` (which prints them) and for the engine (which schedules them). The resolved spec
carries them in ``start_at``, ``expire_at`` and ``flatten_due``; an old ``start_at``/``expire_at``
given beside session fields takes part as an absolute time.

Markets: a US stock trades on the XNYS calendar (exchange_calendars, loaded only here, on first
use). Other contracts need IB's trading hours (``sessions.contract_sessions``), which only a
connected engine has; until then their session fields are refused with a message that says so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from machines import PlanSpec

from .sessions.model import Hours, Sessions
from .sessions.plantimes import PlanTimes, read_plan_times, resolve_plan_times
from .sessions.resolve import Skipped

__all__ = ["CALENDAR", "Resolution", "calendar_sessions", "resolve_spec"]

CALENDAR = "XNYS"
LOOK_BACK = timedelta(days=7)
LOOK_AHEAD = timedelta(days=60)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The spec with its instants set, the trading day anchors used, and one line per field."""

    spec: PlanSpec
    day: date | None
    lines: tuple[str, ...]


def calendar_sessions(now: datetime, spec: PlanSpec | None = None) -> Sessions:
    """The XNYS sessions around ``now`` (and around the dates ``spec`` names)."""
    from .sessions.xcal import sessions_from_calendar
    last = now.date() + LOOK_AHEAD
    for when in _dates(spec):
        last = max(last, when + timedelta(days=7))
    return sessions_from_calendar(CALENDAR, now.date() - LOOK_BACK, last)


def _dates(spec: PlanSpec | None) -> list[date]:
    if spec is None:
        return []
    found = [t.date() for t in (spec.start_at, spec.expire_at) if t is not None]
    for text in (spec.start, spec.expire, spec.flatten_at, spec.session_day):
        if text and text[:1].isdigit():
            found.append(date.fromisoformat(text[:10]))
    return found


def plan_times(spec: PlanSpec) -> PlanTimes:
    """The spec's session fields parsed again (they were checked when the file was read)."""
    table: dict[str, object] = {name: getattr(spec, name) for name in
                                ("start", "expire", "flatten_at", "session_day", "on_closed_day")
                                if getattr(spec, name) is not None}
    if spec.start is None and spec.start_at is not None:
        table["start"] = spec.start_at
    if spec.expire is None and spec.expire_at is not None:
        table["expire"] = spec.expire_at
    times, problems = read_plan_times(table)
    if problems:  # cannot happen for a spec from a plan file
        raise ValueError(f"plan {spec.id}: {problems}")
    return times


def resolve_spec(spec: PlanSpec, sessions: Sessions, now: datetime,
                 hours: Hours = "regular") -> Resolution | Skipped | list[tuple[str, str]]:
    """The plan's instants on ``sessions`` as of ``now``; a :class:`Skipped` (a closed day under
    ``skip``, a time already past); or the ``(field, message)`` problems that refuse the plan
    (a time outside the regular session without ``outside_rth``, an expiry not after the start)."""
    if not spec.instrument.is_us_stock:
        return [("start" if spec.start else "-", "session fields on this contract need IB's trading hours, which "
                 "plans are not yet resolved on: use start_at/expire_at with a UTC offset")]
    schedule = resolve_plan_times(plan_times(spec), sessions, now, hours=hours,
                                  require=None if spec.outside_rth else "regular")
    if isinstance(schedule, Skipped):
        return schedule
    if schedule.problems:
        return list(schedule.problems)
    resolved = dataclasses.replace(spec, start_at=schedule.at("start"), expire_at=schedule.at("expire"),
                                   flatten_due=schedule.at("flatten_at"))
    return Resolution(resolved, schedule.day, tuple(f.describe() for f in schedule.fields))
