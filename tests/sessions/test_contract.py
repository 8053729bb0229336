"""One contract's sessions from its IB contract details: a stock on XNYS (merged, cross-checked) and ES (IB only)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from orchestrator.sessions import (
    BadTradingHours,
    SessionAnchor,
    SessionClock,
    TradingDay,
    UnknownTimeZone,
    anchor_time,
    choose_day,
    contract_sessions,
)

from .helpers import ES_LIQUID, ES_TRADING, STOCK_LIQUID, STOCK_TRADING, ct, ny, utc

RANGE = {"first": date(2026, 11, 1), "last": date(2027, 1, 31)}


def test_a_stock_is_the_calendar_with_ib_days_merged_in() -> None:
    found = contract_sessions(sec_type="STK", primary_exchange="NASDAQ", trading_hours=STOCK_TRADING,
                              liquid_hours=STOCK_LIQUID, time_zone_id="US/Eastern", **RANGE)
    assert found.anchor_hours == "regular"
    assert found.disagreements == ()
    assert found.sessions.source == "IB+XNYS"
    assert (found.sessions.first, found.sessions.last) == (RANGE["first"], RANGE["last"])
    clock = SessionClock(found.sessions)
    assert clock.is_open(ny(2026, 11, 27, 14), "extended")  # IB's post-market on the half day
    assert clock.next_close(ny(2026, 12, 24, 10)) == ny(2026, 12, 24, 13)  # the calendar beyond IB's range


def test_a_stock_where_ib_disagrees_reports_it() -> None:
    moved = STOCK_LIQUID.replace("20261127:0930-20261127:1300", "20261127:0930-20261127:1600")
    found = contract_sessions(sec_type="STK", primary_exchange="ARCA", trading_hours=STOCK_TRADING,
                              liquid_hours=moved, time_zone_id="America/New_York", **RANGE)
    assert [d.day for d in found.disagreements] == [date(2026, 11, 27)]
    assert found.sessions.day(date(2026, 11, 27)).close() == ny(2026, 11, 27, 16)  # type: ignore[union-attr]


def test_a_stock_without_ib_hours_uses_the_calendar() -> None:
    found = contract_sessions(sec_type="STK", primary_exchange="NYSE", trading_hours="", liquid_hours="",
                              time_zone_id="", **RANGE)
    assert found.sessions.source == "XNYS" and found.disagreements == ()


def test_a_future_uses_ib_hours_and_its_near_24_hour_session() -> None:
    found = contract_sessions(sec_type="FUT", primary_exchange="", trading_hours=ES_TRADING, liquid_hours=ES_LIQUID,
                              time_zone_id="US/Central", **RANGE)
    assert found.anchor_hours == "extended" and found.sessions.source == "IB"
    day = choose_day("today", "skip", found.sessions, ct(2026, 3, 1, 18), found.anchor_hours)
    assert isinstance(day, TradingDay) and day.day == date(2026, 3, 2)
    close_10 = SessionAnchor("close", timedelta(minutes=-10))
    assert anchor_time(close_10, day, found.anchor_hours) == ct(2026, 3, 2, 15, 50)
    assert anchor_time(SessionAnchor("open"), day, found.anchor_hours) == utc(2026, 3, 1, 23)


def test_unreadable_ib_fields_are_errors_even_with_a_calendar() -> None:
    with pytest.raises(UnknownTimeZone):
        contract_sessions(sec_type="STK", primary_exchange="NYSE", trading_hours=STOCK_TRADING,
                          liquid_hours=STOCK_LIQUID, time_zone_id="", **RANGE)
    with pytest.raises(BadTradingHours):
        contract_sessions(sec_type="FUT", primary_exchange="CME", trading_hours="20261127:9999-1000",
                          liquid_hours="", time_zone_id="US/Central", **RANGE)
