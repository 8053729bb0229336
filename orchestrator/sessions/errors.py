"""The errors of exchange sessions, named by what the caller should do about them.

::

    SessionsError            base (an OrchestratorError: exit code 1 unless a subclass says otherwise)
    ├── FieldError           a plan or config field is wrong: fix the file (exit 2); .field, .message
    ├── OutsideCoverage      the question is about a date or instant the sessions do not cover:
    │                        rebuild them for a wider range; never read this as "closed" or "open"
    ├── HoursUnknown         the source has no such hours (exchange_calendars has no extended hours)
    ├── UnknownTimeZone      IB sent a timeZoneId this module cannot map to an IANA zone
    ├── BadTradingHours      IB's tradingHours/liquidHours string cannot be read
    └── UnknownCalendar      exchange_calendars has no calendar of that name
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from orchestrator.errors import OrchestratorError

__all__ = [
    "BadTradingHours", "FieldError", "HoursUnknown", "OutsideCoverage", "SessionsError", "UnknownCalendar",
    "UnknownTimeZone",
]


class SessionsError(OrchestratorError):
    """Base of every error of ``orchestrator.sessions``."""


class FieldError(SessionsError):
    """One field's value is wrong. ``str()`` is ``field: message``; :attr:`pair` feeds a Problem line."""

    exit_code: ClassVar[int] = 2

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    @property
    def pair(self) -> tuple[str, str]:
        return (self.field, self.message)


class OutsideCoverage(SessionsError):
    """A date or instant outside what the sessions know; ``what`` names it, ``first``/``last`` the range."""

    def __init__(self, what: date | datetime, first: date | datetime, last: date | datetime, source: str) -> None:
        self.what, self.first, self.last, self.source = what, first, last, source
        super().__init__(f"{source} sessions cover {first.isoformat()} to {last.isoformat()}, "
                         f"not {what.isoformat()}: rebuild them for a wider range")


class HoursUnknown(SessionsError):
    """The sessions hold no hours of the kind asked for (for example extended hours from a calendar)."""


class UnknownTimeZone(SessionsError):
    """IB's ``timeZoneId`` names no zone we can map to IANA; ``zone_id`` is what IB sent."""

    def __init__(self, zone_id: str, detail: str = "") -> None:
        self.zone_id = zone_id
        super().__init__(f"unknown IB time zone id {zone_id!r}{': ' + detail if detail else ''}")


class BadTradingHours(SessionsError):
    """An IB hours string is malformed; ``field`` is tradingHours or liquidHours, ``part`` the bad piece."""

    def __init__(self, field: str, part: str, why: str) -> None:
        self.field, self.part, self.why = field, part, why
        shown = part if len(part) <= 60 else part[:57] + "..."
        super().__init__(f"{field}: cannot read {shown!r}: {why}")


class UnknownCalendar(SessionsError):
    """exchange_calendars has no calendar called ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"exchange_calendars has no calendar {name!r} (e.g. XNYS, XLON, XTKS)")
