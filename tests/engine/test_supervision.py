"""What the engine watches besides plan events: plan files, positions, lost protection."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ib_async import IB, MarketOrder, Stock

from orchestrator.engine import ReconcileRequest

from .harness import World, plan_toml


def _notices(w: World, kind: str) -> list[dict[str, object]]:
    rows = w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind=? ORDER BY id", (kind,)).fetchall()
    return [json.loads(r[0]) for r in rows]


async def test_plan_files_are_rescanned_invalid_ones_reported_and_ids_never_run_twice(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("F1")) as w:
        await w.state("F1", "protected")
        plans_dir = tmp_path / "plans"
        (plans_dir / "bad.toml").write_text(plan_toml("BAD", stop=185.00))  # long stop above entry
        (plans_dir / "new.toml").write_text(plan_toml("F2", "MSFT", entry_price=420.00, stop=400.00, target=460.00))
        await w.state("F2", "protected")
        await w.until(lambda: bool(_notices(w, "plan_file_invalid")), "invalid file reported")
        (note,) = _notices(w, "plan_file_invalid")
        message = str(note["facts"]["message"])  # type: ignore[index]
        assert message.startswith(f"{plans_dir / 'bad.toml'}: 1 problem;") and "\nplan BAD: stop_loss: " in message
        assert "BAD" not in w.engine.plans
        # the same id with other figures is a conflict: reported, never applied or run again
        (plans_dir / "plans.toml").write_text(plan_toml("F1", stop=172.00))
        await w.until(lambda: bool(_notices(w, "plan_conflict")), "conflict reported")
        assert w.plan("F1").spec.stop_loss == 171  # the stored plan is kept
        (conflict,) = _notices(w, "plan_conflict")
        assert "(stop_loss 171.00 → 172.00)" in str(conflict["facts"]["message"])  # type: ignore[index]
        assert "orchestrator cancel F1" in str(conflict["facts"]["message"])  # type: ignore[index]
        assert [r for r in w.placed_refs("F1") if r.startswith("F1:entry")] == ["F1:entry"]
        # reported once, not on every rescan
        await w.until(lambda: w.engine.queue.empty(), "queue drained")
        assert len(_notices(w, "plan_conflict")) == 1 and len(_notices(w, "plan_file_invalid")) == 1


async def test_a_position_no_plan_trades_never_blocks_and_is_reported_once(tmp_path: Path) -> None:
    """The trader's own 50 AAPL (another session bought them) stop nothing: a MSFT plan trades."""
    async with World(tmp_path, "") as w:
        await w.reconciled()
        other = IB()
        await other.connectAsync("127.0.0.1", w.gw.port, clientId=99, timeout=5)
        try:
            (aapl,) = await other.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            trade = other.placeOrder(aapl, MarketOrder("BUY", 50))
            await w.gw.wait_until(lambda: trade.orderStatus.status == "Filled" or bool(w.gw.positions), 10)
        finally:
            other.disconnect()
        w.engine.enqueue(ReconcileRequest("test"))
        w.engine.enqueue(ReconcileRequest("test"))
        await w.until(lambda: bool(_notices(w, "foreign_positions")), "the position reported")
        assert w.engine.gate.held == {} and w.engine.entries_blocked is None
        (tmp_path / "plans" / "new.toml").write_text(plan_toml("FREE", "MSFT", entry_price=420.00, stop=400.00,
                                                      target=460.00))
        await w.state("FREE", "protected")
        w.engine.enqueue(ReconcileRequest("test"))
        await asyncio.wait_for(w.engine.queue.join(), 10)
        (note,) = _notices(w, "foreign_positions")
        assert "IB holds 50 AAPL, which no live plan trades" in str(note["facts"])


async def test_an_unexplained_position_in_a_plans_symbol_holds_that_symbol_until_accepted(tmp_path: Path) -> None:
    """The trader bought 50 AAPL by hand in TWS; an AAPL plan waits and says why, a MSFT plan
    trades; ``positions accept AAPL`` (a command row) lifts the hold."""
    plans = plan_toml("HELD", "AAPL") + plan_toml("OTHER", "MSFT", entry_price=420.00, stop=400.00, target=460.00)
    w = World(tmp_path, plans)
    await w.gw.start()
    w.gw.trade_in_tws("AAPL", "BUY", 50)
    await w.start()
    try:
        await w.state("OTHER", "protected")
        await w.until(lambda: (w.plan("HELD").reason or "").startswith("new entries in AAPL are held"), "held")
        assert w.plan("HELD").state == "pending" and w.placed_refs("HELD") == []
        assert "IB holds 50 AAPL" in (w.plan("HELD").reason or "")
        assert [e for *_x, e in w.history("HELD")][-1] == "Hold"          # the reason is in the journal
        assert len(_notices(w, "unexplained_position")) == 1
        w.rt.store.add_command("", "accept_position", at=w.engine.clock.now(), args={"symbol": "AAPL"},
                               origin="test")
        plan = await w.state("HELD", "protected")
        assert plan.reason is None and w.engine.gate.accepted == {"AAPL": 50}
        assert w.gw.positions["AAPL"].qty == 50 + plan.filled_qty   # the trader's 50 are left alone
    finally:
        await w.stop()
        await w.gw.stop()


async def test_lost_protection_is_placed_again(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("LP")) as w:
        await w.state("LP", "protected")
        # a global cancel from another session takes our stop and target away
        other = IB()
        await other.connectAsync("127.0.0.1", w.gw.port, clientId=98, timeout=5)
        try:
            other.reqGlobalCancel()
            await w.gw.wait_until(lambda: not w.working("LP") or
                                  all(o.order_ref.count(":") == 2 for o in w.working("LP")), 10)
        finally:
            other.disconnect()
        await w.until(lambda: sorted(o.order_ref for o in w.working("LP")) == ["LP:stop:2", "LP:target:2"],
                      "protection placed again")
        plan = await w.state("LP", "protected")
        stops = [o for o in w.working("LP") if o.order_type == "STP"]
        assert len(stops) == 1 and stops[0].remaining == plan.open_qty == 221
        w.gw.set_price("AAPL", 170.00)
        plan = await w.state("LP", "closed")
        assert plan.exit_reason == "stop"


async def test_unchanged_plan_files_are_not_parsed_again_after_a_restart(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("U1")) as w:
        await w.state("U1", "protected")
        fingerprint = w.rt.store.get_meta("plan_files_fingerprint")
        assert fingerprint
        await w.stop()
        await w.start()
        assert w.engine.intake.scanned == bytes.fromhex(fingerprint)
        (tmp_path / "plans" / "more.toml").write_text(plan_toml("U2", "MSFT", entry_price=420.00, stop=400.00,
                                                                 target=460.00))
        await w.state("U2", "protected")  # a changed set of files is scanned again
        assert w.rt.store.get_meta("plan_files_fingerprint") != fingerprint
