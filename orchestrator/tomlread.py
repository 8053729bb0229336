"""Reading small TOML files defensively, and describing validation errors in one line each.

Shared by ``config`` and ``planfile``. Nothing here knows about the files' meaning: it turns any
input (missing file, binary garbage, other encodings, syntax errors, absurd nesting, numbers
with thousands of digits) into a :class:`TomlReadError` with a short message, and pydantic
errors into ``(dotted.key, message)`` pairs that never echo the offending value.

Floats are parsed as :class:`~decimal.Decimal` (exact: ``180.10`` stays ``180.10``); TOML's
``nan`` and ``inf`` therefore arrive as Decimal NaN/Infinity and must be refused by the caller.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

MAX_BYTES = 1024 * 1024  # a plan or config file is a few KiB; refuse anything absurd
MAX_NESTING = 64  # arrays and inline tables inside each other; a plan needs three at most

_WHERE = re.compile(r"^(?P<msg>.*?) \((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$", re.S)


class TomlReadError(Exception):
    """A file could not be read as TOML. ``message`` does not name the file; the caller does."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_toml(path: Path, *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Read ``path`` as UTF-8 TOML (a leading BOM is allowed), floats as Decimal.

    Raises:
        TomlReadError: the file is missing, unreadable, too large, not UTF-8, or not valid TOML.
    """
    data = read_regular(path, max_bytes + 1)
    if len(data) > max_bytes:
        raise TomlReadError(f"file is too large (more than {max_bytes} bytes)")
    return parse_toml(data)


def read_regular(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file. Anything else is refused at once, without
    blocking: opening a FIFO for reading waits for a writer, and a device never ends.

    Raises:
        TomlReadError: missing, a directory, not a regular file, unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise TomlReadError("file not found") from None
    except IsADirectoryError:
        raise TomlReadError("is a directory, not a file") from None
    except PermissionError:
        raise TomlReadError("permission denied") from None
    except OSError as exc:
        raise TomlReadError(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    except ValueError:  # e.g. a NUL character in the path
        raise TomlReadError("cannot read file: invalid file name") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise TomlReadError("is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise TomlReadError("is not a regular file (a FIFO, socket or device): refused")
        chunks, left = [], limit
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise TomlReadError(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.close(fd)


_QUOTES = ('"""', "'''", '"', "'")


def nesting(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings and comments (a table header
    ``[[plans]]`` counts 2). Invalid TOML gives some number; the parser then says what is wrong."""
    depth = deepest = i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "#":
            i = text.find("\n", i)
            if i < 0:
                break
        elif c in "\"'":
            quote = next(q for q in _QUOTES if text.startswith(q, i))
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                i += 2 if text[i] == "\\" and quote[0] == '"' else 1
            i += len(quote) - 1
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def parse_toml(data: bytes) -> dict[str, Any]:
    """Parse TOML bytes; see :func:`read_toml`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise TomlReadError(
            f"not UTF-8 text (byte 0x{bad:02x} at offset {exc.start}); save the file as UTF-8") from None
    if nesting(text) > MAX_NESTING:  # decided on the text: the parser's own limit is the caller's stack depth
        raise TomlReadError(f"TOML nesting is too deep (more than {MAX_NESTING} arrays or tables inside each other)")
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        message = _syntax_message(str(exc))
    except RecursionError:
        message = "TOML nesting is too deep"
    except ValueError as exc:  # e.g. an integer with more than 4300 digits
        text_ = str(exc)
        if "integer string conversion" in text_:
            message = "an integer has too many digits"
        else:
            message = f"cannot parse TOML: {text_.splitlines()[0] if text_ else type(exc).__name__}"
    raise TomlReadError(message)


def _syntax_message(raw: str) -> str:
    match = _WHERE.match(raw)
    if not match:
        return f"TOML syntax error: {raw}"
    msg = match["msg"]
    msg = msg[:1].lower() + msg[1:]
    where = f"line {match['line']}, column {match['col']}" if match["line"] else "end of file"
    return f"TOML syntax error at {where}: {msg}"


def toml_type(value: Any) -> str:
    """The TOML name of a parsed value's type, for messages (never the value itself)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, datetime):
        return "offset date-time" if value.tzinfo is not None else "local date-time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    return type(value).__name__


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
