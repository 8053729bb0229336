"""``orchestrator demo``: the whole lifecycle on the embedded simulated gateway, in under a minute.

It writes a scripted price path, a plan file and a config into a fresh folder, runs the
orchestrator there until every plan is terminal (notifications to the console), then prints the
final status and what the simulated broker was asked and did. Paths shown: take-profit,
stop-loss, trailing-stop exit, a short take-profit, a risk-cap rejection and an entry expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from rich.console import Console


# symbol → list of prices, one per tick of that symbol (the path ends holding its last price)
def _ramp(a: float, b: float, n: int) -> list[float]:
    return [round(a + (b - a) * i / (n - 1), 2) for i in range(n)]


PATHS: dict[str, list[float]] = {
    "AAPL": _ramp(180.00, 190.00, 50),                                   # up through the target 189
    "MSFT": _ramp(420.00, 396.00, 50),                                   # down through the stop 399
    "NVDA": _ramp(130.00, 142.00, 30) + _ramp(141.80, 134.00, 20),       # up 1.8R, then back: trailing stop
    "TSLA": _ramp(250.00, 236.00, 50),                                   # down through the short's target
    "SPY": [590.00] * 50,                                                # flat: the limit at 560 never fills
}

PLANS = """\
# The demo's plans: each one shows a path through the plan machine.

[[plans]]                 # take-profit: AAPL rises through 189
id = "DEMO-AAPL-TP"
symbol = "AAPL"
side = "long"
entry = "market"
entry_price = 180.00
stop_loss = 171.00
take_profit = 189.00
risk = "normal"

[[plans]]                 # stop-loss: MSFT falls through 399
id = "DEMO-MSFT-SL"
symbol = "MSFT"
side = "long"
entry = "market"
entry_price = 420.00
stop_loss = 399.00
take_profit = 441.00
risk = "normal"

[[plans]]                 # trailing exit: NVDA runs 1.8R, the stop follows 3.00 behind, then it turns
id = "DEMO-NVDA-TRAIL"
symbol = "NVDA"
side = "long"
entry = "market"
entry_price = 130.00
stop_loss = 123.50
take_profit = 150.00
risk = "normal"
[plans.trail]
trigger_r = 1.0
distance = 3.00

[[plans]]                 # short take-profit: TSLA falls through 237.50
id = "DEMO-TSLA-SHORT"
symbol = "TSLA"
side = "short"
entry = "market"
entry_price = 250.00
stop_loss = 262.50
take_profit = 237.50
risk = "small"

[[plans]]                 # risk-cap rejection: 3.5 % open + 1.5 % would exceed the 4 % cap
id = "DEMO-SPY-RISK"
symbol = "SPY"
side = "long"
entry = "market"
entry_price = 590.00
stop_loss = 560.00
take_profit = 650.00
risk = "large"

[[plans]]                 # expiry: a buy limit far below the market, cancelled when it expires
id = "DEMO-SPY-EXPIRE"
symbol = "SPY"
side = "long"
entry = "limit"
entry_price = 560.00
stop_loss = 532.00
take_profit = 600.00
risk = "small"
expire_at = "{expire_at}"
"""

CONFIG = """\
# Written by `orchestrator demo`.
[broker]
mode = "sim"
[sim]
prices = "prices.csv"
tick_seconds = {tick}
account_value = 100000
journal = "sim-journal.jsonl"
[store]
url = "sqlite:///state.db"
[plans]
files = ["plans.toml"]
[risk]
small_pct = 0.5
normal_pct = 1
large_pct = 1.5
max_portfolio_risk_pct = 4
[trailing]
interval_seconds = 0.25
"""


def write_demo(folder: Path, *, now: datetime, tick: float = 0.04) -> Path:
    """Write prices.csv, plans.toml and config.toml into ``folder``; returns the config path."""
    rows = ["symbol,price"]
    longest = max(len(p) for p in PATHS.values())
    for i in range(longest):
        for symbol, path in PATHS.items():
            if i < len(path):
                rows.append(f"{symbol},{path[i]:.2f}")
    (folder / "prices.csv").write_text("\n".join(rows) + "\n")
    expire_at = (now + timedelta(seconds=4)).isoformat(timespec="seconds")
    (folder / "plans.toml").write_text(PLANS.replace("{expire_at}", expire_at))
    cfg = folder / "config.toml"
    cfg.write_text(CONFIG.replace("{tick}", str(tick)))
    return cfg


def _journal_summary(path: Path) -> str:
    if not path.exists():
        return "no broker journal"
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    counts = Counter(e.get("event") for e in events)
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    from .bootstrap import run
    from .config import load_config
    from .render import compact_table
    from .store.read import open_readonly, plan_rows

    folder = Path(tempfile.mkdtemp(prefix="orchestrator-demo-"))
    cfg_path = write_demo(folder, now=datetime.now(UTC))
    cfg = load_config(cfg_path, {})
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    out.write(f"demo folder: {folder}\n"
              "six plans on the embedded simulated IB Gateway; notifications below as they happen\n\n")
    out.flush()
    rc = asyncio.run(run(cfg, exit_when_idle=True, out=out))
    db = open_readonly(cfg.store.url)
    try:
        rows = plan_rows(db)
    finally:
        db.close()
    width = 120   # the compact table: every cell whole but the reason (status --wide shows every column)
    console = Console(file=out, width=width)
    console.print()
    console.print(compact_table(rows, width))
    out.write(f"simulated broker journal: {_journal_summary(folder / 'sim-journal.jsonl')}\n")
    out.write(f"look again: orchestrator status --config {cfg_path}\n"
              f"            orchestrator history DEMO-NVDA-TRAIL --config {cfg_path}\n")
    return rc
