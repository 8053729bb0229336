"""What every benchmark shares: figures, percentiles, plan specs and the raw-sqlite3 baseline."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from machines import EntryType, PlanSpec, RiskCategory, Side

FAR_FUTURE = datetime(2099, 1, 2, 15, 0, tzinfo=UTC)


@dataclass
class Figure:
    """One line of the results table (and one object of bench/results.json)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None  # the same work done the cheapest way, in the same run
    target: str = ""  # e.g. "<= 5 ms", "ratio >= 0.5"; empty: reported, no target
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]

    def check(self, op: str, limit: float, on: str = "value") -> Figure:
        """Set ``target``/``met``: ``op`` is "<=" or ">=", applied to the value or the ratio."""
        got = self.value if on == "value" else self.ratio
        self.target = f"{'ratio ' if on == 'ratio' else ''}{op} {limit:g}{'' if on == 'ratio' else ' ' + self.unit}"
        self.met = got is not None and (got <= limit if op == "<=" else got >= limit)
        return self

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        out["value"] = float(f"{self.value:.6g}")   # six significant digits, whatever the unit
        if self.baseline is not None:
            out["baseline"] = float(f"{self.baseline:.6g}")
        order = ["name", "value", "unit", "baseline", "ratio", "target", "met", "note"]
        return {k: out[k] for k in order}


def pct(samples: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def spec(plan_id: str, *, symbol: str = "AAPL", entry_type: EntryType = EntryType.LIMIT, entry: str = "100.00",
         stop: str = "50.00", target: str = "200.00", risk: RiskCategory = RiskCategory.SMALL,
         trail: tuple[str, str] | None = None, start_at: datetime | None = None,
         expire_at: datetime | None = None) -> PlanSpec:
    return PlanSpec(plan_id, symbol, Side.LONG, entry_type, Decimal(entry), Decimal(stop), Decimal(target), risk,
                    start_at=start_at, expire_at=expire_at,
                    trail_trigger_r=Decimal(trail[0]) if trail else None,
                    trail_distance=Decimal(trail[1]) if trail else None)


def utc(seconds_from_now: float = 0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds_from_now)


def parse_ts(text: str) -> float:
    """An ISO 8601 UTC time (the gateway journal, state.db) as epoch seconds."""
    return datetime.fromisoformat(text).timestamp()


# ---------------------------------------------------------------------- the raw sqlite3 baseline
class RawCommits:
    """The cheapest possible commit of the rows a transition writes, on the store's own schema.

    One transaction = the plan row UPDATE (the columns an entry fill changes, optimistic version
    check), one journal INSERT and one outbox INSERT, with payloads the size the store writes,
    through the sqlite3 module with the store's settings: WAL, synchronous=NORMAL, BEGIN
    IMMEDIATE, the same backstop wal_autocheckpoint and the same background checkpointer.
    """

    def __init__(self, path: Path, plans: int = 100) -> None:
        from machines import Plan
        from orchestrator.store import Store
        from orchestrator.store.checkpoint import Checkpointer
        from orchestrator.store.db import WAL_AUTOCHECKPOINT_PAGES
        from orchestrator.store.plans import _changed_update

        store = Store(f"sqlite:///{path}")  # the real schema, migrations and indexes
        now = utc()
        self.ids = [f"RAW-{i}" for i in range(plans)]
        for pid in self.ids:
            store.insert_plan(spec(pid), at=now)
        store.close()
        self.version = dict.fromkeys(self.ids, 0)
        self.db = sqlite3.connect(path, isolation_level=None)
        for p in ("journal_mode=WAL", f"wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}", "synchronous=NORMAL",
                  "busy_timeout=5000", "foreign_keys=ON"):
            self.db.execute(f"PRAGMA {p}")
        self.checkpointer = Checkpointer(str(path))
        submitted = Plan(spec("RAW"), "submitted", quantity=1250, risk_amount=Decimal("62500.00"),
                         portfolio_risk_pct=Decimal("0.01"))
        filled = Plan(spec("RAW"), "filled", quantity=1250, filled_qty=1250, avg_entry_price=Decimal("100.00"),
                      best_price=Decimal("100.00"), risk_amount=Decimal("62500.00"),
                      portfolio_risk_pct=Decimal("0.01"))
        # what the store writes for a fill: only the figures that changed
        self.update_sql, self.figures = _changed_update(filled, submitted.figures())
        now = now.isoformat()
        self.event_payload = json.dumps({"type": "EntryFilled", "at": now, "exec_id": "0001f4e8.65a1b2c3.01.01",
                                         "quantity": 1250, "price": "100.00"})
        facts = {f"k{i}": "180.00" for i in range(20)}  # a notification's ~20 facts
        self.outbox_payload = json.dumps({"kind": "filled", "from_state": "submitted", "to_state": "filled",
                                          "plan_id": "RAW-0", "seq": 1, "facts": facts})

    def commit(self, i: int) -> None:
        pid = self.ids[i % len(self.ids)]
        version = self.version[pid]
        seq = version + 1
        now = datetime.now(UTC).isoformat()
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute(self.update_sql, ["filled", seq, now, *self.figures, pid, version])
        db.execute("INSERT INTO journal(plan_id, seq, from_state, to_state, event, payload, at, recorded_at) "
                   "VALUES (?,?,?,?,?,?,?,?)", (pid, seq, "submitted", "filled", "EntryFilled", self.event_payload,
                                                now, now))
        db.execute("INSERT INTO outbox(dedupe_key, plan_id, seq, kind, payload, created_at, attempts) "
                   "VALUES (?,?,?,?,?,?,0)", (f"{pid}:{seq}:1", pid, seq, "filled", self.outbox_payload, now))
        db.execute("COMMIT")
        self.checkpointer.committed()
        self.version[pid] = seq

    def latencies(self, n: int) -> list[float]:
        """Seconds per commit, ``n`` commits one after another."""
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            self.commit(i)
            out.append(time.perf_counter() - t0)
        return out

    def per_second(self, seconds: float) -> float:
        """Commits per second sustained for ``seconds``."""
        n, t0 = 0, time.perf_counter()
        deadline = t0 + seconds
        while True:
            for _ in range(200):
                self.commit(n)
                n += 1
            now = time.perf_counter()
            if now >= deadline:
                return n / (now - t0)

    def close(self) -> None:
        self.checkpointer.close()
        self.db.close()
