"""The standalone ``sim-gateway`` command, its control port and the thread runner."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import pytest
from ib_async import IB, MarketOrder

from orchestrator.simgw import GatewayThread, PricePath, main

from ..procs import Control, Proc
from .helpers import ROWS, WAIT, LogGuard, qualified, until


def write_prices(tmp_path: Path) -> Path:
    p = tmp_path / "prices.csv"
    p.write_text("symbol,price\n" + "".join(f"{s},{price}\n" for s, price in ROWS))
    return p


async def test_command_serves_ib_async_and_the_control_port(tmp_path: Path, log_guard: LogGuard) -> None:
    log_guard.expect("Peer closed connection", r"Error 201, reqId \d+: Order rejected - reason:chaos")
    journal = tmp_path / "journal.jsonl"
    gw = await Proc.start("--port", "0", "--prices", str(write_prices(tmp_path)), "--tick-seconds", "0",
                          "--journal", str(journal), "--control-port", "0", "--account", "DU7654321")
    ctl = await Control.open(gw.control_port)
    ib = IB()
    try:
        await ib.connectAsync("127.0.0.1", gw.port, clientId=11, timeout=3)
        assert ib.wrapper.accounts == ["DU7654321"]
        aapl = await qualified(ib)
        assert await ctl("ping") == {"ok": True}
        assert (await ctl("set_price", symbol="AAPL", price=181.5))["ok"] is True
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef="c:entry", tif="DAY"))
        await until(ib, lambda: trade.orderStatus.status == "Filled")
        assert trade.fills[0].execution.price == 181.5
        state = (await ctl("state"))["state"]
        assert state["positions"] == [{"symbol": "AAPL", "con_id": 265598, "quantity": 10.0,
                                       "avg_cost": 181.6, "realized_pnl": 0.0, "currency": "USD",
                                       "multiplier": 1.0}]
        assert [(o["order_ref"], o["status"]) for o in state["orders"]] == [("c:entry", "Filled")]
        assert state["executions"][0]["exec_id"] == trade.fills[0].execution.execId
        assert (await ctl("advance", n=2))["tick"] == 2
        assert (await ctl("reject_next", reason="chaos"))["faults"]["reject_next"] == 1
        rejected = ib.placeOrder(aapl, MarketOrder("BUY", 1, tif="DAY"))
        await until(ib, lambda: rejected.orderStatus.status == "Inactive")
        lost = asyncio.ensure_future(asyncio.wait_for(ib.disconnectedEvent, WAIT))
        assert await ctl("drop_connections") == {"ok": True, "dropped": 1}
        await lost
        entries = (await ctl("journal", since=0))["entries"]
        assert [e["event"] for e in entries] == ["placed", "filled", "rejected"]
        for bad in ({"cmd": "nope"}, {"cmd": "set_price", "symbol": "ZZZZ", "price": 1},
                    {"cmd": "advance", "n": "x"}, [1, 2]):
            reply = await ctl.raw(json.dumps(bad).encode())
            assert reply["ok"] is False and reply["error"]
        assert (await ctl.raw(b"{not json"))["ok"] is False
        for cmd, kw in (("ack_delay", {"seconds": 0.1}), ("refuse_for", {"seconds": 0}),
                        ("drop_at_tick", {"tick": 99}), ("drop_next_order_status", {}),
                        ("replay_executions", {"twice": True}), ("clear_faults", {}),
                        ("restart", {"refuse_seconds": 0})):
            assert (await ctl(cmd, **kw))["ok"] is True, cmd
    finally:
        ib.disconnect()
        await ctl.close()
        code, out, err = await gw.stop(signal.SIGTERM)
    assert code == 0
    assert out == ""  # the listening line (read at start) is the only stdout output
    assert "Traceback" not in err
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [e["event"] for e in lines] == ["placed", "filled", "rejected", "rekeyed", "rekeyed"]


async def test_sigint_exits_cleanly() -> None:
    gw = await Proc.start("--port", "0", "--tick-seconds", "0.01")  # the shipped examples/prices.csv
    code, out, err = await gw.stop(signal.SIGINT)
    assert (code, err) == (0, "")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--port", "abc"], "argument --port: 'abc' is not a valid port"),
        (["--tick-seconds", "-1"], "seconds must be >= 0"),
        (["--account-value", "0"], "amount must be > 0"),
        (["--account-value", "inf"], "'inf' is not a finite amount"),
        (["--port", "70000"], "port must be <= 65535"),
        (["--partial-fill-max", "0"], "share count must be >= 1"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--prices", "/nonexistent/prices.csv"], "/nonexistent/prices.csv: cannot read prices file"),
        (["--journal", "/nonexistent/dir/j.jsonl"], "cannot open journal /nonexistent/dir/j.jsonl"),
        (["--account", " "], "argument --account: must not be empty"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("sim-gateway: error: ") and fragment in err


def test_invalid_prices_row_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,price\nAAPL,180\nAAPL,zero\n")
    assert main(["--prices", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"sim-gateway: error: {bad}: line 3: price 'zero' is not a number\n"


def test_port_in_use_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--prices", str(write_prices(tmp_path))]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("sim-gateway: error: cannot listen:") and err.count("\n") == 1


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--drop-at-tick" in capsys.readouterr().out


async def test_gateway_thread_runner() -> None:
    with GatewayThread(PricePath.from_rows(ROWS), tick_seconds=None) as gt:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gt.port, clientId=1, timeout=3)
        try:
            aapl = await qualified(ib)
            gt.set_price("AAPL", 179.0)
            gt.advance(2)
            trade = ib.placeOrder(aapl, MarketOrder("SELL", 5, tif="DAY"))
            await until(ib, lambda: trade.orderStatus.status == "Filled")
            assert gt.call(lambda gw: gw.positions["AAPL"].qty) == -5
            assert gt.call(lambda gw: gw.tick) == 2
        finally:
            ib.disconnect()
