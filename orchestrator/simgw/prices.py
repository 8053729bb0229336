"""The scripted price path: a CSV of ``symbol,price`` rows, one trade tick each.

The gateway applies one row per tick.  Before the first tick every symbol
stands at the price of its first row; after the last row prices hold.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,11}$")


class PricesError(ValueError):
    """The prices file or rows are invalid; the message names the file and row."""


@dataclass(slots=True)
class PricePath:
    """An immutable list of ``(symbol, price)`` rows.

    Use :meth:`from_csv` or :meth:`from_rows`.  The gateway keeps its own
    cursor, so one path can feed several gateways.
    """

    rows: tuple[tuple[str, float], ...]
    source: str = "<rows>"
    _initial: dict[str, float] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.rows:
            raise PricesError(f"{self.source}: no price rows")
        for symbol, price in self.rows:
            self._initial.setdefault(symbol, price)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, float]], source: str = "<rows>") -> PricePath:
        """Build a path from ``(symbol, price)`` pairs; validates like the CSV reader."""
        checked = []
        for i, row in enumerate(rows, start=1):
            try:
                symbol, price = row
            except (TypeError, ValueError):
                raise PricesError(f"{source}: row {i}: expected (symbol, price), got {row!r}") from None
            checked.append(_check_row(str(symbol), price, f"{source}: row {i}"))
        return cls(tuple(checked), source)

    @classmethod
    def from_csv(cls, path: str | Path) -> PricePath:
        """Read a ``symbol,price`` CSV (header required).

        Raises:
            PricesError: unreadable file, bad header, or a bad row (named by line).
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise PricesError(f"{p}: cannot read prices file: {reason}") from None
        reader = csv.reader(text.splitlines())
        rows: list[tuple[str, float]] = []
        header_seen = False
        for line_no, record in enumerate(reader, start=1):
            if not record or all(not c.strip() for c in record):
                continue
            cells = [c.strip() for c in record]
            if not header_seen:
                if [c.lower() for c in cells] != ["symbol", "price"]:
                    raise PricesError(f"{p}: line {line_no}: header must be 'symbol,price', got {','.join(cells)!r}")
                header_seen = True
                continue
            if len(cells) != 2:
                raise PricesError(f"{p}: line {line_no}: expected 2 columns (symbol,price), got {len(cells)}")
            rows.append(_check_row(cells[0], cells[1], f"{p}: line {line_no}"))
        if not header_seen:
            raise PricesError(f"{p}: empty prices file (header 'symbol,price' missing)")
        if not rows:
            raise PricesError(f"{p}: no price rows after the header")
        return cls(tuple(rows), str(p))

    def symbols(self) -> list[str]:
        """Every symbol, in order of first appearance."""
        return list(self._initial)

    def initial_prices(self) -> dict[str, float]:
        return dict(self._initial)

    def __len__(self) -> int:
        return len(self.rows)


def _check_row(symbol: str, price: object, where: str) -> tuple[str, float]:
    symbol = symbol.strip()
    if not _SYMBOL_RE.match(symbol):
        raise PricesError(f"{where}: bad symbol {symbol!r} (expected an upper-case ticker such as AAPL)")
    try:
        value = float(price)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PricesError(f"{where}: price {price!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise PricesError(f"{where}: price {price!r} must be a positive finite number")
    return symbol, value
