"""IB cancels a market flatten after a partial fill, and its 202 reaches us before that fill's
status and execution: the stop put back is for what IB holds once every fill heard is applied,
never for the whole position (a stop for more than is held sells short when it triggers)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.engine import ReconcileRequest

from .harness import World, plan_toml

WORKING = ("PreSubmitted", "Submitted")


async def test_the_stop_put_back_after_a_partly_filled_refused_flatten_is_for_what_ib_holds(  # type: ignore[no-untyped-def]
        tmp_path: Path, log_guard) -> None:
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("P")) as w:
        await w.state("P", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")   # the repricing refused: a market flatten
        w.gw.book.partial_fill_max = 100                        # which fills 100 of 221
        w.gw.policy.cancel_market_rest = 1                      # and IB cancels the rest, its 202 first
        w.gw.faults.delay_executions(0.3)
        w.rt.store.add_command("P", "cancel", at=datetime.now(UTC))
        await w.until(lambda: w.plan("P").state == "error" and w.plan("P").open_qty == 121,
                      "the refused flatten's fill applied")

        def stops() -> list[tuple[str, float]]:
            return [(o.order_ref, o.remaining) for o in w.gw.orders if o.status in WORKING
                    and (o.order_ref or "").startswith("P:stop")]
        await w.until(lambda: bool(stops()), "a stop back at IB")
        w.engine.enqueue(ReconcileRequest("test"))   # IB's views read once more: nothing changes the verdict
        await asyncio.wait_for(w.engine.queue.join(), 10)
        held = w.gw.positions["AAPL"].qty
        assert (held, stops()) == (121, [("P:stop:2", 121)]), (
            f"IB holds {held} AAPL and these stops work there: {stops()}")
