"""The trader's own exit orders in TWS beside the plans' exits, judged from the simulated
gateway's orders and positions across all clients: together, every exit at IB never sells more
than IB holds, whatever the shape of the trader's orders and however many plans share the
symbol; and stepping back is said once, not at every reconciliation.
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


def _ours(w: World) -> list[int]:
    return sorted(q for c, _t, q in _exits(w) if c == OURS)


async def _reconcile(w: World) -> None:
    w.engine.reconciled.clear()
    w.engine.enqueue(ReconcileRequest("test"))
    await w.reconciled()


async def test_a_scale_out_of_a_stop_and_a_limit_not_in_one_oca_group_adds_up(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """121 at a limit above and 100 at a stop below can both fill: together they sell all 221."""
    async with World(tmp_path, plan_toml("T")) as w:
        await w.state("T", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.stop("AAPL", 100, 165.00)
            await trader.limit("AAPL", 121, 185.00)
            await _reconcile(w)
            plan = await w.state("T", "error")
            assert "could sell 221" in (plan.reason or "")
            await w.until(lambda: _ours(w) == [], "our exits cancelled")
            w.gw.set_price("AAPL", 190.00)       # up through the trader's limit
            await w.gw.wait_until(lambda: _position(w) == 100)
            w.gw.set_price("AAPL", 160.00)       # down through the trader's stop
            await w.gw.wait_until(lambda: not [o for o in w.gw.orders if o.status in WORKING])
        assert _position(w) == 0


async def test_one_traders_stop_is_shared_out_across_the_plans_on_the_symbol(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """Two plans hold 221 each; the trader's stop for 221 makes one of them step back, not both
    (both would leave 221 shares with no stop)."""
    async with World(tmp_path, plan_toml("A1") + "\n" + plan_toml("A2")) as w:
        await w.state("A1", "protected")
        await w.state("A2", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.stop("AAPL", 221, 165.00)
            await _reconcile(w)
            await w.state("A1", "error")
            await _reconcile(w)
            await _reconcile(w)
            assert w.plan("A2").state == "protected"
            assert _exits(w) == [(0, "STP", 221), (OURS, "LMT", 221), (OURS, "STP", 221)]
        assert _position(w) == 442


async def test_stepping_back_cancels_the_rest_of_the_entry_beside_the_traders_stop(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """100 of the 221 filled when the trader adds a stop for 50: ours are cut to 50 and the entry's
    unfilled rest is cancelled (no more shares are bought beside the trader's exits)."""
    async with World(tmp_path, plan_toml("PF"), partial_fill_max=100) as w:
        await w.until(lambda: "PF" in w.engine.plans and w.plan("PF").filled_qty == 100, "first 100 filled")
        await w.until(lambda: _ours(w) == [100, 100], "protected")
        async with Trader(w.gw.port) as trader:
            await trader.stop("AAPL", 50, 165.00)
            await _reconcile(w)
            await w.state("PF", "error")
            await w.until(lambda: _ours(w) == [50, 50], "ours cut to 50")
            await w.gw.wait_until(lambda: not [o for o in w.working("PF") if o.order_ref.startswith("PF:entry")])
            w.gw.set_price("AAPL", 180.00)                       # would have filled the entry further
            await _reconcile(w)
            assert _ours(w) == [50, 50] and _position(w) == 100 and w.plan("PF").filled_qty == 100
            w.gw.set_price("AAPL", 160.00)                       # through every stop
            await w.gw.wait_until(lambda: not [o for o in w.gw.orders if o.order_type == "STP"
                                               and o.status in WORKING])
        assert _position(w) == 0


async def test_stepping_back_for_part_of_the_shares_is_said_once(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("Q")) as w:
        await w.state("Q", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.stop("AAPL", 100, 165.00)
            await _reconcile(w)
            await w.state("Q", "error")
            await w.until(lambda: _ours(w) == [121, 121], "ours cut to 121")
            for _ in range(4):                                  # the periodic reconciliations
                await _reconcile(w)
        assert w.rt is not None
        rows = w.rt.store.db.execute("SELECT count(*) FROM journal WHERE plan_id='Q' AND event='TraderExits'")
        assert rows.fetchone()[0] == 1
        assert w.rt.store.db.execute("SELECT count(*) FROM outbox WHERE kind='yielded_to_trader'").fetchone()[0] == 1
        assert _ours(w) == [121, 121] and _position(w) == 221
