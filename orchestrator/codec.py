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
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: every stored time must be aware")
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def jsonable(value: Any) -> Any:
    """Turn figures, events and effects into plain JSON types."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), separators=(",", ":"), sort_keys=True)


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
