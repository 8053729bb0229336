"""TWS API socket framing and field encoding (server side, server version 157).

Theory of operation
-------------------
After the handshake every message in both directions is a 4-byte big-endian
length followed by that many bytes of NUL-terminated ASCII fields (the last
field is NUL-terminated too).  The handshake itself is different: the client
sends the raw bytes ``API\\0`` (no length prefix) and then one framed payload
holding just the version range text (``v157..178``, no NUL).

:class:`FrameParser` turns a byte stream into decoded messages and knows about
the handshake.  :func:`encode` turns a sequence of Python values into one
framed message.  :class:`FieldReader` reads a message positionally and treats
IB's "unset" spellings as ``None``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

SERVER_VERSION = 157
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2147483647
#: The largest message we accept from a client (real clients send < 2 KB).
MAX_CLIENT_MESSAGE = 1 << 20

_LEN = struct.Struct(">I")
_UNSET_TEXTS = frozenset(
    {"", "1.7976931348623157e+308", "1.7976931348623157E308", "1.7976931348623157e308",
     "2147483647", "9223372036854775807"}
)
_VERSION_RE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?: (.*))?$")


class ProtocolError(Exception):
    """The peer sent bytes that do not follow the TWS API protocol."""


def fmt_float(value: float | None) -> str:
    """Format a price or amount; ``None`` (unset) becomes an empty field."""
    if value is None:
        return ""
    return repr(round(float(value), 8))


def fmt_qty(value: float) -> str:
    """Format a share quantity: integral values without a decimal point."""
    v = float(value)
    if v.is_integer():
        return str(int(v))
    return repr(round(v, 8))


def _text(value: object) -> str:
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        return fmt_float(value)
    return str(value)


def encode(fields: Iterable[object]) -> bytes:
    """Encode one server→client message (length prefix + NUL-terminated fields).

    ``None`` becomes an empty field, booleans ``1``/``0``, floats are rounded to
    8 decimals, everything else goes through ``str``.
    """
    payload = ("\0".join(_text(f) for f in fields) + "\0").encode("utf-8", "replace")
    return _LEN.pack(len(payload)) + payload


def frame_raw(payload: bytes) -> bytes:
    """Frame an already encoded payload."""
    return _LEN.pack(len(payload)) + payload


@dataclass(frozen=True, slots=True)
class Handshake:
    """The client's version range and connect options."""

    min_version: int
    max_version: int
    options: str

    def accepts(self, version: int = SERVER_VERSION) -> bool:
        return self.min_version <= version <= self.max_version


class FrameParser:
    """Incremental parser for the client→server byte stream.

    ``feed(data)`` returns the complete items now available: first one
    :class:`Handshake`, then lists of decoded fields.  Raises
    :class:`ProtocolError` on anything malformed; the connection should then
    be dropped.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = 0  # 0: want "API\0", 1: want version frame, 2: messages

    def feed(self, data: bytes) -> list[Handshake | list[str]]:
        self._buf += data
        out: list[Handshake | list[str]] = []
        while True:
            if self._state == 0:
                if len(self._buf) < 4:
                    if not b"API\0".startswith(bytes(self._buf)):
                        raise ProtocolError(f"bad handshake prefix {bytes(self._buf)!r}")
                    return out
                if bytes(self._buf[:4]) != b"API\0":
                    raise ProtocolError(f"bad handshake prefix {bytes(self._buf[:4])!r}")
                del self._buf[:4]
                self._state = 1
                continue
            payload = self._next_payload()
            if payload is None:
                return out
            if self._state == 1:
                out.append(parse_handshake(payload))
                self._state = 2
            else:
                out.append(split_fields(payload))

    def _next_payload(self) -> bytes | None:
        if len(self._buf) < 4:
            return None
        (size,) = _LEN.unpack_from(self._buf)
        if size == 0 or size > MAX_CLIENT_MESSAGE:
            raise ProtocolError(f"message length {size} out of range")
        if len(self._buf) < 4 + size:
            return None
        payload = bytes(self._buf[4 : 4 + size])
        del self._buf[: 4 + size]
        return payload


def parse_handshake(payload: bytes) -> Handshake:
    try:
        text = payload.decode("ascii").rstrip("\0")
    except UnicodeDecodeError as exc:
        raise ProtocolError("handshake is not ASCII") from exc
    m = _VERSION_RE.match(text)
    if not m:
        raise ProtocolError(f"bad version range {text!r}")
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    return Handshake(lo, hi, m.group(3) or "")


def split_fields(payload: bytes) -> list[str]:
    text = payload.decode("utf-8", "replace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    if not fields or not fields[0].strip().lstrip("-").isdigit():
        raise ProtocolError(f"message id is not a number: {fields[:1]!r}")
    return fields


_Str: TypeAlias = str  # the builtins, for annotations inside FieldReader (its methods shadow them)
_Int: TypeAlias = int


class FieldReader:
    """Positional reader over one message's fields.

    Missing fields raise :class:`ProtocolError`; ``opt_*`` readers map IB's
    unset spellings to ``None``.
    """

    __slots__ = ("fields", "pos")

    def __init__(self, fields: Sequence[str], pos: int = 1) -> None:
        self.fields = fields
        self.pos = pos

    def remaining(self) -> int:
        return len(self.fields) - self.pos

    def str(self) -> str:
        if self.pos >= len(self.fields):
            raise ProtocolError(f"message {self.fields[0]} too short (field {self.pos})")
        value = self.fields[self.pos]
        self.pos += 1
        return value

    def str_or(self, default: _Str = "") -> _Str:
        """Read a field if present (lenient tail fields)."""
        if self.pos >= len(self.fields):
            return default
        return self.str()

    def skip(self, n: int = 1) -> None:
        for _ in range(n):
            self.str()

    def int(self, default: _Int | None = None) -> _Int:
        value = self.opt_int()
        if value is None:
            if default is None:
                raise ProtocolError(f"message {self.fields[0]}: field {self.pos - 1} is empty")
            return default
        return value

    def opt_int(self) -> _Int | None:
        text = self.str().strip()
        if text in _UNSET_TEXTS:
            return None
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError as exc:
                raise ProtocolError(
                    f"message {self.fields[0]}: field {self.pos - 1} {text!r} is not an integer"
                ) from exc
            if not f.is_integer():
                raise ProtocolError(
                    f"message {self.fields[0]}: field {self.pos - 1} {text!r} is not an integer"
                ) from None
            return int(f)

    def opt_float(self) -> float | None:
        text = self.str().strip()
        if text in _UNSET_TEXTS:
            return None
        if text == "Infinite":
            return float("inf")
        try:
            value = float(text)
        except ValueError as exc:
            raise ProtocolError(
                f"message {self.fields[0]}: field {self.pos - 1} {text!r} is not a number"
            ) from exc
        if value != value or value >= UNSET_DOUBLE:  # NaN or unset
            return None
        return value

    def bool(self) -> bool:
        return bool(self.int(0))
