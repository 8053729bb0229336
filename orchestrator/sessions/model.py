"""The session model of one contract: trading days with their hours as aware UTC intervals.

Two kinds of hours (:data:`Hours`):

* ``regular``: the regular session (exchange_calendars' open to close; IB's ``liquidHours``).
  Session anchors (``open+5m``) and "regular hours only" orders use these.
* ``extended``: every hour the product trades (IB's ``tradingHours``, which includes the
  regular session). exchange_calendars has none; asking for them raises :class:`HoursUnknown`.

A :class:`Sessions` answers two kinds of question, each with its own coverage, because "we do not
know" must never read as "closed":

* about **dates** (is 2026-12-25 a trading day?): known for ``first`` to ``last`` inclusive,
  for extended hours only within ``extended_dates``;
* about **instants** (is the market open at 20:59 UTC?): known inside ``regular_known`` /
  ``extended_known``. Outside them :class:`OutsideCoverage` is raised.

A trading day's ``day`` is the exchange-local date the session belongs to (for futures whose
session starts the evening before, the trade date; see ibsessions.py).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo

from .errors import HoursUnknown, OutsideCoverage

__all__ = ["Hours", "Interval", "Sessions", "TradingDay", "day_window", "normalize"]

Hours: TypeAlias = Literal["regular", "extended"]
ClosedReason: TypeAlias = Literal["weekend", "holiday"]


@dataclass(frozen=True, slots=True)
class Interval:
    """``start`` to ``end`` (aware UTC); an instant is inside when ``start <= t < end``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for moment in (self.start, self.end):
            if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
                raise ValueError(f"interval bounds must be aware UTC datetimes (got {moment!r})")
        if not self.start < self.end:
            raise ValueError(f"interval must end after it starts ({self.start} to {self.end})")

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end


def normalize(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, with overlapping or touching intervals joined into one."""
    joined: list[Interval] = []
    for item in sorted(intervals, key=lambda i: i.start):
        if joined and item.start <= joined[-1].end:
            if item.end > joined[-1].end:
                joined[-1] = Interval(joined[-1].start, item.end)
        else:
            joined.append(item)
    return tuple(joined)


def day_window(zone: ZoneInfo, first: date, last: date) -> Interval:
    """Local midnight starting ``first`` to local midnight ending ``last``, in UTC."""
    def midnight(d: date) -> datetime:
        return datetime.combine(d, time(0), zone).astimezone(UTC)
    return Interval(midnight(first), midnight(last + timedelta(days=1)))


@dataclass(frozen=True, slots=True)
class TradingDay:
    """One trading day. ``regular`` may be empty (a day with only extended hours); ``extended``
    is ``None`` when unknown and otherwise includes the regular hours."""

    day: date
    regular: tuple[Interval, ...]
    extended: tuple[Interval, ...] | None = None
    early_close: bool = False
    late_open: bool = False

    def hours(self, hours: Hours = "regular") -> tuple[Interval, ...]:
        if hours == "regular":
            return self.regular
        if self.extended is None:
            raise HoursUnknown(f"no extended hours are known for {self.day.isoformat()}")
        return self.extended

    def open(self, hours: Hours = "regular") -> datetime:
        """The first instant of the session; ValueError if it has no hours of that kind."""
        return _edges(self, hours)[0].start

    def close(self, hours: Hours = "regular") -> datetime:
        return _edges(self, hours)[-1].end


def _edges(day: TradingDay, hours: Hours) -> tuple[Interval, ...]:
    spans = day.hours(hours)
    if not spans:
        raise ValueError(f"{day.day.isoformat()} has no {hours} session")
    return spans


@dataclass(frozen=True)
class Sessions:
    """The trading days of one contract for ``first`` to ``last``, from ``source`` (e.g. XNYS, IB).

    Days not listed (or listed without hours of a kind) are closed for that kind of hours.
    ``weekend`` holds the weekdays (0 = Monday) the exchange never trades, telling a weekend
    from a holiday.
    """

    source: str
    zone: ZoneInfo
    first: date
    last: date
    days: tuple[TradingDay, ...]
    regular_known: Interval
    extended_known: Interval | None = None
    extended_dates: tuple[date, date] | None = None
    weekend: frozenset[int] = frozenset({5, 6})
    _by_day: dict[date, TradingDay] = field(init=False, repr=False, compare=False)
    _flat: dict[str, tuple[Interval, ...]] = field(init=False, repr=False, compare=False)
    _starts: dict[str, list[datetime]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_day = {d.day: d for d in self.days}
        if len(by_day) != len(self.days) or list(by_day) != sorted(by_day):
            raise ValueError("trading days must be sorted and unique")
        if self.first > self.last or any(not self.first <= d <= self.last for d in by_day):
            raise ValueError(f"trading days must lie within {self.first} to {self.last}")
        flat = {"regular": normalize(i for d in self.days for i in d.regular)}
        if self.extended_known is not None:
            flat["extended"] = normalize(i for d in self.days for i in (d.extended or d.regular))
        object.__setattr__(self, "_by_day", by_day)
        object.__setattr__(self, "_flat", flat)
        object.__setattr__(self, "_starts", {kind: [i.start for i in spans] for kind, spans in flat.items()})

    # ------------------------------------------------------------------ dates

    def covers(self, d: date) -> bool:
        return self.first <= d <= self.last

    def day(self, d: date) -> TradingDay | None:
        """The trading day on ``d`` (None: closed for both kinds); OutsideCoverage if not covered."""
        if not self.covers(d):
            raise OutsideCoverage(d, self.first, self.last, self.source)
        return self._by_day.get(d)

    def trading_day(self, d: date, hours: Hours = "regular") -> TradingDay | None:
        """The day on ``d`` if it has ``hours`` (``extended``: HoursUnknown where not known)."""
        if hours == "extended" and not (self.extended_dates and self.extended_dates[0] <= d <= self.extended_dates[1]):
            raise HoursUnknown(f"{self.source} has no extended hours for {d.isoformat()}")
        found = self.day(d)
        if found is None:
            return None
        return found if found.hours(hours) else None

    def closed_reason(self, d: date) -> ClosedReason:
        """Why a day without a session is closed."""
        return "weekend" if d.weekday() in self.weekend else "holiday"

    def next_trading_day(self, after: date, hours: Hours = "regular") -> TradingDay:
        """The first day after ``after`` with ``hours``; OutsideCoverage when none is known."""
        d = after + timedelta(days=1)
        while self.covers(d):
            found = self.trading_day(d, hours)
            if found is not None:
                return found
            d += timedelta(days=1)
        raise OutsideCoverage(d, self.first, self.last, self.source)

    def local_date(self, t: datetime) -> date:
        """The exchange-local date of an instant (never its UTC date)."""
        return t.astimezone(self.zone).date()

    @property
    def holidays(self) -> tuple[date, ...]:
        """Weekdays in range without a regular session."""
        span = (self.last - self.first).days + 1
        all_days = (self.first + timedelta(days=n) for n in range(span))
        return tuple(d for d in all_days if d.weekday() not in self.weekend
                     and not (d in self._by_day and self._by_day[d].regular))

    @property
    def early_closes(self) -> tuple[date, ...]:
        return tuple(d.day for d in self.days if d.early_close)

    # ------------------------------------------------------------------ instants

    def known(self, hours: Hours = "regular") -> Interval:
        """The instants for which ``hours`` are fully known."""
        if hours == "regular":
            return self.regular_known
        if self.extended_known is None:
            raise HoursUnknown(f"{self.source} gives no extended hours")
        return self.extended_known

    def intervals(self, hours: Hours = "regular") -> tuple[Interval, ...]:
        """Every session of that kind, sorted and joined (a break splits a day in two)."""
        self.known(hours)
        return self._flat[hours]

    def check_known(self, t: datetime, hours: Hours = "regular") -> None:
        """OutsideCoverage unless the instant lies where ``hours`` are known."""
        window = self.known(hours)
        if not window.contains(t):
            raise OutsideCoverage(t, window.start, window.end, self.source)

    def interval_at(self, t: datetime, hours: Hours = "regular") -> Interval | None:
        """The (joined) session containing ``t``, or None when closed then."""
        self.check_known(t, hours)
        spans = self._flat[hours]
        index = bisect_right(self._starts[hours], t) - 1
        return spans[index] if index >= 0 and spans[index].contains(t) else None

    def session_in_progress(self, t: datetime, hours: Hours = "regular") -> TradingDay | None:
        """The trading day whose session (breaks included) contains ``t``, or None."""
        today = self.local_date(t)
        for d in (today - timedelta(days=1), today, today + timedelta(days=1)):
            day = self._by_day.get(d)
            spans = None if day is None else day.regular if hours == "regular" else day.extended
            if spans and spans[0].start <= t < spans[-1].end:
                return day
        return None

    def interval_after(self, t: datetime, hours: Hours = "regular") -> Interval | None:
        """The first (joined) session starting after ``t``, if one starts inside the known window."""
        self.check_known(t, hours)
        spans = self._flat[hours]
        index = bisect_right(self._starts[hours], t)
        if index < len(spans) and spans[index].start < self.known(hours).end:
            return spans[index]
        return None
