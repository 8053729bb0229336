"""Sessions from ``exchange_calendars``: regular hours, holidays, early closes, DST, per exchange.

``exchange_calendars`` (with pandas and numpy) costs about half a second to import and a
fifth of a second to build a calendar, so it is imported here only, inside
:func:`sessions_from_calendar`; importing ``orchestrator.sessions`` never loads it. Calendars are
asked for whole years (first year's 1 January to last year's 31 December) so that the library's
own cache serves every later request within those years.

The library's sessions are regular hours only (pre- and post-market count as closed), so these
sessions have no extended hours. Its calendars are only as current as the installed version
(ad hoc closures arrive with upgrades): pin it, and let IB's hours win where they are known
(crosscheck.merge).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from .errors import UnknownCalendar
from .model import Interval, Sessions, TradingDay, day_window

__all__ = ["IB_EXCHANGE_CALENDARS", "calendar_for_exchange", "sessions_from_calendar"]

# IB primaryExchange values of US stocks; exchange_calendars treats all US equity venues as XNYS.
IB_EXCHANGE_CALENDARS: dict[str, str] = {
    name: "XNYS" for name in ("NYSE", "NASDAQ", "ISLAND", "ARCA", "AMEX", "BATS", "IEX", "NYSENAT", "BYX",
                              "EDGEA", "EDGX", "MEMX", "LTSE", "PEARL", "CHX", "PSX", "BEX", "DRCTEDGE")
}


def calendar_for_exchange(primary_exchange: str) -> str | None:
    """The exchange_calendars name for an IB ``primaryExchange`` (None: use IB's hours only)."""
    return IB_EXCHANGE_CALENDARS.get(primary_exchange.strip().upper())


def sessions_from_calendar(name: str, first: date, last: date) -> Sessions:
    """The regular sessions of calendar ``name`` (e.g. ``XNYS``) for ``first`` to ``last``."""
    if first > last:
        raise ValueError(f"first {first} is after last {last}")
    import exchange_calendars as xcals  # type: ignore[import-untyped]  # lazy: pandas, numpy load here

    try:
        calendar = xcals.get_calendar(name, start=f"{first.year}-01-01", end=f"{last.year}-12-31")
    except xcals.errors.InvalidCalendarName:
        raise UnknownCalendar(name) from None
    schedule = calendar.schedule.loc[first.isoformat():last.isoformat()]
    early = {ts.date() for ts in calendar.early_closes}
    late = {ts.date() for ts in calendar.late_opens}
    days: list[TradingDay] = []
    for row in schedule.itertuples():
        day = row.Index.date()
        opens, closes = _utc(row.open), _utc(row.close)
        regular: tuple[Interval, ...]
        if _present(row.break_start) and _present(row.break_end):
            regular = (Interval(opens, _utc(row.break_start)), Interval(_utc(row.break_end), closes))
        else:
            regular = (Interval(opens, closes),)
        days.append(TradingDay(day, regular, None, early_close=day in early, late_open=day in late))
    weekend = frozenset(i for i, flag in enumerate(str(calendar.weekmask)) if flag == "0")
    return Sessions(source=calendar.name, zone=calendar.tz, first=first, last=last, days=tuple(days),
                    regular_known=day_window(calendar.tz, first, last), extended_known=None, weekend=weekend)


def _utc(stamp: Any) -> datetime:
    moment: datetime = stamp.to_pydatetime()
    return moment.astimezone(UTC)


def _present(stamp: Any) -> bool:
    return stamp is not None and stamp == stamp  # NaT compares unequal to itself
