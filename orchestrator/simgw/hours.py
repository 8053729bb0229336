"""The trading and liquid hours the simulator's contract details carry, and when its markets are open.

IB's format (TWS 970+): ``YYYYMMDD:HHMM-YYYYMMDD:HHMM;…`` in the contract's time zone, a day
without a session as ``YYYYMMDD:CLOSED``, a week ahead from the simulated day.

* **US stocks** (``US/Eastern``): with a session clock's calendar (``--calendar XNYS``), its
  regular session (holidays CLOSED, early closes at 13:00), so what IB says agrees with what
  the clock does; trading hours 04:00–20:00 (17:00 on an early close). Without a calendar (the
  market never closes) the nominal 09:30–16:00 on weekdays, as before, so that a gateway
  without one never loads exchange_calendars and pandas (two seconds under load, in the middle
  of a client's request).
* **CME futures** (``US/Central``): CME Globex, Sunday 17:00 to Friday 16:00 with the daily
  16:00–17:00 break: a day's session runs from 17:00 the evening before to 16:00; liquid hours
  08:30–15:00; Saturday and Sunday CLOSED. :func:`cme_open` is the same rule as a clock.
* **Xetra** (``Europe/Berlin``): 09:00–17:30 on weekdays.

``overrides`` (``SimGateway.set_hours``) make IB say something else about a day, as real IB
does when it knows a closure or an early close the calendar library does not: ``CLOSED`` or
``HHMM-HHMM`` (the liquid hours; trading hours are then the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["cme_open", "contract_hours", "next_cme_open", "parse_override"]

CME_ZONE = ZoneInfo("America/Chicago")
CME_OPEN, CME_CLOSE = time(17, 0), time(16, 0)
DAYS = 7


def parse_override(text: str) -> str:
    """An override as IB would write its body: ``CLOSED`` or ``HHMM-HHMM`` (ValueError otherwise)."""
    body = text.strip().upper()
    if body == "CLOSED":
        return body
    start, sep, end = body.partition("-")
    if not (sep and len(start) == len(end) == 4 and start.isdigit() and end.isdigit() and start < end
            and int(start[:2]) < 24 and int(end[:2]) <= 24 and int(start[2:]) < 60 and int(end[2:]) < 60):
        raise ValueError(f"hours for a day are CLOSED or HHMM-HHMM, e.g. 0930-1300 (got {text!r})")
    return body


def contract_hours(now: datetime, zone: str, liquid: bool, calendar: str | None,
                   overrides: Mapping[date, str] | None = None) -> str:
    """A week of sessions from ``now``'s day in ``zone`` (IB's hours field); ``calendar`` None: nominal hours."""
    local = now.astimezone(ZoneInfo(zone))
    days = [local.date() + timedelta(days=i) for i in range(DAYS)]
    overrides = overrides or {}
    parts = []
    for day in days:
        stamp = f"{day:%Y%m%d}"
        if day in overrides:
            body = overrides[day]
            parts.append(f"{stamp}:CLOSED" if body == "CLOSED" else f"{stamp}:{body[:4]}-{stamp}:{body[5:]}")
        elif zone == "US/Central":
            parts.append(_cme(day, liquid))
        elif zone == "US/Eastern":
            parts.append(_stock(day, liquid, calendar))
        else:
            parts.append(f"{stamp}:CLOSED" if day.weekday() >= 5 else f"{stamp}:0900-{stamp}:1730")
    return ";".join(parts)


def _cme(day: date, liquid: bool) -> str:
    stamp = f"{day:%Y%m%d}"
    if day.weekday() >= 5:
        return f"{stamp}:CLOSED"
    if liquid:
        return f"{stamp}:0830-{stamp}:1500"
    return f"{day - timedelta(days=1):%Y%m%d}:1700-{stamp}:1600"


def _stock(day: date, liquid: bool, calendar: str | None) -> str:
    stamp = f"{day:%Y%m%d}"
    if calendar is None:
        session = ("0930", "1600") if day.weekday() < 5 else None
    else:
        session = _regular(calendar, day.year).get(day)
    if session is None:
        return f"{stamp}:CLOSED"
    opens, closes = session
    if liquid:
        return f"{stamp}:{opens}-{stamp}:{closes}"
    return f"{stamp}:0400-{stamp}:{'2000' if closes == '1600' else '1700'}"


@lru_cache(maxsize=8)
def _regular(calendar: str, year: int) -> dict[date, tuple[str, str]]:
    """The calendar's regular sessions of ``year`` and the next, as local ``HHMM`` opens and closes."""
    import exchange_calendars as xcals  # type: ignore[import-untyped]  # lazy: pandas loads only here

    cal = xcals.get_calendar(calendar, start=f"{year}-01-01", end=f"{year + 1}-12-31")
    out: dict[date, tuple[str, str]] = {}
    for row in cal.schedule.itertuples():
        opens, closes = row.open.tz_convert(cal.tz), row.close.tz_convert(cal.tz)
        out[row.Index.date()] = (f"{opens:%H%M}", f"{closes:%H%M}")
    return out


def cme_open(t: datetime) -> bool:
    """Whether CME Globex trades at ``t``: Sunday 17:00 to Friday 16:00 Chicago, less 16:00–17:00 daily."""
    local = t.astimezone(CME_ZONE)
    weekday, at = local.weekday(), local.time()
    if weekday == 5:
        return False
    if weekday == 6:
        return at >= CME_OPEN
    if weekday == 4:
        return at < CME_CLOSE
    return not CME_CLOSE <= at < CME_OPEN


def next_cme_open(t: datetime) -> datetime:
    """The next 17:00 Chicago at or after ``t`` on which Globex opens (Sunday to Thursday)."""
    local = t.astimezone(CME_ZONE)
    day = local.date()
    while True:
        opens = datetime.combine(day, CME_OPEN, CME_ZONE)
        if opens >= local and day.weekday() in (6, 0, 1, 2, 3):
            return opens
        day += timedelta(days=1)
