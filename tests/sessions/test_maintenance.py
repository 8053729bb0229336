"""IB's maintenance windows: inside or not, when the current or next one ends, DST, overlaps, and config."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.sessions import (
    IB_ASIA_EVENING_RESET,
    IB_DEFAULT_WINDOWS,
    IB_EUROPE_RESET,
    IB_NORTH_AMERICA_RESET,
    IB_WEEKEND,
    MaintenanceWindow,
    clear_of_windows,
    gateway_restart,
    next_window,
    read_window,
    window_at,
)

from .helpers import NEW_YORK, ny, utc

INSIDE = [
    # (instant, expected name, expected end)
    ("Tuesday 00:30 ET, daily reset", ny(2026, 12, 1, 0, 30), "IB daily reset (North America)", ny(2026, 12, 1, 1, 45)),
    ("Sunday 00:30 ET, daily reset", ny(2026, 12, 6, 0, 30), "IB daily reset (North America)", ny(2026, 12, 6, 1, 45)),
    ("Friday 23:30 ET, weekend", ny(2026, 12, 4, 23, 30), "IB weekend maintenance", ny(2026, 12, 5, 3)),
    ("Saturday 00:30 ET: weekend, no daily reset on Saturdays", ny(2026, 12, 5, 0, 30), "IB weekend maintenance",
     ny(2026, 12, 5, 3)),
    ("summer: 00:15 EDT is 04:15 UTC", utc(2026, 7, 7, 4, 15), "IB daily reset (North America)",
     utc(2026, 7, 7, 5, 45)),
    ("winter: 00:15 EST is 05:15 UTC", utc(2026, 12, 1, 5, 15), "IB daily reset (North America)",
     utc(2026, 12, 1, 6, 45)),
    ("the night clocks go forward", utc(2026, 3, 8, 5, 20), "IB daily reset (North America)", utc(2026, 3, 8, 6, 45)),
    ("the night clocks go back", utc(2026, 11, 1, 4, 20), "IB daily reset (North America)", utc(2026, 11, 1, 5, 45)),
    ("weekend in summer time ends 03:00 EDT", utc(2026, 10, 31, 6), "IB weekend maintenance", utc(2026, 10, 31, 7)),
]


@pytest.mark.parametrize(("t", "name", "end"), [c[1:] for c in INSIDE], ids=[c[0] for c in INSIDE])
def test_inside_a_window(t: datetime, name: str, end: datetime) -> None:
    span = window_at(t)
    assert span is not None and span.name == name and span.end == end
    assert clear_of_windows(t) == end
    assert next_window(t) == span


OUTSIDE = [
    ("Tuesday 02:00 ET", ny(2026, 12, 1, 2), ny(2026, 12, 2, 0, 15), ny(2026, 12, 2, 1, 45)),
    ("the end itself is outside", ny(2026, 12, 1, 1, 45), ny(2026, 12, 2, 0, 15), ny(2026, 12, 2, 1, 45)),
    ("US regular hours", ny(2026, 12, 1, 10), ny(2026, 12, 2, 0, 15), ny(2026, 12, 2, 1, 45)),
    ("Friday afternoon: the weekend window is next", ny(2026, 12, 4, 15), ny(2026, 12, 4, 23), ny(2026, 12, 5, 3)),
    ("Saturday noon: Sunday's reset is next", ny(2026, 12, 5, 12), ny(2026, 12, 6, 0, 15), ny(2026, 12, 6, 1, 45)),
]


@pytest.mark.parametrize(("t", "start", "end"), [c[1:] for c in OUTSIDE], ids=[c[0] for c in OUTSIDE])
def test_outside_every_window(t: datetime, start: datetime, end: datetime) -> None:
    assert window_at(t) is None
    assert clear_of_windows(t) == t
    upcoming = next_window(t)
    assert upcoming is not None and (upcoming.start, upcoming.end) == (start, end)


def test_overlapping_windows_join_into_one_stretch() -> None:
    """A Gateway restart at 23:00 ET overlaps Friday's weekend window: the stretch ends Saturday 03:00."""
    windows = (*IB_DEFAULT_WINDOWS, gateway_restart(time(23, 0)))
    span = window_at(ny(2026, 12, 4, 22, 58), windows)
    assert span is not None
    assert (span.start, span.end) == (ny(2026, 12, 4, 22, 55), ny(2026, 12, 5, 3))
    assert span.name == "Gateway restart 23:00 America/New_York + IB weekend maintenance"
    thursday = window_at(ny(2026, 12, 3, 23, 5), windows)
    assert thursday is not None and thursday.end == ny(2026, 12, 3, 23, 10)


def test_other_regions() -> None:
    europe = window_at(datetime(2026, 7, 7, 6, 30, tzinfo=ZoneInfo("Europe/Zurich")), (IB_EUROPE_RESET,))
    assert europe is not None and europe.end == datetime(2026, 7, 7, 7, 45, tzinfo=ZoneInfo("Europe/Zurich"))
    asia = window_at(utc(2026, 7, 7, 12, 30), (IB_ASIA_EVENING_RESET,))  # 20:30 HKT
    assert asia is not None and asia.end == utc(2026, 7, 7, 13, 15)


def test_no_windows() -> None:
    assert window_at(utc(2026, 12, 1), ()) is None
    assert next_window(utc(2026, 12, 1), ()) is None
    assert clear_of_windows(utc(2026, 12, 1), ()) == utc(2026, 12, 1)


@given(t=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
@settings(max_examples=300, deadline=None)
def test_window_answers_are_consistent(t: datetime) -> None:
    windows = (*IB_DEFAULT_WINDOWS, gateway_restart(time(23, 45)))
    span = window_at(t, windows)
    upcoming = next_window(t, windows)
    assert upcoming is not None and t < upcoming.end
    if span is None:
        assert clear_of_windows(t, windows) == t and t < upcoming.start
    else:
        assert span.contains(t) and upcoming == span
        assert window_at(span.end, windows) is None  # a joined stretch ends where no window is
    local = t.astimezone(NEW_YORK)
    in_weekend = (local.weekday() == 4 and local.time() >= time(23)) or (local.weekday() == 5 and local.hour < 3)
    if in_weekend:
        assert span is not None


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="weekdays"):
        MaintenanceWindow("x", "America/New_York", frozenset(), time(0), timedelta(hours=1))
    with pytest.raises(ValueError, match="duration"):
        MaintenanceWindow("x", "America/New_York", frozenset({0}), time(0), timedelta(0))
    with pytest.raises(ValueError, match="zone must be an IANA zone name"):
        MaintenanceWindow("x", "EST", frozenset({0}), time(0), timedelta(hours=1))


def test_windows_from_config() -> None:
    daily = read_window({"zone": "America/New_York", "days": "sun-fri", "start": "00:15", "end": "01:45"})
    assert isinstance(daily, MaintenanceWindow)
    assert (daily.zone, daily.weekdays, daily.start, daily.duration) == (
        IB_NORTH_AMERICA_RESET.zone, IB_NORTH_AMERICA_RESET.weekdays, IB_NORTH_AMERICA_RESET.start,
        IB_NORTH_AMERICA_RESET.duration)
    weekend = read_window({"name": "weekend", "zone": "America/New_York", "days": "fri", "start": "23:00",
                           "end": "03:00"})
    assert isinstance(weekend, MaintenanceWindow) and weekend.duration == IB_WEEKEND.duration
    listed = read_window({"zone": "UTC", "days": ["mon", "Wed"], "start": "12:00", "end": "12:30"})
    assert isinstance(listed, MaintenanceWindow) and listed.weekdays == frozenset({0, 2})
    assert listed.name == "maintenance 12:00-12:30"
    every = read_window({"zone": "UTC", "days": "daily", "start": "12:00", "end": "12:00"})
    assert isinstance(every, MaintenanceWindow) and every.duration == timedelta(hours=24)


@pytest.mark.parametrize(("table", "problems"), [
    ({}, [("w.zone", "is required"), ("w.days", "is required"), ("w.start", "is required"),
          ("w.end", "is required")]),
    ({"zone": "UTC", "days": "fri", "start": "23:00", "end": "03:00", "length": 4},
     [("w.length", "is not a window setting (name, zone, days, start, end)")]),
    ({"zone": "EST", "days": "fri", "start": "23:00", "end": "03:00"}, [("w.zone", "is not an IANA zone name")]),
    ({"zone": "UTC", "days": "friday", "start": "23:00", "end": "03:00"}, [("w.days", "'friday' is not a day")]),
    ({"zone": "UTC", "days": [], "start": "23:00", "end": "03:00"}, [("w.days", "names no day")]),
    ({"zone": "UTC", "days": "fri", "start": "24:00", "end": "3:00"},
     [("w.start", "must be a local time HH:MM"), ("w.end", "must be a local time HH:MM")]),
    ({"zone": "UTC", "days": 5, "start": "23:00", "end": "03:00", "name": 1},
     [("w.days", "must be a string (got an integer)"), ("w.name", "must be a string")]),
])
def test_bad_window_config(table: dict[str, object], problems: list[tuple[str, str]]) -> None:
    found = read_window(table, prefix="w")
    assert isinstance(found, list)
    assert [f for f, _ in found] == [f for f, _ in problems]
    for (_, message), (_, expected) in zip(found, problems, strict=True):
        assert expected in message
