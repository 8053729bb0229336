"""One owner per store, as real processes against the gateway as a real process. Every verdict
is read from the gateway's own state (all clients): its working orders and its positions."""

from __future__ import annotations

import json
import shutil
import signal
import textwrap
from pathlib import Path
from typing import Any

from ..procs import Control, Orchestrator, Proc
from .harness import PRICES, plan_toml

WORKING = ("PreSubmitted", "Submitted")


def _config(tmp: Path, port: int, *, client_id: int = 3, name: str = "config.toml", store: str = "state.db",
            prefix: str = "") -> Path:
    (tmp / "plans").mkdir(exist_ok=True)
    cfg = tmp / name
    cfg.write_text(textwrap.dedent(f"""\
        [broker]
        mode = "paper"
        port = {port}
        client_id = {client_id}
        order_ref_prefix = "{prefix}"
        [store]
        url = "sqlite:///{store}"
        [plans]
        files = ["plans/*.toml"]
        rescan_seconds = 0.2
        [trailing]
        interval_seconds = 0.2
        [maintenance]
        windows = []
        """))
    return cfg


async def _gateway(tmp: Path, *extra: str) -> tuple[Proc, Control]:
    prices = tmp / "prices.csv"
    prices.write_text("symbol,price\n" + "".join(f"{s},{p}\n" for s, p in PRICES))
    gw = await Proc.start("--port", "0", "--tick-seconds", "0", "--prices", str(prices), "--control-port", "0",
                          *extra)
    return gw, await Control.open(gw.control_port)


async def _truth(control: Control) -> dict[str, Any]:
    """Exit orders working at the gateway per orderRef prefix, and positions per symbol."""
    state: Any = (await control("state"))["state"]
    exits: dict[str, int] = {}
    for o in state["orders"]:
        ref = o["order_ref"] or ""
        if o["status"] in WORKING and (":stop" in ref or ":target" in ref):
            leg = ref.split(":")[1]
            exits[leg] = exits.get(leg, 0) + int(o["quantity"] - o["filled"])
    return {"exits": exits, "positions": {p["symbol"]: p["quantity"] for p in state["positions"] if p["quantity"]},
            "orders": state["orders"]}


async def _run(tmp: Path, cfg: Path, *args: str) -> Orchestrator:
    return await Orchestrator.start("run", "--config", str(cfg), *args, cwd=tmp)


async def _protected(tmp: Path, cfg: Path) -> Orchestrator:
    orch = await _run(tmp, cfg)
    await orch.wait_line("PROTECTED")
    return orch


async def test_a_second_daemon_on_the_same_store_exits_2_at_once_and_the_first_keeps_the_only_exits(
        tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path)
    try:
        (tmp_path / "plans").mkdir()
        (tmp_path / "plans" / "p.toml").write_text(plan_toml("P"))
        first = await _protected(tmp_path, _config(tmp_path, gw.port))
        # another config file, another client id, the same database file named another way
        other = _config(tmp_path, gw.port, client_id=4, name="other.toml", store=str(tmp_path / "." / "state.db"))
        second = await _run(tmp_path, other)
        rc, _out, err = await second.finish(timeout=15)
        assert rc == 2, err
        (line,) = [ln for ln in err.splitlines() if ln.startswith("orchestrator:")]
        assert f"{tmp_path}" in line and f"pid {first.proc.pid}" in line and "running since" in line
        truth = await _truth(control)
        assert truth["exits"] == {"stop": 221, "target": 221} and truth["positions"] == {"AAPL": 221}
        status = await Orchestrator.start("status", "--config", str(other), cwd=tmp_path)
        rc, out, _err = await status.finish()
        assert rc == 0 and f"daemon: running, pid {first.proc.pid}" in out
        rc, _out, err = await first.finish(signal.SIGTERM)
        assert rc == 0, err
    finally:
        await control.close()
        await gw.stop()


async def test_the_lock_dies_with_a_killed_daemon(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path)
    try:
        (tmp_path / "plans").mkdir()
        (tmp_path / "plans" / "p.toml").write_text(plan_toml("P"))
        cfg = _config(tmp_path, gw.port)
        first = await _protected(tmp_path, cfg)
        await first.finish(signal.SIGKILL)
        again = await _run(tmp_path, cfg)
        await again.wait_line("ORCHESTRATOR STARTED")
        assert (await _truth(control))["exits"] == {"stop": 221, "target": 221}
        rc, _out, err = await again.finish(signal.SIGTERM)
        assert rc == 0, err
    finally:
        await control.close()
        await gw.stop()


async def test_another_client_id_is_refused_while_orders_work_and_accepted_once_none_do(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path)
    try:
        (tmp_path / "plans").mkdir()
        (tmp_path / "plans" / "p.toml").write_text(plan_toml("P"))
        orch = await _protected(tmp_path, _config(tmp_path, gw.port, client_id=3))
        await orch.finish(signal.SIGTERM)
        moved = await _run(tmp_path, _config(tmp_path, gw.port, client_id=4))
        rc, _out, err = await moved.finish(timeout=15)
        assert rc == 2 and "client 3 placed" in err and "set broker.client_id = 3 again" in err, err
        assert (await _truth(control))["exits"] == {"stop": 221, "target": 221}    # never a second exit
        # back on client 3 the plan runs to its end; then client 4 is accepted and recorded
        orch = await _run(tmp_path, _config(tmp_path, gw.port, client_id=3))
        await orch.wait_line("ORCHESTRATOR STARTED")
        await control("set_price", symbol="AAPL", price=189.5)
        await orch.wait_line("TAKE PROFIT")
        await orch.finish(signal.SIGTERM)
        moved = await _run(tmp_path, _config(tmp_path, gw.port, client_id=4))
        await moved.wait_line("ORCHESTRATOR STARTED")
        rc, _out, err = await moved.finish(signal.SIGTERM)
        assert rc == 0, err
        truth = await _truth(control)
        assert truth["exits"] == {} and truth["positions"] == {}
    finally:
        await control.close()
        await gw.stop()


async def test_another_account_is_refused_naming_both(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path, "--account", "DU1111111")
    other_gw, other_control = await _gateway(tmp_path, "--account", "DU2222222")
    try:
        (tmp_path / "plans").mkdir()
        (tmp_path / "plans" / "p.toml").write_text(plan_toml("P"))
        orch = await _protected(tmp_path, _config(tmp_path, gw.port))
        await orch.finish(signal.SIGTERM)
        before = (tmp_path / "state.db").read_bytes()
        wrong = await _run(tmp_path, _config(tmp_path, other_gw.port))
        rc, _out, err = await wrong.finish(timeout=15)
        assert rc == 2 and "DU1111111" in err and "DU2222222" in err, err
        assert (tmp_path / "state.db").read_bytes() == before
        assert (await _truth(other_control))["orders"] == []
    finally:
        for c, g in ((control, gw), (other_control, other_gw)):
            await c.close()
            await g.stop()


async def test_a_deleted_store_with_an_open_position_is_refused_then_adopted(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path)
    try:
        (tmp_path / "plans").mkdir()
        (tmp_path / "plans" / "p.toml").write_text(plan_toml("P"))
        cfg = _config(tmp_path, gw.port)
        orch = await _protected(tmp_path, cfg)
        await orch.finish(signal.SIGTERM)
        (tmp_path / "old").mkdir()
        for f in tmp_path.glob("state.db*"):
            shutil.move(str(f), tmp_path / "old" / f.name)     # "start fresh"
        fresh = await _run(tmp_path, cfg)
        rc, _out, err = await fresh.finish(timeout=15)
        assert rc == 2 and "does not know plans" in err and "P (" in err and "--adopt-existing" in err, err
        assert not (tmp_path / "state.db").exists()                               # nothing written
        assert (await _truth(control))["positions"] == {"AAPL": 221}             # nothing sold
        adopted = await _run(tmp_path, cfg, "--adopt-existing")
        await adopted.wait_line("ADOPTED FROM IB")
        await adopted.wait_line("PROTECTED")
        truth = await _truth(control)
        assert truth["exits"] == {"stop": 221, "target": 221} and truth["positions"] == {"AAPL": 221}
        await control("set_price", symbol="AAPL", price=189.5)
        await adopted.wait_line("TAKE PROFIT")
        rc, _out, err = await adopted.finish(signal.SIGTERM)
        assert rc == 0, err
        truth = await _truth(control)
        assert truth["positions"] == {} and truth["exits"] == {}
        rows = json.loads((await (await Orchestrator.start("status", "--json", "--config", str(cfg),
                                                            cwd=tmp_path)).finish())[1])
        assert [(r["id"], r["state"], r["filled_quantity"], r["exited_quantity"]) for r in rows] == \
            [("P", "closed", 221, 221)]
    finally:
        await control.close()
        await gw.stop()


async def test_a_deleted_store_with_a_working_entry_can_be_left_alone_for_good(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path)
    try:
        (tmp_path / "plans").mkdir()
        (tmp_path / "plans" / "p.toml").write_text(plan_toml("W", entry="limit", entry_price=170.00, stop=160.00,
                                                             target=190.00))
        cfg = _config(tmp_path, gw.port, prefix="orcA")
        orch = await _run(tmp_path, cfg)
        await orch.wait_line("ORDER SUBMITTED")
        await orch.finish(signal.SIGTERM)
        for f in tmp_path.glob("state.db*"):
            f.unlink()
        left = await _run(tmp_path, cfg, "--ignore-existing")
        await left.wait_line("ORCHESTRATOR STARTED")
        await left.wait_line("is not run: IB holds history")
        rc, _out, err = await left.finish(signal.SIGTERM)
        assert rc == 0, err
        entries = [o for o in (await _truth(control))["orders"] if o["order_ref"] == "orcA/W:entry"]
        assert [o["status"] for o in entries] == ["Submitted"]                  # untouched, still working
        again = await _run(tmp_path, cfg)                                         # the choice is kept
        await again.wait_line("ORCHESTRATOR STARTED")
        rc, _out, err = await again.finish(signal.SIGTERM)
        assert rc == 0, err
    finally:
        await control.close()
        await gw.stop()
