"""Reading small TOML files defensively, on the standard library alone.

Nothing here knows about the files' meaning: it turns any input (missing file, binary garbage,
other encodings, syntax errors, absurd nesting, numbers with thousands of digits) into a
:class:`TomlReadError` with a short message. ``tomlread`` adds the description of pydantic's
validation errors; this half stays free of pydantic so that ``status --json`` can read where the
store is without importing it.

Floats are parsed as :class:`~decimal.Decimal` (exact: ``180.10`` stays ``180.10``); TOML's
``nan`` and ``inf`` therefore arrive as Decimal NaN/Infinity and must be refused by the caller.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

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
