"""The orchestrator acts only on what IB shows, with the trader at the same account (an ib_async
client with clientId 0, and the TWS window): every verdict is read from the simulated gateway's
own state across all clients — its positions and the orders it has working."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orchestrator.engine import ReconcileRequest
from orchestrator.store import submit_command

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


async def test_a_plan_in_error_whose_exits_the_trader_cancels_gets_a_stop_back_at_once(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """A plan in error (a partial sale by hand) still holds 121 shares; the trader's global cancel
    takes its exits. IB's cancels alone bring a stop back (no reconciliation runs here: once an
    hour), and the trader is told: never 121 shares without a stop until the next look."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("U"), reconcile_seconds=3600) as w:
        await w.state("U", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 100)
            await w.state("U", "error")
            await w.until(lambda: _exits_at_ib(w) == [(7, "LMT", "U:target", 121), (7, "STP", "U:stop", 121)],
                          "exits cut to 121")
            trader.global_cancel()
            await w.until(lambda: _exits_at_ib(w) == [(7, "STP", "U:stop:2", 121)], "a stop back for the 121 shares")
        plan = w.plan("U")
        assert _position(w) == 121 and plan.state == "error" and "IB showed nothing working for its 121" in plan.reason
        assert sum("IB showed nothing working" in n for n in _notices(w, "error")) == 1
        w.gw.set_price("AAPL", 170.00)                            # that stop sells what is left, no more
        await w.state("U", "closed")
        assert _position(w) == 0 and _working(w) == []


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


async def test_shares_the_trader_bought_beside_the_plan_stay_theirs_when_the_plans_shares_are_sold_by_hand(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The trader buys 50 for themselves (IB reports 271 once; not yet a hold), then closes the
    plan's 221 by hand. IB holds 50, and IB does not say whose: they are the ones the trader
    bought beside the plan, so the plan closed outside. It never puts exits on the trader's 50."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("B")) as w:
        await w.state("B", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 50, action="BUY")
            await _reconcile(w)                                   # IB's 271 seen once
            trader.global_cancel()
            await trader.sell("AAPL", 221)
        plan = await w.state("B", "closed")
        assert (plan.exit_reason, plan.outside_qty, plan.open_qty) == ("outside", 221, 0)
        assert _position(w) == 50 and _working(w) == []
        await _market_moves_through_both_exits(w)
        assert _position(w) == 50 and _working(w) == []           # the trader's 50 are never sold by us


async def test_a_copy_of_the_stop_the_trader_leaves_after_the_plan_closed_is_left_alone_quietly(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The plan closed at its target; the trader then places a stop carrying the plan's orderRef
    (IB lets only client 0 change it). The plan does not try to cancel it at every order event
    and reconciliation, and its history gets no row per look: nothing of ours is left to cancel."""
    async with World(tmp_path, plan_toml("K"), reconcile_seconds=3600) as w:
        await w.state("K", "protected")
        w.gw.set_price("AAPL", 189.50)
        await w.state("K", "closed")
        assert w.rt is not None
        rows = w.rt.store.db.execute("SELECT count(*) FROM journal WHERE plan_id='K'").fetchone()[0]
        async with Trader(w.gw.port) as trader:
            await trader.stop("AAPL", 221, 170.00, ref="K:stop")
            for _ in range(3):
                await _reconcile(w)
        assert w.rt.store.db.execute("SELECT count(*) FROM journal WHERE plan_id='K'").fetchone()[0] == rows
        assert _exits_at_ib(w) == [(0, "STP", "K:stop", 221)] and _position(w) == 0


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


# ------------------------------------------------------------------ M1: market entries on the live price
ENTRY = {"entry_price": 180.00, "stop": 176.00, "target": 188.00}   # R = 4; the tolerance 0.5R = 2.00


@pytest.mark.parametrize(("market", "quantity"), [(180.00, 498), (181.50, 362)])
async def test_a_market_entry_is_sized_on_the_ask_and_its_actual_risk_stays_in_budget(
        tmp_path, log_guard, market: float, quantity: int) -> None:  # type: ignore[no-untyped-def]
    """2 % of 100,000 = 2,000 of risk: at 180.00 the ask is 180.01, 2,000 / 4.01 → 498 shares; at
    181.50 (0.375R away, inside the tolerance) 2,000 / 5.51 → 362."""
    async with World(tmp_path, plan_toml("E", **ENTRY), prices=[("AAPL", market)]) as w:
        plan = await w.state("E", "protected")
        assert plan.filled_qty == quantity and plan.sized_price == Decimal(str(market)) + Decimal("0.01")
        [entry] = [o for o in w.gw.orders if o.order_ref == "E:entry"]
        assert (entry.total_qty, entry.filled) == (quantity, quantity) and _position(w) == quantity
        assert plan.actual_risk is not None and plan.actual_risk <= Decimal(2000)
        assert plan.actual_risk == quantity * (plan.avg_entry_price - Decimal("176.00"))
        assert _exits_at_ib(w) == [(7, "LMT", "E:target", quantity), (7, "STP", "E:stop", quantity)]


@pytest.mark.parametrize(("market", "words"), [
    (187.50, "the market 187.51 is 7.51 from entry_price 180.00, more than 0.5R (2.000) allows"),
    (189.00, "the market 189.01 is already at or beyond the target 188.00"),
    (175.00, "the market 175.01 is already at or beyond the stop 176.00"),
])
async def test_a_market_entry_far_from_its_price_or_past_its_stop_or_target_is_refused_with_both_prices(
        tmp_path, log_guard, market: float, words: str) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("F", **ENTRY), prices=[("AAPL", market)]) as w:
        plan = await w.state("F", "rejected")
        assert plan.reason == f"market entry refused: {words}"
        assert w.gw.orders == [] and _position(w) == 0            # nothing reached IB
        [note] = _notices(w, "rejected")
        assert words in note


# ------------------------------------------------------------------ trailing with evidence
TRAIL = {"stop": 171.00, "target": 200.00, "trail": (0.5, 2.0)}     # R = 9: trails from 184.50, 2.00 behind
RETRY = "confirm_seconds = 0.3\nmax_attempts = 3\n"                 # into the harness's [trailing] table


def _stop_at_ib(w: World, plan_id: str) -> float:
    [stop] = [o for o in w.working(plan_id) if o.order_ref == f"{plan_id}:stop"]
    assert stop.aux_price is not None
    return float(stop.aux_price)


async def test_a_refused_trail_modification_is_sent_again_until_ib_confirms_it(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("R", **TRAIL), risk=RETRY) as w:
        await w.state("R", "protected")
        w.gw.faults.reject_next_modify(1, "simulated")
        w.gw.set_price("AAPL", 186.00)
        await w.until(lambda: w.plan("R").confirmed_stop_price == Decimal(184), "the stop confirmed at 184")
        assert _stop_at_ib(w, "R") == 184.0 and w.plan("R").stop_price == Decimal(184)
        assert "StopModifyRejected" in [e for *_x, e in w.history("R")]
        assert not _notices(w, "trail_stuck")


async def test_a_lost_trail_modification_is_sent_again(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("L", **TRAIL), risk=RETRY) as w:
        await w.state("L", "protected")
        w.gw.faults.ignore_next(3, 1)       # the next placeOrder (the modification) never reaches IB
        w.gw.set_price("AAPL", 186.00)
        await w.until(lambda: w.plan("L").confirmed_stop_price == Decimal(184), "the stop confirmed at 184")
        assert _stop_at_ib(w, "L") == 184.0
        modifies = [r for r in w.journal_events("L:stop") if r["event"] == "modified"]
        assert len(modifies) == 1                                   # the re-sent one; the first was lost


async def test_a_trail_ib_keeps_refusing_is_given_up_once_and_the_confirmed_stop_protects(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("G", **TRAIL), risk=RETRY) as w:
        await w.state("G", "protected")
        w.gw.faults.reject_next_modify(50, "simulated")
        w.gw.set_price("AAPL", 186.00)
        await w.until(lambda: len(_notices(w, "trail_stuck")) == 1, "the trader told")
        for _ in range(3):
            await _reconcile(w)
        plan = w.plan("G")
        assert (plan.stop_price, plan.confirmed_stop_price) == (Decimal(184), Decimal(171))
        assert plan.state in ("protected", "trailing") and _stop_at_ib(w, "G") == 171.0
        assert len(_notices(w, "trail_stuck")) == 1 and "171" in _notices(w, "trail_stuck")[0]
        assert _exits_at_ib(w) == [(7, "LMT", "G:target", 221), (7, "STP", "G:stop", 221)]


async def test_a_modification_ib_is_still_processing_is_sent_again(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB answers a modification sent while the previous one is still processed with 2102 and
    keeps the order working at its old price: the trail is sent again, one stop throughout."""
    async with World(tmp_path, plan_toml("B", **TRAIL), risk=RETRY) as w:
        await w.state("B", "protected")
        w.gw.policy.modify_processing_seconds = 60.0
        w.gw.set_price("AAPL", 186.00)
        await w.until(lambda: w.plan("B").confirmed_stop_price == Decimal(184), "the first trail")
        w.gw.set_price("AAPL", 187.00)                              # the next one arrives too soon: 2102
        await w.until(lambda: "StopModifyRejected" in [e for *_x, e in w.history("B")], "IB's 2102")
        assert _stop_at_ib(w, "B") == 184.0
        w.gw.policy.modify_processing_seconds = 0.0
        await w.until(lambda: w.plan("B").confirmed_stop_price == Decimal(185), "the stop at 185")
        await _reconcile(w)
        assert _exits_at_ib(w) == [(7, "LMT", "B:target", 221), (7, "STP", "B:stop", 221)]
        assert _stop_at_ib(w, "B") == 185.0 and _position(w) == 221


async def test_a_false_cancelled_during_trailing_never_leaves_two_stops(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB refuses a modification with 201 and keeps the stop working at its old price; ib_async
    marks the order Cancelled. Exits at IB must stay (or come back to) one stop and one
    take-profit for the position, and the trail reaches IB."""
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("X", **TRAIL), risk=RETRY) as w:
        await w.state("X", "protected")
        w.gw.faults.reject_next_modify(1, "simulated")
        w.gw.set_price("AAPL", 186.00)
        await w.until(lambda: "StopModifyRejected" in [e for *_x, e in w.history("X")], "the refusal")
        await _reconcile(w)
        await w.until(lambda: w.plan("X").confirmed_stop_price == Decimal(184), "the stop at 184")
        await _reconcile(w)
        assert _exits_at_ib(w) == [(7, "LMT", "X:target", 221), (7, "STP", "X:stop", 221)]
        assert _stop_at_ib(w, "X") == 184.0 and _position(w) == 221
        assert len([r for r in w.journal_events("X:stop") if r["event"] == "placed"]) == 1


async def test_a_stop_the_trader_copies_with_the_plans_order_ref_makes_the_plan_step_back(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The trader copies the plan's stop in TWS, orderRef and all (IB lets only the placing client
    change it): the plan's own exits are cancelled, so the trader's stop is the only exit."""
    async with World(tmp_path, plan_toml("C")) as w:
        await w.state("C", "protected")
        async with Trader(w.gw.port) as trader:
            copy = await trader.stop("AAPL", 221, 172.00, ref="C:stop")
            await _reconcile(w)
            plan = await w.state("C", "error")
            assert f"order {copy.order.orderId} of client 0: SELL 221 STP @ 172" in plan.reason
            await w.until(lambda: _exits_at_ib(w) == [(0, "STP", "C:stop", 221)], "only the trader's copy")
            await _reconcile(w)
            assert _exits_at_ib(w) == [(0, "STP", "C:stop", 221)] and _position(w) == 221


async def test_a_copy_of_the_plans_stop_covers_the_plans_shares_not_the_traders_own(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The trader holds 8 shares of their own beside the plan's 221, then copies the plan's stop
    (its orderRef, its 221 shares). The copy is for the plan's shares: the plan's own exits are
    all cancelled. Counting the trader's 8 first left a take-profit of ours for 8 beside the
    copy, 229 shares of exits carrying the plan's orderRef on its 221 (chaos R1201-E17-P0)."""
    async with World(tmp_path, plan_toml("C")) as w:
        await w.state("C", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 8, action="BUY")
            await trader.stop("AAPL", 221, 172.00, ref="C:stop")
            await _reconcile(w)
            await w.state("C", "error")
            await _reconcile(w)
            try:
                await w.until(lambda: all(c != 7 for c, *_x in _exits_at_ib(w)), "our exits gone", timeout=5)
            except AssertionError:
                raise AssertionError(f"exits working at IB: {_exits_at_ib(w)}") from None
            assert _exits_at_ib(w) == [(0, "STP", "C:stop", 221)] and _position(w) == 229


# ------------------------------------------------------------------ C5: an entry that reaches IB late
async def test_an_entry_that_reaches_ib_after_a_restart_takes_the_plan_out_of_error_and_is_protected(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB is slow to take orders; the orchestrator restarts right after sending the entry, finds
    no trace of it and goes to error (it never sends it twice). Then IB takes it and it fills:
    the plan carries on, is protected, and its reason no longer says the entry is missing."""
    log_guard.expect(r"shows no trace of its entry")
    async with World(tmp_path, "") as w:
        w.gw.faults.delay_acks(1.5)
        (tmp_path / "plans" / "plans.toml").write_text(plan_toml("L"))
        await w.until(lambda: "L" in w.engine.plans and w.plan("L").state == "sized"
                      and not w.rt.store.pending_effects(), "the bracket sent")
        assert not w.journal_events("L:")                          # IB has not taken it yet
        await w.stop()
        await w.start()
        await w.state("L", "error")
        assert w.plan("L").entry_unseen
        w.gw.faults.delay_acks(0)
        plan = await w.state("L", "protected", timeout=15)
        assert plan.reason is None and not plan.entry_unseen and plan.filled_qty == 221
        assert _exits_at_ib(w) == [(7, "LMT", "L:target", 221), (7, "STP", "L:stop", 221)]
        assert [o.order_ref for o in w.gw.orders if o.order_ref.endswith(":entry")] == ["L:entry"]
        assert _position(w) == 221


# ------------------------------------------------------------------ C3: a stop filled while away, a cancel queued
async def test_a_stop_filled_while_away_wins_over_a_cancel_queued_meanwhile(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The stop filled at IB while the orchestrator was stopped, and the trader queued a cancel:
    on restart the plan is closed by its stop, no flatten is announced, the cancel is answered."""
    async with World(tmp_path, plan_toml("Z")) as w:
        await w.state("Z", "protected")
        await w.stop()
        w.gw.set_price("AAPL", 170.00)
        await w.gw.wait_until(lambda: _position(w) == 0)
        submit_command(f"sqlite:///{tmp_path / 'state.db'}", "cancel", "Z", origin="cli")
        await w.start()
        plan = await w.state("Z", "closed")
        await w.until(lambda: w.rt is not None and w.rt.store.db.execute(
            "SELECT count(*) FROM commands WHERE processed_at IS NULL").fetchone()[0] == 0, "the cancel answered")
        assert plan.exit_reason == "stop" and plan.reason != "cancelled by user"
        assert not _notices(w, "flatten_requested") and len(_notices(w, "stop_loss")) == 1
        assert not [o for o in w.gw.orders if o.order_ref == "Z:flatten"] and _position(w) == 0
        assert _working(w) == []


# ------------------------------------------------------------------ M3: the position gone while away
async def test_a_position_gone_while_the_orchestrator_was_away_sends_nothing_and_ends_the_plan(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """While the orchestrator is stopped the trader cancels everything and sells in TWS: on restart
    nothing is re-protected or flattened (that would open a short); the plan is closed outside."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("G")) as w:
        await w.state("G", "protected")
        sent = w.placed_refs("G")
        await w.stop()
        async with Trader(w.gw.port) as trader:
            trader.global_cancel()
            await w.gw.wait_until(lambda: _working(w) == [])
            await trader.sell("AAPL", 221)
        await w.start()
        plan = await w.state("G", "closed")
        assert plan.exit_reason == "outside" and w.placed_refs("G") == sent     # nothing new was sent
        assert _position(w) == 0 and _working(w) == []


# ------------------------------------------------------------------ M4: a window already over
async def test_a_new_plan_whose_window_is_over_is_refused_with_its_whole_file(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("OK1")) as w:
        await w.state("OK1", "protected")
        (tmp_path / "plans" / "late.toml").write_text(
            plan_toml("LATE", expire_at="2020-01-02T15:00:00+00:00") + "\n" + plan_toml("SIBLING", "MSFT"))
        await w.until(lambda: bool(_notices(w, "plan_file_invalid")), "the late file reported")
        [note] = _notices(w, "plan_file_invalid")
        assert "late.toml: 1 problem" in note
        assert "plan LATE: expire_at: has already passed (2020-01-02T15:00:00+00:00" in note
        assert "LATE" not in w.engine.plans and "SIBLING" not in w.engine.plans
        assert not [o for o in w.gw.orders if not o.order_ref.startswith("OK1:")]   # nothing of that file at IB
