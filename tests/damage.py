"""Damaged file contents for the fuzz tests of plan files and configs."""

from __future__ import annotations

from hypothesis import strategies as st


def damaged(draw: st.DrawFn, text: str, hows: list[str]) -> bytes:
    """``text`` as a file might hold it: UTF-8 (``plain``), UTF-16, Latin-1, or UTF-8 with a few
    bytes inserted, one byte flipped, or cut short. ``hows`` weights the choice."""
    data = text.encode("utf-8")
    how = draw(st.sampled_from(hows))
    if how == "utf16":
        return text.encode("utf-16")
    if how == "latin1":
        return text.encode("latin-1", errors="replace")
    if data and how in {"insert", "flip", "truncate"}:
        at = draw(st.integers(0, len(data) - 1))
        if how == "insert":
            return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        if how == "flip":
            return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        return data[:at]
    return data
