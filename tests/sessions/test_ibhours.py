"""IB's hours strings and time zone ids: both formats, CLOSED days, overnight futures sessions, legacy zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.sessions import BadTradingHours, Interval, UnknownTimeZone, ib_zone, parse_ib_hours

from .helpers import CHICAGO, NEW_YORK, ct, ny, utc


def spans(text: str, zone: ZoneInfo = NEW_YORK) -> list[tuple[date, list[Interval]]]:
    return [(e.key, list(e.intervals)) for e in parse_ib_hours(text, zone)]


def test_new_format_with_closed_days() -> None:
    text = "20261126:CLOSED;20261127:0400-20261127:1700;20261128:CLOSED;20261130:0400-20261130:2000;"
    assert spans(text) == [
        (date(2026, 11, 26), []),
        (date(2026, 11, 27), [Interval(ny(2026, 11, 27, 4), ny(2026, 11, 27, 17))]),
        (date(2026, 11, 28), []),
        (date(2026, 11, 30), [Interval(ny(2026, 11, 30, 4), ny(2026, 11, 30, 20))]),
    ]
    entries = parse_ib_hours(text, NEW_YORK)
    assert [e.closed for e in entries] == [True, False, True, False]
    assert entries[1].dated_ends


def test_old_format_with_two_ranges_and_closed_day() -> None:
    assert spans("20090507:0700-1830,1830-2330;20090508:CLOSED") == [
        (date(2009, 5, 7), [Interval(ny(2009, 5, 7, 7), ny(2009, 5, 7, 18, 30)),
                            Interval(ny(2009, 5, 7, 18, 30), ny(2009, 5, 7, 23, 30))]),
        (date(2009, 5, 8), []),
    ]
    assert not parse_ib_hours("20090507:0700-1830", NEW_YORK)[0].dated_ends


def test_old_format_overnight_futures_session_starts_the_evening_before() -> None:
    """ESH3 on 2013-01-14 (cbilson/ib-re-actor#8): the 17:00 start is Sunday's."""
    [(key, found)] = spans("20130114:1700-1515,1530-1615", CHICAGO)
    assert key == date(2013, 1, 14)
    assert found == [Interval(ct(2013, 1, 13, 17), ct(2013, 1, 14, 15, 15)),
                     Interval(ct(2013, 1, 14, 15, 30), ct(2013, 1, 14, 16, 15))]


def test_new_format_overnight_futures_session_is_keyed_by_its_start() -> None:
    [(key, found)] = spans("20250317:1700-20250318:1600", CHICAGO)
    assert key == date(2025, 3, 17)
    assert found == [Interval(utc(2025, 3, 17, 22), utc(2025, 3, 18, 21))]  # CDT, UTC-5


def test_each_end_gets_its_own_utc_offset_across_a_dst_change() -> None:
    """ES's Sunday 2026-03-08 session opens at 17:00 CDT; the Thursday before closed at 16:00 CST."""
    found = spans("20260305:1700-20260306:1600;20260308:1700-20260309:1600", CHICAGO)
    assert found[0][1] == [Interval(utc(2026, 3, 5, 23), utc(2026, 3, 6, 22))]
    assert found[1][1] == [Interval(utc(2026, 3, 8, 22), utc(2026, 3, 9, 21))]


def test_midnight_as_2400_and_repeated_keys_out_of_order() -> None:
    text = "20181214:1300-20181214:1630;20181215:CLOSED;20181214:1715-20181215:0100;20181213:0915-2400"
    found = spans(text, ZoneInfo("Asia/Hong_Kong"))
    assert [k for k, _ in found] == [date(2018, 12, 14), date(2018, 12, 15), date(2018, 12, 14), date(2018, 12, 13)]
    assert found[2][1] == [Interval(utc(2018, 12, 14, 9, 15), utc(2018, 12, 14, 17))]
    assert found[3][1] == [Interval(utc(2018, 12, 13, 1, 15), utc(2018, 12, 13, 16))]


def test_empty_strings_have_no_entries() -> None:
    assert parse_ib_hours("", NEW_YORK) == ()
    assert parse_ib_hours(" ; ;", NEW_YORK) == ()


@pytest.mark.parametrize(("text", "message"), [
    ("2026112:0930-1600", "expected YYYYMMDD:HHMM-HHMM or YYYYMMDD:CLOSED"),
    ("garbage", "expected YYYYMMDD:HHMM-HHMM"),
    ("20261301:0930-1600", "20261301 is not a valid date"),
    ("20261127:0930-1660", "1660 is not a time HHMM"),
    ("20261127:2500-2600", "2500 is not a time HHMM"),
    ("20261127:0930", "'0930' is not a range"),
    ("20261127:OPEN", "'OPEN' is not a range"),
    ("20261127:1600-20261127:0930", "a range must end after it starts"),
    ("20261127:0930-20261227:1600", "a range longer than a week is not a session"),
    ("20261127:0930-1600,", "'' is not a range"),
])
def test_bad_hours_name_the_field_and_the_piece(text: str, message: str) -> None:
    with pytest.raises(BadTradingHours) as caught:
        parse_ib_hours(f"20261125:0930-1600;{text}", NEW_YORK, "liquidHours")
    assert caught.value.field == "liquidHours"
    assert str(caught.value).startswith("liquidHours: cannot read ")
    assert message in str(caught.value)


ZONES = [
    ("EST (Eastern Standard Time)", "America/New_York"), ("EST", "America/New_York"),
    ("US/Eastern", "America/New_York"), ("America/New_York", "America/New_York"), ("EST5EDT", "America/New_York"),
    ("est", "America/New_York"),
    ("CST", "America/Chicago"), ("CST (Central Standard Time)", "America/Chicago"), ("US/Central", "America/Chicago"),
    ("US/Pacific", "America/Los_Angeles"), ("MET", "Europe/Brussels"), ("MET (Middle Europe Time)", "Europe/Brussels"),
    ("JST", "Asia/Tokyo"), ("Japan", "Asia/Tokyo"), ("Hongkong", "Asia/Hong_Kong"), ("GB-Eire", "Europe/London"),
    ("Israel", "Asia/Jerusalem"), ("IST", "Asia/Kolkata"), ("Asia/Calcutta", "Asia/Kolkata"),
    ("Australia/NSW", "Australia/Sydney"), ("Europe/Riga", "Europe/Riga"),
    ("Africa/Johannesburg", "Africa/Johannesburg"),
    ("GMT", "UTC"), (" US/Eastern ", "America/New_York"),
]


@pytest.mark.parametrize(("zone_id", "iana"), ZONES)
def test_ib_zone_ids_map_to_iana(zone_id: str, iana: str) -> None:
    assert ib_zone(zone_id).key == iana


def test_mapped_zones_keep_daylight_saving() -> None:
    """EST means New York wall time in IB's hours (UTC-4 in July), not tzdata's fixed UTC-5."""
    july = datetime(2026, 7, 1, 9, 30)
    assert july.replace(tzinfo=ib_zone("EST")).utcoffset() == timedelta(hours=-4)
    assert july.replace(tzinfo=ib_zone("MET")).utcoffset() == timedelta(hours=2)
    assert july.replace(tzinfo=ib_zone("GB-Eire")).utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(("zone_id", "message"), [
    ("", "IB sent no time zone id"), ("   ", "IB sent no time zone id"), ("XYZ", "not an IANA name"),
    ("BST", "not an IANA name"), ("Mars/Olympus_Mons", "zoneinfo does not know it"), ("../etc/passwd", "not an IANA"),
])
def test_unknown_zone_ids_are_errors(zone_id: str, message: str) -> None:
    with pytest.raises(UnknownTimeZone) as caught:
        ib_zone(zone_id)
    assert caught.value.zone_id == zone_id
    assert message in str(caught.value)


# A day's session: (start date relative to the trade date, start minute, end minute on the trade date); it starts
# the evening before (-1) exactly when its end is not after its start, which is all the old format can say.
session = st.tuples(st.sampled_from([0, -1]), st.integers(0, 1439), st.integers(1, 1440)).filter(
    lambda s: (s[0] == 0) == (s[1] < s[2]))


@given(first=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
       days=st.lists(st.one_of(st.none(), session), min_size=1, max_size=10),
       zone=st.sampled_from([NEW_YORK, CHICAGO, ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/London")]))
def test_both_formats_read_back_what_was_written(first: date, days: list[tuple[int, int, int] | None],
                                                 zone: ZoneInfo) -> None:
    def hhmm(minute: int) -> str:
        return f"{minute // 60:02d}{minute % 60:02d}"

    def local(d: date, minute: int) -> datetime:
        return datetime.combine(d, time(0), zone) + timedelta(minutes=minute) if minute == 1440 else \
            datetime.combine(d, time(minute // 60, minute % 60), zone)

    old, new, expected = [], [], []
    for n, day in enumerate(days):
        trade = first + timedelta(days=n)
        if day is None:
            old.append(f"{trade:%Y%m%d}:CLOSED")
            new.append(f"{trade:%Y%m%d}:CLOSED")
            continue
        shift, start, end = day
        opened = trade + timedelta(days=shift)
        old.append(f"{trade:%Y%m%d}:{hhmm(start)}-{hhmm(end)}")
        new.append(f"{opened:%Y%m%d}:{hhmm(start)}-{trade:%Y%m%d}:{hhmm(end)}")
        expected.append((local(opened, start), local(trade, end)))
    for text in (";".join(old), ";".join(new)):
        if any(not a < b for a, b in expected):  # a range over a DST gap can end before it starts
            with pytest.raises(BadTradingHours, match="a range must end after it starts"):
                parse_ib_hours(text, zone)
            continue
        read = [(i.start, i.end) for e in parse_ib_hours(text, zone) for i in e.intervals]
        assert read == [(a.astimezone(read[0][0].tzinfo), b.astimezone(read[0][0].tzinfo)) for a, b in expected]


def test_new_format_day_in_two_parts_and_ib_asyncs_docstring_example() -> None:
    """Tokyo's lunch break splits a day in two; ib_async's docstring example (a US stock, US/Eastern, Sunday CLOSED)."""
    def tokyo(hour: int, minute: int) -> datetime:
        return datetime(2026, 1, 5, hour, minute, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)

    [(key, found)] = spans("20260105:0900-20260105:1130,20260105:1230-20260105:1530", ib_zone("Japan"))
    assert key == date(2026, 1, 5)
    assert found == [Interval(tokyo(9, 0), tokyo(11, 30)), Interval(tokyo(12, 30), tokyo(15, 30))]
    text = "20220625:CLOSED;20220626:CLOSED;20220627:0400-20220627:2000;20220628:0400-20220628:2000"
    found_days = spans(text, ib_zone("US/Eastern"))
    assert [k for k, v in found_days if not v] == [date(2022, 6, 25), date(2022, 6, 26)]
    assert found_days[2][1] == [Interval(ny(2022, 6, 27, 4), ny(2022, 6, 27, 20))]


@given(first=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
       plan=st.lists(st.lists(st.integers(0, 47), max_size=6, unique=True), min_size=1, max_size=8),
       zone=st.sampled_from([NEW_YORK, CHICAGO, ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/London")]))
def test_days_of_several_ranges_read_back_in_the_new_format(first: date, plan: list[list[int]],
                                                            zone: ZoneInfo) -> None:
    """Half-hour edges on one day, paired into disjoint ranges (the last may run to midnight or past it)."""
    days: list[tuple[date, list[tuple[int, int]]]] = []
    for n, edges in enumerate(plan):
        cuts = sorted(edges)[: len(edges) // 2 * 2]
        days.append((first + timedelta(days=n), [(30 * cuts[i], 30 * cuts[i + 1] + 30 * (i == len(cuts) - 2))
                                                 for i in range(0, len(cuts), 2)]))
    text = ";".join(f"{d:%Y%m%d}:CLOSED" if not r else ",".join(
        f"{_stamp(d, a)}-{_stamp(d, b)}" for a, b in r) for d, r in days)
    expected = [[(_local(d, a, zone), _local(d, b, zone)) for a, b in r] for d, r in days]
    if any(not a < b for day in expected for a, b in day):   # a range inside a DST gap
        with pytest.raises(BadTradingHours):
            parse_ib_hours(text, zone)
        return
    entries = parse_ib_hours(text, zone)
    assert [e.key for e in entries] == [d for d, _ in days]
    assert [e.closed for e in entries] == [not r for _, r in days]
    assert [[(i.start, i.end) for i in e.intervals] for e in entries] == expected
    assert all(e.dated_ends for e in entries if not e.closed)


def _stamp(d: date, minute: int) -> str:
    moment = datetime.combine(d, time(0)) + timedelta(minutes=minute)
    return f"{moment:%Y%m%d}:{moment:%H%M}"


def _local(d: date, minute: int, zone: ZoneInfo) -> datetime:
    moment = datetime.combine(d, time(0)) + timedelta(minutes=minute)
    return moment.replace(tzinfo=zone).astimezone(UTC)
