"""A plan's time fields read from its table and resolved together on one XNYS session."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta

import pytest

from orchestrator.sessions import (
    PlanSchedule,
    PlanTimes,
    SessionAnchor,
    Sessions,
    Skipped,
    read_plan_times,
    resolve_plan_times,
)

from .helpers import ny, utc

PLAN = """
[[plans]]
id = "AAPL-1"
start = "open+5m"
expire = "close-15m"
flatten_at = "close-10m"
session_day = 2026-11-27
on_closed_day = "next"
"""


def test_read_a_toml_plan() -> None:
    table = tomllib.loads(PLAN)["plans"][0]
    times, problems = read_plan_times(table)
    assert problems == []
    assert times == PlanTimes(SessionAnchor("open", timedelta(minutes=5)),
                              SessionAnchor("close", timedelta(minutes=-15)),
                              SessionAnchor("close", timedelta(minutes=-10)), date(2026, 11, 27), "next")
    assert times.anchored


def test_toml_datetimes_and_defaults() -> None:
    table = tomllib.loads('start = 2026-12-02T09:35:00-05:00\nexpire = "2026-12-02 15:45 America/New_York"\n')
    times, problems = read_plan_times(table)
    assert problems == []
    assert times == PlanTimes(utc(2026, 12, 2, 14, 35), utc(2026, 12, 2, 20, 45), None, "today", "skip")
    assert not times.anchored


def test_every_bad_field_is_one_problem() -> None:
    table = tomllib.loads('start = 2026-12-02T09:35:00\nexpire = "close-15"\nflatten_at = 2026-12-02\n'
                          'session_day = "tomorrow"\non_closed_day = "reject"\nother = 1\n')
    times, problems = read_plan_times(table)
    assert [field for field, _ in problems] == ["start", "expire", "flatten_at", "session_day", "on_closed_day"]
    assert problems[0][1].startswith("has neither a UTC offset nor a time zone")
    assert times == PlanTimes()


def test_the_half_day_plan_resolves_on_one_session(xnys: Sessions) -> None:
    times, _ = read_plan_times(tomllib.loads(PLAN)["plans"][0])
    schedule = resolve_plan_times(times, xnys, ny(2026, 11, 20, 12))
    assert isinstance(schedule, PlanSchedule)
    assert schedule.day == date(2026, 11, 27)
    assert schedule.problems == ()
    assert (schedule.at("start"), schedule.at("expire"), schedule.at("flatten_at")) == (
        utc(2026, 11, 27, 14, 35), utc(2026, 11, 27, 17, 45), utc(2026, 11, 27, 17, 50))
    assert [f.describe() for f in schedule.fields] == [
        "start = open+5m -> 2026-11-27 14:35:00 UTC",
        "expire = close-15m -> 2026-11-27 17:45:00 UTC",
        "flatten_at = close-10m -> 2026-11-27 17:50:00 UTC",
    ]


def test_a_holiday_with_skip_is_skipped(xnys: Sessions) -> None:
    times = PlanTimes(start=SessionAnchor("open", timedelta(minutes=5)), session_day=date(2026, 12, 25))
    skipped = resolve_plan_times(times, xnys, ny(2026, 12, 1, 12))
    assert isinstance(skipped, Skipped) and skipped.reason == "holiday"
    assert skipped.message == "2026-12-25 is a holiday on XNYS (no session)"


def test_a_passed_expiry_skips_the_plan_but_a_passed_start_arms_at_once(xnys: Sessions) -> None:
    times = PlanTimes(start=SessionAnchor("open", timedelta(minutes=5)),
                      expire=SessionAnchor("close", timedelta(hours=-1)))
    armed = resolve_plan_times(times, xnys, ny(2026, 12, 2, 11))
    assert isinstance(armed, PlanSchedule) and armed.problems == ()
    assert armed.at("start") == ny(2026, 12, 2, 9, 35)
    late = resolve_plan_times(times, xnys, ny(2026, 12, 2, 15, 30))
    assert isinstance(late, Skipped) and late.reason == "past"
    assert late.message == "expire = close-1h -> 2026-12-02 20:00:00 UTC has already passed"


@pytest.mark.parametrize(("times", "field", "message"), [
    (PlanTimes(start=SessionAnchor("close", timedelta(minutes=-15)),
               expire=SessionAnchor("close", timedelta(minutes=-30))),
     "expire", "expire = close-30m -> 2026-12-03 20:30:00 UTC is not after start (2026-12-03 20:45:00 UTC)"),
    (PlanTimes(start=SessionAnchor("open", timedelta(minutes=-10))),
     "start", "start = open-10m -> 2026-12-03 14:20:00 UTC: 2026-12-03 14:20 UTC is before the 2026-12-03 open at "
              "14:30 UTC, outside the regular session; set outside_rth = true to allow it"),
    (PlanTimes(flatten_at=SessionAnchor("close")),
     "flatten_at", "is the 2026-12-03 close itself: the market is closed then"),
    (PlanTimes(start=utc(2026, 12, 5, 15), expire=utc(2026, 12, 5, 16)),
     "start", "2026-12-05 is a weekend day on XNYS (no session)"),
])
def test_plans_check_refusals(xnys: Sessions, times: PlanTimes, field: str, message: str) -> None:
    schedule = resolve_plan_times(times, xnys, ny(2026, 12, 2, 17))
    assert isinstance(schedule, PlanSchedule)
    assert schedule.problems and schedule.problems[0][0] == field
    assert message in schedule.problems[0][1]


def test_an_expiry_at_the_close_is_fine_and_outside_rth_skips_the_check(xnys: Sessions) -> None:
    times = PlanTimes(start=SessionAnchor("open", timedelta(minutes=-30)), expire=SessionAnchor("close"))
    checked = resolve_plan_times(times, xnys, ny(2026, 12, 2, 17))
    assert isinstance(checked, PlanSchedule) and [f for f, _ in checked.problems] == ["start"]
    unchecked = resolve_plan_times(times, xnys, ny(2026, 12, 2, 17), require=None)
    assert isinstance(unchecked, PlanSchedule) and unchecked.problems == ()
    assert unchecked.at("expire") == ny(2026, 12, 3, 16)


def test_a_time_beyond_the_calendar_cannot_be_checked_and_is_refused(xnys: Sessions) -> None:
    times = PlanTimes(start=utc(2028, 1, 3, 15), expire=utc(2028, 1, 3, 16))
    schedule = resolve_plan_times(times, xnys, ny(2026, 12, 2, 17))
    assert isinstance(schedule, PlanSchedule)
    assert [f for f, _ in schedule.problems] == ["start", "expire"]
    assert "cannot be checked against the session: XNYS sessions cover" in schedule.problems[0][1]
