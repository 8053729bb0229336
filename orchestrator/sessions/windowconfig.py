"""Maintenance windows from config: one table per window, checked into (field, message) problems.

A window table (the config loader chooses where they live, e.g. ``[[maintenance.windows]]``)::

    name = "IB daily reset (North America)"   # optional
    zone = "America/New_York"                 # an IANA zone
    days = "sun-fri"                          # "daily", a day "fri", a range "sun-fri", or ["mon", "wed"]
    start = "00:15"                           # local wall-clock time, HH:MM
    end = "01:45"                             # HH:MM; at or before start means the next day

Field names in problems are prefixed with ``prefix`` (e.g. ``maintenance.windows[2].start``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from .errors import FieldError
from .maintenance import MaintenanceWindow
from .timefields import describe_value, plan_zone

__all__ = ["DAY_NAMES", "read_window"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"(\d{2}):(\d{2})")
_KEYS = {"name", "zone", "days", "start", "end"}
T = TypeVar("T")


def read_window(table: Mapping[str, object], prefix: str = "window") -> MaintenanceWindow | list[tuple[str, str]]:
    """A :class:`MaintenanceWindow`, or every problem found in the table."""
    problems = [(f"{prefix}.{key}", "is not a window setting (name, zone, days, start, end)")
                for key in table if key not in _KEYS]
    for key in ("zone", "days", "start", "end"):
        if key not in table:
            problems.append((f"{prefix}.{key}", "is required"))
    if problems:
        return problems
    zone = _collect(problems, f"{prefix}.zone", lambda f: plan_zone(f, _text(f, table["zone"])))
    days = _collect(problems, f"{prefix}.days", lambda f: _days(f, table["days"]))
    start = _collect(problems, f"{prefix}.start", lambda f: _time(f, table["start"]))
    end = _collect(problems, f"{prefix}.end", lambda f: _time(f, table["end"]))
    name = table.get("name", "")
    if not isinstance(name, str):
        problems.append((f"{prefix}.name", f"must be a string (got {describe_value(name)})"))
    if problems or zone is None or days is None or start is None or end is None or not isinstance(name, str):
        return problems
    duration = datetime.combine(date(2000, 1, 3), end) - datetime.combine(date(2000, 1, 3), start)
    if duration <= timedelta(0):
        duration += timedelta(days=1)
    return MaintenanceWindow(name or f"maintenance {start:%H:%M}-{end:%H:%M}", zone.key, days, start, duration)


def _collect(problems: list[tuple[str, str]], field: str, read: Callable[[str], T]) -> T | None:
    try:
        return read(field)
    except FieldError as exc:
        problems.append(exc.pair)
        return None


def _text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string (got {describe_value(value)})")
    return value


def _time(field: str, value: object) -> time:
    match = _HHMM.fullmatch(_text(field, value).strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise FieldError(field, f"must be a local time HH:MM, e.g. 00:15 (got {describe_value(value)})")
    return time(int(match.group(1)), int(match.group(2)))


def _days(field: str, value: object) -> frozenset[int]:
    if isinstance(value, list):
        return frozenset(_day(field, item) for item in value) or _no_days(field)
    text = _text(field, value).strip().lower()
    if text == "daily":
        return frozenset(range(7))
    first, dash, last = text.partition("-")
    if not dash:
        return frozenset({_day(field, first)})
    a, b = _day(field, first), _day(field, last)
    return frozenset((a + n) % 7 for n in range((b - a) % 7 + 1))


def _day(field: str, value: object) -> int:
    text = _text(field, value).strip().lower()
    if text not in DAY_NAMES:
        raise FieldError(field, f"{describe_value(value)} is not a day: use mon, tue, wed, thu, fri, sat, sun, "
                                "a range like sun-fri, or daily")
    return DAY_NAMES.index(text)


def _no_days(field: str) -> frozenset[int]:
    raise FieldError(field, "names no day")
