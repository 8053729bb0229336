"""A ``plans.files`` pattern that matches nothing is said: in the daemon's log at start (before it
connects), once as a notification, and in ``status``, computed from the config file's folder as
the daemon computes it."""

from __future__ import annotations

import io
import json
import signal
import sqlite3
from pathlib import Path

from orchestrator.cli import main as cli

from ..engine.harness import PRICES
from ..procs import Orchestrator, Proc
from .helpers import call, spawn, write_config

WARNING = "plans.files matches no file: plan/*.toml (relative to {base}, the config file's folder); " \
          "no plan is loaded from it"


def _config(tmp: Path, port: int = 1) -> Path:
    (tmp / "plans").mkdir(exist_ok=True)   # the folder exists; the config names another ("plan/")
    return write_config(tmp, port, files="plan/*.toml")


async def test_status_names_the_pattern_without_a_daemon_or_a_store(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rc, out, err = await spawn("status", "--config", str(cfg), cwd=elsewhere)   # from another folder
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "warning: " + WARNING.format(base=tmp_path)
    assert lines[1].startswith("no plans yet: ")
    rc, out, _ = call("status", "--json", "--config", str(cfg))
    assert (rc, out) == (0, "[]\n")   # the JSON stays a JSON array


async def test_status_without_a_config_file_says_defaults_are_in_use(tmp_path: Path) -> None:
    rc, out, _ = await spawn("status", cwd=tmp_path)
    assert rc == 0
    assert out.splitlines()[:2] == [
        f"config: no config file ({tmp_path / 'config.toml'} does not exist); defaults in use",
        f"warning: plans.files matches no file: plans/*.toml (relative to {tmp_path}, the current folder: "
        "no config file); no plan is loaded from it"]


async def test_the_daemon_warns_at_start_and_notifies_once(tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("symbol,price\n" + "".join(f"{s},{p}\n" for s, p in PRICES))
    gw = await Proc.start("--port", "0", "--tick-seconds", "0", "--prices", str(prices))
    try:
        cfg = _config(tmp_path, gw.port)
        orch = await Orchestrator.start("run", "--config", str(cfg), cwd=tmp_path)
        await orch.wait_line("NO PLAN FILES FOUND")
        buf = io.StringIO()
        assert cli(["status", "--config", str(cfg)], out=buf) == 0
        assert "warning: " + WARNING.format(base=tmp_path) in buf.getvalue().splitlines()
        rc, out, err = await orch.finish(signal.SIGTERM)
        assert rc == 0, err
        log = err.splitlines()
        warned = [i for i, line in enumerate(log) if line.endswith("WARNING orchestrator.bootstrap: "
                                                                   + WARNING.format(base=tmp_path))]
        connected = [i for i, line in enumerate(log) if "orchestrator.startup: connected to IB" in line]
        assert len(warned) == 1 and connected and warned[0] < connected[0]   # said before it connected
        assert out.count("NO PLAN FILES FOUND") == 1
        db = sqlite3.connect(tmp_path / "state.db")
        rows = db.execute("SELECT payload FROM outbox WHERE kind='plan_files_missing'").fetchall()
        db.close()
        assert len(rows) == 1 and json.loads(rows[0][0])["facts"]["message"] == WARNING.format(base=tmp_path)
    finally:
        await gw.stop()
