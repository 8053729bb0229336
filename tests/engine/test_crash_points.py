"""Crashes at exact step boundaries and IB's message-order quirks: nothing stale is ever sent.

Each test stops the orchestrator dead at a crash point (as kill -9 would: the step is committed,
nothing after it runs), changes the broker while it is down, starts a new orchestrator on the same
state.db and checks what reaches IB.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchestrator.engine import ReconcileRequest
from orchestrator.store import Store

from .harness import World, plan_toml


def _position(w: World, symbol: str) -> float:
    pos = w.gw.positions.get(symbol)
    return 0 if pos is None else pos.quantity


async def _settled(w: World) -> None:
    await w.reconciled()
    await w.until(lambda: w.engine.queue.empty() and not w.rt.store.pending_effects(), "settled")


async def test_pending_flatten_is_not_sent_for_a_position_ib_already_closed(tmp_path: Path) -> None:
    w = World(tmp_path, plan_toml("SF"))
    await w.gw.start()
    await w.start(crash_at="after_commit:Flatten:1")
    try:
        await w.state("SF", "protected")
        w.rt.store.add_command("SF", "cancel", at=datetime.now(UTC))
        await w.until(lambda: w.plan("SF").flattening, "flatten committed")
        await w.stop()                      # dead: Flatten committed, never sent
        w.gw.set_price("AAPL", 170.00)      # meanwhile IB's stop closes the position
        await w.gw.wait_until(lambda: _position(w, "AAPL") == 0)
        await w.start()
        await _settled(w)
        plan = await w.state("SF", "closed")
        assert plan.exit_reason == "stop"
        assert not [r for r in w.placed_refs("SF") if r.startswith("SF:flatten")]
        assert _position(w, "AAPL") == 0
    finally:
        await w.stop()
        await w.gw.stop()


async def test_pending_protect_is_not_sent_for_a_position_ib_already_closed(tmp_path: Path) -> None:
    w = World(tmp_path, plan_toml("SP"))
    await w.gw.start()
    await w.start(crash_at="after_commit:Protect:1")
    try:
        await w.until(lambda: "SP" in w.engine.plans and w.plan("SP").filled_qty == 221, "filled")
        await w.stop()                      # dead after the fill's commit: Protect never carried out
        w.gw.set_price("AAPL", 189.50)      # meanwhile the bracket's target closes the position
        await w.gw.wait_until(lambda: _position(w, "AAPL") == 0)
        await w.start()
        await _settled(w)
        plan = await w.state("SP", "closed")
        assert plan.exit_reason == "target"
        assert [r for r in w.placed_refs("SP")] == ["SP:entry", "SP:target", "SP:stop"]
        assert _position(w, "AAPL") == 0
    finally:
        await w.stop()
        await w.gw.stop()


async def test_cancel_while_stopped_beats_a_pending_entry(tmp_path: Path) -> None:
    w = World(tmp_path, plan_toml("CS"))
    await w.gw.start()
    await w.start(crash_at="after_commit:PlaceBracket:1")
    try:
        await w.until(lambda: "CS" in w.engine.plans and w.plan("CS").state == "sized", "sized")
        await w.stop()                      # dead: sized, the bracket never sent
        store = Store(w.config.store.url)   # the trader cancels while the orchestrator is down
        store.add_command("CS", "cancel", at=datetime.now(UTC))
        store.close()
        await w.start()
        plan = await w.state("CS", "cancelled")
        assert plan.reason == "cancelled by user"
        await _settled(w)
        assert w.placed_refs("CS") == []
    finally:
        await w.stop()
        await w.gw.stop()


async def test_execution_arriving_after_its_status_does_not_reprotect_a_closed_position(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("SE")) as w:
        await w.state("SE", "protected")
        w.gw.faults.delay_executions(0.1)   # orderStatus(Filled) first, execDetails 100 ms later
        w.gw.set_price("AAPL", 189.50)      # the target fills
        plan = await w.state("SE", "closed")
        assert plan.exit_reason == "target"
        w.engine.enqueue(ReconcileRequest("after"))
        await _settled(w)
        assert w.placed_refs("SE") == ["SE:entry", "SE:target", "SE:stop"]
        assert _position(w, "AAPL") == 0 and w.plan("SE").state == "closed"


async def test_cancel_while_disconnected_is_sent_after_reconnecting(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Peer closed connection", r"API connection failed")
    plans = plan_toml("CD", "MSFT", entry="limit", entry_price=400.00, stop=380.00, target=440.00)
    async with World(tmp_path, plans) as w:
        await w.state("CD", "submitted")
        w.gw.faults.refuse_for(1.0)
        w.gw.faults.drop_connections()
        await w.until(lambda: not w.rt.broker.is_connected(), "disconnected")
        w.rt.store.add_command("CD", "cancel", at=datetime.now(UTC))
        await w.until(lambda: w.plan("CD").cancel_requested, "cancel committed while disconnected")
        assert [e.effect for e in w.rt.store.pending_effects()], "the cancel waits for the connection"
        await w.state("CD", "cancelled", timeout=20)
        assert not w.working("CD")


async def test_unknown_symbol_rejects_the_plan_and_frees_its_risk(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Error 200")
    plans = plan_toml("ZZ", "ZZZZ", entry_price=100.00, stop=95.00, target=110.00)
    async with World(tmp_path, plans) as w:
        plan = await w.state("ZZ", "rejected")
        assert plan.error_code == 200 and "ZZZZ" in (plan.reason or "")
        assert plan.open_risk() == 0
        assert w.placed_refs("ZZ") == []


async def test_an_unanswered_request_does_not_stall_the_engine(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    # the dropped link is being re-established when the test ends: that attempt is cancelled
    log_guard.expect(r"IB did not answer", r"Peer closed connection", r"API connection failed: CancelledError")
    async with World(tmp_path, plan_toml("H")) as w:
        await w.state("H", "protected")
        w.rt.broker.request_timeout = 0.5
        w.gw.faults.ignore_next(99)         # IB never answers the next reqCompletedOrders
        w.engine.enqueue(ReconcileRequest("test"))
        w.gw.set_price("AAPL", 170.00)      # the stop fills at IB meanwhile
        plan = await w.state("H", "closed", timeout=20)
        assert plan.exit_reason == "stop"
        assert any("IB did not answer completed orders" in m for m in log_guard.messages())
