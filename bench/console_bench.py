"""The console's overview page served from a 10,000-plan store, against a bare sqlite3 read.

Run: ``.venv/bin/python -m bench.console_bench`` (about half a minute).

1. A state.db made by the real Store (schema), filled with 10,000 plans by plain SQL: 1,000 live
   (every live state; those with a position have a fill and a journaled price) and 9,000 ended
   (closed with two fills, cancelled, rejected), plus notifications.
2. ``orchestrator console``'s app under uvicorn on a loopback port; one signed-in httpx client
   fetches ``/`` repeatedly (the first request, which opens and checks the file, is reported
   apart).
3. The baseline, in the same run: every SQL statement the overview ran (captured from the
   console's connection with parameters expanded) replayed on a bare ``sqlite3`` connection,
   ``fetchall()`` each — the same rows, with nothing else.
4. The price recorder's cost per price and per flush (what the daemon would add on its price
   path and on a periodic job).

Prints both timings and the ratio for a heavy book (1,000 live plans) and a usual one (20 live),
target: page ≤ 3× the bare read; exits 1 when a ratio misses it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import uvicorn

from orchestrator.console.app import create_app
from orchestrator.console.serve import bind
from orchestrator.console.settings import ConsoleSettings
from orchestrator.store import Store
from orchestrator.store.prices import PRICE_DDL, PriceRecorder

PLANS, ROUNDS = 10_000, 30
SCENARIOS = (1_000, 20)  # live plans among the 10,000: a heavy book, and a usual one
TOKEN = "bench-token-0123456789abcdef"
T0 = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)
LIVE_STATES = ["pending", "sized", "submitted", "filled", "protected", "trailing"]
ENDED_STATES = ["closed", "closed", "cancelled", "rejected"]


def _iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def build(path: Path, live_count: int) -> str:
    url = f"sqlite:///{path}"
    Store(url).close()  # the schema, as the daemon makes it
    conn = sqlite3.connect(path, isolation_level=None)
    plans, fills, journal = [], [], []
    for i in range(PLANS):
        live = i % (PLANS // live_count) == 0
        state = LIVE_STATES[i % len(LIVE_STATES)] if live else ENDED_STATES[i % len(ENDED_STATES)]
        filled = 100 if state in ("filled", "protected", "trailing", "closed") else 0
        exited = 100 if state == "closed" else 0
        pid = f"P{i:05d}-{'LIVE' if live else 'DONE'}"
        plans.append((pid, f"S{i % 50:02d}", "long", "limit", "100.00", "95.00", "110.00", "normal", "x", state,
                      200 if filled else 100, "500.00", "0.5", filled, "100.00" if filled else None, exited,
                      "108.00" if exited else None, "800.00" if exited else "0", "95.00", "95.00" if filled else None,
                      "110.00", _iso(i), _iso(i + 60), "a reason" if state in ("cancelled", "rejected") else None))
        if filled:
            fills.append((f"e-{i}", pid, "entry", 100, "100.00", _iso(i + 1), "1.00"))
            journal.append((pid, 1, "filled", "filled", "PriceUpdate", json.dumps({"price": "101.5"}), _iso(i + 2)))
        if exited:
            fills.append((f"x-{i}", pid, "target", 100, "108.00", _iso(i + 50), "1.00"))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO plans(id, symbol, side, entry_type, entry_price, stop_loss, take_profit, risk, spec_hash, state, "
        "quantity, risk_amount, portfolio_risk_pct, filled_qty, avg_entry_price, exited_qty, avg_exit_price, "
        "realized_pnl, stop_price, confirmed_stop_price, target_price, created_at, updated_at, reason, version, "
        "protected_stop_qty, protected_target_qty, trail_active, entry_done, cancel_requested, flattening) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,0,0,0,0,0,0)", plans)
    conn.executemany("INSERT INTO fills(exec_id, plan_id, leg, quantity, price, at, commission) VALUES (?,?,?,?,?,?,?)",
                     fills)
    conn.executemany("INSERT INTO journal(plan_id, seq, from_state, to_state, event, payload, at, recorded_at) "
                     "VALUES (?,?,?,?,?,?,?,?7)", journal)
    conn.executemany("INSERT INTO outbox(dedupe_key, plan_id, seq, kind, payload, created_at, attempts, sent_at) "
                     "VALUES (?,?,0,?,?,?,0,?)",
                     [(f"k{i}", f"P{i:05d}", "filled", "{}", _iso(i), _iso(i) if i % 7 else None) for i in range(2000)])
    conn.execute("COMMIT")
    conn.close()
    return url


class Server:
    def __init__(self, url: str) -> None:
        self.sock = bind("127.0.0.1", 0)
        port = int(self.sock.getsockname()[1])
        self.app = create_app(ConsoleSettings(store_url=url, port=port), token=TOKEN)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        for _ in range(1000):
            if self.server.started:
                break
            time.sleep(0.01)  # waiting for a thread to start in a benchmark, not a test
        self.base = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def sign_in(http: httpx.Client) -> None:
    nonce = re.search(r'name="login_nonce" value="([^"]+)"', http.get("/login").text)
    assert nonce, "no login form"
    assert http.post("/login", data={"login_nonce": nonce.group(1), "token": TOKEN}).status_code == 303


def bare_read(conn: sqlite3.Connection, statements: list[str]) -> tuple[float, int]:
    """The statements on a plain connection kept open (as the console keeps its own), tuples out."""
    start = time.perf_counter()
    rows = sum(len(conn.execute(sql).fetchall()) for sql in statements)
    return time.perf_counter() - start, rows


def recorder_costs(folder: Path) -> tuple[float, float]:
    conn = sqlite3.connect(folder / "prices.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(PRICE_DDL)
    rec = PriceRecorder(conn)
    n = 100_000
    start = time.perf_counter()
    for i in range(n):
        rec.price(f"S{i % 100:02d}", T0 + timedelta(seconds=i * 0.05), Decimal("100.25"))
    per_price = (time.perf_counter() - start) / n
    flushes = []
    for i in range(20):
        for s in range(100):
            rec.price(f"S{s:02d}", T0 + timedelta(minutes=200 + i), Decimal("101"))
        start = time.perf_counter()
        rec.flush()
        flushes.append(time.perf_counter() - start)
    conn.close()
    return per_price, statistics.median(flushes)


def scenario(folder: Path, live_count: int) -> float:
    """One store, the page against the bare read; prints the figures and returns the ratio."""
    path = folder / f"state-{live_count}.db"
    start = time.perf_counter()
    url = build(path, live_count)
    built = time.perf_counter() - start
    server = Server(url)
    try:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            sign_in(http)
            start = time.perf_counter()
            first = http.get("/")
            first_s = time.perf_counter() - start
            assert first.status_code == 200 and "P00000-LIVE" in first.text
            statements: list[str] = []
            store = server.app.state.console.store
            store.trace(statements.append)
            http.get("/")
            store.trace(None)
            bare = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            bare_read(bare, statements)  # warm, like the console's connection
            pages, bares, rows = [], [], 0
            for _ in range(ROUNDS):
                start = time.perf_counter()
                page = http.get("/")
                pages.append(time.perf_counter() - start)
                seconds, rows = bare_read(bare, statements)
                bares.append(seconds)
            bare.close()
    finally:
        server.stop()
    page_ms, bare_ms = statistics.median(pages) * 1000, statistics.median(bares) * 1000
    ratio = page_ms / bare_ms
    print(f"store: {PLANS:,} plans, {live_count:,} live (built in {built:.1f} s)")
    p90 = sorted(pages)[int(ROUNDS * 0.9)] * 1000
    print(f"  overview page over HTTP: median {page_ms:.1f} ms, p90 {p90:.1f} ms ({len(page.content) / 1024:.0f} KiB; "
          f"first request, opening and checking the file: {first_s * 1000:.0f} ms)")
    print(f"  bare sqlite3 read of the same rows: median {bare_ms:.2f} ms "
          f"({len(statements)} statements, {rows:,} rows)")
    print(f"  ratio: {ratio:.2f}x (target <= 3x): {'met' if ratio <= 3 else 'NOT met'}")
    return ratio


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        folder = Path(tmp)
        ratios = [scenario(folder, live) for live in SCENARIOS]
        per_price, flush = recorder_costs(folder)
    print(f"price recorder: {per_price * 1e6:.2f} us per price (in memory); flush of 100 symbols' bars "
          f"{flush * 1000:.2f} ms (one transaction)")
    return 0 if all(r <= 3 for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
