"""``history`` shows transitions and the events that changed a figure, each with its facts in a
few words, ``PlanLoaded`` with its file, the plan's P&L gross and net at the end; a run of
identical rows (an older daemon journalled status echoes) is one row with its count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import machines
from orchestrator.store import Store

from ..orchestrator.factories import at
from .helpers import call, spawn
from .stores import build

PLAN = "AAPL-20261127-TP"
FOOTER = "P&L: +$4,000.00 gross · $3,995.00 net (commissions $5.00)"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    (tmp_path / "plans").mkdir()
    build(tmp_path / "state.db", tmp_path / "plans" / "today.toml")
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:   # what an older daemon wrote after the close: the same status echo, three times
        plan = next(p for p in store.load_plans() if p.id == PLAN)
        for n in range(3):
            store.commit_step(plan, machines.ProtectionStatus(at(10 + n), 0, 0), "closed", [], recorded_at=at(10 + n))
    finally:
        store.close()
    path = tmp_path / "config.toml"
    path.write_text('[store]\nurl = "sqlite:///state.db"\n')
    return path


async def test_history_at_80_columns_is_a_list_with_the_facts(cfg: Path) -> None:
    rc, out, err = await spawn("history", PLAN, "--config", str(cfg), cwd=cfg.parent, env={"COLUMNS": "80"})
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    assert lines[0] == f"history of {PLAN}"
    assert lines[1].split()[-2:] == ["→", "pending"] and lines[2].strip() == "from plans/today.toml"
    text = "\n".join(lines)
    assert "Activate  pending → sized" in text and "live price 180.00 · account 100,000.00" in text
    assert "entry filled 500 @ 180.00 · exec e-1" in text
    assert "IB shows stop 500 @ 176.00, target 500 @ 188.00" in text
    assert "target 500 @ 188.00 · exec x-1" in text and "commission 2.50 · exec x-1" in text
    echo = [line for line in lines if "ProtectionStatus ×3" in line]
    assert len(echo) == 1 and echo[0].split()[-2:] == ["in", "closed"]   # three identical rows, shown once
    assert lines[-1] == FOOTER


def test_history_table_when_wide_and_json_unchanged(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    rc, out, _ = call("history", PLAN, "--config", str(cfg))
    assert rc == 0
    header = next(line for line in out.splitlines() if line.startswith("seq"))
    assert header.split() == ["seq", "at", "(UTC)", "from", "to", "event", "details"]
    assert any("PlanLoaded" in line and "from plans/today.toml" in line for line in out.splitlines())
    assert out.splitlines()[-1] == FOOTER
    rc, out, _ = call("history", PLAN, "--json", "--config", str(cfg))
    rows = json.loads(out)
    assert [r["seq"] for r in rows] == list(range(len(rows)))   # every row, as stored
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)   # times never go back within a plan
    assert rows[0]["event"] == "PlanLoaded" and rows[0]["payload"]["source_file"].endswith("plans/today.toml")


def test_history_of_an_unknown_plan_names_the_store(cfg: Path) -> None:
    rc, out, err = call("history", "NOPE", "--config", str(cfg))
    assert (rc, out) == (2, "") and err == f"orchestrator: no plan 'NOPE' in {cfg.parent / 'state.db'}\n"
