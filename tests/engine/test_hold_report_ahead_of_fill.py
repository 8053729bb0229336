"""A hold on the trader's unexplained shares survives IB's position report arriving ahead of our
own exit's execution, judged from the simulated gateway's positions across all clients.

The plan holds 221 AAPL; the trader (clientId 0) buys 50 more, so entries in AAPL are held. Our
stop then fills 50: IB's position report (221) reaches us before that fill's orderStatus (dropped
here) and execDetails (3 s late). Compared with the plan's stale 221 the report looked like the
hold explained, and it lifted while the trader's 50 were still at IB. A report that would lift a
hold now only asks for a reconciliation, which reads the executions with the positions: the stop's
fill is applied (the plan holds 171), IB's 221 stays unexplained and the hold stays. It lifts once
the trader sells their 50 back.
"""

from __future__ import annotations

from pathlib import Path

from machines import NotifyKind
from orchestrator.engine import ReconcileRequest

from ..trader import Trader
from .harness import World, plan_toml


def _position(w: World, symbol: str = "AAPL") -> int:
    p = w.gw.positions.get(symbol)
    return int(p.qty) if p is not None else 0


async def _reconcile(w: World) -> None:
    w.engine.reconciled.clear()
    w.engine.enqueue(ReconcileRequest("test"))
    await w.reconciled()


def _lifts(w: World) -> list[str]:
    """The keys of the 'positions match again' notices written so far (one per lift)."""
    assert w.rt is not None
    rows = w.rt.store.db.execute("SELECT dedupe_key FROM outbox WHERE kind=?",
                                 (str(NotifyKind.POSITION_EXPLAINED),)).fetchall()
    return [r[0] for r in rows]


async def test_a_position_report_ahead_of_our_fill_does_not_lift_the_hold(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("C")) as w:
        w.engine.jobs.cancel("reconcile")   # reconciliations only when asked (or when a report asks)
        await w.state("C", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 50, action="BUY")
            await _reconcile(w)
            await _reconcile(w)
            assert _position(w) == 271 and "AAPL" in w.engine.gate.held
            w.gw.book.partial_fill_max = 50
            w.gw.faults.drop_next_order_status(2)   # our stop's fill status never reaches us
            w.gw.faults.delay_executions(3.0)        # and its execution comes after the position report
            w.gw.set_price("AAPL", 170.00)           # one tick: the stop fills 50 of its 221
            await w.gw.wait_until(lambda: _position(w) == 221)
            await w.until(lambda: w.plan("C").exited_qty == 50, "the stop's 50-share fill applied")
            plan = w.plan("C")
            assert (_position(w), plan.open_qty) == (221, 171)
            assert "AAPL" in w.engine.gate.held and w.engine.gate.positions["AAPL"] == 221, w.engine.gate.held
            assert _lifts(w) == [], "the hold lifted on a position report not matched with its executions"

            w.gw.faults.delay_executions(0)
            await trader.sell("AAPL", 50)   # no tick: the stop (171 left) does not fill again
            await w.gw.wait_until(lambda: _position(w) == 171)
            await w.until(lambda: w.engine.gate.held == {}, "the hold lifted once IB's position is explained")
            assert _lifts(w) == ["explained:AAPL:171"]
            assert (_position(w), w.plan("C").open_qty, w.plan("C").exited_qty) == (171, 171, 50)
