"""JSON encoding of events, effects and figures for the journal, the effect log and the outbox.

Decimals travel as strings (exact), datetimes as ISO 8601 UTC, enums as their values.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

import machines
from machines import effects as fx
from machines import events as ev

_EFFECTS: dict[str, type] = {cls.__name__: cls for cls in machines.EFFECT_TYPES}
_EVENTS: dict[str, type] = {cls.__name__: cls for cls in machines.EVENT_TYPES}


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds (sorts as text)."""
    if dt is None:
        return None
    if dt.tzinfo is timezone.utc:  # already UTC (astimezone would return it unchanged)
        return dt.isoformat(timespec="microseconds")
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: every stored time must be aware")
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _plain(value: Any) -> Any:
    return value


def _dataclass(names: tuple[str, ...]) -> Any:
    return lambda value: {name: jsonable(getattr(value, name)) for name in names}


def _mapping(value: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): jsonable(v) for k, v in value.items()}


def _sequence(value: Any) -> list[Any]:
    return [jsonable(v) for v in value]


def _converter(value: Any) -> Any:
    """How ``jsonable`` turns a value of this type into JSON types (depends only on the type)."""
    if isinstance(value, Decimal):
        return str
    if isinstance(value, datetime):
        return iso
    if isinstance(value, Enum):
        return lambda v: v.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass(tuple(f.name for f in dataclasses.fields(value)))
    if isinstance(value, dict):
        return _mapping
    if isinstance(value, (list, tuple, set, frozenset)):
        return _sequence
    return _plain


_CONVERTERS: dict[type, Any] = {str: _plain, int: _plain, float: _plain, bool: _plain, type(None): _plain}


def jsonable(value: Any) -> Any:
    """Turn figures, events and effects into plain JSON types.

    The conversion depends only on the value's type, so it is chosen once per type and cached
    (the isinstance chain of ``_converter`` cost ~40 % of the store's serialization time).
    """
    convert = _CONVERTERS.get(type(value))
    if convert is None:
        convert = _CONVERTERS[type(value)] = _converter(value)
    return convert(value)


# json.dumps builds a new encoder on every call when given options; one shared encoder is the same
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def dumps(value: Any) -> str:
    return _ENCODER.encode(jsonable(value))


def _decode_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    for name, value in data.items():
        hint = str(hints[name])
        if value is None:
            out[name] = None
        elif "RiskLimits" in hint:
            out[name] = ev.RiskLimits(**{k: Decimal(v) for k, v in value.items()})
        elif "Decimal" in hint:
            out[name] = Decimal(value)
        elif "datetime" in hint:
            out[name] = parse_iso(value)
        elif hint.startswith("Side"):
            out[name] = machines.Side(value)
        elif hint.startswith("EntryType"):
            out[name] = machines.EntryType(value)
        elif hint.startswith("Leg"):
            out[name] = machines.Leg(value)
        else:
            out[name] = value
    return out


def effect_from_json(kind: str, payload: str) -> Any:
    cls = _EFFECTS[kind]
    return cls(**_decode_fields(cls, json.loads(payload)))


def event_from_json(kind: str, payload: str) -> Any:
    cls = _EVENTS[kind]
    return cls(**_decode_fields(cls, json.loads(payload)))


def is_broker_effect(effect: Any) -> bool:
    return not isinstance(effect, fx.Notify)
