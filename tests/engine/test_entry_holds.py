"""The entry gate's holds beside the trader (an ib_async client with clientId 0), judged from the
simulated gateway's positions across all clients: a hold lasts exactly as long as IB's position in
the symbol is not what the plans (and the trader's accepted shares) explain.

The trader's stop carrying a plan's orderRef (a copy of the plan's stop in TWS) fills after the
plan stepped back for it: IB's position report closes the plan outside at once; the execution,
another client's, is heard at the next reconciliation. It sold the very shares the report already
took as gone: counted again, the plan claimed a reversal (closed → error, "exit fills exceed
entry fills") while IB was flat, and its phantom short held new entries in the symbol for good.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine import ReconcileRequest

from ..trader import Trader
from .harness import World, plan_toml

WORKING = ("PreSubmitted", "Submitted")
OURS = 7   # the harness's client id


def _position(w: World, symbol: str = "AAPL") -> int:
    p = w.gw.positions.get(symbol)
    return int(p.qty) if p is not None else 0


def _exits(w: World, symbol: str = "AAPL") -> list[tuple[int, str, int]]:
    return sorted((o.client_id, o.order_type, int(o.remaining)) for o in w.gw.orders
                  if o.symbol == symbol and o.action == "SELL" and o.status in WORKING)


async def _reconcile(w: World) -> None:
    w.engine.reconciled.clear()
    w.engine.enqueue(ReconcileRequest("test"))
    await w.reconciled()


def _executions_of(w: World, client_id: int, symbol: str = "AAPL") -> int:
    return sum(int(e.shares) for e in w.gw.executions if e.client_id == client_id and e.symbol == symbol)


async def _traders_copy_sells_the_plan_out(w: World, partial: bool = False) -> None:
    """The plan steps back for the trader's copy of its stop; then the market runs through it and
    the trader's stop sells every share of the plan, IB's position report closing it outside."""
    w.engine.jobs.cancel("reconcile")   # reconciliations only when asked: the report comes before them
    await w.state("C", "protected")
    async with Trader(w.gw.port) as trader:
        await trader.stop("AAPL", 221, 172.00, ref="C:stop")
        await _reconcile(w)
        await w.state("C", "error")
        await w.until(lambda: _exits(w) == [(0, "STP", 221)], "only the trader's copy of the stop")
        w.gw.set_price("AAPL", 170.00)
        await w.gw.wait_until(lambda: _position(w) == 0)
        plan = await w.state("C", "closed")
        assert plan.exit_reason == "outside" and plan.outside_qty == 221 and plan.open_qty == 0
        assert _executions_of(w, 0) == 221 and _executions_of(w, OURS) == 221   # the trader's sale; our entry


async def test_the_traders_fill_with_the_plans_ref_after_closed_outside_leaves_no_phantom_hold(
        tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("C")) as w:
        await _traders_copy_sells_the_plan_out(w)
        await _reconcile(w)   # the trader's execution heard, by the plan's orderRef
        await _reconcile(w)   # a second look: an unexplained position would hold now
        plan = w.plan("C")
        assert (plan.state, plan.open_qty, plan.exited_qty, plan.outside_qty) == ("closed", 0, 221, 0), plan.reason
        assert _position(w) == 0 and w.engine.gate.held == {}
        # a new plan in AAPL enters at once: nothing at IB is unexplained
        (tmp_path / "plans" / "more.toml").write_text(plan_toml("N", entry_price=170.00, stop=161.00, target=179.00))
        await w.state("N", "protected")
        assert _position(w) == w.plan("N").filled_qty > 0


async def test_the_traders_fill_heard_after_a_restart_is_no_reversal_and_no_hold(tmp_path: Path) -> None:
    """The episode's order: closed outside, a restart, the execution applied at connect (where a
    mismatch holds at once)."""
    w = World(tmp_path, plan_toml("C"))
    async with w:
        await _traders_copy_sells_the_plan_out(w)
        await w.stop()
        await w.start()
        await w.reconciled()
        plan = w.plan("C")
        assert plan.state == "closed" and "reversed" not in (plan.reason or ""), plan.reason
        assert (plan.open_qty, plan.exited_qty, plan.outside_qty) == (0, 221, 0)
        assert plan.realized_pnl < 0   # the stop's loss is the plan's: the trader's order sold its shares
        assert _position(w) == 0 and w.engine.gate.held == {}


async def test_a_hold_for_the_traders_own_shares_lasts_until_they_are_sold_back(tmp_path: Path) -> None:
    """The trader buys 50 beside the plan's shares: entries in AAPL are held while IB shows them,
    and released once the trader sold them back: IB's position report asks for a reconciliation at
    once (none runs otherwise), whose check lifts the hold."""
    async with World(tmp_path, plan_toml("C")) as w:
        w.engine.jobs.cancel("reconcile")
        await w.state("C", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 50, action="BUY")
            await _reconcile(w)
            await _reconcile(w)
            assert _position(w) == 271 and "IB holds 271 AAPL" in w.engine.gate.held.get("AAPL", "")
            await _reconcile(w)
            assert "AAPL" in w.engine.gate.held   # never lifted while unexplained
            await trader.sell("AAPL", 30)
            await w.gw.wait_until(lambda: _position(w) == 241)
            await _reconcile(w)
            assert "AAPL" in w.engine.gate.held   # 20 of the trader's shares still unexplained
            await trader.sell("AAPL", 20)
            await w.until(lambda: w.engine.gate.held == {},
                          "the hold lifted by the reconciliation IB's position report asked for")
            assert _position(w) == 221 and w.plan("C").open_qty == 221
