"""The orchestrator acts only on what IB shows, with the trader at the same account (an ib_async
client with clientId 0, and the TWS window): every verdict is read from the simulated gateway's
own state across all clients — its positions and the orders it has working."""

from __future__ import annotations

from typing import Any

from orchestrator.engine import ReconcileRequest

from ..trader import Trader
from .harness import World, plan_toml

WORKING = ("PreSubmitted", "Submitted")


def _position(w: World, symbol: str = "AAPL") -> int:
    p = w.gw.positions.get(symbol)
    return int(p.qty) if p is not None else 0


def _exits_at_ib(w: World, symbol: str = "AAPL", action: str = "SELL") -> list[tuple[int, str, str, int]]:
    """Every working order that could sell ``symbol``, of every client: (client, type, ref, qty)."""
    return sorted((o.client_id, o.order_type, o.order_ref or "", int(o.remaining)) for o in w.gw.orders
                  if o.symbol == symbol and o.action == action and o.status in WORKING)


def _working(w: World) -> list[Any]:
    return [o for o in w.gw.orders if o.status in WORKING]


async def _reconcile(w: World) -> None:
    w.engine.reconciled.clear()
    w.engine.enqueue(ReconcileRequest("test"))
    await w.reconciled()


def _notices(w: World, kind: str) -> list[str]:
    assert w.rt is not None
    return [r[0] for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind=?", (kind,))]


async def _market_moves_through_both_exits(w: World) -> None:
    """The price goes through where the stop and the take-profit were: nothing may fill."""
    for price in (189.50, 170.00, 180.00):
        w.gw.set_price("AAPL", price)
        await _reconcile(w)


# ------------------------------------------------------------------ M2: closed by hand in TWS
async def test_a_global_cancel_and_a_sale_by_hand_end_the_plan_and_leave_nothing_that_could_sell(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("M")) as w:
        await w.state("M", "protected")
        first = {o.order_id for o in w.working("M")}
        async with Trader(w.gw.port) as trader:
            trader.global_cancel()
            # the position is still there: it is protected again at once, never left bare
            await w.until(lambda: w.plan("M").state == "protected"
                          and {o.order_id for o in w.working("M")}.isdisjoint(first), "protected again")
            await trader.sell("AAPL", 221)
        plan = await w.state("M", "closed")
        assert (plan.exit_reason, plan.outside_qty, plan.open_qty) == ("outside", 221, 0)
        assert "IB holds none of its 221 shares" in plan.reason
        assert _position(w) == 0 and _working(w) == []
        await _market_moves_through_both_exits(w)
        assert _position(w) == 0 and _working(w) == []            # never a short
        assert len(_notices(w, "closed_outside")) == 1
        assert not _notices(w, "take_profit") and not _notices(w, "stop_loss")


async def test_a_partial_sale_by_hand_cuts_the_exits_to_what_is_held_and_asks_a_human(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("P")) as w:
        await w.state("P", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 100)
        plan = await w.state("P", "error")
        assert "IB holds 121 of the 221 shares" in plan.reason
        await w.until(lambda: _exits_at_ib(w) == [(7, "LMT", "P:target", 121), (7, "STP", "P:stop", 121)],
                      "exits cut to 121")
        assert _position(w) == 121 and plan.open_qty == 121 and plan.outside_qty == 100
        w.gw.set_price("AAPL", 170.00)                            # the stop sells what is left, no more
        plan = await w.state("P", "closed")
        assert _position(w) == 0 and _working(w) == []
        assert plan.exit_reason == "stop"


async def test_our_stop_cancelled_in_tws_for_a_stop_of_the_traders_own_never_leaves_two_stops(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("S")) as w:
        await w.state("S", "protected")
        w.gw.cancel_in_tws("S:stop")
        async with Trader(w.gw.port) as trader:
            mine = await trader.stop("AAPL", 221, 175.00)
            await _reconcile(w)
            plan = await w.state("S", "error")
            assert f"order {mine.order.orderId} of client 0: SELL 221 STP @ 175" in plan.reason
            assert "cancelled so nothing sells twice" in plan.reason
            await w.until(lambda: _exits_at_ib(w) == [(0, "STP", "", 221)], "only the trader's stop left")
            assert _position(w) == 221
            w.gw.set_price("AAPL", 174.00)                        # the trader's stop sells the position
            await w.gw.wait_until(lambda: _position(w) == 0)
        await _reconcile(w)
        plan = await w.state("S", "closed")
        assert plan.exit_reason == "outside" and _working(w) == [] and _position(w) == 0
        assert len(_notices(w, "yielded_to_trader")) == 1


async def test_a_stop_of_the_traders_own_for_part_of_the_shares_cuts_ours_to_the_rest(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("Q")) as w:
        await w.state("Q", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.stop("AAPL", 100, 165.00)
            await _reconcile(w)
            plan = await w.state("Q", "error")
            assert "cut to 121 shares" in plan.reason
            await w.until(lambda: _exits_at_ib(w) == [(0, "STP", "", 100), (7, "LMT", "Q:target", 121),
                                                      (7, "STP", "Q:stop", 121)], "ours cut to 121")
        w.gw.set_price("AAPL", 160.00)      # both stops trigger: together they sell exactly the position
        await w.gw.wait_until(lambda: _position(w) == 0)
        await _reconcile(w)
        assert _position(w) == 0 and _working(w) == []


async def test_the_traders_own_shares_and_their_own_stop_are_left_alone(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """Shares the trader bought by hand, with their own stop for them, are theirs: the plan's
    protection stays whole (only exits beyond the trader's own shares count)."""
    async with World(tmp_path, plan_toml("O")) as w:
        await w.state("O", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 50, action="BUY")
            await trader.stop("AAPL", 50, 160.00)
            await _reconcile(w)
            await _reconcile(w)
        assert "AAPL" in (w.engine.gate.held.get("AAPL") or "")   # unexplained shares hold new entries
        plan = w.plan("O")
        assert plan.state == "protected", plan.reason
        assert _exits_at_ib(w) == [(0, "STP", "", 50), (7, "LMT", "O:target", 221), (7, "STP", "O:stop", 221)]
        assert _position(w) == 271


# ------------------------------------------------------------------ a stop filled while away
async def test_a_stop_filled_while_the_orchestrator_was_down_is_applied_from_ibs_executions(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("D")) as w:
        await w.state("D", "protected")
        await w.stop()
        w.gw.set_price("AAPL", 170.00)
        await w.gw.wait_until(lambda: _position(w) == 0)
        await w.start()
        plan = await w.state("D", "closed")
        assert plan.exit_reason == "stop" and plan.outside_qty == 0
        assert _working(w) == [] and _position(w) == 0


async def test_a_stop_filled_on_an_earlier_day_is_a_position_closed_outside(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB reports only the current day's executions: the fill is not visible, IB holds nothing;
    the plan ends as closed outside, and nothing is sent for shares that are gone."""
    async with World(tmp_path, plan_toml("Y")) as w:
        await w.state("Y", "protected")
        await w.stop()
        w.gw.set_price("AAPL", 170.00)
        await w.gw.wait_until(lambda: _position(w) == 0)
        w.gw.new_day()
        await w.start()
        plan = await w.state("Y", "closed")
        assert plan.exit_reason == "outside" and plan.outside_qty == 221
        assert _working(w) == [] and _position(w) == 0
        assert [r for r in w.placed_refs("Y") if not r.startswith("Y:entry")] == ["Y:target", "Y:stop"]
