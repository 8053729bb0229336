"""The judge's realized-P&L rule when exits fill between entry fills (chaos seed 1210: a stop
buying back a penny stock 1500 a tick while the short entry still sold 1500 a tick).

The figure the orchestrator must show is IB's: once flat, the cash flow of the executions. The
judge's replay "from the fills applied" must therefore use the average cost of the shares still
open (it now copies the machine's rule, the average of every entry fill so far, and so would flag
the right figure and pass the wrong one)."""

from __future__ import annotations

from pathlib import Path

from chaos import invariants as inv
from chaos import records

from .test_invariants import PLAN, _broker, _ex, _sql, db_path  # noqa: F401  (db_path: the fixture)

# e-1 200 @ 180.00, x-1 100 @ 181.00 (the stop, in pieces), e-2 300 @ 180.10, x-2 400 @ 184.00
FILLS = [("e-1", "entry", 200, "180.00"), ("x-1", "stop", 100, "181.00"), ("e-2", "entry", 300, "180.10"),
         ("x-2", "stop", 400, "184.00")]
CASH_FLOW = "1670.00"          # -36000 + 18100 - 54030 + 73600
EVERY_FILL_AVERAGE = "1676.00"  # x-2 charged (200 x 180.00 + 300 x 180.10) / 500 = 180.06


def _interleaved(path: Path, realized: str) -> tuple[inv.Db, inv.Broker]:
    _sql(path, "DELETE FROM fills WHERE plan_id=?", PLAN)
    for exec_id, leg, qty, price in FILLS:
        _sql(path, "INSERT INTO fills (exec_id, plan_id, order_ref, leg, quantity, price, at) "
             "VALUES (?, ?, ?, ?, ?, ?, '2026-12-02T06:03:31+00:00')", exec_id, PLAN, f"{PLAN}:{leg}", leg, qty, price)
    _sql(path, "UPDATE plans SET realized_pnl=? WHERE id=?", realized, PLAN)
    broker = _broker(executions=[_ex(x, f"{PLAN}:{leg}", q, float(p)) for x, leg, q, p in FILLS])
    return inv.Db.read(path), broker


def test_the_cash_flow_figure_is_not_flagged(db_path: Path) -> None:  # noqa: F811
    db, broker = _interleaved(db_path, CASH_FLOW)
    assert [v.detail for v in records.fills_exactly_once(db, broker)] == []


def test_the_average_of_every_entry_fill_is_flagged(db_path: Path) -> None:  # noqa: F811
    db, broker = _interleaved(db_path, EVERY_FILL_AVERAGE)
    details = [v.detail for v in records.fills_exactly_once(db, broker)]
    assert any(f"realized P&L {EVERY_FILL_AVERAGE} != 1670" in d for d in details), details
