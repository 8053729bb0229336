"""IB's order realities, end to end over TCP, against the engine: codes that do not decide an
order's fate on their own (``orchestrator/broker/codes.py``), explicit time in force, a
read-only API, cancels that lose the race against a fill. Verdicts from the gateway's state."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.broker.codes import Meaning, meaning

from .harness import World, plan_toml

WORKING = ("PreSubmitted", "Submitted")


def _notices(w: World, kind: str) -> list[dict[str, Any]]:
    assert w.rt is not None
    return [json.loads(r[0]) for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind=?", (kind,))]


def _position(w: World, symbol: str = "AAPL") -> int:
    p = w.gw.positions.get(symbol)
    return int(p.qty) if p is not None else 0


@pytest.mark.parametrize(("code", "accepted", "expected"), [
    (201, False, Meaning.REJECTED), (201, True, Meaning.VERIFY),       # a refused modify: the order works
    (321, False, Meaning.REJECTED), (110, False, Meaning.REJECTED), (110, True, Meaning.VERIFY),
    (202, True, Meaning.CANCELLED), (10349, False, Meaning.INFORMATIONAL), (399, True, Meaning.INFORMATIONAL),
    (10148, True, Meaning.VERIFY), (2102, True, Meaning.VERIFY), (135, True, Meaning.VERIFY),
    (99999, False, Meaning.VERIFY), (0, True, None),
])
def test_no_code_decides_an_order_on_its_own_after_ib_accepted_it(code: int, accepted: bool,
                                                                  expected: Meaning | None) -> None:
    assert meaning(code, accepted) is expected


async def test_every_leg_is_sent_with_an_explicit_time_in_force(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """An order without one gets the TWS preset (DAY, with 10349) and dies at the session end."""
    async with World(tmp_path, plan_toml("T", trail=(0.5, 2.0), stop=171.00, target=200.00)) as w:
        await w.state("T", "protected")
        w.gw.set_price("AAPL", 190.00)
        await w.until(lambda: w.plan("T").confirmed_stop_price is not None
                      and float(w.plan("T").confirmed_stop_price) == 188.0, "a trail")
        assert {(o.order_ref, o.tif, o.preset_tif) for o in w.gw.orders} == {
            ("T:entry", "GTC", False), ("T:stop", "GTC", False), ("T:target", "GTC", False)}
        w.gw.end_session()                                    # DAY orders die here; ours work on
        assert sorted(o.order_ref for o in w.gw.orders if o.status in WORKING) == ["T:stop", "T:target"]


async def test_a_read_only_api_rejects_the_plan_at_once_saying_how_to_fix_it(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, "") as w:
        w.gw.policy.read_only = True
        (tmp_path / "plans" / "plans.toml").write_text(plan_toml("R"))
        plan = await w.state("R", "rejected")
        assert plan.error_code == 321 and "Read-Only" in plan.reason and "Configure > Settings > API" in plan.reason
        assert [o for o in w.gw.orders if o.status in WORKING] == [] and _position(w) == 0
        assert len(_notices(w, "rejected")) == 1


@pytest.mark.parametrize("fill_first", [True, False])
async def test_a_cancel_that_loses_the_race_to_a_fill_is_flattened_never_left_or_doubled(
        tmp_path, log_guard, fill_first: bool) -> None:  # type: ignore[no-untyped-def]
    """The trader cancels a working limit entry; it fills at IB just before the cancel arrives
    (10148, the fill heard first or second). The plan must learn of the fill and sell it."""
    log_guard.expect(r"Error 10148")
    plan = plan_toml("C", entry="limit", entry_price=179.00)
    async with World(tmp_path, plan) as w:
        await w.state("C", "submitted")
        w.gw.faults.race_next_cancel(1, fill_first=fill_first)
        w.rt.store.add_command("C", "cancel", at=datetime.now(UTC))
        final = await w.state("C", "closed", "cancelled")
        await w.gw.wait_until(lambda: _position(w) == 0)
        assert _position(w) == 0 and [o for o in w.gw.orders if o.status in WORKING] == []
        assert final.filled_qty == 250 and final.exited_qty == 250     # 2,000 / (179 - 171)
        assert [r["code"] for r in w.journal_events("C:entry") if r["event"] == "cancel_rejected"] == [10148]
