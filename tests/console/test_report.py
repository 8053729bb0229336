"""The report's figures against cases computed by hand, and ``orchestrator report``."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace as Row

import pytest

from orchestrator.cli import main
from orchestrator.report import build_report, holding_text, parse_since, report_record

T = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def _iso(hours: float) -> str:
    return (T + timedelta(hours=hours)).isoformat()


def _plan(pid: str, side: str, qty: int, entry: str, stop: str, exit_: str | None, pnl: str, *,
          exited: int | None = None) -> Row:
    return Row(id=pid, symbol=pid[:4], side=side, filled_qty=qty, exited_qty=qty if exited is None else exited,
               avg_entry_price=entry, avg_exit_price=exit_, stop_loss=stop, realized_pnl=pnl,
               created_at=_iso(0), updated_at=_iso(9), exit_reason="x")


def _fill(pid: str, leg: str, hours: float, commission: str | None) -> Row:
    return Row(plan_id=pid, leg=leg, at=_iso(hours), commission=commission)


PLANS = [
    _plan("AAAA", "long", 100, "10.00", "9.00", "12.00", "200"),      # +200 gross, 2.00 commissions
    _plan("BBBB", "short", 50, "20.00", "21.00", "21.00", "-50"),     # stopped: -50, commissions unknown
    _plan("CCCC", "long", 10, "100", "95", "110", "100"),             # +100, one of two commissions known
    _plan("OPEN", "long", 10, "100", "95", "101", "5", exited=5),     # half exited: not a trade yet
    _plan("NONE", "long", 0, "0", "95", None, "0"),                   # never filled
]
FILLS = [
    _fill("AAAA", "entry", 0, "1.00"), _fill("AAAA", "target", 1, "1.00"),
    _fill("BBBB", "entry", 0.5, None), _fill("BBBB", "stop", 2, None),
    _fill("CCCC", "entry", 1, "0.50"), _fill("CCCC", "target", 3, None),
    _fill("OPEN", "entry", 1, "1"),
]


def test_per_trade_figures() -> None:
    r = build_report(PLANS, FILLS)
    a, b, c = r.trades
    assert [t.plan_id for t in r.trades] == ["AAAA", "BBBB", "CCCC"]
    assert (a.net_pnl, a.risk, a.r_multiple, a.holding_seconds, a.commissions_complete) == (
        D("198.00"), D("100.00"), D("1.98"), 3600.0, True)
    assert (b.net_pnl, b.risk, b.r_multiple, b.holding_seconds, b.commissions_complete) == (
        D("-50"), D("50.00"), D("-1"), 5400.0, False)
    assert (c.net_pnl, c.risk, c.r_multiple, c.holding_seconds, c.commissions) == (
        D("99.50"), D("50"), D("1.99"), 7200.0, D("0.50"))


def test_totals_equity_curve_and_drawdown() -> None:
    r = build_report(PLANS, FILLS)
    assert r.net_pnl == D("247.50")
    assert r.win_rate == D(2) / D(3)
    assert r.average_r == D("0.99")
    assert r.expectancy == pytest.approx(D("82.5"), abs=D("1e-20"))  # 2/3 × 148.75 − 1/3 × 50 = mean net P&L
    assert r.profit_factor == D("297.50") / D("50")  # 5.95
    assert [eq for _, eq in r.equity_curve] == [D("198.00"), D("148.00"), D("247.50")]
    assert r.max_drawdown == D("50.00")
    assert not r.commissions_complete
    totals = report_record(r)["totals"]
    assert totals == {"trades": 3, "wins": 2, "losses": 1, "gross_pnl": 250.0, "commissions": 2.5, "net_pnl": 247.5,
                      "win_rate": 0.6667, "average_r": 0.99,
                      "expectancy": 82.5, "profit_factor": 5.95, "max_drawdown": 50.0, "commissions_complete": False}


def test_since_keeps_trades_closed_from_then_and_drawdown_starts_at_zero() -> None:
    r = build_report(PLANS, FILLS, since=T + timedelta(hours=1.5))
    assert [t.plan_id for t in r.trades] == ["BBBB", "CCCC"]
    assert [eq for _, eq in r.equity_curve] == [D("-50"), D("49.50")]
    assert r.max_drawdown == D("50")
    assert r.profit_factor == D("99.50") / D("50")


def test_no_trades_and_no_losses() -> None:
    empty = build_report([], [])
    assert (empty.win_rate, empty.average_r, empty.expectancy, empty.profit_factor, empty.max_drawdown) == (
        None, None, None, None, D(0))
    only_win = build_report([PLANS[0]], FILLS)
    assert only_win.profit_factor is None and only_win.win_rate == 1


def test_holding_text_and_since_parsing() -> None:
    assert [holding_text(s) for s in (12, 450, 7500, 3 * 86400 + 4 * 3600)] == ["12s", "7m 30s", "2h 05m", "3d 4h"]
    assert parse_since("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_since("2026-12-01T10:00:00-05:00").utcoffset() == timedelta(hours=-5)
    with pytest.raises(ValueError):
        parse_since("yesterday")


def _config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[store]\nurl = "{url}"\n')
    return cfg


def test_report_command_text_json_and_bad_since(built, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = _config(tmp_path, built.url)
    out = io.StringIO()
    assert main(["report", "--config", str(cfg)], out=out) == 0
    text = out.getvalue()
    assert "1 closed trades" in text and "AAPL-TRAIL" in text and "1,970.00" in text and "0.97" in text
    out = io.StringIO()
    assert main(["report", "--json", "--since", "2026-11-27", "--config", str(cfg)], out=out) == 0
    record = json.loads(out.getvalue())
    assert record["totals"]["trades"] == 1 and record["trades"][0]["r_multiple"] == 0.97
    out = io.StringIO()
    assert main(["report", "--json", "--since", "2026-11-28", "--config", str(cfg)], out=out) == 0
    assert json.loads(out.getvalue())["totals"]["trades"] == 0
    assert main(["report", "--since", "soon", "--config", str(cfg)], out=io.StringIO()) == 2
    assert "--since: not a date" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    missing = _config(tmp_path / "empty", "sqlite:///nothing-here.db")
    out = io.StringIO()
    assert main(["report", "--json", "--config", str(missing)], out=out) == 0
    assert json.loads(out.getvalue())["trades"] == []
