"""The performance changes behave exactly like the code they replaced (docs/benchmarks.md).

No timing is asserted here (speed is measured in bench/): only that each faster path gives
the same results: the JSON codec, the per-plan index of ib_async's trades and fills, the
background WAL checkpointer, and the plan-file rescan that skips unchanged files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import machines
from machines import PlanMachine
from orchestrator.broker.ib import IBBroker
from orchestrator.clock import FixedClock
from orchestrator.engine.intake import Intake, files_fingerprint
from orchestrator.engine.notices import Notices
from orchestrator.engine.step import apply_event
from orchestrator.planfile import Scan, scan
from orchestrator.store import Store, codec

from .factories import at, lifecycle_events, spec


# ---------------------------------------------------------------------- codec
def _reference_jsonable(value: Any) -> Any:
    """codec.jsonable before the per-type converter cache (verbatim)."""
    if isinstance(value, D):
        return str(value)
    if isinstance(value, datetime):
        return codec.iso(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _reference_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _reference_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_reference_jsonable(v) for v in value]
    return value


def _reference_dumps(value: Any) -> str:
    return json.dumps(_reference_jsonable(value), separators=(",", ":"), sort_keys=True)


def _samples() -> list[Any]:
    plan = machines.Plan(spec("C-1", trail=("1.0", "1.50")))
    m = PlanMachine()
    m.bind(plan)
    out: list[Any] = [plan.spec]
    for event in lifecycle_events():
        try:
            effects = m.step(plan, event)
        except machines.InvalidEvent:
            continue
        out.append(event)
        for e in effects:
            out.append(e)
            if isinstance(e, machines.Notify):
                out.append({"kind": e.kind, "plan_id": plan.id, "seq": 3, "facts": e.facts})
    out += [{1: "a", 2.5: [1, 2], "k": {"n": None, "t": True}}, (1, "x", 2.5), {3, 4}, frozenset({"z"}),
            [machines.State.CLOSED, machines.Leg.STOP], D("-0.00"), 1e300, "é\u2603",
            datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5))), {"spec": plan.spec}]
    return out


def test_dumps_is_byte_identical_to_the_reference() -> None:
    for value in _samples():
        assert codec.dumps(value) == _reference_dumps(value), value
    for bad in (object(), SimpleNamespace, {"x": object()}):
        with pytest.raises(TypeError):
            _reference_dumps(bad)
        with pytest.raises(TypeError):
            codec.dumps(bad)


def test_iso_fast_path_matches_astimezone() -> None:
    for dt in (datetime(2026, 11, 27, 14, 35, 1, 2, tzinfo=UTC),
               datetime(2026, 11, 27, 9, 35, tzinfo=timezone(timedelta(hours=-5)))):
        assert codec.iso(dt) == dt.astimezone(UTC).isoformat(timespec="microseconds")
    with pytest.raises(ValueError):
        codec.iso(datetime(2026, 11, 27, 14, 35))


# ---------------------------------------------------------------------- trades and fills by plan
def _trade(ref: str) -> Any:
    return SimpleNamespace(order=SimpleNamespace(orderRef=ref))


def _fill(ref: str) -> Any:
    return SimpleNamespace(execution=SimpleNamespace(orderRef=ref))


def _linear(broker: IBBroker, plan_id: str) -> list[Any]:
    """trades_of before the index (verbatim, over the same dict)."""
    out = []
    for trade in list(broker.ib.wrapper.trades.values()):
        ref = machines.parse_order_ref(trade.order.orderRef) if trade.order.orderRef else None
        if ref is not None and ref[0] == plan_id:
            out.append(trade)
    return out


def test_trades_of_matches_a_scan_through_adds_resets_and_ref_changes() -> None:
    broker = IBBroker("127.0.0.1", 1, 1, clock=FixedClock(at()), sink=lambda item: None)
    trades = broker.ib.wrapper.trades
    refs = ["A:entry", "B:entry", "A:stop", "", "A:target", "junk", "A:B:stop", "B:flatten:2", "A:stop:2"]
    plans = ("A", "B", "A:B", "C")
    for i, ref in enumerate(refs):
        trades[(1, i)] = _trade(ref)
        for pid in plans:
            assert broker.trades_of(pid) == _linear(broker, pid)
    trades[(1, 0)].order.orderRef = "C:entry"  # IB reported another orderRef for a known order
    assert broker.trades_of("A") == _linear(broker, "A")
    assert broker.trades_of("C") == _linear(broker, "C")
    broker.ib.wrapper.trades = {(1, 99): _trade("B:stop")}  # a new session (reset)
    for pid in plans:
        assert broker.trades_of(pid) == _linear(broker, pid)


def test_fills_of_groups_executions_by_plan_in_order() -> None:
    broker = IBBroker("127.0.0.1", 1, 1, clock=FixedClock(at()), sink=lambda item: None)
    fills = broker.ib.wrapper.fills
    for i, ref in enumerate(["A:entry", "B:entry", "A:stop", "A:entry"]):
        fills[f"x{i}"] = _fill(ref)
    assert broker.raw_fills_of("A") == [fills["x0"], fills["x2"], fills["x3"]]
    assert broker.raw_fills_of("B") == [fills["x1"]]
    assert broker.raw_fills_of("Z") == []


# ---------------------------------------------------------------------- WAL checkpoints
def test_checkpointer_keeps_the_wal_small_and_stops_with_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(f"sqlite:///{path}")
    m = PlanMachine()
    for i in range(60):
        plan = m.bind(store.insert_plan(spec(f"W-{i}"), at=at()))
        for event in lifecycle_events():
            try:
                apply_event(m, store, plan, event, now=at())
            except machines.InvalidEvent:
                pass
    assert store.checkpointer.checkpoints > 0
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 4000
    store.close()
    assert store.checkpointer._thread is None
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM journal").fetchone()[0] > 60 * 5
    db.close()


def test_no_checkpointer_thread_for_an_in_memory_database() -> None:
    store = Store("sqlite:///:memory:")
    try:
        for _ in range(250):
            store.checkpointer.committed()
        assert store.checkpointer._thread is None
    finally:
        store.close()
        Path(":memory:").unlink(missing_ok=True)  # open_engine creates the file of that name


# ---------------------------------------------------------------------- plan-file rescans
PLAN = """[[plans]]
id = "{id}"
symbol = "AAPL"
side = "long"
entry = "limit"
entry_price = 100.00
stop_loss = 90.00
take_profit = 130.00
risk = "small"
start_at = "2099-01-02T15:00:00+00:00"
"""


def test_rescan_skips_unchanged_files_and_sees_any_change(tmp_path: Path) -> None:
    files = tmp_path / "plans"
    files.mkdir()
    (files / "a.toml").write_text(PLAN.format(id="S-1"))
    calls: list[int] = []

    def counting_load(paths: list[Path]) -> Scan:
        calls.append(1)
        return scan(paths)
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    clock = FixedClock(at())
    adopted: dict[str, machines.Plan] = {}
    intake = Intake(lambda: sorted(files.glob("*.toml")), store, clock, Notices(store, clock),
                    lambda plan: adopted.__setitem__(plan.id, plan), load=counting_load)
    try:
        intake.rescan()
        intake.rescan()
        assert len(calls) == 1 and set(adopted) == {"S-1"}
        b = files / "b.toml"
        b.write_text(PLAN.format(id="S-2"))
        intake.rescan()
        assert len(calls) == 2 and set(adopted) == {"S-1", "S-2"}
        stat = b.stat()
        b.write_text(PLAN.format(id="S-3"))  # same size, same mtime: only the bytes differ
        os.utime(b, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        intake.rescan()
        assert len(calls) == 3 and set(adopted) == {"S-1", "S-2", "S-3"}
        b.unlink()
        intake.rescan()
        intake.rescan()
        assert len(calls) == 4
    finally:
        store.close()
    assert files_fingerprint([files / "missing.toml"]) is None
