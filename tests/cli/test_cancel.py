"""``cancel`` says what will happen: an ended plan is refused with its state, an unknown one with
the store named (exit 2, nothing written); otherwise it says whether a running daemon picks the
request up now, once connected, or at its next start. Real processes, real SQLite files, the
simulated gateway over TCP."""

from __future__ import annotations

import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.render import pickup
from orchestrator.store.lock import Holder, holder_of

from ..engine.harness import PRICES, plan_toml
from ..notify.helpers import until
from ..procs import Orchestrator, Proc
from .helpers import Silent, call, spawn, write_config

LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")


def _config(tmp: Path, port: int) -> Path:
    return write_config(tmp, port, client_id=4, files="plans/*.toml")


def _commands(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return [(r[0], r[1]) for r in conn.execute("SELECT plan_id, command FROM commands ORDER BY id")]
    finally:
        conn.close()


async def test_cancel_answers_from_the_store_and_the_daemon(tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("symbol,price\n" + "".join(f"{s},{p}\n" for s, p in PRICES))
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "p.toml").write_text(plan_toml("P") + plan_toml("LATER", "MSFT", entry_price=420.0,
                                                                          stop=410.0, target=440.0, start_at=LATER))
    db = tmp_path / "state.db"
    gw = await Proc.start("--port", "0", "--tick-seconds", "0", "--prices", str(prices))
    try:
        cfg = _config(tmp_path, gw.port)
        orch = await Orchestrator.start("run", "--config", str(cfg), cwd=tmp_path)
        await orch.wait_line("PROTECTED")
        rc, out, err = await spawn("cancel", "P", "--config", str(cfg), cwd=tmp_path)
        assert rc == 0, err
        assert out.startswith("cancel of P requested (command #1): its position of ")
        assert out.rstrip().endswith(f"; daemon pid {orch.proc.pid} is running: it picks the request up within "
                                     "a second")
        await orch.wait_line("EXIT: FLATTENED")

        rc, out, err = call("cancel", "P", "--config", str(cfg))
        assert (rc, out) == (2, "") and err == "orchestrator: plan P is closed (flatten); nothing to cancel\n"
        rc, out, err = call("cancel", "NOPE", "--config", str(cfg))
        assert (rc, out) == (2, "") and err == f"orchestrator: no plan 'NOPE' in {db}; nothing to cancel\n"
        assert _commands(db) == [("P", "cancel")]   # the refusals wrote nothing
        rc, _out, err = await orch.finish(signal.SIGTERM)
        assert rc == 0, err
    finally:
        await gw.stop()

    # no daemon: the request waits for the next start, and is not written twice
    rc, out, _ = await spawn("cancel", "LATER", "--config", str(cfg), cwd=tmp_path)
    assert rc == 0 and out == ("cancel of LATER requested (command #2): it never starts; no daemon is running on "
                               "this store: it is applied when `orchestrator run` starts\n")
    rc, out, _ = call("cancel", "LATER", "--config", str(cfg))
    assert rc == 0 and out.startswith("cancel of LATER already requested (command #2 at ")
    assert _commands(db) == [("P", "cancel"), ("LATER", "cancel")]

    # a daemon whose IB never answers the handshake holds the store but has not connected yet
    async with Silent() as silent:
        cfg = _config(tmp_path, silent.port)
        orch = await Orchestrator.start("run", "--config", str(cfg), cwd=tmp_path)
        await until(lambda: holder_of(db) is not None, timeout=20.0)
        rc, out, _ = call("status", "--config", str(cfg))
        assert out.splitlines()[0].startswith(f"daemon: starting, pid {orch.proc.pid} on ")
        rc, out, _ = call("cancel", "LATER", "--config", str(cfg))
        assert rc == 0 and out.rstrip().endswith(f"daemon pid {orch.proc.pid} is starting and not connected to IB "
                                                 "yet: it picks the request up once connected")
        rc, _out, err = await orch.finish(signal.SIGTERM)
        assert rc == 0, err


def test_pickup_for_a_daemon_that_stopped_answering() -> None:
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    holder = Holder(4242, "box", "2026-12-01T14:00:00+00:00")
    doc = {"pid": 4242, "started_at": "2026-12-01T14:00:00.5+00:00", "stopped_at": None, "connected": True,
           "heartbeat_at": (now - timedelta(seconds=40)).isoformat()}
    assert pickup(holder, doc, now) == ("daemon pid 4242 holds the store but its last heartbeat was 40 s ago "
                                        "(stopped or hung?): it is applied once it runs again")
    fresh = {**doc, "heartbeat_at": (now - timedelta(seconds=3)).isoformat()}
    assert pickup(holder, fresh, now) == "daemon pid 4242 is running: it picks the request up within a second"
    assert pickup(holder, {**fresh, "connected": False}, now) == (
        "daemon pid 4242 is running but not connected to IB: it picks the request up within a second and acts at "
        "IB once reconnected")
    # a kill -9 leaves a fresh-looking document but no lock: not running
    assert pickup(None, fresh, now).startswith("no daemon is running on this store")


def test_status_line_for_a_daemon_without_a_fresh_heartbeat() -> None:
    from orchestrator.render import daemon_line
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    holder = Holder(4242, "box", "2026-12-01T14:00:00+00:00")
    doc = {"started_at": "2026-12-01T14:00:00.5+00:00", "stopped_at": None, "connected": True, "ib_host": "127.0.0.1",
           "ib_port": 4002, "account": "DU1", "client_id": 7, "heartbeat_at": (now - timedelta(seconds=40)).isoformat()}
    assert daemon_line(holder, doc, now).startswith(
        "daemon: running, pid 4242 on box, running since 2026-12-01T14:00:00+00:00; NO HEARTBEAT for 40 s "
        "(stopped or hung?)")
    older = {**doc, "started_at": "2026-11-30T09:00:00+00:00", "stopped_at": "2026-11-30T20:00:00+00:00"}
    assert daemon_line(holder, older, now) == ("daemon: starting, pid 4242 on box, running since "
                                               "2026-12-01T14:00:00+00:00; not connected to IB yet")
