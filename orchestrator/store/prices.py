"""A compact price series per symbol for the console's charts: one-minute bars plus marks.

While a plan on a symbol is live, the daemon feeds every price it sees to a
:class:`PriceRecorder`. The recorder only aggregates in memory (a dict update per price, no
I/O), so it can sit on the price path; :meth:`PriceRecorder.flush` writes what it gathered in
one short transaction and :meth:`PriceRecorder.prune` drops rows older than the retention. Both
belong on a periodic job (every few seconds), off the event → commit path.

Two tables (``PRICE_DDL``, created by the store's migration 3):

- ``price_bars``: one row per symbol and minute (open/high/low/close as exact decimal TEXT,
  the minute's start as ISO 8601 UTC TEXT, the number of prices seen);
- ``price_marks``: every price at which a stop moved (``kind='stop'``) or a fill happened
  (``kind='fill'``), with the plan it belongs to.

The reader (:func:`read_series`) returns both for a symbol and a time range, and an empty
series when the tables do not exist (a store older than the schema that adds them): the chart
then draws from the journal alone.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from . import codec

PRICE_DDL = """
CREATE TABLE IF NOT EXISTS price_bars (
    symbol TEXT NOT NULL,
    minute TEXT NOT NULL,
    open TEXT NOT NULL,
    high TEXT NOT NULL,
    low TEXT NOT NULL,
    close TEXT NOT NULL,
    ticks INTEGER NOT NULL,
    PRIMARY KEY (symbol, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS price_marks (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    at TEXT NOT NULL,
    price TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('stop', 'fill')),
    plan_id TEXT
);
CREATE INDEX IF NOT EXISTS ix_price_marks_symbol_at ON price_marks(symbol, at);
"""

MARK_KINDS = ("stop", "fill")


@dataclass(slots=True)
class Bar:
    symbol: str
    minute: str  # ISO 8601 UTC of the minute's start
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    ticks: int = 1

    def add(self, price: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.ticks += 1


@dataclass(frozen=True, slots=True)
class Mark:
    symbol: str
    at: str  # ISO 8601 UTC
    price: Decimal
    kind: str  # 'stop' | 'fill'
    plan_id: str | None = None


@dataclass(frozen=True, slots=True)
class PriceSeries:
    bars: list[Bar]
    marks: list[Mark]

    @property
    def empty(self) -> bool:
        return not self.bars and not self.marks


def iso(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds, as every time in state.db (sorts as text)."""
    text = codec.iso(at)
    assert text is not None
    return text


def minute_of(at: datetime) -> str:
    """The ISO 8601 UTC start of ``at``'s minute (the bar key)."""
    return iso(at.replace(second=0, microsecond=0))


class PriceRecorder:
    """Aggregates prices into one-minute bars in memory; writes them on :meth:`flush`.

    ``conn`` is the writer's sqlite3 connection. Not thread-safe: call it from one thread (the
    daemon's event loop), with :meth:`flush` and :meth:`prune` on a periodic job.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._open: dict[str, Bar] = {}  # symbol → the bar of its latest minute (also written on flush)
        self._closed: list[Bar] = []  # bars whose minute has passed, not yet written
        self._marks: list[Mark] = []

    def price(self, symbol: str, at: datetime, price: Decimal) -> None:
        """One traded or quoted price. No I/O."""
        minute = minute_of(at)
        bar = self._open.get(symbol)
        if bar is not None and bar.minute == minute:
            bar.add(price)
            return
        if bar is not None and bar.minute > minute:  # late, for a minute already rolled: dropped
            return
        if bar is not None:
            self._closed.append(bar)
        self._open[symbol] = Bar(symbol, minute, price, price, price, price)

    def mark(self, symbol: str, at: datetime, price: Decimal, kind: str, plan_id: str | None = None) -> None:
        """A stop moved to ``price`` or a fill happened at it. No I/O; the price joins the bar too."""
        if kind not in MARK_KINDS:
            raise ValueError(f"mark kind must be one of {MARK_KINDS} (got {kind!r})")
        self._marks.append(Mark(symbol, iso(at), price, kind, plan_id))
        if kind == "fill":
            self.price(symbol, at, price)

    @property
    def pending(self) -> int:
        """Rows the next flush will write."""
        return len(self._closed) + len(self._open) + len(self._marks)

    def flush(self) -> int:
        """Write closed and open bars (upsert) and the marks in one transaction; returns the rows written."""
        bars = self._closed + list(self._open.values())
        marks = self._marks
        if not bars and not marks:
            return 0
        with _transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO price_bars(symbol, minute, open, high, low, close, ticks) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(symbol, minute) DO UPDATE SET high=excluded.high, low=excluded.low, "
                "close=excluded.close, ticks=excluded.ticks",
                [(b.symbol, b.minute, str(b.open), str(b.high), str(b.low), str(b.close), b.ticks) for b in bars])
            self._conn.executemany(
                "INSERT INTO price_marks(symbol, at, price, kind, plan_id) VALUES (?,?,?,?,?)",
                [(m.symbol, m.at, str(m.price), m.kind, m.plan_id) for m in marks])
        self._closed = []
        self._marks = []
        return len(bars) + len(marks)

    def forget(self, symbol: str) -> None:
        """Stop tracking ``symbol`` (no live plan on it any more); call :meth:`flush` first."""
        self._open.pop(symbol, None)

    def prune(self, before: datetime) -> int:
        """Delete bars and marks older than ``before`` (the retention cut-off); returns the rows deleted."""
        cut = iso(before)
        with _transaction(self._conn):
            n = self._conn.execute("DELETE FROM price_bars WHERE minute < ?", (minute_of(before),)).rowcount
            n += self._conn.execute("DELETE FROM price_marks WHERE at < ?", (cut,)).rowcount
        return n


class _transaction:
    """BEGIN IMMEDIATE … COMMIT, unless the caller already holds a transaction (then it commits)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.own = not conn.in_transaction

    def __enter__(self) -> None:
        if self.own:
            self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.own:
            return
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _plain(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor that yields tuples whatever the connection's row factory."""
    cur = conn.cursor()
    cur.row_factory = None
    return cur


def has_price_tables(conn: sqlite3.Connection) -> bool:
    names = {r[0] for r in _plain(conn).execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name IN ('price_bars', 'price_marks')")}
    return names == {"price_bars", "price_marks"}


def read_series(conn: sqlite3.Connection, symbol: str, start: str, end: str) -> PriceSeries:
    """Bars and marks of ``symbol`` from ``start`` to ``end`` (ISO 8601 UTC, inclusive).

    Works whatever the connection's row factory. Empty when the tables do not exist.
    """
    if not has_price_tables(conn):
        return PriceSeries([], [])
    bars = [Bar(symbol, r[0], Decimal(r[1]), Decimal(r[2]), Decimal(r[3]), Decimal(r[4]), int(r[5]))
            for r in _plain(conn).execute("SELECT minute, open, high, low, close, ticks FROM price_bars "
                                  "WHERE symbol=? AND minute >= ? AND minute <= ? ORDER BY minute",
                                  (symbol, _minute_key(start), end)).fetchall()]
    marks = [Mark(symbol, r[0], Decimal(r[1]), r[2], r[3])
             for r in _plain(conn).execute("SELECT at, price, kind, plan_id FROM price_marks "
                                   "WHERE symbol=? AND at >= ? AND at <= ? ORDER BY at, id",
                                   (symbol, start, end)).fetchall()]
    return PriceSeries(bars, marks)


def _minute_key(text: str) -> str:
    """The bar key of an ISO 8601 UTC time given as text."""
    return minute_of(datetime.fromisoformat(text))
