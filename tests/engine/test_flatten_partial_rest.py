"""A market flatten (the repricing refused) that fills part of the position and keeps working
for the rest, across a restart: the working market order is the exit. The engine adds no stop
beside it (a stop next to a market order can sell the shares twice: chaos R1201-E4) and no second
market order; the rest fills at the next price and the plan closes flat. Chaos R1210-E26-P3:
the judge counted this rest as bare (``protected_after_connect``) while the market clock stood
still during its checkpoint."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.engine import ReconcileRequest

from .harness import World, plan_toml

WORKING = ("PreSubmitted", "Submitted")


def _working_exits(w: World) -> list[tuple[str, str, float]]:
    return [(o.order_ref, o.order_type, o.remaining) for o in w.gw.orders
            if o.symbol == "AAPL" and o.status in WORKING and not (o.order_ref or "").endswith(":entry")]


async def _reconcile(w: World) -> None:
    w.engine.enqueue(ReconcileRequest("test"))
    await asyncio.wait_for(w.engine.queue.join(), 10)


async def test_a_partly_filled_market_flatten_is_the_exit_across_a_restart(  # type: ignore[no-untyped-def]
        tmp_path: Path, log_guard) -> None:
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("P"), reconcile_seconds=3600) as w:
        await w.state("P", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")   # the repricing refused: a market flatten
        w.gw.book.partial_fill_max = 100                        # which fills 100 of 221 now, the rest per tick
        assert w.rt is not None
        w.rt.store.add_command("P", "cancel", at=datetime.now(UTC))
        await w.until(lambda: w.plan("P").open_qty == 121, "the market flatten's first fill applied")
        assert _working_exits(w) == [("P:flatten", "MKT", 121)]

        await w.stop()
        await w.start()
        await w.reconciled()
        await _reconcile(w)
        assert _working_exits(w) == [("P:flatten", "MKT", 121)], "the restart changed the exit working at IB"
        assert w.plan("P").open_qty == 121

        for _ in range(2):   # the next prices fill 100 and then 21
            w.gw.set_price("AAPL", 180.0)
        plan = await w.state("P", "closed")
        position = w.gw.positions.get("AAPL")
        assert (position.qty if position else 0, plan.exit_reason) == (0, "flatten")
        assert [r["order_ref"] for r in w.journal_events("P:") if r["event"] == "placed"] == [
            "P:entry", "P:target", "P:stop", "P:flatten"]
