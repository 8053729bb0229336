"""``orchestrator run`` as a real process against the gateway as a real process."""

from __future__ import annotations

import io
import json
import signal
import textwrap
from pathlib import Path

import pytest

from orchestrator.bootstrap import check_account_mode
from orchestrator.cli import main as cli
from orchestrator.errors import AccountRefused
from orchestrator.store import Store

from ..procs import Control, Orchestrator, Proc
from .harness import PRICES, plan_toml


def _setup(tmp: Path, port: int, mode: str = "paper", plans: str | None = None) -> Path:
    (tmp / "plans").mkdir(exist_ok=True)
    (tmp / "plans" / "p.toml").write_text(plans if plans is not None else plan_toml("P"))
    cfg = tmp / "config.toml"
    cfg.write_text(textwrap.dedent(f"""\
        [broker]
        mode = "{mode}"
        port = {port}
        client_id = 3
        [store]
        url = "sqlite:///state.db"
        [plans]
        files = ["plans/*.toml"]
        [maintenance]
        windows = []
        """))
    return cfg


async def _gateway(tmp: Path, *extra: str) -> tuple[Proc, Control]:
    prices = tmp / "prices.csv"
    prices.write_text("symbol,price\n" + "".join(f"{s},{p}\n" for s, p in PRICES))
    gw = await Proc.start("--port", "0", "--tick-seconds", "0", "--prices", str(prices), "--control-port", "0",
                          "--journal", str(tmp / "journal.jsonl"), *extra)
    return gw, await Control.open(gw.control_port)


def _status(cfg: Path) -> dict[str, str]:
    buf = io.StringIO()
    assert cli(["status", "--json", "--config", str(cfg)], out=buf) == 0
    return {r["id"]: r["state"] for r in json.loads(buf.getvalue())}


async def test_sigterm_exits_0_and_leaves_protection_working(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path)
    try:
        cfg = _setup(tmp_path, gw.port)
        orch = await Orchestrator.start("run", "--config", str(cfg), cwd=tmp_path)
        await orch.wait_line("PROTECTED")
        rc, _out, err = await orch.finish(signal.SIGTERM)
        assert rc == 0, err
        assert _status(cfg) == {"P": "protected"}
        state = (await control("state"))["state"]
        working = [o for o in state["orders"] if str(o["order_ref"]).startswith("P:") and o["status"] == "Submitted"]
        assert sorted(o["order_type"] for o in working) == ["LMT", "STP"]
        # started again, it adopts the same orders and finishes the plan
        orch = await Orchestrator.start("run", "--exit-when-idle", "--config", str(cfg), cwd=tmp_path)
        await control("set_price", symbol="AAPL", price=189.5)
        await orch.wait_line("TAKE PROFIT")
        rc, _out, err = await orch.finish(timeout=30)
        assert rc == 0, err
        assert _status(cfg) == {"P": "closed"}
        placed = [json.loads(line)["order_ref"] for line in (tmp_path / "journal.jsonl").read_text().splitlines()
                  if json.loads(line)["event"] == "placed"]
        assert sorted(placed) == ["P:entry", "P:stop", "P:target"]
    finally:
        await control.close()
        await gw.stop()


async def test_cancel_command_reaches_a_running_orchestrator(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path)
    try:
        cfg = _setup(tmp_path, gw.port)
        orch = await Orchestrator.start("run", "--exit-when-idle", "--config", str(cfg), cwd=tmp_path)
        await orch.wait_line("PROTECTED")
        out = io.StringIO()
        assert cli(["cancel", "P", "--config", str(cfg)], out=out) == 0
        await orch.wait_line("EXIT: FLATTENED")
        rc, _out, err = await orch.finish(timeout=30)
        assert rc == 0, err
        assert _status(cfg) == {"P": "closed"}
        state = (await control("state"))["state"]
        assert not [o for o in state["orders"] if o["status"] in ("Submitted", "PreSubmitted")]
    finally:
        await control.close()
        await gw.stop()


async def test_paper_mode_refuses_a_live_account(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path, "--account", "U7654321")
    try:
        cfg = _setup(tmp_path, gw.port, mode="paper")
        orch = await Orchestrator.start("run", "--config", str(cfg), cwd=tmp_path)
        rc, _out, err = await orch.finish(timeout=30)
        assert rc == 2
        assert "live account" in err and "U7654321" in err
        assert "Traceback" not in err
        state = (await control("state"))["state"]
        assert state["orders"] == []
        assert not list(tmp_path.rglob("state.db*"))   # refused before anything: no empty state.db left
    finally:
        await control.close()
        await gw.stop()


async def test_a_refused_run_leaves_an_existing_state_db_alone(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path, "--account", "U7654321")
    try:
        cfg = _setup(tmp_path, gw.port, mode="paper")
        Store("sqlite:///" + str(tmp_path / "state.db")).close()   # made by an earlier run
        before = (tmp_path / "state.db").read_bytes()
        orch = await Orchestrator.start("run", "--config", str(cfg), cwd=tmp_path)
        rc, _out, _err = await orch.finish(timeout=30)
        assert rc == 2 and (tmp_path / "state.db").read_bytes() == before
    finally:
        await control.close()
        await gw.stop()


async def test_live_mode_refuses_a_paper_account(tmp_path: Path) -> None:
    gw, control = await _gateway(tmp_path)
    try:
        cfg = _setup(tmp_path, gw.port, mode="live")
        orch = await Orchestrator.start("run", "--config", str(cfg), cwd=tmp_path)
        rc, _out, err = await orch.finish(timeout=30)
        assert rc == 2 and "paper account" in err and "Traceback" not in err
        assert (await control("state"))["state"]["orders"] == []
        assert not list(tmp_path.rglob("state.db*"))
    finally:
        await control.close()
        await gw.stop()


@pytest.mark.parametrize(("mode", "account", "ok"), [
    ("paper", "DU123", True), ("paper", "U123", False), ("live", "U123", True), ("live", "DU123", False),
    ("live", "", False), ("sim", "anything", True)])
def test_account_mode_rules(mode: str, account: str, ok: bool) -> None:
    if ok:
        check_account_mode(mode, account)
    else:
        with pytest.raises(AccountRefused):
            check_account_mode(mode, account)
