"""Restarts and disconnects: nothing duplicated, nothing lost, protection intact."""

from __future__ import annotations

import io
import json
from collections import Counter
from decimal import Decimal as D
from pathlib import Path

from orchestrator.cli import main as cli

from .harness import World, plan_toml


def _status(tmp: Path) -> list[dict[str, object]]:
    buf = io.StringIO()
    assert cli(["status", "--json", "--config", str(tmp / "config.toml")], out=buf) == 0
    return json.loads(buf.getvalue())


async def test_restart_mid_lifecycle_keeps_one_order_per_leg_and_protection(tmp_path: Path) -> None:
    plans = plan_toml("A", trail=(1.0, 3.00)) + plan_toml("B", "MSFT", entry="limit", entry_price=415.00,
                                                           stop=400.00, target=440.00)
    async with World(tmp_path, plans) as w:
        await w.state("A", "protected")
        await w.state("B", "submitted")
        before = {r["id"]: r["state"] for r in _status(tmp_path)}
        await w.stop()
        assert {r["id"]: r["state"] for r in _status(tmp_path)} == before  # status while stopped
        # while the orchestrator is down, IB keeps working: B's limit fills
        w.gw.set_price("MSFT", 414.00)
        await w.gw.wait_until(lambda: any(o.order_ref == "B:entry" and o.is_done for o in w.gw.orders))
        await w.start()
        await w.state("B", "protected")
        a = await w.state("A", "protected")
        assert a.filled_qty == 221
        placed = Counter(r["order_ref"] for r in w.journal_events() if r["event"] == "placed")
        assert all(n == 1 for n in placed.values()), placed
        assert sorted(placed) == ["A:entry", "A:stop", "A:target", "B:entry", "B:stop", "B:target"]
        for plan_id in ("A", "B"):
            stops = [o for o in w.working(plan_id) if o.order_type == "STP"]
            assert len(stops) == 1 and stops[0].remaining == w.plan(plan_id).open_qty
        # and it carries on: A's target
        w.gw.set_price("AAPL", 189.50)
        await w.state("A", "closed")


async def test_fill_while_disconnected_is_applied_once_after_reconnect(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Peer closed connection", r"API connection failed")  # the refused reconnects
    async with World(tmp_path, plan_toml("D")) as w:
        await w.state("D", "protected")
        w.gw.faults.refuse_for(0.5)
        w.gw.faults.drop_connections()
        w.gw.set_price("AAPL", 189.50)  # the target fills while we are away
        plan = await w.state("D", "closed")
        assert plan.exit_reason == "target" and plan.exited_qty == 221
        fills = w.rt.store.db.execute("SELECT count(*) FROM fills WHERE plan_id='D'").fetchone()[0]
        assert fills == 2  # one entry, one exit: nothing applied twice
        assert w.working("D") == []


async def test_replayed_executions_are_no_ops(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("RP")) as w:
        await w.state("RP", "protected")
        w.gw.faults.replay_executions(True)
        await w.stop()
        await w.start()
        await w.reconciled()
        plan = await w.state("RP", "protected")
        assert plan.filled_qty == 221
        assert w.rt.store.db.execute("SELECT count(*) FROM fills").fetchone()[0] == 1


async def test_gateway_restart_with_order_ids_reset(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Peer closed connection")  # IB's nightly restart drops us
    plans = plan_toml("G1") + plan_toml("G2", "TSLA", side="short", entry_price=250.00, stop=262.50,
                                        target=237.50, risk="small", start_at=None)
    async with World(tmp_path, plan_toml("G1")) as w:
        await w.state("G1", "protected")
        w.gw.faults.restart()
        await w.until(lambda: not w.engine.reconciled.is_set(), "the drop noticed")
        await w.reconciled()
        (tmp_path / "plans" / "more.toml").write_text(plan_toml("G2", "TSLA", side="short", entry_price=250.00,
                                                                 stop=262.50, target=237.50, risk="small"))
        await w.state("G2", "protected")
        # the new plan's orders are new orders: the old working ones were not modified
        g1_stops = [o for o in w.working("G1") if o.order_type == "STP"]
        assert len(g1_stops) == 1 and g1_stops[0].remaining == 221
        w.gw.set_price("AAPL", 189.50)
        await w.state("G1", "closed")
        assert plans  # both plan texts are valid TOML fragments


async def test_rejected_stop_modify_keeps_the_plan_protected(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Error 201, reqId \d+: Order rejected - reason:exchange closed for modifications")
    plans = plan_toml("M", "NVDA", entry_price=130.00, stop=124.00, target=150.00, trail=(1.0, 3.00))
    async with World(tmp_path, plans) as w:
        await w.state("M", "protected")
        w.gw.faults.reject_next_modify(1, "exchange closed for modifications")
        w.gw.set_price("NVDA", 137.00)  # trail wants 134.00; IB refuses the modification
        await w.until(lambda: any(e == "StopModifyRejected" for _f, _t, e in w.history("M")), "modify rejected")
        plan = w.plan("M")
        assert plan.state == "trailing"  # still protected (trailing), not ended, no flatten
        assert not plan.flattening
        (stop,) = [o for o in w.working("M") if o.order_type == "STP"]
        assert stop.aux_price == 124.00  # IB kept the old stop working
        assert plan.confirmed_stop_price == D("124.00")
        kinds = [r[0] for r in w.rt.store.db.execute("SELECT kind FROM outbox WHERE plan_id='M' ORDER BY id")]
        assert "modify_rejected" in kinds
        # the next new best price moves the same stop in place
        w.gw.set_price("NVDA", 138.00)
        await w.until(lambda: w.plan("M").confirmed_stop_price == D("135.00"), "stop moved to 135")
        stops = [o for o in w.gw.orders if (o.order_ref or "").startswith("M:stop")]
        assert len(stops) == 1
        w.gw.set_price("NVDA", 134.00)
        plan = await w.state("M", "closed")
        assert plan.exit_reason == "trailing_stop"
