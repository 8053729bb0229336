"""A trailed stop's quantity follows IB's position, not the figure its move was computed with.

A stop move (``ModifyStop``) changes only the price: the quantity IB works is the one the last
``Protect`` set (or IB confirmed). These run end to end over TCP against the simulated gateway,
with the trader selling part of the position by hand in the same account."""

from __future__ import annotations

from decimal import Decimal

import machines
from orchestrator.engine import ReconcileRequest

from ..trader import Trader
from .harness import World, plan_toml

TRAIL = {"stop": 171.00, "target": 200.00, "trail": (0.5, 2.0)}     # R = 9: trails from 184.50, 2.00 behind
WORKING = ("PreSubmitted", "Submitted")


def _exits_at_ib(w: World) -> list[tuple[str, str, int, float | None]]:
    """Every working AAPL sell order of every client: (type, ref, remaining, stop price)."""
    return sorted((o.order_type, o.order_ref or "", int(o.remaining),
                   None if o.aux_price is None else float(o.aux_price))
                  for o in w.gw.orders if o.symbol == "AAPL" and o.action == "SELL" and o.status in WORKING)


def _position(w: World) -> int:
    p = w.gw.positions.get("AAPL")
    return int(p.qty) if p is not None else 0


async def test_a_trailed_stop_is_cut_to_what_is_left_after_a_sale_by_hand_and_sells_no_more(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("T", **TRAIL)) as w:
        await w.state("T", "protected")
        w.gw.set_price("AAPL", 186.00)
        await w.until(lambda: w.plan("T").confirmed_stop_price == Decimal(184), "the stop trailed to 184")
        assert _exits_at_ib(w) == [("LMT", "T:target", 221, None), ("STP", "T:stop", 221, 184.0)]
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 100)
        plan = await w.state("T", "error")
        await w.until(lambda: _exits_at_ib(w) == [("LMT", "T:target", 121, None), ("STP", "T:stop", 121, 184.0)],
                      "the trailed stop cut to 121 at its trailed price")
        w.gw.set_price("AAPL", 183.00)                            # through the trailed stop: it sells what is left
        plan = await w.state("T", "closed")
        assert _position(w) == 0 and _exits_at_ib(w) == []
        assert plan.exit_reason in ("stop", "trailing_stop")


async def test_a_stop_move_computed_before_a_sale_by_hand_never_grows_the_stop_back(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """A stop move whose effect still carries the old quantity (221) is carried out after the
    position was cut to 121: IB's stop moves to the new price and keeps 121 shares (the move
    sends a price only, so the executor need not refresh its quantity)."""
    async with World(tmp_path, plan_toml("M", **TRAIL)) as w:
        await w.state("M", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 100)
        w.engine.reconciled.clear()
        w.engine.enqueue(ReconcileRequest("test"))
        await w.reconciled()
        await w.until(lambda: _exits_at_ib(w) == [("LMT", "M:target", 121, None), ("STP", "M:stop", 121, 171.0)],
                      "exits cut to 121")
        # not brought up to date with the plan (no plan given): the effect as it was computed
        done = await w.engine.executor.run(machines.ModifyStop("M", Decimal("175.00"), 221), None)
        assert done.startswith("modified stop")
        await w.until(lambda: _exits_at_ib(w) == [("LMT", "M:target", 121, None), ("STP", "M:stop", 121, 175.0)],
                      "the stop moved, still 121")
        assert _position(w) == 121
