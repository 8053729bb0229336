"""IB's maintenance windows (its daily reset, the weekend): no entry is activated inside one, and
a disconnect inside one is expected — a notice, not an alarm. The engine's clock is set by hand
to the window's time; the gateway runs as usual."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from orchestrator.clock import FixedClock
from orchestrator.config import MaintenanceConfig
from orchestrator.engine.work import ActivateRequest

from .harness import World, plan_toml

IN_THE_RESET = datetime(2026, 12, 2, 5, 30, tzinfo=UTC)      # 00:30 New York, a Wednesday: 00:15-01:45
AFTER_IT = datetime(2026, 12, 2, 6, 46, tzinfo=UTC)


def _notices(w: World, kind: str) -> list[dict[str, Any]]:
    assert w.rt is not None
    return [json.loads(r[0]) for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind=?", (kind,))]


def _with_ib_windows(w: World) -> World:
    w.config = w.config.model_copy(update={"maintenance": MaintenanceConfig()})   # IB's published windows
    return w


async def test_no_entry_is_activated_inside_ibs_daily_reset(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(IN_THE_RESET)
    async with _with_ib_windows(World(tmp_path, plan_toml("W"), clock=clock)) as w:
        await w.until(lambda: "W" in w.engine.plans and (w.plan("W").reason or "").startswith("inside"), "held")
        plan = w.plan("W")
        assert plan.state == "pending" and w.gw.orders == []
        assert plan.reason == ("inside IB daily reset (North America) until 2026-12-02 06:45 UTC: new entries wait "
                               "for it to end (IB may disconnect meanwhile)")
        clock.set(AFTER_IT)
        w.engine.enqueue(ActivateRequest("W"))
        plan = await w.state("W", "protected")
        assert plan.reason is None


async def test_a_disconnect_inside_a_window_is_expected_not_an_alarm(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Peer closed connection")
    clock = FixedClock(AFTER_IT)
    async with _with_ib_windows(World(tmp_path, plan_toml("K"), clock=clock)) as w:
        await w.state("K", "protected")
        clock.set(IN_THE_RESET)
        w.gw.drop_connections()
        await w.until(lambda: bool(_notices(w, "maintenance_disconnect")), "the notice")
        [note] = _notices(w, "maintenance_disconnect")
        assert "during IB daily reset (North America), expected until 2026-12-02 06:45 UTC" in note["facts"]["message"]
        assert not _notices(w, "connection_lost")
        await w.reconciled(timeout=20)
        assert w.plan("K").state == "protected"
