"""The value types of a plan file's keys: each checks one TOML value and says what is wrong
with it in words a trader can act on (``plans check`` prints the message after the field name).

Decisions (also in docs/plan-files.md):

* Prices and trail figures must be TOML numbers (``180.5`` or ``180``). Quoted numbers
  (``"180.50"``), booleans, ``nan`` and ``inf`` are refused, and so is anything beyond ±1e9.
  Floats are read exactly as Decimal, so ``180.10`` is ``Decimal("180.10")``.
* ``start_at``/``expire_at`` are TOML offset date-times or RFC 3339 strings with an offset
  (``Z`` or ``±HH:MM``). A time without an offset is refused: exchange time must be explicit.
  Times are converted to UTC.
* Symbols: 1-12 characters of ``A-Z``, ``0-9`` and ``.``, starting with a letter (as the
  simulated gateway's price file).
* The contract keys use IB's own vocabulary and spelling: ``sec_type`` ``STK`` or ``FUT``
  (``CONTFUT`` is refused: IB takes no orders on a continuous future), exchanges and currencies
  in capitals, ``contract_month`` as the string ``"YYYYMM"``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainValidator

from machines import CONTINUOUS_FUTURE, EntryType, RiskCategory, SecType, Side

from .tomlread import custom_error, toml_type

PLAN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
SYMBOL_PATTERN = r"[A-Z][A-Z0-9.]{0,11}"
MAX_NUMBER = Decimal(1_000_000_000)
EXAMPLE_TIME = "2026-11-27T09:35:00-05:00"
ID_RE = re.compile(PLAN_ID_PATTERN)
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?")
_EXCHANGE_RE = re.compile(r"[A-Z][A-Z0-9.]{0,15}")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_MONTH_RE = re.compile(r"(20\d{2})(0[1-9]|1[0-2])")
_LOCAL_SYMBOL_RE = re.compile(r"[A-Z0-9][A-Z0-9 .]{0,23}")


def _plan_id(value: Any) -> str:
    if not isinstance(value, str):
        raise custom_error(f"must be a string (got {toml_type(value)})")
    if not ID_RE.fullmatch(value):
        raise custom_error(
            "must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter "
            f"or digit (got {_clip(value)})")
    return value


def _symbol(value: Any) -> str:
    if not isinstance(value, str):
        raise custom_error(f"must be a string (got {toml_type(value)})")
    if not _SYMBOL_RE.fullmatch(value):
        raise custom_error(
            f"must be 1-12 characters of A-Z, 0-9 or '.', starting with a letter, e.g. AAPL (got {_clip(value)})")
    return value


def choice(choices: type[Side] | type[EntryType] | type[RiskCategory]) -> PlainValidator:
    """A string field whose allowed values :func:`machines.validate_plan_fields` checks."""
    names = ", ".join(member.value for member in choices)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise custom_error(f"must be one of {names} (got {toml_type(value)})")
        return value
    return PlainValidator(check)


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise custom_error(f"must be a number, not {str(value).lower()}")
    if isinstance(value, str):
        raise custom_error("must be a number, not a string: write it without quotes, e.g. 180.50")
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if value.is_nan():
            raise custom_error("must be a number (got nan)")
        if value.is_infinite():
            raise custom_error(f"must be a finite number (got {'-' if value < 0 else ''}inf)")
    elif not isinstance(value, int):
        raise custom_error(f"must be a number (got {toml_type(value)})")
    if abs(value) > MAX_NUMBER:
        raise custom_error(f"is out of range (got {_show(value)}; at most {MAX_NUMBER} either way)")
    return Decimal(value)


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        value = _parse_rfc3339(value)
    elif not isinstance(value, datetime):
        got = "a date without a time" if isinstance(value, date) else (
            "a time without a date" if isinstance(value, time) else f"a {toml_type(value)}")
        raise custom_error(f"must be a date and time with a UTC offset, e.g. {EXAMPLE_TIME} (got {got})")
    if value.tzinfo is None or value.utcoffset() is None:
        raise custom_error(
            f"has no UTC offset; write the exchange time with its offset, e.g. {EXAMPLE_TIME}")
    try:
        converted: datetime = value.astimezone(UTC)
        return converted
    except (OverflowError, ValueError):
        raise custom_error("is out of range") from None


def _parse_rfc3339(text: str) -> datetime:
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise custom_error(
            f"must be a date and time with a UTC offset, e.g. {EXAMPLE_TIME} (got {_clip(text)})")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    tz: timezone | None = None
    if offset is not None:
        if offset in {"Z", "z"}:
            tz = UTC
        else:
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise custom_error(f"has an invalid UTC offset {offset!r}")
            sign = -1 if offset[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise custom_error(f"is not a valid date and time ({exc})") from None


def _text(value: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str):
        raise custom_error(f"must be a string (got {toml_type(value)})")
    if not pattern.fullmatch(value):
        raise custom_error(f"must be {what} (got {_clip(value)})")
    return value


def _sec_type(value: Any) -> SecType:
    if value == CONTINUOUS_FUTURE:
        raise custom_error('a continuous future cannot be traded (IB takes no orders on CONTFUT, it only serves '
                           'history): write sec_type = "FUT" with contract_month = "YYYYMM" or a local_symbol')
    if not isinstance(value, str) or value not in {t.value for t in SecType}:
        got = _clip(value) if isinstance(value, str) else toml_type(value)
        raise custom_error(f"must be one of {', '.join(t.value for t in SecType)} (got {got})")
    return SecType(value)


def _exchange(value: Any) -> str:
    text = _text(value, _EXCHANGE_RE, "an exchange in IB's spelling, in capitals, e.g. SMART, CME or IBIS")
    if text == "GLOBEX":
        raise custom_error('IB calls GLOBEX "CME" now (a Gateway answers 200 for GLOBEX): write exchange = "CME"')
    return text


def _currency(value: Any) -> str:
    return _text(value, _CURRENCY_RE, "a three-letter currency code in capitals, e.g. USD or EUR")


def _contract_month(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise custom_error(f'must be a string: write contract_month = "{value}"')
    return _text(value, _MONTH_RE, 'a contract month "YYYYMM", e.g. "202703"')


def _local_symbol(value: Any) -> str:
    return _text(value, _LOCAL_SYMBOL_RE, "IB's local symbol, e.g. ESH7")


PlanNumber = Annotated[Decimal, PlainValidator(_number)]
Timestamp = Annotated[datetime, PlainValidator(_timestamp)]
PlanId = Annotated[str, PlainValidator(_plan_id)]
Symbol = Annotated[str, PlainValidator(_symbol)]
SecTypeField = Annotated[SecType, PlainValidator(_sec_type)]
Exchange = Annotated[str, PlainValidator(_exchange)]
Currency = Annotated[str, PlainValidator(_currency)]
ContractMonth = Annotated[str, PlainValidator(_contract_month)]
LocalSymbol = Annotated[str, PlainValidator(_local_symbol)]


def _clip(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _show(value: Decimal | int) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"{Decimal(value):.6g}"
