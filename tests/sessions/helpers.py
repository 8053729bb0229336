"""Small helpers for the sessions tests: aware instants written as UTC or New York wall time."""

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
