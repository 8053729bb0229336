"""The daemon's log says what it uses and what happens to the connection: a start line (config,
mode, IB host:port, client id, store) before connecting, the account and plans once connected,
why a connection failed (a port that never completes the API handshake, a closed port), the
reconnect, and why it stopped; ib_async's per-retry ERROR lines are gone."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

from ..engine.harness import PRICES, plan_toml
from ..procs import Orchestrator, Proc
from .helpers import Silent, write_config


def _config(tmp: Path, port: int) -> Path:
    (tmp / "plans").mkdir(exist_ok=True)
    (tmp / "plans" / "p.toml").write_text(plan_toml("LATER", start_at="2099-01-02T10:00:00-05:00"))
    return write_config(tmp, port, client_id=9)


def _start_line(tmp: Path, port: int) -> str:
    return (f"config {tmp / 'config.toml'}, mode paper, IB 127.0.0.1:{port}, client id 9, store {tmp / 'state.db'}, "
            f"plans.files {tmp / 'plans' / '*.toml'}")


async def _stop(orch: Orchestrator) -> list[str]:
    rc, _out, err = await orch.finish(signal.SIGTERM)
    assert rc == 0, err
    lines = err.splitlines()
    assert not [line for line in lines if " ERROR " in line], lines
    assert any(line.endswith("INFO orchestrator.bootstrap: SIGTERM received: stopping (the current step finishes; "
                             "IB keeps the protective orders working)") for line in lines)
    assert lines[-1].endswith("INFO orchestrator.bootstrap: stopped (SIGTERM)") or \
        lines[-1].endswith("stopped (SIGTERM); the unused state.db it created is removed"), lines[-3:]
    return lines


async def test_a_port_that_never_answers_the_handshake_is_named_as_such(tmp_path: Path) -> None:
    async with Silent() as silent:
        orch = await Orchestrator.start("run", "--config", str(_config(tmp_path, silent.port)), cwd=tmp_path)
        first = await orch.wait_err(re.escape("orchestrator.bootstrap: starting (pid "))
        assert first.endswith(f"(pid {orch.proc.pid}): {_start_line(tmp_path, silent.port)}")
        failed = await orch.wait_err(re.escape("cannot connect to IB"))
        assert failed.endswith(
            f"WARNING orchestrator.broker.ib: cannot connect to IB (clientId 9): connected to 127.0.0.1:{silent.port} "
            "but the API handshake did not complete within 4 s: is the API enabled (Enable ActiveX and Socket "
            "Clients), is this the right port, is the gateway logged in?; retrying in 0.2s")
        lines = await _stop(orch)
    assert not [line for line in lines if "API connection failed" in line]


async def test_a_closed_port_is_named_as_such(tmp_path: Path) -> None:
    with socket.socket() as s:   # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        orch = await Orchestrator.start("run", "--config", str(_config(tmp_path, port)), cwd=tmp_path)
        failed = await orch.wait_err(re.escape("cannot connect to IB"))
        assert f"nothing listens on 127.0.0.1:{port} (connection refused): is IB Gateway or TWS running, " \
               f"and is {port} its API port?" in failed
        await _stop(orch)


async def test_connected_reconnected_and_stopped_lines(tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("symbol,price\n" + "".join(f"{s},{p}\n" for s, p in PRICES))
    gw = await Proc.start("--port", "0", "--tick-seconds", "0", "--prices", str(prices))
    port = gw.port
    orch = await Orchestrator.start("run", "--config", str(_config(tmp_path, port)), cwd=tmp_path)
    try:
        connected = await orch.wait_err(re.escape("orchestrator.startup: connected to IB"))
        assert f"connected to IB at 127.0.0.1:{port} as account DU" in connected and "client id 9" in connected
        running = await orch.wait_err(re.escape("orchestrator.bootstrap: running: "))
        assert running.split("running: ", 1)[1].startswith("account DU") and running.endswith("1 live plan(s)")
        await gw.stop(signal.SIGKILL)   # the gateway dies (its nightly restart, a crash) and comes back
        await orch.wait_err(re.escape("IB connection lost; reconnecting"))
        gw = await Proc.start("--port", str(port), "--tick-seconds", "0", "--prices", str(prices))
        await orch.wait_line("IB CONNECTION RESTORED")
        restored = await orch.wait_err(re.escape("connection_restored: IB connection restored (reconnected)"))
        assert " INFO " in restored
        lines = await _stop(orch)
        dropped = [line for line in lines if "Peer closed connection" in line]
        assert all(" INFO ib_async.client" in line for line in dropped), dropped
    finally:
        await gw.stop()
