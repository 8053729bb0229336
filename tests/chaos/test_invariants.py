"""The chaos invariants catch what they claim to: each checker on a clean world (no violation)
and on the same world with one thing broken (exactly that violation)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import machines
from chaos import invariants as inv
from chaos.known import classify
from machines import PlanMachine
from orchestrator.engine.step import apply_event
from orchestrator.store import Store

from ..orchestrator.factories import lifecycle_events, spec

PLAN = "AAPL-1"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A closed long plan: fills e-1 (200 @ 180.00, replayed once), e-2 (300 @ 180.10), stop x-1 (500 @ 184.00)."""
    path = tmp_path / "state.db"
    store = Store(f"sqlite:///{path}")
    m = PlanMachine()
    plan = m.bind(store.insert_plan(spec(PLAN, trail=("1", "2.00")), at=lifecycle_events()[0].at))  # type: ignore[attr-defined]
    for e in lifecycle_events():
        apply_event(m, store, plan, e, now=e.at)  # type: ignore[attr-defined]
    store.db.execute("UPDATE outbox SET sent_at = created_at")
    store.db.execute("UPDATE effects SET done_at = created_at")   # a real run carried them out
    store.close()
    return path


def _order(ref: str, status: str, order_type: str = "STP", action: str = "SELL", remaining: float = 0,
           qty: float = 500, symbol: str = "AAPL", aux: float | None = None) -> dict[str, Any]:
    return {"order_ref": ref, "status": status, "order_type": order_type, "action": action, "remaining": remaining,
            "quantity": qty, "symbol": symbol, "aux_price": aux, "perm_id": hash(ref) % 10_000}


def _ex(exec_id: str, ref: str, shares: float, price: float) -> dict[str, Any]:
    return {"exec_id": exec_id, "order_ref": ref, "shares": shares, "price": price, "symbol": "AAPL"}


def _journal(*events: tuple[str, str, int, str]) -> list[dict[str, Any]]:
    return [{"event": ev, "order_ref": ref, "perm_id": perm, "status": status, "ts": f"t{i}", "client_id": 7,
             "order_id": perm} for i, (ev, ref, perm, status) in enumerate(events)]


CLEAN_JOURNAL = _journal(("placed", f"{PLAN}:entry", 1, "Held"), ("placed", f"{PLAN}:target", 2, "Held"),
                         ("transmitted", f"{PLAN}:entry", 1, "Submitted"),
                         ("transmitted", f"{PLAN}:target", 2, "PreSubmitted"),
                         ("placed", f"{PLAN}:stop", 3, "PreSubmitted"), ("filled", f"{PLAN}:entry", 1, "Filled"),
                         ("activated", f"{PLAN}:target", 2, "Submitted"), ("activated", f"{PLAN}:stop", 3, "Submitted"),
                         ("modified", f"{PLAN}:stop", 3, "Submitted"), ("filled", f"{PLAN}:stop", 3, "Filled"),
                         ("cancelled", f"{PLAN}:target", 2, "Cancelled"))


def _broker(journal: list[dict[str, Any]] | None = None, *, executions: list[dict[str, Any]] | None = None,
            orders: list[dict[str, Any]] | None = None, positions: list[dict[str, Any]] | None = None) -> inv.Broker:
    state = {
        "executions": executions if executions is not None else [
            _ex("e-1", f"{PLAN}:entry", 200, 180.0), _ex("e-2", f"{PLAN}:entry", 300, 180.1),
            _ex("x-1", f"{PLAN}:stop", 500, 184.0)],
        "orders": orders if orders is not None else [
            _order(f"{PLAN}:entry", "Filled", "MKT", "BUY"), _order(f"{PLAN}:stop", "Filled", aux=184.0),
            _order(f"{PLAN}:target", "Cancelled", "LMT")],
        "positions": positions if positions is not None else [{"symbol": "AAPL", "quantity": 0.0}],
    }
    return inv.Broker(state, journal if journal is not None else CLEAN_JOURNAL)


def _sql(path: Path, statement: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement, args)
    conn.commit()
    conn.close()


def _names(violations: list[inv.Violation]) -> list[str]:
    return sorted({v.invariant for v in violations})


def test_a_clean_world_has_no_violation(db_path: Path) -> None:
    db, broker = inv.Db.read(db_path), _broker()
    assert inv.one_entry_per_plan(db, broker) == []
    assert inv.never_two_stops(broker) == []
    assert inv.journal_replays(db) == []
    assert inv.final_matches_broker(db, broker, {PLAN: "AAPL"}) == []
    assert inv.fills_exactly_once(db, broker) == []
    assert inv.transitions_notified(db, None) == []
    assert inv.plans_finish(db) == []


def test_unfinished_plans_and_effects_are_found(db_path: Path) -> None:
    _sql(db_path, "UPDATE plans SET state='protected' WHERE id=?", PLAN)
    _sql(db_path, "UPDATE effects SET done_at=NULL WHERE kind='CancelExits'")
    details = [v.detail for v in inv.plans_finish(inv.Db.read(db_path))]
    assert "still protected (no reason)" in details and any("CancelExits never carried out" in d for d in details)


def test_a_lost_transition_is_found(db_path: Path) -> None:
    _sql(db_path, "DELETE FROM journal WHERE plan_id=? AND seq=3", PLAN)
    [v] = inv.journal_replays(inv.Db.read(db_path))
    assert "seq 4 where 3 was expected" in v.detail


def test_an_illegal_or_wrong_transition_is_found(db_path: Path) -> None:
    _sql(db_path, "UPDATE journal SET to_state='trailing' WHERE plan_id=? AND seq=2", PLAN)
    [v] = inv.journal_replays(inv.Db.read(db_path))
    assert "journal says trailing, the replay submitted" in v.detail


def test_figures_that_do_not_replay_are_found(db_path: Path) -> None:
    _sql(db_path, "UPDATE plans SET exited_qty=400 WHERE id=?", PLAN)
    assert any("exited_qty: stored 400, replayed 500" in v.detail for v in inv.journal_replays(inv.Db.read(db_path)))


def test_fills_missing_doubled_or_wrong_are_found(db_path: Path) -> None:
    _sql(db_path, "DELETE FROM fills WHERE exec_id='x-1'")
    db = inv.Db.read(db_path)
    lines = [v.detail for v in inv.fills_exactly_once(db, _broker())]
    assert any("never applied: ['x-1']" in d for d in lines)
    extra = _broker(executions=[*_broker().state["executions"], _ex("x-2", f"{PLAN}:target", 1, 190.0)])
    assert any("never applied: ['x-1', 'x-2']" in v.detail for v in inv.fills_exactly_once(db, extra))
    wrong = _broker(executions=[_ex("e-1", f"{PLAN}:entry", 200, 180.0), _ex("e-2", f"{PLAN}:entry", 300, 180.2),
                                _ex("x-1", f"{PLAN}:stop", 500, 184.0)])
    assert any("e-2: applied 300 @ 180.10" in v.detail for v in inv.fills_exactly_once(inv.Db.read(db_path), wrong))


def test_realized_pnl_is_checked_against_the_fills_and_the_broker(db_path: Path) -> None:
    _sql(db_path, "UPDATE plans SET realized_pnl='1000' WHERE id=?", PLAN)
    details = [v.detail for v in inv.fills_exactly_once(inv.Db.read(db_path), _broker())]
    assert any("realized P&L 1000 != 1970" in d for d in details)
    assert any("from IB's executions" in d for d in details)


def test_a_closed_plan_with_working_orders_or_a_position_is_found(db_path: Path) -> None:
    db = inv.Db.read(db_path)
    broker = _broker(orders=[_order(f"{PLAN}:stop:2", "Submitted", remaining=500)],
                     positions=[{"symbol": "AAPL", "quantity": 10.0}])
    details = [v.detail for v in inv.final_matches_broker(db, broker, {PLAN: "AAPL"})]
    assert any("IB still has working: AAPL-1:stop:2 STP Submitted" in d for d in details)
    assert any("closed but IB holds 10" in d for d in details)
    assert any("IB position 10 != plan's open quantity 0" in d for d in details)


def test_quantities_that_disagree_with_the_executions_are_found(db_path: Path) -> None:
    broker = _broker(executions=[_ex("e-1", f"{PLAN}:entry", 200, 180.0), _ex("x-1", f"{PLAN}:stop", 500, 184.0)])
    [v, *_] = inv.final_matches_broker(inv.Db.read(db_path), broker, {PLAN: "AAPL"})
    assert "plan filled/exited 500/500, executions 200/500" in v.detail


def test_a_transition_without_notification_is_found(db_path: Path) -> None:
    _sql(db_path, "DELETE FROM outbox WHERE plan_id=? AND seq=2", PLAN)
    _sql(db_path, "UPDATE outbox SET dead_at=sent_at, sent_at=NULL, last_error='400' WHERE seq=3")
    details = [v.detail for v in inv.transitions_notified(inv.Db.read(db_path), None)]
    assert any("seq 2 sized -> submitted has no outbox row" in d for d in details)
    assert any("dead-lettered: 400" in d for d in details)


def test_a_notification_marked_sent_that_discord_never_got_is_found(db_path: Path) -> None:
    db = inv.Db.read(db_path)
    delivered = {(r["plan_id"], r["seq"]) for r in db.outbox}
    assert inv.transitions_notified(db, delivered) == []
    first = db.outbox[0]
    [v] = inv.transitions_notified(db, delivered - {(first["plan_id"], first["seq"])})
    assert "marked sent but Discord never got it" in v.detail


def test_two_working_stops_at_once_are_found() -> None:
    journal = _journal(("placed", "P:stop", 1, "Submitted"), ("placed", "P:stop:2", 2, "Submitted"),
                       ("cancelled", "P:stop", 1, "Cancelled"))
    [v] = inv.never_two_stops(_broker(journal))
    assert v.plan == "P" and "2 stops working at once, first at journal line 2" in v.detail
    sequential = _journal(("placed", "P:stop", 1, "Submitted"), ("cancelled", "P:stop", 1, "Cancelled"),
                          ("placed", "P:stop:2", 2, "Submitted"))
    assert inv.never_two_stops(_broker(sequential)) == []


def test_entry_orders_are_counted(db_path: Path) -> None:
    db = inv.Db.read(db_path)
    two = _journal(("placed", f"{PLAN}:entry", 1, "Submitted"), ("placed", f"{PLAN}:entry:2", 9, "Submitted"))
    [v] = inv.one_entry_per_plan(db, _broker(two))
    assert "2 entry orders reached the market (want 1)" in v.detail
    held = _journal(("placed", f"{PLAN}:entry", 1, "Held"), ("placed", f"{PLAN}:entry:2", 9, "Submitted"))
    [v] = inv.one_entry_per_plan(db, _broker(held))
    assert "never transmitted and left at the broker: ['Held']" in v.detail
    assert classify([v])[0].known is None  # held-entry-orphan is fixed (a bracket is one write): a real violation
    cleaned = [*held, *_journal(("cancelled", f"{PLAN}:entry", 1, "Cancelled"))]
    assert inv.one_entry_per_plan(db, _broker(cleaned)) == []
    rejected = _journal(("rejected", f"{PLAN}:entry", 1, "Inactive"))
    assert inv.one_entry_per_plan(db, _broker(rejected)) == []   # a rejected order reached IB: one attempt


def test_coverage_gaps() -> None:
    state = {"positions": [{"symbol": "AAPL", "quantity": 300.0}, {"symbol": "MSFT", "quantity": -50.0},
                           {"symbol": "TSLA", "quantity": 10.0}],
             "orders": [_order("P:stop", "Submitted", remaining=300),
                        _order("Q:stop", "Submitted", action="BUY", remaining=20, symbol="MSFT"),
                        _order("Q:flatten", "Submitted", "MKT", "BUY", remaining=30, symbol="MSFT")]}
    gaps = inv.coverage_gaps(state, {"AAPL": "P", "MSFT": "Q"})
    assert set(gaps) == {"Q", "TSLA"}
    assert gaps["Q"] == (-50, "position -50, working stop quantity 20 (a flatten order for 30 is working)")
    assert "belongs to no plan" in gaps["TSLA"][1]
    v = inv.Violation("protected_after_connect", "Q", gaps["Q"][1])
    assert classify([v])[0].known is None  # partial-flatten-unprotected is fixed (OCA type 2): a real violation


def test_secrets_and_file_modes(tmp_path: Path) -> None:
    leaky = tmp_path / "a.log"
    leaky.write_text("POST http://h/api/webhooks/1/SECRET\n")
    leaky.chmod(0o644)
    assert _names(inv.no_secret("SECRET", [leaky], {"status": "ok"})) == ["no_secret_in_output"]
    assert inv.no_secret("SECRET", [], {"status": "ok", "outbox": "fine"}) == []
    assert [v.detail for v in inv.owner_only([leaky])] == ["a.log is 0o644"]
    leaky.chmod(0o600)
    assert inv.owner_only([leaky, tmp_path / "missing"]) == []


def test_a_bracket_lost_with_the_connection_is_one_escalation_not_a_missing_entry(tmp_path: Path) -> None:
    """The gateway dropped the connection before it read a bracket: IB never saw the entry, the
    plan went to error for a human, nothing was re-sent. That is the design (a late arrival
    cannot be told from a loss), not a violation — but only while nothing reached the broker."""
    path = tmp_path / "state.db"
    store = Store(f"sqlite:///{path}")
    m = PlanMachine()
    events = lifecycle_events()
    plan = m.bind(store.insert_plan(spec(PLAN), at=events[0].at))
    apply_event(m, store, plan, events[0], now=events[0].at)          # activated: sized, bracket sent
    assert plan.state == "sized"
    lost = machines.Fault(events[0].at, inv.LOST_ENTRY + " (open orders, completed orders, today's executions)")
    apply_event(m, store, plan, lost, now=events[0].at)
    store.close()
    db = inv.Db.read(path)
    assert inv.one_entry_per_plan(db, _broker([])) == []
    arrived = _journal(("placed", f"{PLAN}:entry", 1, "Submitted"))
    assert inv.one_entry_per_plan(db, _broker(arrived)) == []           # it arrived late after all: one entry
    twice = _journal(("placed", f"{PLAN}:entry", 1, "Submitted"), ("placed", f"{PLAN}:entry:2", 9, "Submitted"))
    [v] = inv.one_entry_per_plan(db, _broker(twice))
    assert "2 entry orders reached the market (want 1)" in v.detail
