"""``status`` fits the terminal: at 80 columns a compact table keeps plan id, state, position, the
stop IB confirmed (the wanted one beside it while it differs), net P&L and a reason cut with an
ellipsis; ``--wide`` and a pipe get every column; ``--json`` carries the new figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import call, spawn
from .stores import LONG_REASON, build

IDS = {"AAPL-20261127-TP": "closed", "NVDA-TRAIL": "trailing", "MSFT-REJECTED": "rejected", "SPY-LATER": "pending"}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    (tmp_path / "plans").mkdir()
    source = tmp_path / "plans" / "today.toml"
    source.write_text("# the plans were loaded from here\n")
    build(tmp_path / "state.db", source)
    path = tmp_path / "config.toml"
    path.write_text('[store]\nurl = "sqlite:///state.db"\n')
    return path


def _table(out: str) -> dict[str, str]:
    """The table's row of each plan (the line that starts with its id)."""
    return {pid: next(line for line in out.splitlines() if line.startswith(pid + " ")) for pid in IDS}


async def test_compact_table_at_80_columns(cfg: Path) -> None:
    rc, out, err = await spawn("status", "--config", str(cfg), cwd=cfg.parent, env={"COLUMNS": "80"})
    assert rc == 0 and err == ""
    _compact(out, 80)


def test_compact_table_at_100_columns(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    rc, out, err = call("status", "--config", str(cfg))
    assert rc == 0 and err == ""
    _compact(out, 100)


def _compact(out: str, columns: int) -> None:
    assert all(len(line) <= columns for line in out.splitlines()), out
    header = next(line for line in out.splitlines() if line.startswith("plan "))
    assert header.split() == ["plan", "state", "position", "stop", "net", "P&L", "reason"], header
    rows = _table(out)
    for pid, state in IDS.items():
        assert rows[pid].split()[1] == state   # id and state whole
    assert "AAPL 0" in rows["AAPL-20261127-TP"] and "+3,995.00" in rows["AAPL-20261127-TP"]   # 4,000 − 5.00
    assert "NVDA +500" in rows["NVDA-TRAIL"] and "176.00→184.00" in rows["NVDA-TRAIL"]   # IB holds 176
    assert "SPY long" in rows["SPY-LATER"] and "580.00" in rows["SPY-LATER"]
    rejected = rows["MSFT-REJECTED"]
    reason = rejected[rejected.index("IB rejected"):].rstrip()
    assert reason.endswith("…") and f"IB rejected the entry: {LONG_REASON}".startswith(reason[:-1])


async def test_wide_and_piped_tables_have_every_column(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    piped = await spawn("status", "--config", str(cfg), cwd=cfg.parent)   # no terminal at all: a pipe
    monkeypatch.setenv("COLUMNS", "80")
    wide = call("status", "--wide", "--config", str(cfg))
    for rc, out, _ in (piped, wide):
        assert rc == 0
        header = next(line for line in out.splitlines() if line.startswith("plan "))
        for name in ("symbol", "side", "qty", "filled", "open", "entry", "target", "exit", "P&L gross", "commissions",
                     "net P&L", "risk", "actual risk", "reason", "updated (UTC)"):
            assert name in header, (name, header)
        assert LONG_REASON in out   # nothing cut
        row = _table(out)["AAPL-20261127-TP"]
        assert "4,000.00" in row and "5.00" in row and "3,995.00" in row


def test_status_json_has_the_new_figures(cfg: Path) -> None:
    rc, out, _ = call("status", "--json", "--config", str(cfg))
    assert rc == 0
    rows = {r["id"]: r for r in json.loads(out)}
    tp = rows["AAPL-20261127-TP"]
    assert (tp["realized_pnl"], tp["commissions"], tp["net_pnl"]) == (4000, 5.0, 3995.0)   # realized stays gross
    assert tp["source_file"] == str(cfg.parent / "plans" / "today.toml")
    assert tp["planned_risk"] == tp["risk_amount"] == 2000 and tp["sized_price"] == 180 and tp["actual_risk"] == 2000
    trail = rows["NVDA-TRAIL"]
    assert (trail["confirmed_stop"], trail["wanted_stop"], trail["stop_price"]) == (176, 184, 184)
    assert trail["open_quantity"] == 500 and trail["net_pnl"] is None
    assert rows["SPY-LATER"]["commissions"] == 0 and rows["SPY-LATER"]["confirmed_stop"] is None


def test_report_shows_gross_commissions_and_net(cfg: Path) -> None:
    rc, out, _ = call("report", "--config", str(cfg))
    assert rc == 0
    lines = out.splitlines()
    assert lines[1].split()[6:9] == ["gross", "P&L", "commissions"]
    row = next(line for line in lines if line.startswith("AAPL-20261127-TP"))
    assert row.split()[6:9] == ["4,000.00", "5.00", "3,995.00"]
    assert lines[-1].startswith("P&L 4,000.00 gross · 3,995.00 net (commissions 5.00) · win rate 100.0 %")
