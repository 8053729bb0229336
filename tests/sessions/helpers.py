"""Helpers for the sessions tests: aware instants written as UTC, New York or Chicago wall time, and IB hours
strings as IB sends them for a CME ES week and a US stock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A New York wall-clock time as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def ct(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Chicago wall-clock time as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO).astimezone(UTC)


# CME ES, the week of Monday 2026-03-02 to Monday 2026-03-09 (US DST starts Sunday 2026-03-08): Sunday 17:00 CT to
# Friday 16:00 CT with the daily 16:00-17:00 maintenance break. tradingHours are keyed by the day a session starts,
# liquidHours (08:30-15:00 CT) by their day.
ES_TRADING = ("20260228:CLOSED;20260301:1700-20260302:1600;20260302:1700-20260303:1600;20260303:1700-20260304:1600;"
              "20260304:1700-20260305:1600;20260305:1700-20260306:1600;20260306:CLOSED;20260307:CLOSED;"
              "20260308:1700-20260309:1600")
ES_LIQUID = ("20260228:CLOSED;20260301:CLOSED;20260302:0830-20260302:1500;20260303:0830-20260303:1500;"
             "20260304:0830-20260304:1500;20260305:0830-20260305:1500;20260306:0830-20260306:1500;20260307:CLOSED;"
             "20260308:CLOSED;20260309:0830-20260309:1500")

# A US stock around Thanksgiving 2026 as IB sends it: the half day's liquid hours end at 13:00, trading at 17:00.
STOCK_TRADING = ("20261122:CLOSED;20261123:0400-20261123:2000;20261124:0400-20261124:2000;20261125:0400-20261125:2000;"
                 "20261126:CLOSED;20261127:0400-20261127:1700;20261128:CLOSED;20261129:CLOSED;"
                 "20261130:0400-20261130:2000")
STOCK_LIQUID = ("20261122:CLOSED;20261123:0930-20261123:1600;20261124:0930-20261124:1600;20261125:0930-20261125:1600;"
                "20261126:CLOSED;20261127:0930-20261127:1300;20261128:CLOSED;20261129:CLOSED;"
                "20261130:0930-20261130:1600")
