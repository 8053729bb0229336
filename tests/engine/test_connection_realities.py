"""IB's connection realities, end to end over TCP: connectivity lost with the socket kept up
(1100, then 1101 data lost or 1102 data kept), a start-up sync whose answers come late, and a
restarted gateway whose next order id is below ids already used. Verdicts from the gateway."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from orchestrator.engine import ReconcileRequest

from .harness import World, plan_toml

TRAIL = {"stop": 171.00, "target": 200.00, "trail": (0.5, 2.0)}   # R = 9: trails from 184.50, 2.00 behind


def _stop_at_ib(w: World, plan_id: str) -> float:
    [stop] = [o for o in w.working(plan_id) if o.order_ref == f"{plan_id}:stop"]
    return float(stop.aux_price)


def _notices(w: World, kind: str) -> list[dict[str, Any]]:
    assert w.rt is not None
    return [json.loads(r[0]) for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind=?", (kind,))]


async def test_while_ib_has_lost_connectivity_nothing_trails_or_activates_and_it_resumes_after_1102(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("T", **TRAIL)) as w:
        await w.state("T", "protected")
        w.gw.connectivity.lose(60, restore="1102")
        await w.until(lambda: not w.engine.reconciled.is_set(), "1100 seen")
        w.gw.set_price("AAPL", 190.00)                         # would trail to 188
        (tmp_path / "plans" / "more.toml").write_text(plan_toml("N", "MSFT", entry_price=420.00, stop=400.00,
                                                                target=460.00))
        await w.until(lambda: "N" in w.engine.plans, "the new plan loaded")
        for _ in range(3):                                      # periodic reconciliations and trailing runs
            w.engine.enqueue(ReconcileRequest("test"))
            await w.until(lambda: w.engine.queue.empty(), "the queue drained")
        assert not w.engine.reconciled.is_set()
        assert w.plan("T").stop_price == Decimal(171) and _stop_at_ib(w, "T") == 171.0
        assert w.plan("N").state == "pending" and not [o for o in w.gw.orders if o.symbol == "MSFT"]
        w.gw.connectivity.restore()                             # 1102: data kept
        await w.until(lambda: w.plan("T").confirmed_stop_price == Decimal(188), "trailing again")
        await w.state("N", "protected")
        assert len(_notices(w, "connection_lost")) == 1 and len(_notices(w, "connection_restored")) == 1


async def test_a_start_while_ib_has_lost_connectivity_activates_nothing_until_it_returns(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """The 1100 comes with the handshake, before the connection counts as made: it still holds."""
    async with World(tmp_path, plan_toml("T")) as w:
        await w.state("T", "protected")
        await w.stop()
        w.gw.connectivity.lose(60, restore="1102")
        (tmp_path / "plans" / "more.toml").write_text(plan_toml("N", "MSFT", entry="limit", entry_price=420.00,
                                                                stop=400.00, target=460.00))
        await w.start()
        await w.until(lambda: "N" in w.engine.plans and w.engine.connection.ib_lost and w.engine.queue.empty(),
                      "connected, 1100 heard")
        for _ in range(3):
            w.engine.enqueue(ReconcileRequest("test"))
            await w.until(lambda: w.engine.queue.empty(), "the queue drained")
        assert not w.engine.reconciler.link_up.is_set() and not w.engine.reconciled.is_set()
        assert w.plan("N").state == "pending" and not [o for o in w.gw.orders if o.symbol == "MSFT"]
        w.gw.connectivity.restore()                             # 1102
        await w.state("N", "submitted", "protected")
        assert sorted(o.order_ref for o in w.gw.orders if o.symbol == "MSFT") == ["N:entry", "N:stop", "N:target"]


async def test_after_1101_market_data_is_requested_again_and_trailing_goes_on(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("U", **TRAIL)) as w:
        await w.state("U", "protected")
        w.gw.connectivity.lose(60, restore="1101")
        await w.until(lambda: not w.engine.reconciled.is_set(), "1100 seen")
        w.gw.connectivity.restore()                             # 1101: IB dropped every subscription
        await w.reconciled()
        w.gw.set_price("AAPL", 190.00)
        await w.until(lambda: w.plan("U").confirmed_stop_price == Decimal(188), "trailing on fresh data")
        assert _stop_at_ib(w, "U") == 188.0


async def test_a_start_up_sync_that_answers_late_is_waited_for_never_acted_on_in_part(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB's open orders come after the client's timeout: the connection is given up and tried
    again with a longer wait; the plan's orders at IB are found, nothing is sent twice."""
    log_guard.expect(r"timed out")
    async with World(tmp_path, plan_toml("S")) as w:
        await w.state("S", "protected")
        refs = w.placed_refs("S")
        await w.stop()
        w.gw.faults.slow_sync(1.0)
        w.config = w.config.model_copy(update={"broker": w.config.broker.model_copy(
            update={"connect_timeout_seconds": 0.4})})
        await w.start()
        await w.reconciled(timeout=20)
        assert w.plan("S").state == "protected" and w.placed_refs("S") == refs
        assert any("timed out" in m for m in log_guard.messages())   # the first attempt was given up


async def test_a_gateway_whose_next_order_id_went_back_never_gets_a_used_id_again(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """Every order of plan A is done (ib_async raises its id counter only above ids of open
    orders); the gateway's nextValidId then goes back below them. A new process must still not
    reuse an id: IB would refuse it as a duplicate, or take it as a change to the old order."""
    async with World(tmp_path, plan_toml("A")) as w:
        await w.state("A", "protected")
        w.gw.set_price("AAPL", 189.50)
        await w.state("A", "closed")
        used = {o.order_id for o in w.gw.orders if o.client_id == 7}
        await w.stop()
        w.gw.restart(rollback=50)                                # nextValidId goes back below ids in use
        await w.start()                                          # a new process: it knows only IB's next id
        await w.reconciled(timeout=20)
        (tmp_path / "plans" / "more.toml").write_text(plan_toml("B", "MSFT", entry_price=420.00, stop=400.00,
                                                                target=460.00))
        await w.state("B", "protected")
        new = {o.order_id for o in w.gw.orders if o.client_id == 7 and o.order_ref.startswith("B:")}
        assert len(new) == 3 and min(new) > max(used)
