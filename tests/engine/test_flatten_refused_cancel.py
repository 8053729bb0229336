"""A stop whose cancel IB refuses (10148 while a cancel is already pending, 161, ...) keeps
working at IB, though ib_async marks it ``Cancelled`` on that error: the market flatten waits for
IB's own word (its open/completed orders at the verification, or a clean 202) and never works
beside the stop."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from .harness import World, plan_toml

WORKING = ("PreSubmitted", "Submitted")


@pytest.mark.parametrize("code", [10148, 161])
async def test_a_refused_stop_cancel_is_not_a_confirmed_cancel(tmp_path: Path, log_guard, code: int) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Error 201", rf"Error {code}")
    async with World(tmp_path, plan_toml("F")) as w:
        await w.state("F", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")   # the repricing refused: a market flatten
        w.gw.faults.refuse_next_cancel(1, code, ":stop")              # and the stop's first cancel refused
        w.rt.store.add_command("F", "cancel", at=datetime.now(UTC))
        await w.state("F", "closed")
        events = [(r.get("event"), r.get("order_ref")) for r in w.journal_events("F:")]
        assert ("cancel_rejected", "F:stop") in events, f"the fault did not fire: {events}"
        placed = events.index(("placed", "F:flatten"))
        stop_end = [i for i, e in enumerate(events) if e in (("cancelled", "F:stop"), ("filled", "F:stop"))]
        assert stop_end and stop_end[0] < placed, (
            f"the market flatten reached IB while the plan's stop was still working there: {events}")
        position = w.gw.positions.get("AAPL")
        held = 0 if position is None else position.qty
        sold = sum(x.shares for x in w.gw.executions if x.order_ref != "F:entry")
        working = [(o.order_ref, o.status, o.remaining) for o in w.gw.orders if o.status in WORKING]
        assert (held, sold, working) == (0, 221, []), (
            f"IB holds {held} AAPL after exits selling {sold}; working there: {working}")
