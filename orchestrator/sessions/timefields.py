"""Plan time fields: absolute times, session anchors, ``session_day`` and ``on_closed_day``.

Parsing only; nothing here knows a calendar. A time field (``start``, ``expire``, ``flatten_at``)
is either

* an **absolute time**, kept as an aware UTC ``datetime``: an ISO 8601 string with an offset
  (``2026-12-02T09:35:00-05:00``, ``...Z``), a local time followed by an IANA zone name
  (``"2026-12-02 09:35 America/New_York"``), or a TOML offset date-time (an aware ``datetime``);
* a **session anchor**, :class:`SessionAnchor`: ``open``, ``close``, ``open+5m``, ``close-15m``,
  ``open+1h30m`` (units ``h``, ``m``, ``s`` in that order; at most 24h either way). Anchors mean
  the open or close of one trading session and are resolved later, per session (resolve.py).

Choices (each refuses input that would silently mean something else):

* A time with neither an offset nor a zone is refused: exchange time must be explicit.
* Zone names must be IANA names with a ``/`` (or ``UTC``). Abbreviations such as ``EST`` are
  refused even though tzdata knows some of them, because ``EST`` there is a fixed UTC-5 with no
  daylight saving, which is not what a trader writing ``09:35 EST`` in July means.
* A local time that does not exist (clocks jump forward) or happens twice (clocks go back) in
  its zone is refused with a message saying which; write it with an offset instead.

Every parser raises :class:`~.errors.FieldError` (``field``, ``message``) for bad input, so a
plan-file loader can print ``FILE: plan ID: field: message``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import FieldError

__all__ = [
    "IANA_ZONE_NAME", "MAX_ANCHOR_OFFSET", "OnClosedDay", "SessionAnchor", "SessionDay", "TimeSpec", "describe_value",
    "parse_on_closed_day", "parse_session_day", "parse_time", "plan_zone",
]

MAX_ANCHOR_OFFSET = timedelta(hours=24)
EXAMPLES = "2026-12-02T09:35:00-05:00, '2026-12-02 09:35 America/New_York', open, open+5m or close-15m"

_ANCHOR = re.compile(r"(open|close)(?:([+-])(?:(\d{1,5})h)?(?:(\d{1,5})m)?(?:(\d{1,5})s)?)?")
_LOOKS_ANCHOR = re.compile(r"(?i)(open|close)\b")
IANA_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)+")
"""An IANA zone name with a region (``America/New_York``): the form plans and config must use."""
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_TIME_ONLY = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?")


@dataclass(frozen=True, slots=True)
class SessionAnchor:
    """``edge`` of a session shifted by ``offset`` (negative: earlier). ``str()`` is the canonical text."""

    edge: Literal["open", "close"]
    offset: timedelta = timedelta(0)

    def __str__(self) -> str:
        if not self.offset:
            return self.edge
        sign = "-" if self.offset < timedelta(0) else "+"
        seconds = int(abs(self.offset).total_seconds())
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        units = "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
        return f"{self.edge}{sign}{units}"


TimeSpec: TypeAlias = datetime | SessionAnchor
"""An aware UTC datetime (absolute) or a :class:`SessionAnchor`."""
SessionDay: TypeAlias = Literal["today", "next"] | date
"""``"today"``, ``"next"`` or one exchange-local date."""
OnClosedDay: TypeAlias = Literal["skip", "next"]


def describe_value(value: object) -> str:
    """A short description of a bad value for a message: its TOML type, or the text clipped."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    names = {bool: "a boolean", int: "an integer", float: "a float", list: "an array", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def parse_time(field: str, value: object) -> TimeSpec:
    """A time field's value as an aware UTC datetime or a :class:`SessionAnchor`."""
    if isinstance(value, datetime):
        return _aware_to_utc(field, value)
    if isinstance(value, date):
        raise FieldError(field, f"is a date without a time; write e.g. {EXAMPLES}")
    if isinstance(value, time):
        raise FieldError(field, "is a time without a date; for a time in the session write an anchor "
                                "such as open+5m, else a date, time and offset or zone")
    if not isinstance(value, str):
        raise FieldError(field, f"must be a time, e.g. {EXAMPLES} (got {describe_value(value)})")
    text = value.strip()
    if _LOOKS_ANCHOR.match(text):
        return _parse_anchor(field, text)
    head, _, tail = text.rpartition(" ")
    if head.strip() and tail[:1].isalpha():
        return _parse_zoned(field, head.strip(), tail)
    return _parse_iso(field, text)


def _parse_anchor(field: str, text: str) -> SessionAnchor:
    match = _ANCHOR.fullmatch(text)
    if match is None or (match.group(2) and not any(match.group(3, 4, 5))):
        raise FieldError(field, f"is not a session anchor ({describe_value(text)}): write open, close, "
                                "open+5m, close-15m or open+1h30m (units h, m, s, in that order)")
    edge, sign = match.group(1), match.group(2)
    hours, minutes, seconds = (int(g) if g else 0 for g in match.group(3, 4, 5))
    offset = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if offset > MAX_ANCHOR_OFFSET:
        raise FieldError(field, f"offset of {text[len(edge) + 1:]} is too large: at most 24h from the {edge}")
    return SessionAnchor("open" if edge == "open" else "close", -offset if sign == "-" else offset)


def _parse_iso(field: str, text: str) -> datetime:
    if _DATE_ONLY.fullmatch(text):
        raise FieldError(field, f"is a date without a time; write e.g. {EXAMPLES}")
    if _TIME_ONLY.fullmatch(text):
        raise FieldError(field, "is a time without a date; for a time in the session write an anchor "
                                "such as open+5m, else a date, time and offset or zone")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(field, f"must be a time, e.g. {EXAMPLES} (got {describe_value(text)})") from None
    return _aware_to_utc(field, parsed)


def _aware_to_utc(field: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise FieldError(field, "has neither a UTC offset nor a time zone; write e.g. 2026-12-02T09:35:00-05:00 "
                                "or '2026-12-02 09:35 America/New_York'")
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise FieldError(field, "is out of range") from None


def _parse_zoned(field: str, local_text: str, zone_name: str) -> datetime:
    zone = plan_zone(field, zone_name)
    try:
        local = datetime.fromisoformat(local_text)
    except ValueError:
        raise FieldError(field, f"has no readable date and time before the zone {zone_name} (got "
                                f"{describe_value(local_text)}); write e.g. '2026-12-02 09:35 {zone_name}'") from None
    if _DATE_ONLY.fullmatch(local_text):
        raise FieldError(field, f"is a date without a time; write e.g. '2026-12-02 09:35 {zone_name}'")
    if local.tzinfo is not None:
        raise FieldError(field, "has both a UTC offset and a time zone: give one of them")
    return _localize(field, local, zone)


def _localize(field: str, local: datetime, zone: ZoneInfo) -> datetime:
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        shown = f"{local:%Y-%m-%d %H:%M} {zone.key}"
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
            raise FieldError(field, f"{shown} does not exist (the clocks jump forward over it)")
        raise FieldError(field, f"{shown} happens twice (the clocks go back over it); write it with a UTC offset")
    try:
        return first.astimezone(UTC)
    except (OverflowError, ValueError):
        raise FieldError(field, "is out of range") from None


def plan_zone(field: str, name: str) -> ZoneInfo:
    """The IANA zone a plan names (``America/New_York``, ``UTC``); abbreviations are refused."""
    if not (IANA_ZONE_NAME.fullmatch(name) or name == "UTC"):
        raise FieldError(field, f"time zone {describe_value(name)} is not an IANA zone name: write the place, "
                                "e.g. America/New_York, Europe/London, Asia/Tokyo (abbreviations like EST are "
                                "refused: they ignore daylight saving)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError(field, f"unknown time zone {describe_value(name)} "
                                "(IANA names look like America/New_York)") from None


def parse_session_day(field: str, value: object) -> SessionDay:
    """``today``, ``next``, a ``YYYY-MM-DD`` string or a TOML date."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if value == "today" or value == "next":
        return "today" if value == "today" else "next"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise FieldError(field, f"{value.strip()} is not a valid date") from None
    raise FieldError(field, f"must be today, next or a date YYYY-MM-DD (got {describe_value(value)})")


def parse_on_closed_day(field: str, value: object) -> OnClosedDay:
    """``skip`` or ``next``."""
    if value == "skip" or value == "next":
        return "skip" if value == "skip" else "next"
    raise FieldError(field, f"must be skip or next (got {describe_value(value)})")
