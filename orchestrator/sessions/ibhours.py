"""IB's ``tradingHours`` / ``liquidHours`` strings, read into dated entries of UTC intervals.

IB has sent two formats (IB ContractDetails reference; cbilson/ib-re-actor#8):

* **old** (TWS up to 969): ``20090507:0700-1830,1830-2330;20090508:CLOSED``. Times carry no
  date, and the entry's date is the *trade date*: a range that ends at or before it starts
  began the evening before (CME ES: ``20130114:1700-1515,1530-1615`` opened Sunday 17:00).
* **new** (TWS 970+): ``20180323:0400-20180323:2000;20180326:0400-20180326:2000``. Each end
  has its own date and the entry's date is the day the range *starts* (ES:
  ``20250317:1700-20250318:1600``). A date may repeat, and entries need not be in order.

Both mark a day without a session as ``YYYYMMDD:CLOSED``; those are kept as entries with no
intervals, because a holiday must stay distinguishable from a date IB did not send. ``2400``
is read as midnight at the end of the day. Local times are turned into UTC through the
exchange's zone, one by one, so daylight saving changes inside the range are honoured.
Anything unreadable raises :class:`BadTradingHours` naming the field and the piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import BadTradingHours
from .model import Interval

__all__ = ["IbEntry", "parse_ib_hours"]

_ENTRY = re.compile(r"(\d{8}):(.*)")
_RANGE = re.compile(r"(?:(\d{8}):)?(\d{4})-(?:(\d{8}):)?(\d{4})")


@dataclass(frozen=True, slots=True)
class IbEntry:
    """One ``;``-separated piece: its date, its intervals (empty: CLOSED) and which format it used."""

    key: date
    intervals: tuple[Interval, ...]
    dated_ends: bool  # new format: the key is the start date, not the trade date

    @property
    def closed(self) -> bool:
        return not self.intervals


def parse_ib_hours(text: str, zone: ZoneInfo, field: str = "tradingHours") -> tuple[IbEntry, ...]:
    """Every entry of an IB hours string, in the order IB sent them (empty string: none)."""
    entries: list[IbEntry] = []
    for raw in text.split(";"):
        piece = raw.strip()
        if piece:
            entries.append(_entry(piece, zone, field))
    return tuple(entries)


def _entry(piece: str, zone: ZoneInfo, field: str) -> IbEntry:
    match = _ENTRY.fullmatch(piece)
    if match is None:
        raise BadTradingHours(field, piece, "expected YYYYMMDD:HHMM-HHMM or YYYYMMDD:CLOSED")
    key = _date(match.group(1), piece, field)
    body = match.group(2).strip()
    if body.upper() == "CLOSED":
        return IbEntry(key, (), dated_ends=False)
    intervals: list[Interval] = []
    dated = False
    for part in body.split(","):
        found = _RANGE.fullmatch(part.strip())
        if found is None:
            raise BadTradingHours(field, piece, f"{part.strip()!r} is not a range HHMM-HHMM or HHMM-YYYYMMDD:HHMM")
        start_day, start_hhmm, end_day, end_hhmm = found.groups()
        dated = dated or end_day is not None
        intervals.append(_interval(key, start_day, start_hhmm, end_day, end_hhmm, zone, piece, field))
    return IbEntry(key, tuple(intervals), dated_ends=dated)


def _interval(key: date, start_day: str | None, start_hhmm: str, end_day: str | None, end_hhmm: str,
              zone: ZoneInfo, piece: str, field: str) -> Interval:
    start_date = _date(start_day, piece, field) if start_day else key
    start_time, start_carry = _hhmm(start_hhmm, piece, field)
    end_time, end_carry = _hhmm(end_hhmm, piece, field)
    if end_day is not None:
        end_date = _date(end_day, piece, field)
    else:  # old format: same day, or (end at or before start) started the evening before
        end_date = start_date
        if (end_carry, end_time) <= (start_carry, start_time) and start_day is None:
            start_date = key - timedelta(days=1)
    start = _utc(start_date + timedelta(days=start_carry), start_time, zone)
    end = _utc(end_date + timedelta(days=end_carry), end_time, zone)
    if not start < end:
        raise BadTradingHours(field, piece, "a range must end after it starts")
    if end - start > timedelta(days=7):
        raise BadTradingHours(field, piece, "a range longer than a week is not a session")
    return Interval(start, end)


def _date(text: str, piece: str, field: str) -> date:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise BadTradingHours(field, piece, f"{text} is not a valid date") from None


def _hhmm(text: str, piece: str, field: str) -> tuple[time, int]:
    """The time and how many days it carries over (``2400`` is 00:00 the next day)."""
    hours, minutes = int(text[:2]), int(text[2:])
    if (hours, minutes) == (24, 0):
        return time(0), 1
    if hours > 23 or minutes > 59:
        raise BadTradingHours(field, piece, f"{text} is not a time HHMM")
    return time(hours, minutes), 0


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, zone).astimezone(UTC)
