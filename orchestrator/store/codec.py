"""JSON encoding of events, effects and figures for the journal, the effect log and the outbox.

Decimals travel as strings (exact), datetimes as ISO 8601 UTC, enums as their values.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import machines
from machines import effects as fx

_EFFECTS: dict[str, type] = {cls.__name__: cls for cls in machines.EFFECT_TYPES}
_EVENTS: dict[str, type] = {cls.__name__: cls for cls in machines.EVENT_TYPES}


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds (sorts as text)."""
    if dt is None:
        return None
    if dt.tzinfo is UTC:  # already UTC (astimezone would return it unchanged)
        return dt.isoformat(timespec="microseconds")
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: every stored time must be aware")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


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


def _decoder(hint: Any) -> Any:
    """How a JSON value becomes a field of this declared type (``X | None`` is decoded as X)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]
    if hint is Decimal:
        return Decimal
    if hint is datetime:
        return parse_iso
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        nested = _decoders(hint)
        return lambda value: hint(**{k: nested[k](v) if v is not None else None for k, v in value.items()})
    return _plain


_DECODERS: dict[type, dict[str, Any]] = {}


def _decoders(cls: type) -> dict[str, Any]:
    """Per field of the dataclass ``cls``: the function that decodes its JSON value (cached)."""
    found = _DECODERS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = _DECODERS[cls] = {f.name: _decoder(hints[f.name]) for f in dataclasses.fields(cls)}
    return found


def _decode_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    decoders = _decoders(cls)
    return {name: None if value is None else decoders[name](value) for name, value in data.items()}


def effect_from_json(kind: str, payload: str) -> Any:
    cls = _EFFECTS[kind]
    return cls(**_decode_fields(cls, json.loads(payload)))


def event_from_json(kind: str, payload: str) -> Any:
    cls = _EVENTS[kind]
    return cls(**_decode_fields(cls, json.loads(payload)))


def is_broker_effect(effect: Any) -> bool:
    return not isinstance(effect, fx.Notify)
