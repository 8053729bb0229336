"""Plan-file messages a trader can act on: one notification per bad file listing its problems
(not one per problem line), and for two files sharing a plan id, only the file that reused the
id of a running plan is at fault, and the message names the file that runs it. The engine runs
over TCP against the simulated gateway."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchestrator.engine import RescanRequest

from ..engine.harness import World, plan_toml

MSFT = {"symbol": "MSFT", "entry_price": 420.00, "stop": 400.00, "target": 460.00}
NVDA = {"symbol": "NVDA", "entry_price": 130.00, "stop": 125.00, "target": 140.00}


def _messages(w: World) -> list[str]:
    rows = w.rt.store.db.execute(   # type: ignore[union-attr]
        "SELECT payload FROM outbox WHERE kind='plan_file_invalid' ORDER BY id").fetchall()
    return [json.loads(r[0])["facts"]["message"] for r in rows]


async def _rescanned(w: World, times: int = 2) -> None:
    for _ in range(times):
        w.engine.enqueue(RescanRequest())
        await asyncio.wait_for(w.engine.queue.join(), 10)


async def test_one_message_per_bad_file_with_all_its_problems(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("F1")) as w:
        await w.state("F1", "protected")
        plans = tmp_path / "plans"
        three = plans / "three.toml"
        three.write_text(plan_toml("B1", stop=185.00)                     # a long stop above the entry
                         + plan_toml("B2").replace('side = "long"', 'side = "Long"')
                         + plan_toml("OK1", **MSFT))                       # valid, but its file is not
        two = plans / "two.toml"
        two.write_text('[[plans]]\nid = "X1"\nsymbol = "AAPL"\n')          # six required keys missing
        await w.until(lambda: len(_messages(w)) == 2, "both files reported")
        await _rescanned(w)
        messages = _messages(w)
        assert len(messages) == 2   # not one per problem, and not again at every rescan
        by_file = {m.split(":", 1)[0]: m.splitlines() for m in messages}
        lines = by_file[str(three)]
        assert lines[0] == (f"{three}: 2 problems; none of its new plans is loaded until it is fixed (plans already "
                            "running are not affected)")
        assert lines[1].startswith("plan B1: stop_loss: a long plan's stop 185.00 must be below its entry")
        assert lines[2].startswith("plan B2: side: must be one of long, short")
        assert by_file[str(two)][0].startswith(f"{two}: 6 problems;") and len(by_file[str(two)]) == 7
        assert "OK1" not in w.engine.plans and "X1" not in w.engine.plans


async def test_a_file_reusing_a_running_plans_id_is_at_fault_not_the_plans_own_file(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("F1")) as w:
        await w.state("F1", "protected")
        plans = tmp_path / "plans"
        copy = plans / "copy.toml"
        copy.write_text(plan_toml("F1") + plan_toml("NEW1", **MSFT))
        await w.until(lambda: len(_messages(w)) == 1, "the copy reported")
        (plans / "plans.toml").write_text(plan_toml("F1") + plan_toml("NEW2", **NVDA))   # its own file grows
        await w.state("NEW2", "protected")       # the running plan's own file is not at fault: it loads
        await _rescanned(w)
        (message,) = _messages(w)
        assert message.splitlines() == [
            f"{copy}: 1 problem; none of its new plans is loaded until it is fixed (plans already running are not "
            "affected)",
            f"plan F1: id: plan F1 already runs from {plans / 'plans.toml'} (a plan id runs once): give this plan a "
            "new id"]
        assert "NEW1" not in w.engine.plans and w.plan("F1").state == "protected"


def test_scan_blames_the_file_that_reused_a_running_id(tmp_path: Path) -> None:
    from orchestrator.planfile import scan
    own, other = tmp_path / "own.toml", tmp_path / "other.toml"
    own.write_text(plan_toml("P") + plan_toml("Q", **MSFT))
    other.write_text(plan_toml("P"))
    runs_from = {"P": str(own)}
    found = scan([own, other], running=runs_from.get)
    assert [s.id for s in found.specs] == ["P", "Q"] and [p.file for p in found.problems] == [str(other)]
    plain = scan([own, other])   # plans check: no store, so both occurrences are duplicates
    assert [(p.file, p.message.split(",")[0]) for p in plain.problems] == [
        (str(own), "duplicate plan id"), (str(other), "duplicate plan id")] and plain.specs == []
    own.write_text(plan_toml("P") + plan_toml("P"))   # twice in its own file: that file is at fault too
    twice = scan([own, other], running=runs_from.get)
    assert [p.file for p in twice.problems] == [str(own), str(own), str(other)] and twice.specs == []
