"""Sessions from IB's contract details: a CME ES week (overnight sessions, daily break), a US stock, and both old
and new formats."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from orchestrator.sessions import (
    BadTradingHours,
    HoursUnknown,
    Interval,
    OutsideCoverage,
    SessionAnchor,
    SessionClock,
    TradingDay,
    anchor_time,
    choose_day,
    sessions_from_ib,
)

from .helpers import ES_LIQUID, ES_TRADING, STOCK_LIQUID, STOCK_TRADING, ct, ny


@pytest.fixture(scope="module")
def es() -> SessionClock:
    return SessionClock(sessions_from_ib(ES_TRADING, ES_LIQUID, "US/Central"))


def test_es_sessions_belong_to_their_trade_date(es: SessionClock) -> None:
    s = es.sessions
    assert (s.first, s.last, s.zone.key) == (date(2026, 2, 28), date(2026, 3, 9), "America/Chicago")
    assert [d.day for d in s.days] == [date(2026, 3, n) for n in (2, 3, 4, 5, 6, 9)]
    monday = s.day(date(2026, 3, 2))
    assert monday == TradingDay(date(2026, 3, 2), (Interval(ct(2026, 3, 2, 8, 30), ct(2026, 3, 2, 15)),),
                                (Interval(ct(2026, 3, 1, 17), ct(2026, 3, 2, 16)),))
    friday = s.day(date(2026, 3, 6))  # IB marks Friday CLOSED (no session starts then), yet it is a trade date
    assert friday is not None and friday.extended == (Interval(ct(2026, 3, 5, 17), ct(2026, 3, 6, 16)),)
    assert s.holidays == ()
    assert s.closed_reason(date(2026, 3, 1)) == "weekend"


def test_es_dst_change_moves_the_utc_open_of_the_sunday_session(es: SessionClock) -> None:
    after = es.sessions.day(date(2026, 3, 9))
    assert after is not None and after.extended is not None
    assert after.extended[0].start.hour == 22  # 17:00 CDT is 22:00 UTC; the week before it was 23:00 UTC
    assert es.sessions.day(date(2026, 3, 2)).open("extended").hour == 23  # type: ignore[union-attr]


CLOCK = [
    # (instant, hours, open?, next open, next close)
    ("Sunday 17:30 CT", ct(2026, 3, 1, 17, 30), "extended", True, ct(2026, 3, 2, 17), ct(2026, 3, 2, 16)),
    ("Sunday 17:30 CT, regular", ct(2026, 3, 1, 17, 30), "regular", False, ct(2026, 3, 2, 8, 30), ct(2026, 3, 2, 15)),
    ("the daily break", ct(2026, 3, 3, 16, 30), "extended", False, ct(2026, 3, 3, 17), ct(2026, 3, 4, 16)),
    ("the break's start", ct(2026, 3, 3, 16), "extended", False, ct(2026, 3, 3, 17), ct(2026, 3, 4, 16)),
    ("the break's end", ct(2026, 3, 3, 17), "extended", True, ct(2026, 3, 4, 17), ct(2026, 3, 4, 16)),
    ("Friday after the close", ct(2026, 3, 6, 16, 1), "extended", False, ct(2026, 3, 8, 17), ct(2026, 3, 9, 16)),
    ("Saturday", ct(2026, 3, 7, 12), "extended", False, ct(2026, 3, 8, 17), ct(2026, 3, 9, 16)),
    ("Wednesday 10:00 CT, regular", ct(2026, 3, 4, 10), "regular", True, ct(2026, 3, 5, 8, 30), ct(2026, 3, 4, 15)),
    ("Wednesday 15:30 CT, regular", ct(2026, 3, 4, 15, 30), "regular", False, ct(2026, 3, 5, 8, 30),
     ct(2026, 3, 5, 15)),
]


@pytest.mark.parametrize(("t", "hours", "is_open", "next_open", "next_close"), [c[1:] for c in CLOCK],
                         ids=[c[0] for c in CLOCK])
def test_es_clock(es: SessionClock, t: object, hours: str, is_open: bool, next_open: object,
                  next_close: object) -> None:
    assert es.is_open(t, hours) is is_open  # type: ignore[arg-type]
    assert es.next_open(t, hours) == next_open  # type: ignore[arg-type]
    assert es.next_close(t, hours) == next_close  # type: ignore[arg-type]


def test_es_unknown_before_the_first_session_ib_sent(es: SessionClock) -> None:
    """Friday 2026-02-27's session was not sent: its last hours must read as unknown, not as closed."""
    with pytest.raises(OutsideCoverage):
        es.is_open(ct(2026, 2, 27, 10), "extended")
    with pytest.raises(OutsideCoverage):
        es.next_open(ct(2026, 3, 9, 16, 30), "extended")  # after the last session IB sent


def test_es_anchors_on_the_near_24_hour_session(es: SessionClock) -> None:
    monday = es.sessions.day(date(2026, 3, 2))
    assert monday is not None
    assert anchor_time(SessionAnchor("open"), monday, "extended") == ct(2026, 3, 1, 17)
    assert anchor_time(SessionAnchor("close", timedelta(minutes=-10)), monday, "extended") == ct(2026, 3, 2, 15, 50)
    assert anchor_time(SessionAnchor("close", timedelta(minutes=-10)), monday, "regular") == ct(2026, 3, 2, 14, 50)
    day = choose_day("today", "skip", es.sessions, ct(2026, 3, 1, 18), "extended")  # Sunday evening: Monday's
    assert isinstance(day, TradingDay) and day.day == date(2026, 3, 2)
    skipped = choose_day("today", "skip", es.sessions, ct(2026, 3, 1, 18), "regular")
    assert not isinstance(skipped, TradingDay) and skipped.reason == "weekend"


def test_old_format_es_with_a_break_and_a_legacy_zone() -> None:
    s = sessions_from_ib("20130114:1700-1515,1530-1615;20130115:1700-1515,1530-1615",
                         "20130114:0830-1515;20130115:0830-1515", "CST (Central Standard Time)")
    monday = s.day(date(2013, 1, 14))
    assert monday is not None
    assert monday.extended == (Interval(ct(2013, 1, 13, 17), ct(2013, 1, 14, 15, 15)),
                               Interval(ct(2013, 1, 14, 15, 30), ct(2013, 1, 14, 16, 15)))
    clock = SessionClock(s)
    assert not clock.is_open(ct(2013, 1, 14, 15, 20), "extended")
    assert clock.next_open(ct(2013, 1, 14, 15, 20), "extended") == ct(2013, 1, 14, 15, 30)


def test_stock_holiday_and_early_close_from_ib() -> None:
    s = sessions_from_ib(STOCK_TRADING, STOCK_LIQUID, "US/Eastern")
    assert s.holidays == (date(2026, 11, 26),)
    assert s.early_closes == (date(2026, 11, 27),)
    half = s.day(date(2026, 11, 27))
    assert half is not None
    assert half.regular == (Interval(ny(2026, 11, 27, 9, 30), ny(2026, 11, 27, 13)),)
    assert half.extended == (Interval(ny(2026, 11, 27, 4), ny(2026, 11, 27, 17)),)
    assert SessionClock(s).is_open(ny(2026, 11, 27, 14), "extended")
    assert not SessionClock(s).is_open(ny(2026, 11, 27, 14))


def test_without_liquid_hours_trading_hours_are_the_regular_session() -> None:
    s = sessions_from_ib("20261123:0400-20261123:2000", "", "America/New_York")
    assert s.day(date(2026, 11, 23)).regular == (Interval(ny(2026, 11, 23, 4), ny(2026, 11, 23, 20)),)  # type: ignore[union-attr]


def test_no_hours_at_all_is_an_error() -> None:
    with pytest.raises(BadTradingHours, match="IB sent no hours"):
        sessions_from_ib("", "", "US/Eastern")


def test_calendar_sessions_have_no_extended_hours(xnys: object) -> None:
    with pytest.raises(HoursUnknown, match="XNYS gives no extended hours"):
        SessionClock(xnys).is_open(ny(2026, 12, 2, 8), "extended")  # type: ignore[arg-type]
