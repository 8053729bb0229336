"""A plan's session fields resolved on its market's sessions: UTC instants, or why not.

The plan file keeps what the trader wrote (``start = "open+5m"``, see :mod:`.planfields`); this
turns it into instants on one trading day with :func:`.sessions.resolve_plan_times`, for
``plans check`` (which prints them) and for the engine (which schedules them). The resolved spec
carries them in ``start_at``, ``expire_at`` and ``flatten_due``; an old ``start_at``/``expire_at``
given beside session fields takes part as an absolute time.

Markets (:func:`contract_sessions_for`): a US stock trades on the XNYS calendar
(exchange_calendars, loaded only here, on first use), merged with IB's liquid hours from its
contract details when the engine has them, IB's days winning where IB gives them. A future (or
any contract without a calendar) trades on IB's trading hours only, which only IB's contract
details give: offline (``plans check``) its session fields are refused with a message that says so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from machines import PlanSpec

from .contractinfo import ContractDetails
from .sessions.contract import ContractSessions, contract_sessions
from .sessions.errors import HoursUnknown
from .sessions.model import Hours, Sessions
from .sessions.plantimes import PlanTimes, read_plan_times, resolve_plan_times
from .sessions.resolve import Skipped

__all__ = ["CALENDAR", "Resolution", "calendar_sessions", "contract_sessions_for", "hours_problem",
           "resolve_spec"]

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
    first, last = _span(now, spec)
    return sessions_from_calendar(CALENDAR, first, last)


def _span(now: datetime, spec: PlanSpec | None) -> tuple[date, date]:
    last = now.date() + LOOK_AHEAD
    for when in _dates(spec):
        last = max(last, when + timedelta(days=7))
    return now.date() - LOOK_BACK, last


def contract_sessions_for(spec: PlanSpec, details: ContractDetails | None, now: datetime) -> ContractSessions:
    """The sessions the plan's contract trades on as of ``now``, and where IB and the calendar disagree.

    A US stock: XNYS, with IB's days in place of the calendar's where IB's details give hours
    (details without hours, or none yet: the calendar alone; details so old that their dates
    leave a gap to the calendar's range: the calendar alone, they say nothing about now).
    Disagreements are those on dates from the exchange-local ``now`` on: the days still to trade.
    Anything else: IB's hours only. Raises SessionsError when they are not known or unreadable.
    """
    first, last = _span(now, spec)
    hours = details is not None and bool(details.trading_hours.strip() or details.liquid_hours.strip())
    if spec.instrument.is_us_stock:
        if not hours:
            return ContractSessions(calendar_sessions(now, spec), (), "regular")
        assert details is not None
        found = contract_sessions(sec_type="STK", primary_exchange=details.primary_exchange or "NYSE",
                                  trading_hours=details.trading_hours, liquid_hours=details.liquid_hours,
                                  time_zone_id=details.time_zone, first=first, last=last) \
            if _touches(details, first, last) else ContractSessions(calendar_sessions(now, spec), (), "regular")
        today = now.astimezone(found.sessions.zone).date()
        return dataclasses.replace(found, disagreements=tuple(d for d in found.disagreements if d.day >= today))
    if not hours:
        raise HoursUnknown(f"IB's trading hours of {spec.symbol} are not known yet (its contract details have "
                           "not been read)")
    assert details is not None
    return contract_sessions(sec_type=details.sec_type or "FUT", primary_exchange="",
                             trading_hours=details.trading_hours, liquid_hours=details.liquid_hours,
                             time_zone_id=details.time_zone, first=first, last=last)


def _touches(details: ContractDetails, first: date, last: date) -> bool:
    """Whether the dates of IB's hours reach into ``first`` to ``last`` (the first date of each
    entry is enough: IB sends them a few days ahead of the day it answered)."""
    dates = [piece.strip()[:8] for piece in f"{details.trading_hours};{details.liquid_hours}".split(";")
             if piece.strip()[:8].isdigit()]
    return any(first.strftime("%Y%m%d") <= d <= last.strftime("%Y%m%d") for d in dates)


def hours_problem(spec: PlanSpec) -> list[tuple[str, str]]:
    """Why a contract's session fields cannot be resolved without IB's hours (offline)."""
    return [("start" if spec.start else "-", f"session fields on {spec.symbol} need IB's trading hours, which "
             "only a connected orchestrator has: use start_at/expire_at with a UTC offset, or let the "
             "running orchestrator resolve them")]


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
    (a time outside the session without ``outside_rth``, an expiry not after the start). ``hours``
    are the session kind anchors and that check use: a stock's regular hours, a future's trading hours."""
    schedule = resolve_plan_times(plan_times(spec), sessions, now, hours=hours,
                                  require=None if spec.outside_rth else hours)
    if isinstance(schedule, Skipped):
        return schedule
    if schedule.problems:
        return list(schedule.problems)
    resolved = dataclasses.replace(spec, start_at=schedule.at("start"), expire_at=schedule.at("expire"),
                                   flatten_due=schedule.at("flatten_at"))
    return Resolution(resolved, schedule.day, tuple(f.describe() for f in schedule.fields))
