"""The session clock against exchange_calendars' own answers, and its edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.sessions import OutsideCoverage, SessionClock, Sessions

from .helpers import ny, utc


@pytest.fixture(scope="module")
def clock(xnys: Sessions) -> SessionClock:
    return SessionClock(xnys)


@pytest.fixture(scope="module")
def calendar() -> object:
    import exchange_calendars as xcals  # type: ignore[import-untyped]  # the library's own answers
    return xcals.get_calendar("XNYS", start="2026-01-01", end="2027-12-31")


minutes = st.datetimes(min_value=datetime(2026, 1, 3), max_value=datetime(2027, 6, 25), timezones=st.just(UTC)).map(
    lambda t: t.replace(second=0, microsecond=0))


@given(t=minutes)
@settings(max_examples=400, deadline=None)
def test_the_clock_agrees_with_exchange_calendars(clock: SessionClock, calendar: object, t: datetime) -> None:
    import pandas as pd  # type: ignore[import-untyped]
    cal = calendar
    assert clock.is_open(t) == cal.is_open_on_minute(t)  # type: ignore[attr-defined]
    assert clock.next_open(t) == cal.next_open(t).to_pydatetime()  # type: ignore[attr-defined]
    assert clock.next_close(t) == cal.next_close(t).to_pydatetime()  # type: ignore[attr-defined]
    assert clock.is_open(t) == cal.is_open_at_time(pd.Timestamp(t))  # type: ignore[attr-defined]


@given(t=st.datetimes(min_value=datetime(2026, 1, 2), max_value=datetime(2027, 6, 25), timezones=st.just(UTC)))
@settings(max_examples=300, deadline=None)
def test_open_and_close_alternate(clock: SessionClock, t: datetime) -> None:
    following_open, following_close = clock.next_open(t), clock.next_close(t)
    assert t < following_open and t < following_close
    assert (following_close < following_open) == clock.is_open(t)
    assert clock.is_open(following_open) and not clock.is_open(following_close)
    day = clock.session_at(t)
    assert (day is not None) == clock.is_open(t)  # XNYS has no breaks


EDGES = [
    ("the open is open", ny(2026, 12, 2, 9, 30), True, ny(2026, 12, 3, 9, 30), ny(2026, 12, 2, 16)),
    ("the close is closed", ny(2026, 12, 2, 16), False, ny(2026, 12, 3, 9, 30), ny(2026, 12, 3, 16)),
    ("a second before the close", ny(2026, 12, 2, 15, 59) + timedelta(seconds=59), True, ny(2026, 12, 3, 9, 30),
     ny(2026, 12, 2, 16)),
    ("the early close", ny(2026, 11, 27, 13), False, ny(2026, 11, 30, 9, 30), ny(2026, 11, 30, 16)),
    ("Christmas Eve afternoon", ny(2026, 12, 24, 14), False, ny(2026, 12, 28, 9, 30), ny(2026, 12, 28, 16)),
    ("Saturday before the November DST change", utc(2026, 10, 31, 15), False, utc(2026, 11, 2, 14, 30),
     utc(2026, 11, 2, 21)),
]


@pytest.mark.parametrize(("t", "is_open", "next_open", "next_close"), [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_clock_edges(clock: SessionClock, t: datetime, is_open: bool, next_open: datetime,
                     next_close: datetime) -> None:
    assert clock.is_open(t) is is_open
    assert clock.next_open(t) == next_open
    assert clock.next_close(t) == next_close


def test_session_at_names_the_trading_day(clock: SessionClock) -> None:
    day = clock.session_at(ny(2026, 11, 27, 12))
    assert day is not None and day.day == date(2026, 11, 27) and day.early_close
    assert clock.session_at(ny(2026, 11, 27, 13, 30)) is None


def test_outside_the_calendar_is_unknown(clock: SessionClock) -> None:
    with pytest.raises(OutsideCoverage):
        clock.is_open(utc(2027, 7, 2, 15))
    with pytest.raises(OutsideCoverage):
        clock.next_open(ny(2027, 6, 30, 17))  # the next open lies past the calendar's last date
    with pytest.raises(OutsideCoverage):
        clock.is_open(utc(2025, 12, 31, 15))
