"""``orchestrator demo`` end to end, as a real process: every plan ends as its plan file's comments
say, with the quantities computed there by hand, and the verdicts come from the simulated
gateway's own journal (every order and fill it saw, across clients, with its simulated time).

The demo runs once for the module (about 40 s: the session clock runs from 09:29 to past 15:30 at
600x); each test reads its output, its journal or its state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.demoplans import CLOSE, OPEN

REPO = Path(__file__).resolve().parents[1]


class Demo:
    def __init__(self, folder: Path, out: str, seconds: float) -> None:
        self.folder, self.out, self.seconds = folder, out, seconds
        lines = (folder / "sim-journal.jsonl").read_text().splitlines()
        self.journal: list[dict[str, Any]] = [json.loads(line) for line in lines if line.strip()]

    def fills(self, ref: str) -> list[tuple[str, str, float, float, datetime]]:
        """The gateway's fills of one order (plan:leg): (contract, side, quantity, price, simulated time)."""
        return [(e["symbol"], e["side"], e["fill_qty"], e["fill_price"], datetime.fromisoformat(e["sim_ts"]))
                for e in self.journal if e["event"] == "filled" and e["order_ref"] == ref]

    def row(self, plan_id: str) -> str:
        """The plan's row of the final status table."""
        [line] = [line for line in self.out.splitlines() if line.startswith(plan_id + " ")]
        return line


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "TMPDIR": str(folder), "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "orchestrator", "demo"], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=240, check=False)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    first = done.stdout.splitlines()[0]
    assert first.startswith("demo folder: "), first
    return Demo(Path(first.removeprefix("demo folder: ")), done.stdout, seconds)


def test_every_plan_ends_as_its_comments_say_within_two_minutes(demo: Demo) -> None:
    ends = {"DEMO-AAPL-TP": "exit: target", "DEMO-MSFT-SL": "exit: stop", "DEMO-NVDA-TRAIL": "exit: trailing_stop",
            "DEMO-TSLA-SHORT": "exit: target", "DEMO-ES-FUT": "exit: target", "DEMO-SAP-EUR": "exit: stop",
            "DEMO-AMZN-OPEN": "exit: target", "DEMO-META-CLOSE": "flatten_at close-30m"}
    for plan_id, reason in ends.items():
        assert " closed " in demo.row(plan_id) and reason in demo.row(plan_id), demo.row(plan_id)
    assert " cancelled " in demo.row("DEMO-SPY-EXPIRE") and "entry expired" in demo.row("DEMO-SPY-EXPIRE")
    assert " rejected " in demo.row("DEMO-SPY-RISK") and "max_portfolio_risk_pct" in demo.row("DEMO-SPY-RISK")
    assert "ES 0" in demo.row("DEMO-ES-FUT") and "+1,991.00" in demo.row("DEMO-ES-FUT")   # 2,000 - 9.00
    assert demo.seconds < 120, demo.seconds
    fills = demo.out.split("filled at the simulated broker (New York time):\n")[1]
    assert "BOT 2 ESZ6 @ 5,000.00 (entry" in fills and "SLD 2 ESZ6 @ 5,020.00 (target" in fills
    assert "BOT 46 SAP @ 200.00 (entry" in fills and "SLD 46 SAP @ 190.00 (stop" in fills
    assert "BOT 41 META @ 600.00 (entry" in fills and "SLD 41 META @ 600.00 (target 15:" in fills


def test_the_future_and_the_euro_stock_trade_the_hand_computed_quantities_at_ib(demo: Demo) -> None:
    """ES: floor(1,000 / (9 × 50)) = 2 contracts of ESZ6, in at 5000.00, out at the target 5020.00.
    SAP from the USD account at the EUR.USD quote 1.08: floor(500 / (10 × 1.08)) = 46 shares, in at
    200.00 EUR, out at the stop 190.00."""
    assert [f[:4] for f in demo.fills("DEMO-ES-FUT:entry")] == [("ESZ6", "BOT", 2.0, 5000.0)]
    assert [f[:4] for f in demo.fills("DEMO-ES-FUT:target")] == [("ESZ6", "SLD", 2.0, 5020.0)]
    assert [f[:4] for f in demo.fills("DEMO-SAP-EUR:entry")] == [("SAP", "BOT", 46.0, 200.0)]
    assert [f[:4] for f in demo.fills("DEMO-SAP-EUR:stop")] == [("SAP", "SLD", 46.0, 190.0)]


def test_the_anchored_plan_enters_after_the_open_and_the_flattened_one_is_flat_before_the_close(demo: Demo) -> None:
    """AMZN starts at open+10m (09:40 New York): its entry, floor(500 / 11.01) = 45 shares, fills
    after it. META (floor(500 / 12.01) = 41 shares) is sold at close-30m (15:30), before the close."""
    [(symbol, side, qty, _, entered)] = demo.fills("DEMO-AMZN-OPEN:entry")
    assert (symbol, side, qty) == ("AMZN", "BOT", 45.0) and entered >= OPEN.replace(minute=40)
    assert [f[:3] for f in demo.fills("DEMO-AMZN-OPEN:target")] == [("AMZN", "SLD", 45.0)]
    assert [f[:3] for f in demo.fills("DEMO-META-CLOSE:entry")] == [("META", "BOT", 41.0)]
    exits = [f for e in ("stop", "target", "flatten") for f in demo.fills(f"DEMO-META-CLOSE:{e}")]
    assert sum(f[2] for f in exits) == 41.0 and all(f[1] == "SLD" for f in exits)
    # the engine follows IB's clock through its polls: at 600x one real millisecond of that estimate
    # is 0.6 simulated seconds, so "at 15:30" is judged to within 10 simulated seconds (17 ms)
    assert all(CLOSE.replace(hour=20, minute=29, second=50) <= f[4] < CLOSE for f in exits), exits


def test_every_position_at_ib_is_flat_at_the_end(demo: Demo) -> None:
    """Across every fill the gateway made, each contract nets to zero (IB holds nothing)."""
    held: dict[str, float] = defaultdict(float)
    for e in demo.journal:
        if e["event"] == "filled":
            held[e["symbol"]] += e["fill_qty"] if e["side"] == "BOT" else -e["fill_qty"]
    assert set(held) >= {"ESZ6", "SAP", "AMZN", "META", "AAPL", "MSFT", "NVDA", "TSLA"}
    assert {k: v for k, v in held.items() if v} == {}


def test_status_shows_the_contract_currency_multiplier_and_rate_used(demo: Demo) -> None:
    done = subprocess.run([sys.executable, "-m", "orchestrator", "status", "--json", "--config",
                           str(demo.folder / "config.toml")], cwd=REPO, text=True, capture_output=True,
                          timeout=60, check=True)
    rows = {r["id"]: r for r in json.loads(done.stdout)}
    es, sap = rows["DEMO-ES-FUT"], rows["DEMO-SAP-EUR"]
    assert (es["sec_type"], es["multiplier"], es["fx_rate"], es["quantity"], es["risk_base"]) == ("FUT", 50, 1, 2, 900)
    assert (sap["currency"], sap["base_currency"], sap["fx_rate"], sap["quantity"], sap["risk_base"]) == \
        ("EUR", "USD", 1.08, 46, 496.8)
    # IB charged SAP's commissions in EUR (4.60 + 4.37 = 8.97): 9.6876 USD against the USD P&L
    assert (sap["realized_pnl"], sap["commissions"], sap["net_pnl"]) == (-496.8, 9.6876, -506.4876)
