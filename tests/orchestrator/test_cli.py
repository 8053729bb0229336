"""The read-side CLI on a database filled through the store: status, history, diagram, outbox."""

from __future__ import annotations

import io
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

import machines
from machines import PlanMachine
from orchestrator.cli import main
from orchestrator.engine.step import apply_event
from orchestrator.render import mermaid_diagram
from orchestrator.store import Store

from .factories import at, lifecycle_events, spec


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[store]\nurl = "sqlite:///state.db"\n')
    return path


@pytest.fixture
def filled(cfg: Path) -> Path:
    store = Store(f"sqlite:///{cfg.parent / 'state.db'}")
    m = PlanMachine()
    closed = m.bind(store.insert_plan(spec("AAPL-1", trail=("1", "2.00")), at=at(0)))
    for e in lifecycle_events():
        apply_event(m, store, closed, e, now=e.at)
    waiting = m.bind(store.insert_plan(spec("MSFT-1", symbol="MSFT", entry="420.00", stop="400.00",
                                            target="460.00"), at=at(1)))
    activate = machines.Activate(at(2), D(100000), D(200000), D(0), market_price=D("420.00"))
    apply_event(m, store, waiting, activate, now=at(2))
    store.close()
    return cfg


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_status_json_has_the_contract_fields(filled: Path) -> None:
    rc, text = run("status", "--json", "--config", str(filled))
    assert rc == 0
    rows = {r["id"]: r for r in json.loads(text)}
    assert set(rows) == {"AAPL-1", "MSFT-1"}
    required = {"id", "symbol", "side", "state", "quantity", "filled_quantity", "entry_fill_price", "stop_price",
                "take_profit", "exit_price", "realized_pnl", "reason", "updated_at"}
    assert required <= set(rows["AAPL-1"])
    a = rows["AAPL-1"]
    assert (a["state"], a["quantity"], a["filled_quantity"], a["exit_price"]) == ("closed", 500, 500, 184.0)
    assert a["realized_pnl"] == pytest.approx(1970.0)  # 500 × (184.00 − average entry 180.06)
    assert isinstance(a["entry_fill_price"], float) and a["stop_price"] == 184.0
    m = rows["MSFT-1"]
    assert (m["state"], m["filled_quantity"], m["exit_price"], m["realized_pnl"]) == ("sized", 0, None, None)


def test_status_table(filled: Path) -> None:
    rc, text = run("status", "--config", str(filled))
    assert rc == 0
    assert "AAPL-1" in text and "closed" in text and "MSFT-1" in text and "sized" in text
    assert "2 plans" in text and "notifications pending" in text


def test_history_oldest_first(filled: Path) -> None:
    rc, text = run("history", "AAPL-1", "--json", "--config", str(filled))
    assert rc == 0
    rows = json.loads(text)
    assert [r["seq"] for r in rows] == list(range(len(rows)))
    assert [r["to"] for r in rows][:3] == ["pending", "sized", "submitted"] and rows[-1]["to"] == "closed"
    assert rows[3]["event"] == "EntryFilled" and rows[3]["payload"]["exec_id"] == "e-1"
    rc, table = run("history", "AAPL-1", "--config", str(filled))
    assert rc == 0 and "ExitFilled" in table and "trailing" in table


def test_history_of_an_unknown_plan_is_bad_input(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _ = run("history", "NOPE", "--config", str(filled))
    assert rc == 2 and "no plan 'NOPE'" in capsys.readouterr().err


def test_no_database_yet_is_said_clearly_and_nothing_is_created(cfg: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    rc, text = run("status", "--config", str(cfg))
    assert rc == 0 and "no plans yet" in text
    assert run("status", "--json", "--config", str(cfg)) == (0, "[]\n")
    rc, _ = run("history", "X", "--config", str(cfg))
    assert rc == 1 and "no state database yet" in capsys.readouterr().err
    assert not (cfg.parent / "state.db").exists()


def test_diagram_is_drawn_from_the_table() -> None:
    rc, text = run("diagram")
    assert rc == 0 and text == mermaid_diagram()
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2" and "    [*] --> pending" in lines
    for r in machines.TRANSITIONS:
        if r["dest"] is None:
            continue
        for src in r["source"]:
            assert any(line.startswith(f"    {src} --> {r['dest']}: {r['trigger']}") for line in lines), (src, r)
    assert "    closed --> [*]" in lines
    internal = mermaid_diagram(internal=True)
    assert "    trailing --> trailing: price_update" in internal.splitlines()


def test_outbox_lists_pending_messages(filled: Path) -> None:
    rc, text = run("outbox", "--json", "--config", str(filled))
    assert rc == 0
    rows = json.loads(text)
    assert rows and all(r["sent_at"] is None for r in rows)
    assert {r["plan_id"] for r in rows} == {"AAPL-1", "MSFT-1"}


def test_cancel_of_a_stopped_orchestrator_is_queued_in_the_database(filled: Path) -> None:
    rc, text = run("cancel", "MSFT-1", "--config", str(filled))
    assert rc == 0 and "cancel of MSFT-1 requested" in text
    store = Store(f"sqlite:///{filled.parent / 'state.db'}")
    try:
        assert [(c.plan_id, c.command) for c in store.pending_commands()] == [("MSFT-1", "cancel")]
    finally:
        store.close()


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("status", "--bogus")[0] == 2
    assert run("frobnicate")[0] == 2
    assert "usage:" in capsys.readouterr().err
