"""A plan being flattened through its take-profit (repriced marketable, partly filled) while the
trader sells some of its shares by hand: the exit still working is cut to what IB holds, never
left for the whole rest (chaos seed 1210, R1210-E4-P3: a take-profit of 662 on 244 held sold 418
short). Verdicts from the gateway: its position and every client's working orders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ..trader import Trader
from .harness import World, plan_toml
from .test_broker_truth import _exits_at_ib, _position


async def test_a_sale_by_hand_under_a_flatten_cuts_the_exit_still_working_to_what_ib_holds(
        tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("F"), reconcile_seconds=3600) as w:
        await w.state("F", "protected")
        w.gw.book.partial_fill_max = 100                        # the repriced take-profit fills 100 of 221
        assert w.rt is not None
        w.rt.store.add_command("F", "cancel", at=datetime.now(UTC))
        await w.until(lambda: w.plan("F").open_qty == 121, "the first 100 of the flatten applied")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 21)                         # the trader sells 21 of the plan's by hand
        plan = await w.state("F", "closed")                       # the exit, cut to 100, sold those 100
        for price in (179.90, 179.80, 170.00):                    # the market moves on: nothing more sells
            w.gw.set_price("AAPL", price)
        await w.gw.wait_until(lambda: _exits_at_ib(w) == [])
        assert (_position(w), plan.open_qty, plan.outside_qty) == (0, 0, 21)
