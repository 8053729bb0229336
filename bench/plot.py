"""Charts as PNG, with nothing but zlib: the P1 latency histogram (docs/p1-latency.png) and the
scaling curves (docs/scaling.png).

A tiny RGB canvas (rectangles and a 3×5 pixel font for upper-case letters, digits and a few
signs) written as one PNG IDAT chunk; enough for bars, markers and axis labels.
"""

from __future__ import annotations

import math
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
    " ": ".../.../.../.../...", "K": "#.#/#.#/##./#.#/#.#", "J": "..#/..#/..#/#.#/.#.", "Q": ".#./#.#/#.#/##./.##",
    "Z": "###/..#/.#./#../###", "/": "..#/..#/.#./#../#..", "+": ".../.#./###/.#./...", "<": "..#/.#./#../.#./..#",
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


def _line(c: Canvas, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int], width: int = 2) -> None:
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    for k in range(steps + 1):
        x, y = round(x0 + (x1 - x0) * k / steps), round(y0 + (y1 - y0) * k / steps)
        c.rect(x - width // 2, y - width // 2, x - width // 2 + width, y - width // 2 + width, color)


def _panel(c: Canvas, box: tuple[int, int, int, int], title: str, unit: str, xs: list[float],
           series: list[tuple[str, list[float], tuple[int, int, int]]]) -> None:
    """One chart: x on a log scale (plans), each series a polyline with dots, y from 0."""
    left, top, right, bottom = box
    c.text(left, top - 30, title, scale=2)
    hi = max(v for _n, values, _c in series for v in values) * 1.15 or 1.0
    lo_x, hi_x = math.log10(min(xs)), math.log10(max(xs))

    def px(x: float) -> int:
        return round(left + (math.log10(x) - lo_x) / ((hi_x - lo_x) or 1) * (right - left))

    def py(y: float) -> int:
        return round(bottom - y / hi * (bottom - top))
    c.rect(left, bottom, right, bottom + 2, BLACK)
    c.rect(left - 2, top, left, bottom, BLACK)
    for x in xs:
        c.rect(px(x), bottom, px(x) + 1, bottom + 6, BLACK)
        label = f"{x / 1000:g}K" if x >= 1000 else f"{x:g}"
        c.text(px(x) - 4 * len(label), bottom + 10, label)
    for frac in (0.5, 1.0):
        y = hi / 1.15 * frac
        c.rect(left - 6, py(y), left, py(y) + 1, BLACK)
        c.text(left - 66, py(y) - 4, f"{y:.3g}")
    c.text(right - 8 * len(unit), top - 12, unit, GREY)
    for row, (name, values, color) in enumerate(series):
        points = [(px(x), py(v)) for x, v in zip(xs, values, strict=True)]
        for (a, b), (d, e) in zip(points, points[1:], strict=False):
            _line(c, a, b, d, e, color)
        for a, b in points:
            c.rect(a - 3, b - 3, a + 4, b + 4, color)
        c.text(left + 10, top + 4 + 16 * row, name, color)


def curves(path: Path, xs: list[float], panels: list[tuple[str, str, list[tuple[str, list[float],
                                                                               tuple[int, int, int]]]]],
           *, title: str, width: int = 1200, height: int = 440) -> None:
    """Side-by-side panels sharing the x values (live plans)."""
    c = Canvas(width, height)
    c.text(20, 12, title, scale=3)
    n = len(panels)
    span = (width - 40) // n
    for i, (name, unit, series) in enumerate(panels):
        _panel(c, (20 + i * span + 70, 90, 20 + (i + 1) * span - 20, height - 50), name, unit, xs, series)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(c.png())
