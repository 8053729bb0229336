"""A plan in error is never left naked, and never doubled: the stop it gets back when its exits are
taken from under it, judged against every client's orders as IB has them, and the note of the
trader's shares beside the plans across a restart and for a short plan. No periodic
reconciliation runs here (once an hour), so what the event paths do is seen alone. Verdicts from
the gateway's own state."""

from __future__ import annotations

from ..trader import Trader
from .harness import World, plan_toml
from .test_broker_truth import _exits_at_ib, _notices, _position, _reconcile


def _engine_sees_done(w: World, plan_id: str, ref: str) -> bool:
    return any(o.ref == ref and o.state.done for o in w.engine.broker.orders_of(plan_id))


async def _drained(w: World) -> None:
    await w.engine.queue.join()


async def _error_with_121(w: World, trader: Trader, plan_id: str = "U") -> None:
    await w.state(plan_id, "protected")
    await trader.sell("AAPL", 100)
    await w.state(plan_id, "error")
    await w.until(lambda: _exits_at_ib(w) == [(7, "LMT", f"{plan_id}:target", 121), (7, "STP", f"{plan_id}:stop", 121)],
                  "exits cut to 121")


async def _error_with_121_beside_the_traders_5(w: World, trader: Trader) -> None:
    """U in error at 121 (a sale by hand of 100), beside 5 shares of the trader's own and the
    trader's stop for those 5 (seen at a reconciliation)."""
    await w.state("U", "protected")
    await trader.sell("AAPL", 5, action="BUY")
    await _reconcile(w)
    await trader.stop("AAPL", 5, 150.0, ref="mine")
    await _reconcile(w)
    await trader.sell("AAPL", 100)
    await w.state("U", "error")
    await w.until(lambda: [e for e in _exits_at_ib(w) if e[0] == 7] == [(7, "LMT", "U:target", 121),
                                                                        (7, "STP", "U:stop", 121)], "cut")


async def test_a_stop_of_the_traders_placed_after_the_last_look_is_not_doubled_by_a_stop_back(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """U in error holds 121. The trader puts their own stop on the 121 in TWS, then cancels the
    plan's exits (taking over) before any reconciliation. No stop goes back beside the trader's
    (two stops for 121 would sell 242): IB's orders are read afresh first."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("U"), reconcile_seconds=3600) as w:
        async with Trader(w.gw.port) as trader:
            await _error_with_121(w, trader)
            await trader.stop("AAPL", 121, 171.0, ref="mine")
            w.gw.cancel_in_tws("U:target")
            w.gw.cancel_in_tws("U:stop")
            await w.until(lambda: _engine_sees_done(w, "U", "U:stop") and _engine_sees_done(w, "U", "U:target"),
                          "the engine hears the cancels")
            await _drained(w)
            exits = _exits_at_ib(w)
            w.gw.set_price("AAPL", 170.00)
            await w.gw.wait_until(lambda: not any(o.order_type == "STP" and o.status in ("PreSubmitted", "Submitted")
                                                  for o in w.gw.orders))
        assert (exits, _position(w)) == ([(0, "STP", "mine", 121)], 0)


async def test_a_stop_of_the_traders_for_their_own_5_does_not_leave_the_plans_121_bare_in_silence(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The trader holds 5 of their own beside U and a stop for those 5 (left alone: it reaches none
    of U's shares). U goes to error at 121 and its exits are cancelled in TWS: the trader's stop
    protects none of U's 121, so a stop goes back for them."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("U"), reconcile_seconds=3600) as w:
        async with Trader(w.gw.port) as trader:
            await _error_with_121_beside_the_traders_5(w, trader)
            w.gw.cancel_in_tws("U:target")
            w.gw.cancel_in_tws("U:stop")
            await w.until(lambda: _engine_sees_done(w, "U", "U:stop"), "the engine hears the cancels")
            await _drained(w)
            await _reconcile(w)
            await _drained(w)
        plan = w.plan("U")
        assert _position(w) == 126 and plan.open_qty == 121
        assert [e for e in _exits_at_ib(w) if e[0] == 7] != [], (
            f"U's 121 shares have no exit at IB; trader's: {_exits_at_ib(w)}; reason: {plan.reason}")


async def test_a_refused_stop_back_is_sent_once(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """U in error at 121, the trader's Global Cancel, IB refuses the stop put back: tried once,
    told once, no loop."""
    log_guard.expect(r"Error 202", r"Error 201", r"simulated|refused|rejected")
    async with World(tmp_path, plan_toml("U"), reconcile_seconds=3600) as w:
        async with Trader(w.gw.port) as trader:
            await _error_with_121(w, trader)
            w.gw.faults.reject_next(50, "no trading permissions")
            trader.global_cancel()
            await w.until(lambda: "refused the stop sent back" in (w.plan("U").reason or ""), "told", timeout=10)
            await _drained(w)
            await _reconcile(w)
            await _drained(w)
            stops = [o.ref for o in w.engine.broker.orders_of("U") if o.ref.startswith("U:stop")]
            told = sum("refused the stop sent back" in n or "IB showed nothing working" in n
                       for n in _notices(w, "error"))
        assert stops == ["U:stop", "U:stop:2"], stops   # the first stop and one stop back, refused
        assert told == 3, told   # the shortfall, the stop back, its refusal: no loop


async def test_a_global_cancel_then_a_sale_by_hand_of_a_plan_in_error(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The trader closes U (in error, 121) themselves: Global Cancel, then a sale of the 121. A stop
    goes back between the two; once the sale is reported U is closed outside and nothing is left."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("U"), reconcile_seconds=3600) as w:
        async with Trader(w.gw.port) as trader:
            await _error_with_121(w, trader)
            trader.global_cancel()
            await w.until(lambda: (7, "STP", "U:stop:2", 121) in _exits_at_ib(w), "the stop back")
            await trader.sell("AAPL", 121)
            await w.state("U", "closed")
            await _drained(w)
        assert _position(w) == 0 and _exits_at_ib(w) == []


async def test_a_stop_put_back_and_cancelled_again_waits_for_the_next_reconciliation(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The trader (or IB) cancels the stop put back: the next one goes back at the next
    reconciliation, not at once, so a fight over the stop is one order and one notice per
    reconciliation, never a loop of orders and notices."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("U"), reconcile_seconds=3600) as w:
        async with Trader(w.gw.port) as trader:
            await _error_with_121(w, trader)
            trader.global_cancel()
            await w.until(lambda: _exits_at_ib(w) == [(7, "STP", "U:stop:2", 121)], "the stop back")
            w.gw.cancel_in_tws("U:stop:2")
            await w.until(lambda: _engine_sees_done(w, "U", "U:stop:2"), "the engine hears the cancel")
            await _drained(w)
            assert _exits_at_ib(w) == []
            assert sum("IB showed nothing working" in n for n in _notices(w, "error")) == 1
            await _reconcile(w)
            await w.until(lambda: _exits_at_ib(w) == [(7, "STP", "U:stop:3", 121)], "the next stop back")
        assert sum("IB showed nothing working" in n for n in _notices(w, "error")) == 2


async def test_the_note_outlives_a_restart_and_a_hand_close_while_down(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """B holds 221, the trader's 50 beside are noted; the orchestrator is down while the trader
    cancels everything and sells B's 221. Back up: B closed outside, the 50 left alone."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("B"), reconcile_seconds=3600) as w:
        await w.state("B", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 50, action="BUY")
            await _reconcile(w)
            assert w.engine.status.document()["beside_positions"] == {"AAPL": 50}
            await w.stop()
            trader.global_cancel()
            await trader.sell("AAPL", 221)
        await w.start()
        plan = await w.state("B", "closed", "error")
        assert (plan.state, plan.exit_reason, plan.outside_qty) == ("closed", "outside", 221), plan.reason
        assert _position(w) == 50 and _exits_at_ib(w) == []
        assert w.engine.status.document()["beside_positions"] == {}


async def test_a_short_plans_note_works_the_other_way(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """S is short; the trader sells 50 short of their own beside it, then cancels all and buys S's
    shares back by hand: S closed outside, the trader's short 50 left alone."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("S", side="short", stop=189.00, target=171.00),
                     reconcile_seconds=3600) as w:
        plan = await w.state("S", "protected")
        qty = plan.open_qty
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 50)
            await _reconcile(w)
            assert w.engine.status.document()["beside_positions"] == {"AAPL": -50}
            trader.global_cancel()
            await trader.sell("AAPL", qty, action="BUY")
            plan = await w.state("S", "closed", "error")
        assert (plan.state, plan.exit_reason, plan.outside_qty) == ("closed", "outside", qty), plan.reason
        assert _position(w) == -50 and _exits_at_ib(w, action="BUY") == []


async def test_a_global_cancel_that_also_took_the_traders_own_stop(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The trader's own stop for their 5 was read at the last look; the Global Cancel takes it with
    U's exits. The stop goes back at once: what the last look saw is not what IB holds now."""
    log_guard.expect(r"Error 202")
    async with World(tmp_path, plan_toml("U"), reconcile_seconds=3600) as w:
        async with Trader(w.gw.port) as trader:
            await _error_with_121_beside_the_traders_5(w, trader)
            trader.global_cancel()
            await w.until(lambda: _engine_sees_done(w, "U", "U:stop"), "the engine hears the cancels")
            await w.until(lambda: _exits_at_ib(w) == [(7, "STP", "U:stop:2", 121)], "the stop back for U's 121")
        assert _position(w) == 126 and w.plan("U").open_qty == 121
