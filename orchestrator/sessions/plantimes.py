"""A plan's time fields together: read them from a plan table, resolve them on one session.

:func:`read_plan_times` takes the keys ``start``, ``expire``, ``flatten_at``, ``session_day``
and ``on_closed_day`` from a plan table (other keys are the loader's business) and returns the
parsed :class:`PlanTimes` with every problem as a ``(field, message)`` pair.

:func:`resolve_plan_times` resolves all anchors of one plan on **one** trading day (chosen
once, so ``open+5m`` and ``close-15m`` can never land on different sessions) and returns a
:class:`PlanSchedule` (UTC instants plus the problems that should make ``plans check`` refuse
the plan) or a :class:`Skipped` (a closed day with ``on_closed_day = "skip"``, or a plan whose
``expire`` or ``flatten_at`` has passed). A ``start`` in the past is not a problem: the plan
arms at once. ``require`` names the hours every time must fall in ("regular" for a plan
without ``outside_rth``; None for no check); an ``expire`` may equal the close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeAlias

from .errors import FieldError, HoursUnknown, OutsideCoverage
from .model import Hours, Sessions, TradingDay
from .resolve import Skipped, anchor_time, check_in_session, choose_day
from .timefields import (
    OnClosedDay,
    SessionAnchor,
    SessionDay,
    TimeSpec,
    parse_on_closed_day,
    parse_session_day,
    parse_time,
)

__all__ = ["PlanSchedule", "PlanTimes", "ResolvedField", "TIME_FIELDS", "read_plan_times", "resolve_plan_times"]

TimeField: TypeAlias = Literal["start", "expire", "flatten_at"]
TIME_FIELDS: tuple[TimeField, ...] = ("start", "expire", "flatten_at")


@dataclass(frozen=True, slots=True)
class PlanTimes:
    """A plan's parsed time fields (None: not given). Defaults: ``today``, ``skip``."""

    start: TimeSpec | None = None
    expire: TimeSpec | None = None
    flatten_at: TimeSpec | None = None
    session_day: SessionDay = "today"
    on_closed_day: OnClosedDay = "skip"

    @property
    def anchored(self) -> bool:
        """Whether any field is a session anchor (so the plan needs sessions to be resolved)."""
        return any(isinstance(self.spec(name), SessionAnchor) for name in TIME_FIELDS)

    def spec(self, name: TimeField) -> TimeSpec | None:
        return self.start if name == "start" else self.expire if name == "expire" else self.flatten_at


def read_plan_times(table: Mapping[str, object]) -> tuple[PlanTimes, list[tuple[str, str]]]:
    """The time fields of one plan table and its problems; on problems, the good fields are kept."""
    problems: list[tuple[str, str]] = []
    specs: dict[str, TimeSpec | None] = {}
    for name in TIME_FIELDS:
        specs[name] = None
        if name in table:
            try:
                specs[name] = parse_time(name, table[name])
            except FieldError as exc:
                problems.append(exc.pair)
    session_day: SessionDay = "today"
    on_closed_day: OnClosedDay = "skip"
    try:
        if "session_day" in table:
            session_day = parse_session_day("session_day", table["session_day"])
    except FieldError as exc:
        problems.append(exc.pair)
    try:
        if "on_closed_day" in table:
            on_closed_day = parse_on_closed_day("on_closed_day", table["on_closed_day"])
    except FieldError as exc:
        problems.append(exc.pair)
    times = PlanTimes(specs["start"], specs["expire"], specs["flatten_at"], session_day, on_closed_day)
    return times, problems


@dataclass(frozen=True, slots=True)
class ResolvedField:
    name: TimeField
    spec: TimeSpec
    at: datetime

    def describe(self) -> str:
        """``start = open+5m -> 2026-11-27 14:35 UTC`` (an absolute time shows only its UTC form)."""
        written = f"{self.spec} -> " if isinstance(self.spec, SessionAnchor) else ""
        return f"{self.name} = {written}{self.at:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True, slots=True)
class PlanSchedule:
    """The plan's instants; ``day`` is the session anchors used (None if none). Refuse the plan
    when ``problems`` is not empty."""

    day: date | None
    fields: tuple[ResolvedField, ...]
    problems: tuple[tuple[str, str], ...]

    def at(self, name: TimeField) -> datetime | None:
        return next((f.at for f in self.fields if f.name == name), None)


def resolve_plan_times(times: PlanTimes, sessions: Sessions, now: datetime, *, hours: Hours = "regular",
                       require: Hours | None = "regular") -> PlanSchedule | Skipped:
    """Every time field of one plan on one session (module docstring)."""
    day = choose_day(times.session_day, times.on_closed_day, sessions, now, hours) if times.anchored else None
    if isinstance(day, Skipped):
        return day
    fields: list[ResolvedField] = []
    for name in TIME_FIELDS:
        spec = times.spec(name)
        if spec is not None:
            fields.append(ResolvedField(name, spec, _instant(spec, day, hours)))
    for field in fields:
        if field.name != "start" and field.at <= now:
            return Skipped("past", sessions.local_date(field.at), f"{field.describe()} has already passed")
    schedule = PlanSchedule(day.day if day is not None else None, tuple(fields), ())
    problems = _order_problems(schedule)
    if require is not None:
        problems += _session_problems(schedule, sessions, require, now)
    return PlanSchedule(schedule.day, schedule.fields, tuple(problems))


def _instant(spec: TimeSpec, day: TradingDay | None, hours: Hours) -> datetime:
    if isinstance(spec, datetime):
        return spec
    if day is None:
        raise ValueError("an anchored plan has a trading day")  # choose_day ran: cannot happen
    return anchor_time(spec, day, hours)


def _order_problems(schedule: PlanSchedule) -> list[tuple[str, str]]:
    start = schedule.at("start")
    problems: list[tuple[str, str]] = []
    for field in schedule.fields:
        if field.name != "start" and start is not None and field.at <= start:
            problems.append((field.name, f"{field.describe()} is not after start ({start:%Y-%m-%d %H:%M:%S} UTC)"))
    return problems


def _session_problems(schedule: PlanSchedule, sessions: Sessions, require: Hours,
                      now: datetime) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for field in schedule.fields:
        if field.name == "start" and field.at <= now:
            continue  # a start that has passed arms at once: the instant itself no longer matters
        try:
            why = check_in_session(field.at, sessions, require, allow_close=field.name == "expire")
        except (OutsideCoverage, HoursUnknown) as exc:  # cannot be checked: refuse rather than guess
            problems.append((field.name, f"{field.describe()}: cannot be checked against the session: {exc}"))
            continue
        if why is not None:
            hint = "; set outside_rth = true to allow it" if require == "regular" else ""
            problems.append((field.name, f"{field.describe()}: {why}, outside the {require} session{hint}"))
    return problems
