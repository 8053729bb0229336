"""IB's hours against the XNYS calendar: agreement, disagreements reported per date, and the merge IB wins."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from orchestrator.sessions import (
    HoursUnknown,
    SessionAnchor,
    SessionClock,
    Sessions,
    SessionsError,
    Skipped,
    TradingDay,
    check_in_session,
    choose_day,
    cross_check,
    merge,
    resolve_time,
    sessions_from_ib,
)

from .helpers import ny, utc


def ib_week(closed: tuple[date, ...] = (), liquid_overrides: dict[str, str] | None = None) -> Sessions:
    """IB's hours for a US stock, 2026-11-22 to 2026-12-06, as IB sends them (US/Eastern, new format)."""
    trading, liquid = [], []
    d = date(2026, 11, 22)
    while d <= date(2026, 12, 6):
        key = f"{d:%Y%m%d}"
        if d.weekday() >= 5 or d == date(2026, 11, 26) or d in closed:
            trading.append(f"{key}:CLOSED")
            liquid.append(f"{key}:CLOSED")
        elif d == date(2026, 11, 27):
            trading.append(f"{key}:0400-{key}:1700")
            liquid.append(f"{key}:0930-{key}:1300")
        else:
            trading.append(f"{key}:0400-{key}:2000")
            liquid.append(f"{key}:0930-{key}:1600")
        if liquid_overrides and key in liquid_overrides:
            liquid[-1] = f"{key}:{liquid_overrides[key]}"
        d += timedelta(days=1)
    return sessions_from_ib(";".join(trading), ";".join(liquid), "US/Eastern")


def test_ib_and_the_calendar_agree_on_an_ordinary_fortnight(xnys: Sessions) -> None:
    assert cross_check(xnys, ib_week()) == []


def test_disagreements_are_reported_per_date(xnys: Sessions) -> None:
    """An ad hoc closure IB knows about (the calendar does not), and a close IB moved."""
    ib = ib_week(closed=(date(2026, 12, 1),), liquid_overrides={"20261127": "0930-20261127:1600"})
    found = cross_check(xnys, ib)
    assert [d.day for d in found] == [date(2026, 11, 27), date(2026, 12, 1)]
    assert found[0].describe() == ("2026-11-27: XNYS says 09:30-13:00 America/New_York (14:30-18:00 UTC); "
                                   "IB says 09:30-16:00 America/New_York (14:30-21:00 UTC)")
    assert found[1].describe() == ("2026-12-01: XNYS says 09:30-16:00 America/New_York (14:30-21:00 UTC); "
                                   "IB says closed")
    assert found[1].second == ()


def test_merge_lets_ib_win_for_the_days_it_covers(xnys: Sessions) -> None:
    ib = ib_week(closed=(date(2026, 12, 1),))
    merged = merge(xnys, ib)
    assert merged.source == "IB+XNYS"
    assert (merged.first, merged.last) == (xnys.first, xnys.last)
    assert merged.day(date(2026, 12, 1)) is None                       # IB's closure wins
    assert date(2026, 12, 1) in merged.holidays
    assert merged.day(date(2026, 12, 8)) == xnys.day(date(2026, 12, 8))  # past IB's range: the calendar
    assert date(2026, 11, 27) in merged.early_closes and date(2026, 12, 24) in merged.early_closes
    skipped = resolve_time(SessionAnchor("open", timedelta(minutes=5)), date(2026, 12, 1), "skip", merged,
                           utc(2026, 11, 23))
    assert isinstance(skipped, Skipped) and skipped.reason == "holiday"
    clock = SessionClock(merged)
    assert not clock.is_open(ny(2026, 12, 1, 10))
    assert clock.next_open(ny(2026, 11, 30, 17)) == ny(2026, 12, 2, 9, 30)
    assert clock.is_open(ny(2026, 12, 2, 18), "extended")            # IB's extended hours come along
    assert clock.next_open(ny(2026, 12, 7, 9)) == ny(2026, 12, 7, 9, 30)


def test_merge_refuses_a_gap(xnys: Sessions) -> None:
    far = sessions_from_ib("20290105:0400-20290105:2000", "20290105:0930-20290105:1600", "US/Eastern")
    with pytest.raises(SessionsError, match="leaves a gap"):
        merge(xnys, far)


def test_extended_hours_are_known_only_where_ib_gave_them(xnys: Sessions) -> None:
    merged = merge(xnys, ib_week())
    inside = choose_day(date(2026, 12, 2), "skip", merged, utc(2026, 11, 23), "extended")
    assert isinstance(inside, TradingDay) and inside.open("extended") == ny(2026, 12, 2, 4)
    with pytest.raises(HoursUnknown, match="no extended hours for 2026-12-08"):
        choose_day(date(2026, 12, 8), "skip", merged, utc(2026, 11, 23), "extended")
    with pytest.raises(HoursUnknown):
        choose_day(date(2026, 12, 2), "skip", xnys, utc(2026, 11, 23), "extended")


def test_check_in_extended_hours_on_the_first_day_ib_gave(xnys: Sessions) -> None:
    ib = sessions_from_ib("20261123:0400-20261123:2000;20261124:0400-20261124:2000",
                          "20261123:0930-20261123:1600;20261124:0930-20261124:1600", "US/Eastern")
    merged = merge(xnys, ib)
    assert check_in_session(ny(2026, 11, 23, 5), merged, "extended") is None
    why = check_in_session(ny(2026, 11, 23, 22), merged, "extended")  # the day before has no extended hours
    assert why is not None and "after the 2026-11-23 close at 2026-11-24 01:00 UTC" in why
