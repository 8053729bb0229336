"""Sessions from IB's contract details: ``liquidHours`` are the regular hours, ``tradingHours`` all.

How IB's dated entries become trading days:

* A regular (liquid) interval belongs to its entry's date.
* A trading-hours interval belongs to the day whose regular session it overlaps (ES's Sunday
  17:00 CT to Monday 16:00 CT session is Monday's, the trade date; a stock's 04:00-20:00 is
  that day's), otherwise to its entry's date. A day's extended hours include its regular ones.
* Dates from the first to the last liquid entry are covered; one without a regular session
  there is closed (``CLOSED`` entries and dates IB left out alike).
* If IB sent no ``liquidHours``, its ``tradingHours`` are taken as the regular session too.
* Early closes and late opens: a day whose local close (open) is earlier (later) than the most
  common one in the data. IB does not flag them, so with one day of data none is found.

Instants are known from the first interval IB sent, or earlier where no unsent session can
reach: a session that started before the first date (such as the overnight session before ES's
first listed one) is taken to be no longer than the longest one sent, so instants from local
midnight of the first date plus that length on are known. They are known up to local midnight
after the last date in the new format, or to the end of the last interval in the old one.
A day whose regular hours fall outside the trading hours' known window gets ``extended=None``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import BadTradingHours
from .ibhours import IbEntry, parse_ib_hours
from .model import Interval, Sessions, TradingDay, day_window, normalize
from .zones import ib_zone

__all__ = ["sessions_from_ib"]


def sessions_from_ib(trading_hours: str, liquid_hours: str, time_zone_id: str, *, source: str = "IB") -> Sessions:
    """The sessions IB's contract details describe (``timeZoneId`` mapped by :func:`ib_zone`)."""
    zone = ib_zone(time_zone_id)
    trading = parse_ib_hours(trading_hours, zone, "tradingHours")
    liquid = parse_ib_hours(liquid_hours, zone, "liquidHours") or trading
    if not liquid:
        raise BadTradingHours("tradingHours", trading_hours, "IB sent no hours for this contract")
    trading = trading or liquid
    regular: dict[date, list[Interval]] = defaultdict(list)
    for entry in liquid:
        regular[entry.key].extend(entry.intervals)
    regular_days = {d: normalize(spans) for d, spans in regular.items() if spans}
    assigned: dict[date, list[Interval]] = defaultdict(list)
    for entry in trading:
        for span in entry.intervals:
            assigned[_owner(span, entry.key, regular_days, zone)].append(span)
    first, last = min(e.key for e in liquid), max(e.key for e in liquid)
    trading_known = _known(trading, zone)
    days: list[TradingDay] = []
    for d in sorted(set(regular_days) | set(assigned)):
        if not first <= d <= last:
            continue
        own = regular_days.get(d, ())
        partial = bool(own) and not (trading_known.start <= own[0].start and own[-1].end <= trading_known.end)
        extended = None if partial else normalize([*assigned.get(d, ()), *own])
        days.append(TradingDay(d, own, extended))
    return Sessions(source=source, zone=zone, first=first, last=last, days=tuple(_flag_unusual(days, zone)),
                    regular_known=_known(liquid, zone), extended_known=trading_known,
                    extended_dates=(first, last))


def _owner(span: Interval, key: date, regular_days: dict[date, tuple[Interval, ...]], zone: ZoneInfo) -> date:
    d = span.start.astimezone(zone).date() - timedelta(days=1)
    while d <= span.end.astimezone(zone).date() + timedelta(days=1):
        if any(r.start < span.end and span.start < r.end for r in regular_days.get(d, ())):
            return d
        d += timedelta(days=1)
    return key


def _known(entries: tuple[IbEntry, ...], zone: ZoneInfo) -> Interval:
    spans = [s for e in entries for s in e.intervals]
    keys = [e.key for e in entries]
    if not spans:
        return day_window(zone, min(keys), max(keys))
    # An unlisted session that started before the first date is no longer than the longest one listed.
    longest = max(s.end - s.start for s in spans)
    start = min(min(s.start for s in spans), _midnight(min(keys), zone) + longest)
    end = max(s.end for s in spans)
    if any(e.dated_ends for e in entries):
        end = max(end, _midnight(max(keys) + timedelta(days=1), zone))
    return Interval(start, end)


def _midnight(d: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), zone).astimezone(UTC)


def _flag_unusual(days: list[TradingDay], zone: ZoneInfo) -> list[TradingDay]:
    with_hours = [d for d in days if d.regular]
    if not with_hours:
        return days
    closes = Counter(d.regular[-1].end.astimezone(zone).time() for d in with_hours)
    opens = Counter(d.regular[0].start.astimezone(zone).time() for d in with_hours)
    usual_close = max(closes, key=lambda t: (closes[t], t))
    usual_open = max(opens, key=lambda t: (opens[t], _negated(t)))
    return [TradingDay(d.day, d.regular, d.extended,
                       early_close=bool(d.regular) and d.regular[-1].end.astimezone(zone).time() < usual_close,
                       late_open=bool(d.regular) and d.regular[0].start.astimezone(zone).time() > usual_open)
            for d in days]


def _negated(t: time) -> int:
    return -(t.hour * 3600 + t.minute * 60 + t.second)
