"""Reading small TOML files defensively, and describing validation errors in one line each.

Shared by ``config`` and ``planfile``. The reading itself is ``tomlfile`` (re-exported here, on
the standard library alone); this module adds pydantic errors turned into ``(dotted.key,
message)`` pairs that never echo the offending value.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from .tomlfile import MAX_BYTES, MAX_NESTING, TomlReadError, nesting, parse_toml, read_regular, read_toml, toml_type

__all__ = ["MAX_BYTES", "MAX_NESTING", "TomlReadError", "custom_error", "describe_errors", "dotted", "nesting",
           "parse_toml", "read_regular", "read_toml", "toml_type"]


def custom_error(message: str) -> PydanticCustomError:
    """A pydantic error whose message is exactly ``message`` (braces are not a template)."""
    return PydanticCustomError("orchestrator", "{message}", {"message": message})


def dotted(loc: Sequence[str | int]) -> str:
    """``("plans", "files", 0)`` -> ``plans.files[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "-"


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        sub = _find_model(field.annotation) if field is not None else None
        if sub is None:
            return None
        model = sub
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe_errors(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    hidden: Sequence[str] = (),
    top_level_noun: str = "key",
) -> list[tuple[str, str]]:
    """Turn a pydantic ValidationError into ``(dotted.key, message)`` pairs, one per error.

    Messages name the expected type or range and the TOML type that was found, never the input
    value itself (so a secret cannot leak). ``hidden`` names fields that exist on the model but
    must not be offered as suggestions (they are not settable from a file).
    """
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        out.append((dotted(loc), _describe(err, model, loc, hidden, top_level_noun)))
    return out


def _describe(
    err: ErrorDetails, model: type[BaseModel], loc: tuple[str | int, ...], hidden: Sequence[str], noun: str,
) -> str:
    kind, ctx, got = err["type"], err.get("ctx") or {}, toml_type(err.get("input"))
    if kind == "orchestrator":
        return str(ctx.get("message", err["msg"]))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        what = noun if len(loc) == 1 else "key"
        if parent is None:
            return f"unknown {what}"
        allowed = [name for name in parent.model_fields if name not in hidden or len(loc) > 1]
        name = str(loc[-1])
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.7)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown {what} ({hint}allowed: {', '.join(allowed)})"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return f"must be a table (got {got})"
    if kind in {"list_type", "tuple_type"}:
        return f"must be an array (got {got})"
    if kind == "string_type":
        return f"must be a string (got {got})"
    if kind in {"string_too_short"}:
        return "must not be empty"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"must be a whole number (got {got})"
    if kind in {"float_type", "float_parsing", "decimal_type", "is_instance_of"}:
        return f"must be a number (got {got})"
    if kind == "bool_type":
        return f"must be true or false (got {got})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '?')}"
    if kind == "finite_number":
        return "must be a finite number (not nan or inf)"
    bounds = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
              "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}
    if kind in bounds:
        key, words = bounds[kind]
        return f"must be {words} {_number(ctx.get(key, '?'))}"
    msg = str(err["msg"]).replace("Input should be", "must be").replace("Value error, ", "")
    return msg[:1].lower() + msg[1:]
