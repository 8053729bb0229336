"""A histogram as a PNG, with nothing but zlib: the P1 latency distribution (docs/p1-latency.png).

A tiny RGB canvas (rectangles and a 3×5 pixel font for upper-case letters, digits and a few
signs) written as one PNG IDAT chunk; enough for bars, markers and axis labels.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

# 3×5 glyphs: five rows of three pixels ("#" = ink), top row first
_GLYPHS = {
    "0": "###/#.#/#.#/#.#/###", "1": ".#./##./.#./.#./###", "2": "###/..#/###/#../###", "3": "###/..#/###/..#/###",
    "4": "#.#/#.#/###/..#/..#", "5": "###/#../###/..#/###", "6": "###/#../###/#.#/###", "7": "###/..#/..#/.#./.#.",
    "8": "###/#.#/###/#.#/###", "9": "###/#.#/###/..#/###", "A": ".#./#.#/###/#.#/#.#", "B": "##./#.#/##./#.#/##.",
    "C": ".##/#../#../#../.##", "D": "##./#.#/#.#/#.#/##.", "E": "###/#../##./#../###", "F": "###/#../##./#../#..",
    "G": ".##/#../#.#/#.#/.##", "H": "#.#/#.#/###/#.#/#.#", "I": "###/.#./.#./.#./###", "L": "#../#../#../#../###",
    "M": "#.#/###/###/#.#/#.#", "N": "##./#.#/#.#/#.#/#.#", "O": ".#./#.#/#.#/#.#/.#.", "P": "##./#.#/##./#../#..",
    "R": "##./#.#/##./#.#/#.#", "S": ".##/#../.#./..#/##.", "T": "###/.#./.#./.#./.#.", "U": "#.#/#.#/#.#/#.#/###",
    "V": "#.#/#.#/#.#/#.#/.#.", "W": "#.#/#.#/###/###/#.#", "X": "#.#/#.#/.#./#.#/#.#", "Y": "#.#/#.#/.#./.#./.#.",
    ".": ".../.../.../.../.#.", "-": ".../.../###/.../...", ">": "#../.#./..#/.#./#..", "=": ".../###/.../###/...",
    "(": ".#./#../#../#../.#.", ")": ".#./..#/..#/..#/.#.", ",": ".../.../.../.#./#..", ":": ".../.#./.../.#./...",
    " ": ".../.../.../.../...",
}
_FONT = {ch: rows.replace("/", "") for ch, rows in _GLYPHS.items()}
WHITE, BLACK, GREY = (255, 255, 255), (40, 40, 40), (200, 200, 200)
BLUE, ORANGE, RED = (60, 110, 200), (230, 140, 20), (200, 30, 30)


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.px = bytearray(WHITE * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        """Fill [x0, x1) × [y0, y1), clipped."""
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            i = (y * self.width + x0) * 3
            self.px[i:i + len(row)] = row

    def text(self, x: int, y: int, s: str, color: tuple[int, int, int] = BLACK, scale: int = 2) -> None:
        for ch in s.upper():
            glyph = _FONT.get(ch, _FONT[" "])
            for k, ink in enumerate(glyph):
                if ink == "#":
                    self.rect(x + (k % 3) * scale, y + (k // 3) * scale, x + (k % 3 + 1) * scale,
                              y + (k // 3 + 1) * scale, color)
            x += 4 * scale

    def png(self) -> bytes:
        raw = b"".join(b"\0" + bytes(self.px[y * self.width * 3:(y + 1) * self.width * 3]) for y in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))


def histogram(samples_ms: list[float], path: Path, *, title: str, p50: float, p99: float, target: float,
              width: int = 900, height: int = 420) -> None:
    """Counts per 0.1 ms bin up to a little beyond the target; slower samples in the last bar."""
    left, right, top, bottom = 70, width - 20, 50, height - 50
    hi = max(target * 1.5, p99 * 1.2)
    bins = 100
    counts = [0] * bins
    for v in samples_ms:
        counts[min(bins - 1, int(v / hi * bins))] += 1
    c = Canvas(width, height)
    c.text(left, 14, title, scale=3)
    peak = max(counts) or 1
    bar = (right - left) / bins
    for i, n in enumerate(counts):
        h = round((bottom - top) * n / peak)
        color = BLUE if i < bins - 1 else GREY
        c.rect(round(left + i * bar) + 1, bottom - h, round(left + (i + 1) * bar), bottom, color)
    c.rect(left, bottom, right, bottom + 2, BLACK)
    c.rect(left - 2, top, left, bottom, BLACK)
    step = 1 if hi <= 12 else 2 if hi <= 25 else 5
    for ms in range(0, int(hi) + 1, step):
        x = round(left + ms / hi * (right - left))
        c.rect(x, bottom, x + 1, bottom + 6, BLACK)
        c.text(x - 4, bottom + 10, str(ms))
    c.text(right - 60, bottom + 28, "MS")
    if counts[-1]:
        c.text(right - 170, bottom - 24, f"{counts[-1]} AT OR OVER {hi:.1f}", GREY)
    c.text(4, top, str(peak))
    c.text(4, bottom - 10, "0")
    markers = ((p50, BLACK, f"P50 {p50:.2f}"), (p99, ORANGE, f"P99 {p99:.2f}"), (target, RED, f"TARGET {target:g}"))
    for row, (value, color, label) in enumerate(markers):
        x = round(left + min(value, hi) / hi * (right - left))
        c.rect(x, top, x + 2, bottom, color)
        c.text(min(x + 6, right - 110), top + 16 * row, label, color)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(c.png())
