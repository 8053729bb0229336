"""The price series: DDL, the recorder's bars, marks and pruning, the reader, and the chart on it."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from orchestrator.console import data
from orchestrator.console.chart import chart_data
from orchestrator.store.prices import PRICE_DDL, PriceRecorder, has_price_tables, read_series

from .stores import Built

T = datetime(2026, 11, 27, 14, 35, 10, tzinfo=UTC)


def _writer(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(PRICE_DDL)
    return conn


def test_recorder_rolls_one_minute_bars_and_writes_marks(built: Built) -> None:
    conn = _writer(built.path)
    rec = PriceRecorder(conn)
    for i, price in enumerate(["100.00", "101.50", "99.25", "100.75"]):  # 14:35:10 … 14:35:40
        rec.price("AAPL", T + timedelta(seconds=10 * i), D(price))
    rec.mark("AAPL", T + timedelta(seconds=5), D("98.00"), "stop", plan_id="AAPL-TRAIL")
    rec.price("AAPL", T + timedelta(seconds=55), D("102.00"))  # 14:36:05: a new minute
    rec.price("AAPL", T + timedelta(seconds=1), D("1.00"))  # late, for a rolled minute: dropped
    assert rec.flush() == 3  # two bars and one mark
    assert rec.flush() == 1  # the open bar is rewritten on every flush (a crash loses at most one flush)
    rows = conn.execute("SELECT minute, open, high, low, close, ticks FROM price_bars ORDER BY minute").fetchall()
    assert rows == [("2026-11-27T14:35:00.000000+00:00", "100.00", "101.50", "99.25", "100.75", 4),
                    ("2026-11-27T14:36:00.000000+00:00", "102.00", "102.00", "102.00", "102.00", 1)]
    rec.mark("AAPL", T + timedelta(seconds=70), D("102.50"), "fill", plan_id="AAPL-TRAIL")
    rec.flush()
    assert conn.execute("SELECT high, ticks FROM price_bars WHERE minute LIKE '%14:36%'").fetchone() == ("102.50", 2)
    with pytest.raises(ValueError, match="mark kind"):
        rec.mark("AAPL", T, D(1), "other")
    ro = data.open_readonly(built.url)
    series = read_series(ro, "AAPL", "2026-11-27T14:35:30+00:00", "2026-11-27T15:00:00+00:00")
    assert [b.minute[11:16] for b in series.bars] == ["14:35", "14:36"]  # the bar the range starts in is included
    assert [(m.kind, m.price) for m in series.marks] == [("fill", D("102.50"))]


def test_prune_drops_rows_older_than_the_retention(built: Built) -> None:
    conn = _writer(built.path)
    rec = PriceRecorder(conn)
    for day in range(5):
        rec.price("MSFT", T + timedelta(days=day), D(400 + day))
        rec.mark("MSFT", T + timedelta(days=day), D(400 + day), "fill")
    rec.flush()
    assert rec.prune(T + timedelta(days=3)) == 6  # three bars and three marks before day 3
    assert [r[0][:10] for r in conn.execute("SELECT minute FROM price_bars ORDER BY minute")] == [
        "2026-11-30", "2026-12-01"]


def test_flush_joins_a_transaction_the_caller_holds(built: Built) -> None:
    conn = _writer(built.path)
    rec = PriceRecorder(conn)
    rec.price("AAPL", T, D(1))
    conn.execute("BEGIN IMMEDIATE")
    rec.flush()
    conn.execute("ROLLBACK")  # the caller's rollback takes the rows with it
    assert conn.execute("SELECT count(*) FROM price_bars").fetchone()[0] == 0


def test_reader_on_a_store_without_the_tables_is_empty(built: Built) -> None:
    writer = _writer(built.path)   # a store older than the tables (schema 2)
    writer.executescript("DROP TABLE price_bars; DROP TABLE price_marks;")
    writer.close()
    conn = data.open_readonly(built.url)
    assert not has_price_tables(conn)
    assert read_series(conn, "AAPL", "2000-01-01T00:00:00+00:00", "2100-01-01T00:00:00+00:00").empty


def test_chart_uses_the_series_when_it_has_rows(built: Built) -> None:
    conn = _writer(built.path)
    rec = PriceRecorder(conn)
    start = datetime(2026, 11, 27, 14, 35, tzinfo=UTC)
    for s in range(9):
        rec.price("AAPL", start + timedelta(seconds=s), D("180") + s)
    rec.mark("AAPL", start + timedelta(seconds=7), D("184.00"), "stop", plan_id="AAPL-TRAIL")
    rec.mark("AAPL", start + timedelta(seconds=7), D("999"), "stop", plan_id="SOMEONE-ELSE")
    rec.flush()
    ro = data.open_readonly(built.url)
    plan = data.plan(ro, "AAPL-TRAIL")
    series = data.price_series(ro, "AAPL", "2026-11-27T14:35:00+00:00", plan.updated_at)  # type: ignore[union-attr]
    chart = chart_data(plan, data.journal(ro, "AAPL-TRAIL"), data.fills(ro, "AAPL-TRAIL"), series)
    assert chart["source"] in ("prices", "prices+journal")   # the series joins what the journal holds
    assert 188.0 in [p["value"] for p in chart["price"]]  # the minute's close
    assert 999.0 not in [p["value"] for p in chart["stop"]]  # another plan's stop is not this plan's staircase
    assert [p["value"] for p in chart["stop"]][:2] == [176.0, 184.0]


def test_recording_a_price_is_cheap_enough_for_the_price_path(built: Built) -> None:
    rec = PriceRecorder(_writer(built.path))
    n = 20000
    start = time.perf_counter()
    for i in range(n):
        rec.price("AAPL", T + timedelta(seconds=i * 0.01), D("100"))
    per_call = (time.perf_counter() - start) / n
    assert per_call < 50e-6, per_call  # an in-memory update: microseconds, no I/O
