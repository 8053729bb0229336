"""``orchestrator demo``: the whole lifecycle on the embedded simulated gateway, in under a minute.

It writes a scripted price path, a plan file and a config (:mod:`.demoplans`) into a fresh folder,
runs the orchestrator there until every plan is terminal (notifications to the console), then
prints the final status and what the simulated broker was asked and did. Paths shown:
take-profit, stop-loss, trailing-stop exit, a short take-profit, a future, a stock in euros, a
start at the open, a flatten before the close, a risk-cap rejection and an entry expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from rich.console import Console

from .demoplans import CONFIG, PATHS, PLANS

NEW_YORK = ZoneInfo("America/New_York")


def write_demo(folder: Path) -> Path:
    """Write prices.csv, plans.toml and config.toml into ``folder``; returns the config path."""
    rows = ["symbol,price"]
    longest = max(len(p) for p in PATHS.values())
    for i in range(longest):
        for symbol, path in PATHS.items():
            if i < len(path):
                rows.append(f"{symbol},{path[i]:.2f}")
    (folder / "prices.csv").write_text("\n".join(rows) + "\n")
    (folder / "plans.toml").write_text(PLANS)
    cfg = folder / "config.toml"
    cfg.write_text(CONFIG)
    return cfg


def _journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _journal_summary(events: list[dict[str, Any]]) -> str:
    if not events:
        return "no broker journal"
    counts = Counter(e.get("event") for e in events)
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _fills(events: list[dict[str, Any]]) -> list[str]:
    """One line per plan: what the simulated broker filled for it, in order, with the simulated
    time (New York) of each fill: the quantities the plan file's comments compute."""
    by_plan: dict[str, list[str]] = {}
    for e in events:
        if e.get("event") != "filled" or ":" not in str(e.get("order_ref") or ""):
            continue
        plan_id, leg = str(e["order_ref"]).split(":", 1)
        at = datetime.fromisoformat(str(e.get("sim_ts") or e["ts"])).astimezone(NEW_YORK)
        by_plan.setdefault(plan_id, []).append(
            f"{e['side']} {e['fill_qty']:g} {e['symbol']} @ {e['fill_price']:,.2f} ({leg} {at:%H:%M})")
    width = max((len(p) for p in by_plan), default=0)
    return [f"  {plan_id:<{width}}  {' · '.join(fills)}" for plan_id, fills in sorted(by_plan.items())]


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    from .bootstrap import run
    from .config import load_config
    from .render import compact_table
    from .store.read import open_readonly, plan_rows

    folder = Path(tempfile.mkdtemp(prefix="orchestrator-demo-"))
    cfg_path = write_demo(folder)
    cfg = load_config(cfg_path, {})
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    out.write(f"demo folder: {folder}\n"
              f"{PLANS.count('[[plans]]')} plans on the embedded simulated IB Gateway, its session clock at 600x "
              "from 09:29 New York on 2026-12-02; notifications below as they happen\n\n")
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
    events = _journal(folder / "sim-journal.jsonl")
    out.write("filled at the simulated broker (New York time):\n" + "".join(f"{line}\n" for line in _fills(events)))
    out.write(f"simulated broker journal: {_journal_summary(events)}\n")
    out.write(f"look again: orchestrator status --config {cfg_path}\n"
              f"            orchestrator history DEMO-NVDA-TRAIL --config {cfg_path}\n")
    return rc
