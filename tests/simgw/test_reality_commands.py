"""The IB realities from the command line and the control port of the standalone ``sim-gateway``."""

from __future__ import annotations

import math
import signal
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder

from orchestrator.simgw import main

from ..procs import Control, Proc
from .helpers import LogGuard, barrier, error_codes, qualified, until
from .test_command import write_prices


async def test_the_command_line_and_the_control_port_drive_every_reality(tmp_path: Path, log_guard: LogGuard) -> None:
    log_guard.expect(r"Error 354, reqId \d+", r"Error 10089, reqId \d+", r"Error 10197, reqId \d+",
                     r"Error 1100, reqId -1", r"Error 1101, reqId -1", "Canceled order")
    gw = await Proc.start("--port", "0", "--prices", str(write_prices(tmp_path)), "--tick-seconds", "0",
                          "--control-port", "0", "--market-data", "delayed", "--pacing-limit", "200",
                          "--precaution-percent", "5", "--modify-processing", "0")
    ctl = await Control.open(gw.control_port)
    ib = IB()
    seen = error_codes(ib)
    try:
        await ib.connectAsync("127.0.0.1", gw.port, clientId=3, timeout=3)
        aapl = await qualified(ib)
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: 354 in seen)  # --market-data delayed
        ib.cancelMktData(aapl)
        ib.reqMarketDataType(3)
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: ticker.marketDataType == 3 and ticker.last == 180.0)

        reply = await ctl("market_data", mode="live")
        assert reply["ok"] and reply["market_data"]["entitlement"]["default"] == "live"
        await until(ib, lambda: ticker.marketDataType == 1)
        refused = seen.count(354)
        assert (await ctl("market_data", mode="none", symbol="AAPL"))["ok"]
        await until(ib, lambda: seen.count(354) > refused)  # it had asked for delayed data: 354
        assert (await ctl("market_data", mode="live"))["ok"]
        ticker = ib.reqMktData(aapl)
        await until(ib, lambda: ticker.marketDataType == 1)
        assert (await ctl("competing_session"))["ok"]
        await until(ib, lambda: 10197 in seen)
        assert (await ctl("market_data", mode="live"))["ok"]
        for cmd, kw in (("farm", {"up": False}), ("farm", {"up": True}), ("stall_symbol", {"symbol": "AAPL"}),
                        ("stall_symbol", {"symbol": "AAPL", "on": False}), ("no_quote", {"symbol": "MSFT"}),
                        ("no_quote", {"symbol": "MSFT", "on": False}), ("modify_processing", {"seconds": 0}),
                        ("cancel_race", {"fill_first": False}), ("slow_sync", {"seconds": 0}),
                        ("hold_client_id", {"client_id": 42, "seconds": 1}), ("precaution", {"percent": None})):
            assert (await ctl(cmd, **kw))["ok"] is True, cmd
        await until(ib, lambda: 2103 in seen and 2104 in seen)

        assert (await ctl("read_only", on=True))["policy"]["read_only"] is True
        refused = ib.placeOrder(aapl, LimitOrder("BUY", 1, 170.0, tif="DAY"))
        await until(ib, lambda: 321 in seen and refused.orderStatus.status == "ValidationError")
        assert (await ctl("read_only", on=False))["ok"]
        day = ib.placeOrder(aapl, LimitOrder("BUY", 1, 170.0, tif="DAY"))
        await until(ib, lambda: day.orderStatus.status == "Submitted")
        assert (await ctl("end_session"))["ok"]
        await until(ib, lambda: day.orderStatus.status == "Cancelled")

        assert (await ctl("connectivity", lost_seconds=0.1, restore="1101"))["ok"]
        await until(ib, lambda: 1100 in seen and 1101 in seen)
        state = (await ctl("state"))["state"]
        assert state["market_data"]["connectivity_lost"] is False and state["faults"]["cancel_races"] == 1
        assert state["orders"][0]["wire_status"] == "Cancelled"
        await barrier(ib)
        assert not math.isnan(ticker.last)

        for cmd, kw in (("market_data", {"mode": "cable"}), ("market_data", {"mode": "live", "symbol": "ZZZZ"}),
                        ("farm", {}), ("farm", {"up": "no"}), ("connectivity", {"lost_seconds": 1, "restore": "1100"}),
                        ("connectivity", {"lost_seconds": 0}), ("hold_client_id", {"client_id": 1, "seconds": -1}),
                        ("precaution", {"percent": 0}), ("stall_symbol", {}), ("slow_sync", {"seconds": "x"})):
            reply = await ctl(cmd, **kw)
            assert reply["ok"] is False and reply["error"], (cmd, kw)
    finally:
        ib.disconnect()
        await ctl.close()
        code, out, err = await gw.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--market-data", "cable"], "argument --market-data: invalid choice: 'cable'"),
        (["--pacing-limit", "0"], "message count must be >= 1"),
        (["--precaution-percent", "0"], "percentage must be > 0"),
        (["--modify-processing", "-1"], "seconds must be >= 0"),
        (["--slow-sync", "x"], "'x' is not a valid number of seconds"),
    ],
)
def test_bad_reality_options_exit_2_with_one_line(argv: list[str], fragment: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("sim-gateway: error: ") and fragment in err


def test_help_lists_the_reality_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--market-data", "--pacing-limit", "--read-only", "--precaution-percent", "--modify-processing",
                   "--slow-sync"):
        assert option in text
