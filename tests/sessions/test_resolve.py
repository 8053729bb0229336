"""Anchor resolution on real XNYS sessions: DST changes, early closes, holidays, weekends, skip and next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.sessions import (
    OutsideCoverage,
    Resolved,
    SessionAnchor,
    Sessions,
    Skipped,
    TradingDay,
    anchor_time,
    check_in_session,
    choose_day,
    resolve_time,
    sessions_from_calendar,
)

from .helpers import NEW_YORK, ny, utc

OPEN_5 = SessionAnchor("open", timedelta(minutes=5))
CLOSE_15 = SessionAnchor("close", timedelta(minutes=-15))
CLOSE_10 = SessionAnchor("close", timedelta(minutes=-10))

# (anchor, session_day, on_closed_day, now, expected UTC instant or skip reason)
CASES = [
    # March DST change (US clocks go forward on Sunday 2026-03-08): the open moves from 14:30 to 13:30 UTC.
    ("fri before March DST", OPEN_5, date(2026, 3, 6), "skip", utc(2026, 3, 1), utc(2026, 3, 6, 14, 35)),
    ("mon after March DST", OPEN_5, date(2026, 3, 9), "skip", utc(2026, 3, 1), utc(2026, 3, 9, 13, 35)),
    ("close-15m before March DST", CLOSE_15, date(2026, 3, 6), "skip", utc(2026, 3, 1), utc(2026, 3, 6, 20, 45)),
    ("close-15m after March DST", CLOSE_15, date(2026, 3, 9), "skip", utc(2026, 3, 1), utc(2026, 3, 9, 19, 45)),
    ("Saturday before March DST, next", OPEN_5, "today", "next", utc(2026, 3, 7, 15), utc(2026, 3, 9, 13, 35)),
    ("Saturday before March DST, skip", OPEN_5, "today", "skip", utc(2026, 3, 7, 15), "weekend"),
    ("Sunday of the change, next", OPEN_5, "today", "next", ny(2026, 3, 8, 12), utc(2026, 3, 9, 13, 35)),
    # November DST change (clocks go back on Sunday 2026-11-01): the open moves from 13:30 to 14:30 UTC.
    ("fri before November DST", OPEN_5, date(2026, 10, 30), "skip", utc(2026, 10, 1), utc(2026, 10, 30, 13, 35)),
    ("mon after November DST", OPEN_5, date(2026, 11, 2), "skip", utc(2026, 10, 1), utc(2026, 11, 2, 14, 35)),
    ("Saturday before November DST, next", OPEN_5, "today", "next", utc(2026, 10, 31, 15), utc(2026, 11, 2, 14, 35)),
    ("weekend date itself, next", CLOSE_15, date(2026, 10, 31), "next", utc(2026, 10, 1), utc(2026, 11, 2, 20, 45)),
    ("weekend date itself, skip", CLOSE_15, date(2026, 10, 31), "skip", utc(2026, 10, 1), "weekend"),
    # Early closes at 13:00 New York: the day after Thanksgiving and Christmas Eve.
    ("day after Thanksgiving close-15m", CLOSE_15, date(2026, 11, 27), "skip", utc(2026, 11, 1),
     utc(2026, 11, 27, 17, 45)),
    ("day after Thanksgiving close-10m", CLOSE_10, date(2026, 11, 27), "skip", utc(2026, 11, 1),
     utc(2026, 11, 27, 17, 50)),
    ("day after Thanksgiving open", SessionAnchor("open"), date(2026, 11, 27), "skip", utc(2026, 11, 1),
     utc(2026, 11, 27, 14, 30)),
    ("Christmas Eve close", SessionAnchor("close"), date(2026, 12, 24), "skip", utc(2026, 12, 1),
     utc(2026, 12, 24, 18)),
    ("Christmas Eve close-15m", CLOSE_15, date(2026, 12, 24), "skip", utc(2026, 12, 1), utc(2026, 12, 24, 17, 45)),
    ("the day before Christmas Eve", CLOSE_15, date(2026, 12, 23), "skip", utc(2026, 12, 1), utc(2026, 12, 23, 20, 45)),
    # Holidays: Thanksgiving (Thursday) and Christmas (Friday, so next is Monday).
    ("Christmas, skip", OPEN_5, date(2026, 12, 25), "skip", utc(2026, 12, 1), "holiday"),
    ("Christmas, next", OPEN_5, date(2026, 12, 25), "next", utc(2026, 12, 1), utc(2026, 12, 28, 14, 35)),
    ("on Christmas, today, skip", OPEN_5, "today", "skip", ny(2026, 12, 25, 9), "holiday"),
    ("on Christmas, today, next", OPEN_5, "today", "next", ny(2026, 12, 25, 9), utc(2026, 12, 28, 14, 35)),
    ("on Thanksgiving, today, next: the half day", CLOSE_15, "today", "next", ny(2026, 11, 26, 10),
     utc(2026, 11, 27, 17, 45)),
    ("on Thanksgiving, today, skip", CLOSE_15, "today", "skip", ny(2026, 11, 26, 10), "holiday"),
    # Past dates.
    ("a date whose session is over", OPEN_5, date(2026, 12, 1), "skip", ny(2026, 12, 2, 10), "past"),
    ("a closed date whose next session is over", OPEN_5, date(2026, 11, 26), "next", ny(2026, 12, 2, 10), "past"),
    ("a date whose session is in progress", OPEN_5, date(2026, 12, 2), "skip", ny(2026, 12, 2, 10),
     utc(2026, 12, 2, 14, 35)),
]


@pytest.mark.parametrize(("anchor", "rule", "on_closed", "now", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_anchor_resolution(xnys: Sessions, anchor: SessionAnchor, rule: object, on_closed: str, now: datetime,
                           expected: datetime | str) -> None:
    result = resolve_time(anchor, rule, on_closed, xnys, now)  # type: ignore[arg-type]
    if isinstance(expected, str):
        assert isinstance(result, Skipped), result
        assert result.reason == expected
        assert result.message
    else:
        assert isinstance(result, Resolved), result
        assert result.at == expected
        assert result.day == expected.astimezone(NEW_YORK).date()
        assert result.past == (expected <= now)


TODAY = [
    ("before the open: today's session", ny(2026, 12, 2, 8), date(2026, 12, 2)),
    ("at the open", ny(2026, 12, 2, 9, 30), date(2026, 12, 2)),
    ("in the session", ny(2026, 12, 2, 15, 59), date(2026, 12, 2)),
    ("at the close: today's is over", ny(2026, 12, 2, 16), date(2026, 12, 3)),
    ("Friday evening: Monday, even though the UTC date is Saturday", utc(2026, 12, 5, 2), date(2026, 12, 7)),
    ("Christmas Eve after the early close: past the holiday and the weekend", ny(2026, 12, 24, 14),
     date(2026, 12, 28)),
    ("the day after Thanksgiving at 13:30, after its early close", ny(2026, 11, 27, 13, 30), date(2026, 11, 30)),
]


@pytest.mark.parametrize(("now", "expected"), [c[1:] for c in TODAY], ids=[c[0] for c in TODAY])
def test_today_is_the_session_in_progress_or_the_next(xnys: Sessions, now: datetime, expected: date) -> None:
    day = choose_day("today", "skip", xnys, now)
    assert isinstance(day, TradingDay) and day.day == expected


@pytest.mark.parametrize(("now", "expected"), [
    (ny(2026, 12, 2, 8), date(2026, 12, 3)),
    (ny(2026, 12, 5, 12), date(2026, 12, 7)),
    (ny(2026, 12, 23, 17), date(2026, 12, 24)),
    (ny(2026, 12, 24, 9), date(2026, 12, 28)),
])
def test_next_is_the_first_session_after_today(xnys: Sessions, now: datetime, expected: date) -> None:
    day = choose_day("next", "skip", xnys, now)
    assert isinstance(day, TradingDay) and day.day == expected


def test_every_2026_session_resolves_in_new_york_wall_time(xnys: Sessions) -> None:
    """open+5m is 09:35 and close-15m 15:45 (12:45 on a half day) New York time on every 2026 session."""
    days = [d for d in xnys.days if d.day.year == 2026]
    assert len(days) == 261 - 10  # weekdays of 2026 less its ten weekday holidays
    for day in days:
        assert anchor_time(OPEN_5, day) == datetime.combine(day.day, datetime.min.time().replace(hour=9, minute=35),
                                                            NEW_YORK)
        close_hour = 12 if day.early_close else 15
        assert anchor_time(CLOSE_15, day).astimezone(NEW_YORK).timetuple()[3:5] == (close_hour, 45)
    assert [d.day for d in days if d.early_close] == [date(2026, 11, 27), date(2026, 12, 24)]


def test_absolute_times_pass_through(xnys: Sessions) -> None:
    at = utc(2026, 12, 25, 15)
    assert resolve_time(at, "today", "skip", xnys, utc(2026, 12, 1)) == Resolved(at, None, False)
    assert resolve_time(at, "today", "skip", xnys, utc(2026, 12, 26)).past  # type: ignore[union-attr]


def test_beyond_the_calendar_is_unknown_not_closed(xnys: Sessions) -> None:
    with pytest.raises(OutsideCoverage, match="not 2027-07-01"):
        resolve_time(OPEN_5, date(2027, 7, 1), "skip", xnys, utc(2026, 12, 1))
    with pytest.raises(OutsideCoverage):
        choose_day("today", "next", xnys, ny(2027, 6, 30, 17))  # the next session is past the last date


@given(now=st.datetimes(min_value=datetime(2026, 1, 2), max_value=datetime(2027, 6, 1), timezones=st.just(UTC)))
@settings(max_examples=300, deadline=None)
def test_today_never_picks_an_over_session_nor_skips_an_open_one(xnys: Sessions, now: datetime) -> None:
    day = choose_day("today", "next", xnys, now)
    assert isinstance(day, TradingDay)
    assert now < day.close()
    d = xnys.local_date(now)
    while d < day.day:  # every session between today and the chosen day is over (or absent)
        earlier = xnys.trading_day(d)
        assert earlier is None or earlier.close() <= now
        d += timedelta(days=1)


CHECKS = [
    ("inside", utc(2026, 12, 2, 14, 35), False, None),
    ("the open itself", utc(2026, 12, 2, 14, 30), False, None),
    ("before the open", utc(2026, 12, 2, 14), False, "2026-12-02 14:00 UTC is before the 2026-12-02 open at 14:30 UTC"),
    ("after an early close", utc(2026, 11, 27, 18, 30), False,
     "2026-11-27 18:30 UTC is after the 2026-11-27 close at 18:00 UTC (an early close)"),
    ("the close itself", utc(2026, 11, 27, 18), False, "is the 2026-11-27 close itself: the market is closed then"),
    ("the close itself, as an expiry", utc(2026, 11, 27, 18), True, None),
    ("a holiday", utc(2026, 12, 25, 15), False, "2026-12-25 is a holiday on XNYS (no session)"),
    ("a weekend", utc(2026, 12, 5, 15), False, "2026-12-05 is a weekend day on XNYS (no session)"),
    ("late evening, UTC date the next day", utc(2026, 12, 3, 2), False,
     "2026-12-03 02:00 UTC is after the 2026-12-02 close at 21:00 UTC"),
]


@pytest.mark.parametrize(("at", "allow_close", "expected"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS])
def test_check_in_session(xnys: Sessions, at: datetime, allow_close: bool, expected: str | None) -> None:
    why = check_in_session(at, xnys, allow_close=allow_close)
    if expected is None:
        assert why is None
    else:
        assert why is not None and expected in why


def test_a_lunch_break_is_outside_the_session() -> None:
    tokyo = sessions_from_calendar("XTKS", date(2026, 6, 1), date(2026, 6, 30))
    day = tokyo.day(date(2026, 6, 1))
    assert day is not None and len(day.regular) == 2
    why = check_in_session(utc(2026, 6, 1, 3), tokyo)  # 12:00 JST
    assert why is not None and "falls in a break of the 2026-06-01 session" in why
    assert check_in_session(utc(2026, 6, 1, 4), tokyo) is None  # 13:00 JST
    assert anchor_time(CLOSE_15, day) == utc(2026, 6, 1, 6, 15)  # 15:30 JST close, breaks do not move it
