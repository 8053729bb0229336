"""Plan time fields: every accepted form gives the right UTC instant or anchor, every bad one a clear message."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.sessions import (
    FieldError,
    SessionAnchor,
    parse_on_closed_day,
    parse_session_day,
    parse_time,
    plan_zone,
)

from .helpers import NEW_YORK, utc

GOOD_TIMES = [
    ("2026-12-02T09:35:00-05:00", utc(2026, 12, 2, 14, 35)),
    ("2026-12-02T14:35:00Z", utc(2026, 12, 2, 14, 35)),
    ("2026-12-02 09:35-05:00", utc(2026, 12, 2, 14, 35)),
    ("2026-12-02T09:35:00.250+01:00", datetime(2026, 12, 2, 8, 35, 0, 250000, tzinfo=UTC)),
    ("2026-12-02 09:35 America/New_York", utc(2026, 12, 2, 14, 35)),      # EST: UTC-5
    ("2026-07-01 09:35 America/New_York", utc(2026, 7, 1, 13, 35)),       # EDT: UTC-4
    ("2026-07-01T09:35:30 America/New_York", utc(2026, 7, 1, 13, 35, 30)),
    ("2026-07-01 16:30 Europe/London", utc(2026, 7, 1, 15, 30)),
    ("2026-07-01 09:00 Asia/Tokyo", utc(2026, 7, 1, 0, 0)),
    ("2026-07-01 09:00 UTC", utc(2026, 7, 1, 9, 0)),
    ("  2026-07-01 09:35 America/New_York  ", utc(2026, 7, 1, 13, 35)),
    (datetime(2026, 12, 2, 9, 35, tzinfo=timezone(timedelta(hours=-5))), utc(2026, 12, 2, 14, 35)),
    (datetime(2026, 7, 1, 9, 35, tzinfo=NEW_YORK), utc(2026, 7, 1, 13, 35)),
]


@pytest.mark.parametrize(("value", "expected"), GOOD_TIMES)
def test_absolute_times_become_utc(value: object, expected: datetime) -> None:
    parsed = parse_time("start", value)
    assert parsed == expected
    assert isinstance(parsed, datetime) and parsed.utcoffset() == timedelta(0)


GOOD_ANCHORS = [
    ("open", SessionAnchor("open")),
    ("close", SessionAnchor("close")),
    ("open+5m", SessionAnchor("open", timedelta(minutes=5))),
    ("close-15m", SessionAnchor("close", timedelta(minutes=-15))),
    ("close-10m", SessionAnchor("close", timedelta(minutes=-10))),
    ("open+1h30m", SessionAnchor("open", timedelta(hours=1, minutes=30))),
    ("open+90s", SessionAnchor("open", timedelta(seconds=90))),
    ("open-2m", SessionAnchor("open", timedelta(minutes=-2))),
    ("close+0m", SessionAnchor("close")),
    ("open+24h", SessionAnchor("open", timedelta(hours=24))),
    (" open+5m ", SessionAnchor("open", timedelta(minutes=5))),
]


@pytest.mark.parametrize(("value", "expected"), GOOD_ANCHORS)
def test_session_anchors(value: str, expected: SessionAnchor) -> None:
    assert parse_time("expire", value) == expected


BAD_TIMES = [
    ("2026-12-02T09:35:00", "has neither a UTC offset nor a time zone"),
    ("2026-12-02 09:35", "has neither a UTC offset nor a time zone"),
    (datetime(2026, 12, 2, 9, 35), "has neither a UTC offset nor a time zone"),
    ("2026-12-02", "is a date without a time"),
    (date(2026, 12, 2), "is a date without a time"),
    ("2026-12-02 America/New_York", "is a date without a time"),
    ("09:35", "is a time without a date"),
    (time(9, 35), "is a time without a date"),
    ("2026-12-02 09:35 EST", "is not an IANA zone name"),
    ("2026-12-02 09:35 CET", "is not an IANA zone name"),
    ("2026-12-02 09:35 America/NewYork", "unknown time zone 'America/NewYork'"),
    ("2026-12-02 09:35 ../../etc/passwd", "must be a time"),
    ("2026-12-02 09:35 etc/../../passwd", "is not an IANA zone name"),
    ("2026-12-02T09:35-05:00 America/New_York", "has both a UTC offset and a time zone"),
    ("noon America/New_York", "has no readable date and time before the zone"),
    ("2026-03-08 02:30 America/New_York", "does not exist (the clocks jump forward over it)"),
    ("2026-11-01 01:30 America/New_York", "happens twice (the clocks go back over it)"),
    ("2026-02-30T09:35:00Z", "must be a time"),
    ("tomorrow", "must be a time"),
    ("", "must be a time"),
    (1733146500, "must be a time, e.g. 2026-12-02T09:35:00-05:00"),
    (True, "(got a boolean)"),
    (["open"], "(got an array)"),
    ("open+", "is not a session anchor"),
    ("open+5", "is not a session anchor"),
    ("open+5x", "is not a session anchor"),
    ("open+5m3h", "is not a session anchor"),
    ("open + 5m", "is not a session anchor"),
    ("Open+5m", "is not a session anchor"),
    ("close 15m", "is not a session anchor"),
    ("open*2", "is not a session anchor"),
    ("open+25h", "offset of 25h is too large: at most 24h from the open"),
    ("close-1441m", "offset of 1441m is too large: at most 24h from the close"),
]


@pytest.mark.parametrize(("value", "message"), BAD_TIMES)
def test_bad_times_say_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_time("start", value)
    assert caught.value.field == "start"
    assert message in caught.value.message
    assert caught.value.pair == ("start", caught.value.message)
    assert "\n" not in str(caught.value)


@given(edge=st.sampled_from(["open", "close"]), seconds=st.integers(-86400, 86400))
def test_anchor_text_round_trips(edge: str, seconds: int) -> None:
    anchor = SessionAnchor("open" if edge == "open" else "close", timedelta(seconds=seconds))
    assert parse_time("start", str(anchor)) == anchor


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),
                    timezones=st.sampled_from([UTC, NEW_YORK, timezone(timedelta(hours=5, minutes=30))]),
                    allow_imaginary=False))
def test_iso_text_of_an_aware_datetime_parses_to_the_same_instant(moment: datetime) -> None:
    assert parse_time("start", moment.isoformat()) == moment.astimezone(UTC)  # (folds compare unequal across zones)


@pytest.mark.parametrize(("value", "expected"), [
    ("today", "today"), ("next", "next"), ("2026-12-24", date(2026, 12, 24)), (date(2026, 12, 24), date(2026, 12, 24)),
])
def test_session_day(value: object, expected: object) -> None:
    assert parse_session_day("session_day", value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("tomorrow", "must be today, next or a date YYYY-MM-DD (got 'tomorrow')"),
    ("2026-13-01", "2026-13-01 is not a valid date"),
    ("Today", "must be today, next"),
    (datetime(2026, 12, 24, 9, 30), "must be today, next"),
    (3, "(got an integer)"),
])
def test_bad_session_day(value: object, message: str) -> None:
    with pytest.raises(FieldError, match="session_day") as caught:
        parse_session_day("session_day", value)
    assert message in caught.value.message


def test_on_closed_day() -> None:
    assert parse_on_closed_day("on_closed_day", "skip") == "skip"
    assert parse_on_closed_day("on_closed_day", "next") == "next"
    with pytest.raises(FieldError) as caught:
        parse_on_closed_day("on_closed_day", "next_session")
    assert caught.value.message == "must be skip or next (got 'next_session')"


def test_plan_zone_accepts_iana_names_only() -> None:
    assert plan_zone("zone", "America/New_York").key == "America/New_York"
    assert plan_zone("zone", "UTC").key == "UTC"
    for name in ("EST", "EST5EDT", "est", "America/", "/etc"):
        with pytest.raises(FieldError, match="is not an IANA zone name"):
            plan_zone("zone", name)
