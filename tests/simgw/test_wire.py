"""Framing, handshake and field decoding."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.simgw.wire import (
    FieldReader,
    FrameParser,
    Handshake,
    ProtocolError,
    encode,
    fmt_float,
    fmt_qty,
)


def frame(text: str) -> bytes:
    payload = text.encode()
    return struct.pack(">I", len(payload)) + payload


def test_handshake_then_messages_in_one_chunk() -> None:
    data = b"API\0" + frame("v157..178") + frame("71\x002\x007\x00\x00")
    items = FrameParser().feed(data)
    assert items == [Handshake(157, 178, ""), ["71", "2", "7", ""]]


def test_handshake_with_connect_options() -> None:
    (hs,) = FrameParser().feed(b"API\0" + frame("v100..157 +PACEAPI"))
    assert hs == Handshake(100, 157, "+PACEAPI")
    assert hs.accepts(157)
    assert not Handshake(158, 178, "").accepts(157)


@given(st.integers(min_value=1, max_value=40))
def test_byte_by_byte_and_arbitrary_splits(chunk: int) -> None:
    data = b"API\0" + frame("v157..178") + frame("71\x002\x007\x00\x00") + frame("49\x001\x00")
    parser = FrameParser()
    items = []
    for i in range(0, len(data), chunk):
        items += parser.feed(data[i : i + chunk])
    assert items == [Handshake(157, 178, ""), ["71", "2", "7", ""], ["49", "1"]]


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"API\0" + frame("hello"),
        b"API\0" + frame("v157..178") + frame("abc\x00"),
        b"API\0" + frame("v157..178") + struct.pack(">I", 50_000_000),
        b"API\0" + frame("v157..178") + struct.pack(">I", 0),
    ],
)
def test_garbage_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameParser().feed(data)


def test_encode_terminates_every_field() -> None:
    data = encode([157, "20240115 10:30:00 EST"])
    assert data == struct.pack(">I", 26) + b"157\x0020240115 10:30:00 EST\x00"
    assert encode([1, None, True, False, 1.5])[4:] == b"1\x00\x001\x000\x001.5\x00"


def test_number_formatting() -> None:
    assert fmt_qty(100.0) == "100"
    assert fmt_qty(0.5) == "0.5"
    assert fmt_float(180.50000000000003) == "180.5"
    assert fmt_float(None) == ""


@pytest.mark.parametrize("text", ["", "1.7976931348623157e+308", "1.7976931348623157E308", "2147483647"])
def test_unset_spellings(text: str) -> None:
    assert FieldReader(["0", text]).opt_float() is None
    assert FieldReader(["0", text]).opt_int() is None


def test_reader_values_and_short_message() -> None:
    r = FieldReader(["3", "12", "100.0", "Infinite", "1"])
    assert r.int() == 12
    assert r.opt_float() == 100.0
    assert r.opt_float() == float("inf")
    assert r.bool() is True
    with pytest.raises(ProtocolError):
        r.str()
    with pytest.raises(ProtocolError):
        FieldReader(["3", "x"]).int()
    with pytest.raises(ProtocolError):
        FieldReader(["3", "1.5"]).int()
