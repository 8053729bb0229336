"""The store on real SQLite files: pragmas, one-transaction steps, rollback, schema guards."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import machines
from machines import PlanMachine, State
from orchestrator.engine.step import apply_event
from orchestrator.errors import SchemaTooNew, StoreCorrupt, StoreMissing
from orchestrator.store import SCHEMA_VERSION, StaleWrite, Store, open_engine

from .factories import at, lifecycle_events, spec


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def store(db_url: str):
    s = Store(db_url)
    yield s
    s.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_connection_pragmas_and_owner_only_file(store: Store, tmp_path: Path) -> None:
    db = store.db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    mode = stat.S_IMODE(os.stat(tmp_path / "state.db").st_mode)
    assert mode == 0o600
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_lifecycle_commits_state_journal_fills_effects_and_outbox(store: Store) -> None:
    machine = PlanMachine()
    plan = machine.bind(store.insert_plan(spec(trail=("1", "2.00")), at=at(0), source_file="plans/a.toml"))
    for event in lifecycle_events():
        apply_event(machine, store, plan, event, now=event.at)
    assert plan.state == State.CLOSED

    stored = store.load_plan(plan.id)
    assert stored is not None
    assert stored.state == State.CLOSED
    assert stored.figures() == plan.figures()
    assert stored.seen_exec_ids == {"e-1", "e-2", "x-1"}

    journal = store.db.execute("SELECT seq, from_state, to_state, event FROM journal WHERE plan_id=? ORDER BY seq",
                               (plan.id,)).fetchall()
    assert [tuple(r) for r in journal] == [
        (0, None, "pending", "PlanLoaded"),
        (1, "pending", "sized", "Activate"),
        (2, "sized", "submitted", "EntryAccepted"),
        (3, "submitted", "filled", "EntryFilled"),
        (4, "filled", "filled", "EntryFilled"),  # the second fill (the replayed first one made no row)
        (5, "filled", "protected", "ProtectionStatus"),
        (6, "protected", "trailing", "PriceUpdate"),
        (7, "trailing", "trailing", "StopModified"),
        (8, "trailing", "closed", "ExitFilled"),
    ]
    fills = store.db.execute("SELECT exec_id, leg, quantity, price FROM fills ORDER BY exec_id").fetchall()
    assert [tuple(r) for r in fills] == [("e-1", "entry", 200, "180.00"), ("e-2", "entry", 300, "180.10"),
                                         ("x-1", "stop", 500, "184.00")]
    kinds = [r[0] for r in store.db.execute("SELECT kind FROM effects ORDER BY id")]
    assert kinds == ["PlaceBracket", "Protect", "Protect", "ModifyStop", "CancelExits"]
    notices = [r[0] for r in store.db.execute("SELECT kind FROM outbox ORDER BY id")]
    # the trail sent, then the stop IB confirmed
    assert notices == ["sized", "submitted", "filled", "filled", "protected", "trailing", "trailing", "trailing_stop"]
    keys = [r[0] for r in store.db.execute("SELECT dedupe_key FROM outbox")]
    assert len(keys) == len(set(keys))


def test_pending_effects_round_trip_and_mark_done(store: Store) -> None:
    machine = PlanMachine()
    plan = machine.bind(store.insert_plan(spec(), at=at(0)))
    step = apply_event(machine, store, plan, lifecycle_events()[0], now=at(1))
    pending = store.pending_effects()
    assert [p.effect for p in pending] == [e for e in step.effects if not isinstance(e, machines.Notify)]
    assert [(p.id, p.effect) for p in pending] == step.broker
    store.mark_effect_done(pending[0].id, at=at(2))
    assert store.pending_effects() == []


def test_failed_commit_writes_nothing_and_rolls_the_plan_back(store: Store) -> None:
    machine = PlanMachine()
    plan = machine.bind(store.insert_plan(spec(), at=at(0)))
    apply_event(machine, store, plan, lifecycle_events()[0], now=at(1))
    # A real SQLite failure inside the transaction: the outbox insert aborts.
    store.db.execute("CREATE TRIGGER boom BEFORE INSERT ON outbox WHEN NEW.kind = 'submitted' "
                     "BEGIN SELECT RAISE(ABORT, 'disk said no'); END")
    before = plan.snapshot()
    counts = [store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("journal", "effects", "outbox")]
    with pytest.raises(sqlite3.IntegrityError, match="disk said no"):
        apply_event(machine, store, plan, machines.EntryAccepted(at(2), 1, 2), now=at(2))
    assert plan.snapshot() == before
    assert plan.state == State.SIZED
    tables = ("journal", "effects", "outbox")
    assert [store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables] == counts
    row = store.db.execute("SELECT state, version FROM plans WHERE id=?", (plan.id,)).fetchone()
    assert tuple(row) == ("sized", 1)
    store.db.execute("DROP TRIGGER boom")
    apply_event(machine, store, plan, machines.EntryAccepted(at(3), 1, 2), now=at(3))
    assert store.load_plan(plan.id).state == State.SUBMITTED  # type: ignore[union-attr]


def test_stale_version_is_refused(store: Store) -> None:
    machine = PlanMachine()
    plan = machine.bind(store.insert_plan(spec(), at=at(0)))
    other = machine.bind(store.load_plan(plan.id))  # type: ignore[arg-type]
    apply_event(machine, store, plan, lifecycle_events()[0], now=at(1))
    with pytest.raises(StaleWrite):
        apply_event(machine, store, other, machines.CancelRequested(at(2)), now=at(2))
    assert other.state == State.PENDING
    assert store.load_plan(plan.id).state == State.SIZED  # type: ignore[union-attr]


def test_duplicate_plan_id_is_refused(store: Store) -> None:
    store.insert_plan(spec(), at=at(0))
    with pytest.raises(Exception, match="already exists"):
        store.insert_plan(spec(), at=at(1))


def test_newer_schema_is_refused_and_left_untouched(db_url: str, tmp_path: Path) -> None:
    Store(db_url).close()
    path = tmp_path / "state.db"
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    before = _sha(path)
    with pytest.raises(SchemaTooNew, match="newer"):
        Store(db_url)
    assert _sha(path) == before


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_corrupt_file_is_reported_and_never_overwritten(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with pytest.raises(StoreCorrupt, match="cannot read|not an orchestrator"):
        Store(f"sqlite:///{path}")
    assert path.read_bytes() == content


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers(id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StoreCorrupt, match="not an orchestrator state database"):
        Store(f"sqlite:///{path}")


def test_read_only_open_of_missing_file_creates_nothing(tmp_path: Path) -> None:
    from orchestrator.store.read import open_readonly
    for open_it in (lambda url: open_readonly(url), lambda url: open_engine(url, create=False)):
        with pytest.raises(StoreMissing):
            open_it(f"sqlite:///{tmp_path / 'none.db'}")
        assert not (tmp_path / "none.db").exists()


def test_reopen_keeps_everything(db_url: str) -> None:
    s = Store(db_url)
    machine = PlanMachine()
    plan = machine.bind(s.insert_plan(spec(), at=at(0)))
    for e in lifecycle_events()[:3]:
        apply_event(machine, s, plan, e, now=e.at)
    s.close()
    s2 = Store(db_url)
    (again,) = s2.load_plans(machines.LIVE_STATES)
    assert again.state == plan.state and again.figures() == plan.figures() and again.version == plan.version
    s2.close()


WRITER = r"""
import sys
from decimal import Decimal as D
import machines
from machines import PlanMachine
from orchestrator.store import Store
from orchestrator.engine.step import apply_event
from tests.orchestrator.factories import at, spec
store = Store(sys.argv[1]); m = PlanMachine()
plans = [m.bind(store.insert_plan(spec(f"P{i}"), at=at(0))) for i in range(int(sys.argv[2]))]
print("ready", flush=True)
sys.stdin.readline()
for i, p in enumerate(plans):
    apply_event(m, store, p, machines.Activate(at(1), D(10**9), D(10**9), D(0), market_price=D("180.00")), now=at(1))
    for k in range(20):
        apply_event(m, store, p, machines.PriceUpdate(at(2 + k), D(180)), now=at(2 + k))
print("done", flush=True)
"""


def test_status_reads_while_another_process_writes(db_url: str, tmp_path: Path) -> None:
    import io
    import json

    from orchestrator.cli import main

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[store]\nurl = "{db_url}"\n')
    with subprocess.Popen([sys.executable, "-c", WRITER, db_url, "40"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2]) as writer:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "ready"
        writer.stdin.write("go\n")
        writer.stdin.flush()
        reads = 0
        while writer.poll() is None or reads < 3:
            buf = io.StringIO()
            assert main(["status", "--json", "--config", str(cfg)], out=buf) == 0
            rows = json.loads(buf.getvalue())
            assert len(rows) == 40
            assert {r["state"] for r in rows} <= {"pending", "sized"}
            reads += 1
        assert writer.stdout.readline().strip() == "done"
        writer.stdin.close()
    assert writer.returncode == 0
    assert reads >= 3


def test_every_declared_field_of_a_plan_has_its_column(db_url: str) -> None:
    """The plan's fields are declared once (PlanSpec, the figures of Plan): a field without a
    column (a migration forgotten) fails here, not at the first write."""
    import dataclasses

    s = Store(db_url)
    try:
        columns = {r[1] for r in s.db.execute("PRAGMA table_info(plans)")}
    finally:
        s.close()
    declared = {f.name for f in dataclasses.fields(machines.PlanSpec)} | set(machines.FIGURES)
    assert declared <= columns, sorted(declared - columns)
