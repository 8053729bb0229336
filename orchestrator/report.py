"""The trading report: per completed trade and in total, as pure functions of stored rows.

A *trade* is a plan that bought (or sold short) and is flat again: ``filled_qty > 0`` and
``exited_qty >= filled_qty``. Its figures:

- gross P&L: the plan's ``realized_pnl``; commissions: the sum of its fills' ``commission``
  (a positive cost, as IB reports it) where the store has them; net P&L = gross − commissions.
  ``commissions_complete`` is false when any of its fills has no commission recorded.
- initial risk: |average entry − the plan's stop_loss| × filled quantity (the risk the plan
  took on what actually filled); R multiple = net P&L / initial risk (None when the risk is 0).
- holding time: first entry fill → last exit fill (fills' times; the plan's times without fills).

Totals over the trades closed since ``since``: win rate (net P&L > 0), average R, expectancy
(win rate × average win − loss rate × average loss, i.e. the mean net P&L per trade), profit
factor (sum of wins / |sum of losses|, None without a loss), and the equity curve (cumulative
net P&L by close time, from 0) with its maximum drawdown (largest fall from a running peak).
No I/O here: the CLI (``orchestrator report``) and the console read the rows and call this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

Row = Any  # an object with the table's columns as attributes (readside.Row)
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Trade:
    plan_id: str
    symbol: str
    side: str
    quantity: int
    entry_price: Decimal
    exit_price: Decimal
    stop_loss: Decimal
    gross_pnl: Decimal
    commissions: Decimal
    commissions_complete: bool
    risk: Decimal
    opened_at: datetime
    closed_at: datetime
    exit_reason: str | None

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.commissions

    @property
    def r_multiple(self) -> Decimal | None:
        return None if self.risk == 0 else self.net_pnl / self.risk

    @property
    def holding_seconds(self) -> float:
        return (self.closed_at - self.opened_at).total_seconds()


@dataclass(frozen=True, slots=True)
class Report:
    trades: list[Trade]
    since: datetime | None = None
    equity_curve: list[tuple[datetime, Decimal]] = field(default_factory=list)

    @property
    def wins(self) -> list[Trade]:
        return [t for t in self.trades if t.net_pnl > 0]

    @property
    def losses(self) -> list[Trade]:
        return [t for t in self.trades if t.net_pnl < 0]

    @property
    def net_pnl(self) -> Decimal:
        return sum((t.net_pnl for t in self.trades), ZERO)

    @property
    def gross_pnl(self) -> Decimal:
        return sum((t.gross_pnl for t in self.trades), ZERO)

    @property
    def commissions(self) -> Decimal:
        return sum((t.commissions for t in self.trades), ZERO)

    @property
    def win_rate(self) -> Decimal | None:
        return Decimal(len(self.wins)) / len(self.trades) if self.trades else None

    @property
    def average_r(self) -> Decimal | None:
        rs = [r for r in (t.r_multiple for t in self.trades) if r is not None]
        return sum(rs, ZERO) / len(rs) if rs else None

    @property
    def expectancy(self) -> Decimal | None:
        if not self.trades:
            return None
        n = Decimal(len(self.trades))
        wins, losses = self.wins, self.losses
        avg_win = sum((t.net_pnl for t in wins), ZERO) / len(wins) if wins else ZERO
        avg_loss = -sum((t.net_pnl for t in losses), ZERO) / len(losses) if losses else ZERO
        return len(wins) / n * avg_win - len(losses) / n * avg_loss

    @property
    def profit_factor(self) -> Decimal | None:
        lost = -sum((t.net_pnl for t in self.losses), ZERO)
        return None if lost == 0 else sum((t.net_pnl for t in self.wins), ZERO) / lost

    @property
    def max_drawdown(self) -> Decimal:
        peak, worst = ZERO, ZERO
        for _, equity in self.equity_curve:
            peak = max(peak, equity)
            worst = max(worst, peak - equity)
        return worst

    @property
    def commissions_complete(self) -> bool:
        return all(t.commissions_complete for t in self.trades)


def _fill_times(fills: Sequence[Row], *, entry: bool) -> list[datetime]:
    """Sorted times of the entry fills (``entry``) or of the exit fills (stop, target, flatten)."""
    return sorted(datetime.fromisoformat(f.at) for f in fills if (f.leg == "entry") == entry)


def trade_of(plan: Row, fills: Sequence[Row]) -> Trade | None:
    """The plan as a completed trade, or None if it never filled or is not flat yet."""
    filled, exited = int(plan.filled_qty or 0), int(plan.exited_qty or 0)
    if filled <= 0 or exited < filled or plan.avg_entry_price is None or plan.avg_exit_price is None:
        return None
    entry = Decimal(plan.avg_entry_price)
    stop = Decimal(plan.stop_loss)
    known = [Decimal(f.commission) for f in fills if f.commission is not None]
    opened = _fill_times(fills, entry=True) or [datetime.fromisoformat(plan.created_at)]
    closed = _fill_times(fills, entry=False) or [datetime.fromisoformat(plan.updated_at)]
    return Trade(plan.id, plan.symbol, plan.side, filled, entry, Decimal(plan.avg_exit_price), stop,
                 Decimal(plan.realized_pnl or "0"), sum(known, ZERO), len(known) == len(fills),
                 abs(entry - stop) * filled, opened[0], closed[-1], plan.exit_reason)


def build_report(plans: Iterable[Row], fills: Iterable[Row], since: datetime | None = None) -> Report:
    """The report over every completed trade closed at or after ``since`` (all when None)."""
    by_plan: dict[str, list[Row]] = {}
    for f in fills:
        by_plan.setdefault(f.plan_id, []).append(f)
    trades = [t for t in (trade_of(p, by_plan.get(p.id, [])) for p in plans) if t is not None]
    trades = sorted((t for t in trades if since is None or t.closed_at >= since),
                    key=lambda t: (t.closed_at, t.plan_id))
    curve: list[tuple[datetime, Decimal]] = []
    equity = ZERO
    for t in trades:
        equity += t.net_pnl
        curve.append((t.closed_at, equity))
    return Report(trades, since, curve)


def parse_since(text: str) -> datetime:
    """``--since``: a date (``2026-12-01``, midnight UTC) or an ISO 8601 time (UTC when no offset).
    Raises ValueError."""
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _n(value: Decimal | None, places: int = 2) -> float | None:
    if value is None:
        return None
    return float(value.quantize(Decimal(1).scaleb(-places)))


def trade_record(t: Trade) -> dict[str, Any]:
    return {"plan_id": t.plan_id, "symbol": t.symbol, "side": t.side, "quantity": t.quantity,
            "entry_price": _n(t.entry_price, 4), "exit_price": _n(t.exit_price, 4), "stop_loss": _n(t.stop_loss, 4),
            "gross_pnl": _n(t.gross_pnl), "commissions": _n(t.commissions),
            "commissions_complete": t.commissions_complete, "net_pnl": _n(t.net_pnl), "risk": _n(t.risk),
            "r_multiple": _n(t.r_multiple), "opened_at": t.opened_at.isoformat(), "closed_at": t.closed_at.isoformat(),
            "holding_seconds": round(t.holding_seconds, 3), "exit_reason": t.exit_reason}


def report_record(r: Report) -> dict[str, Any]:
    """The report as the JSON object of ``orchestrator report --json`` and ``/api/report``."""
    return {
        "since": r.since.isoformat() if r.since else None,
        "trades": [trade_record(t) for t in r.trades],
        "totals": {"trades": len(r.trades), "wins": len(r.wins), "losses": len(r.losses),
                   "gross_pnl": _n(r.gross_pnl), "commissions": _n(r.commissions), "net_pnl": _n(r.net_pnl),
                   "win_rate": _n(r.win_rate, 4), "average_r": _n(r.average_r),
                   "expectancy": _n(r.expectancy), "profit_factor": _n(r.profit_factor),
                   "max_drawdown": _n(r.max_drawdown), "commissions_complete": r.commissions_complete},
        "equity_curve": [{"at": at.isoformat(), "equity": _n(eq)} for at, eq in r.equity_curve],
    }


def holding_text(seconds: float) -> str:
    """``3d 4h``, ``2h 05m``, ``7m 30s``, ``12s``."""
    s = int(round(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _fmt(value: Decimal | None, spec: str = ",.2f") -> str:
    return "–" if value is None else format(value, spec)


def report_text(r: Report) -> str:
    """The report as plain text lines for the terminal."""
    head = f"{'plan':<22} {'symbol':<7} {'side':<5} {'qty':>6} {'entry':>10} {'exit':>10} {'gross P&L':>12} " \
           f"{'commissions':>11} {'net P&L':>12} {'R':>6} {'held':>8}  exit"
    lines = [f"report{' since ' + r.since.isoformat() if r.since else ''}: {len(r.trades)} closed trades", head]
    for t in r.trades:
        lines.append(f"{t.plan_id:<22} {t.symbol:<7} {t.side:<5} {t.quantity:>6} {_fmt(t.entry_price):>10} "
                     f"{_fmt(t.exit_price):>10} {_fmt(t.gross_pnl):>12} {_fmt(t.commissions):>11} "
                     f"{_fmt(t.net_pnl):>12} {_fmt(t.r_multiple):>6} {holding_text(t.holding_seconds):>8}  "
                     f"{t.exit_reason or ''}")
    win_rate = None if r.win_rate is None else r.win_rate * 100
    lines.append(f"P&L {_fmt(r.gross_pnl)} gross · {_fmt(r.net_pnl)} net (commissions {_fmt(r.commissions)}) · "
                 f"win rate {_fmt(win_rate, '.1f')} % · average R {_fmt(r.average_r)} · "
                 f"expectancy {_fmt(r.expectancy)} · profit factor {_fmt(r.profit_factor)} · "
                 f"max drawdown {_fmt(r.max_drawdown)}")
    if not r.commissions_complete:
        lines.append("commissions: not recorded for every fill; P&L is net of the commissions the store has")
    return "\n".join(lines) + "\n"
