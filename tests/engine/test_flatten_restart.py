"""A restart while a market flatten waits for IB to confirm its stop's cancel: the flatten
carries on after the restart (the wait is rebuilt from the effect log), for a plan in error whose
flatten the trader retried as for a live one. Verdicts from the gateway's orders and positions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.engine import ReconcileRequest

from .harness import World, plan_toml

WORKING = ("PreSubmitted", "Submitted")


def _working_exits(w: World, symbol: str) -> list[tuple[str, str, float]]:
    return [(o.order_ref, o.order_type, o.remaining) for o in w.gw.orders
            if o.symbol == symbol and o.status in WORKING and not (o.order_ref or "").endswith(":entry")]


async def _reconcile(w: World) -> None:
    w.engine.enqueue(ReconcileRequest("test"))
    await asyncio.wait_for(w.engine.queue.join(), 10)


async def _poll(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for a condition with no orchestrator running (no engine event to wait on): bounded."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, f"timed out: {what}"
        await asyncio.sleep(0.02)


async def test_a_retried_flatten_waiting_for_the_stop_cancel_carries_on_after_a_restart(  # type: ignore[no-untyped-def]
        tmp_path: Path, log_guard) -> None:
    log_guard.expect(r"Error 201", r"Peer closed", r"Error 1100")
    async with World(tmp_path, plan_toml("N")) as w:
        await w.state("N", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")
        w.gw.faults.reject_next(1, "no trading permissions")
        w.rt.store.add_command("N", "cancel", at=datetime.now(UTC))
        await w.state("N", "error")
        await w.until(lambda: [r[:3] for r in _working_exits(w, "AAPL")] == [("N:stop:2", "STP", 221)],
                      "a stop for the whole position back at IB")
        # the trader retries: the stop is cancelled first; IB is slow to process the cancel
        w.gw.faults.delay_acks(1.0)
        w.rt.store.add_command("N", "cancel", at=datetime.now(UTC))
        db = w.rt.store.db

        def waiting() -> bool:
            rows = db.execute("SELECT result FROM effects WHERE plan_id='N' AND done_at IS NOT NULL "
                              "ORDER BY id DESC LIMIT 1").fetchall()
            return bool(rows) and str(rows[0][0]).startswith("waiting")
        await _poll(waiting, "the retried flatten waiting for IB's cancel confirmation")
        await w.stop()   # an ordinary restart of the daemon
        await _poll(lambda: [o.status for o in w.gw.orders_by_ref("N:stop:2")] == ["Cancelled"],
                    "IB carried out the cancel")
        w.gw.faults.delay_acks(0)
        await w.start()
        await w.reconciled()
        await _reconcile(w)
        await _reconcile(w)
        position = w.gw.positions.get("AAPL")
        held = 0 if position is None else position.qty
        plan = w.plan("N")
        assert held == 0 or _working_exits(w, "AAPL"), (
            f"IB holds {held} AAPL with no stop and no flatten working; plan {plan.state}: {plan.reason}")
        await w.state("N", "closed")
        sold = [(x.order_ref, x.shares) for x in w.gw.executions if x.order_ref != "N:entry"]
        held = 0 if (p := w.gw.positions.get("AAPL")) is None else p.qty
        assert (held, sold, _working_exits(w, "AAPL")) == (0, [("N:flatten:2", 221)], []), (
            f"IB holds {held} AAPL after exits {sold}; working there: {_working_exits(w, 'AAPL')}")


async def test_control_restart_while_first_flatten_waits_closes(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """Control: the same restart for a plan not in error flattens at the reconnect."""
    log_guard.expect(r"Error 201", r"Peer closed", r"Error 1100")
    async with World(tmp_path, plan_toml("P")) as w:
        await w.state("P", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")
        w.gw.faults.delay_acks(1.0)
        w.rt.store.add_command("P", "cancel", at=datetime.now(UTC))
        await _poll(lambda: w.plan("P").flattening and any(
            o.state.value == "PendingCancel" for o in w.rt.engine.broker.orders_of("P") if o.leg.value == "stop"),
            "the stop's cancel sent")
        await w.stop()
        await _poll(lambda: [o.status for o in w.gw.orders_by_ref("P:stop")] == ["Cancelled"], "IB cancelled it")
        w.gw.faults.delay_acks(0)
        await w.start()
        plan = await w.state("P", "closed")
        assert plan.exit_reason == "flatten"


async def test_a_plan_in_error_left_with_nothing_working_at_ib_gets_a_stop_and_is_told(  # type: ignore[no-untyped-def]
        tmp_path: Path, log_guard) -> None:
    """A plan in error after a refused flatten has its stop back; someone cancels that stop in TWS.
    Reconciliation finds nothing at IB that could sell its shares: a stop goes back at once and the
    trader is told (never a naked position in silence); the trader's cancel still flattens it."""
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("T")) as w:
        await w.state("T", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")
        w.gw.faults.reject_next(1, "no trading permissions")
        w.rt.store.add_command("T", "cancel", at=datetime.now(UTC))
        await w.state("T", "error")
        await w.until(lambda: [r[:3] for r in _working_exits(w, "AAPL")] == [("T:stop:2", "STP", 221)],
                      "a stop for the whole position back at IB")
        w.gw.cancel_in_tws("T:stop:2")
        await w.until(lambda: not _working_exits(w, "AAPL"), "the stop gone at IB")
        await _reconcile(w)
        await w.until(lambda: bool(_working_exits(w, "AAPL")), "a stop back", timeout=10)
        held = w.gw.positions["AAPL"].qty
        assert (held, [r[:3] for r in _working_exits(w, "AAPL")]) == (221, [("T:stop:3", "STP", 221)]), (
            f"IB holds {held} AAPL with these exits working: {_working_exits(w, 'AAPL')}")
        assert "IB showed nothing working for its 221 shares" in (w.plan("T").reason or "")
        told = [r[0] for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE plan_id='T' AND kind='error'")]
        assert len(told) == 2 and "nothing working" in told[-1], told
        await _reconcile(w)
        assert [r[:3] for r in _working_exits(w, "AAPL")] == [("T:stop:3", "STP", 221)]   # once, not each time
        w.rt.store.add_command("T", "cancel", at=datetime.now(UTC))
        await w.state("T", "closed")
        sold = [(x.order_ref, x.shares) for x in w.gw.executions if x.order_ref != "T:entry"]
        assert (w.gw.positions["AAPL"].qty if "AAPL" in w.gw.positions else 0, sold) == (0, [("T:flatten:2", 221)])
