"""An entry around a crash: never sent twice, and never sent on checks that no longer hold.

Two moments matter. *After the send*: the bracket left, the process died before it marked the
effect done, and IB is slow to show it (its acks come seconds later): the next start must not
send a second entry beside it. *Before the send*: the plan was sized and committed, the bracket
never left; by the next start the price may be past the plan's tolerance, or the trader may
have paused new entries: the plan is sized again, through every check of activation.
Verdicts from the simulated gateway's state (orders and positions) and the store's intents.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.store import submit_command

from .harness import World, plan_toml


def _position(w: World, symbol: str = "AAPL") -> int:
    p = w.gw.positions.get(symbol)
    return int(p.qty) if p is not None else 0


def _entry_intents(w: World, plan_id: str) -> list[tuple[str, str]]:
    assert w.rt is not None
    rows = w.rt.store.db.execute("SELECT order_ref, status FROM orders WHERE plan_id=? AND leg='entry' "
                                 "ORDER BY attempt", (plan_id,)).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


async def test_a_crash_right_after_the_bracket_left_never_sends_a_second_entry(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"shows no trace of its entry")
    w = World(tmp_path, "")
    await w.gw.start()
    await w.start(crash_at="after_place:PlaceBracket:1")
    try:
        w.gw.faults.delay_acks(3.0)     # IB takes the bracket, and says so 3 s later
        (tmp_path / "plans" / "plans.toml").write_text(plan_toml("DU"))
        await w.until(lambda: "DU" in w.engine.plans and w.plan("DU").state == "sized"
                      and _entry_intents(w, "DU") != [], "sized, bracket written")
        await w.stop()                  # dead: the bracket left, the effect is still pending
        await w.start()
        await w.reconciled()
        w.gw.faults.delay_acks(0)
        plan = await w.state("DU", "protected", timeout=15)   # the late entry is found: the plan carries on
        assert _entry_intents(w, "DU") == [("DU:entry", "intent")]     # one entry ever sent
        assert [o.order_ref for o in w.gw.orders if o.order_ref.startswith("DU:entry")] == ["DU:entry"]
        assert _position(w) == plan.quantity == plan.filled_qty
        stops = [o for o in w.working("DU") if o.order_ref.startswith("DU:stop")]
        assert [int(o.remaining) for o in stops] == [plan.quantity]
    finally:
        await w.stop()
        await w.gw.stop()


async def test_an_entry_sized_before_a_crash_is_sized_again_on_the_live_price(tmp_path: Path) -> None:
    # R = 9, sized on the ask 180.01 → 221 shares; at 190 a fresh activation refuses it (past 0.5 R)
    w = World(tmp_path, plan_toml("ST", stop=171.00, target=200.00))
    await w.gw.start()
    await w.start(crash_at="after_commit:PlaceBracket:1")
    try:
        await w.until(lambda: "ST" in w.engine.plans and w.plan("ST").state == "sized", "sized")
        assert w.plan("ST").quantity == 221
        await w.stop()                      # dead: sized and committed, the bracket never sent
        w.gw.set_price("AAPL", 190.00)
        await w.start()
        plan = await w.state("ST", "rejected")
        assert plan.reason is not None and plan.reason.startswith("market entry refused")
        assert ("sized", "pending", "SizedAgain") in w.history("ST")   # sized again, then refused
        assert _position(w) == 0 and w.placed_refs("ST") == [] and _entry_intents(w, "ST") == []
    finally:
        await w.stop()
        await w.gw.stop()


async def test_an_entry_sized_before_a_crash_waits_for_a_pause_made_while_down(tmp_path: Path) -> None:
    w = World(tmp_path, plan_toml("SP", stop=171.00, target=200.00))
    await w.gw.start()
    await w.start(crash_at="after_commit:PlaceBracket:1")
    try:
        await w.until(lambda: "SP" in w.engine.plans and w.plan("SP").state == "sized", "sized")
        await w.stop()
        submit_command(f"sqlite:///{tmp_path / 'state.db'}", "pause", "", origin="cli")
        await w.start()
        await w.until(lambda: bool(w.engine.gate.paused) and w.plan("SP").state == "pending"
                      and w.plan("SP").reason is not None, "paused, the plan holds")
        await w.reconciled()
        assert w.rt is not None and not w.rt.store.pending_effects()
        assert w.placed_refs("SP") == [] and _position(w) == 0
        assert "pause" in (w.plan("SP").reason or "")
    finally:
        await w.stop()
        await w.gw.stop()


async def test_fills_while_away_are_applied_in_their_order_entries_and_exits_alike(tmp_path: Path) -> None:
    """Down with 100 of 221 filled: IB fills 100 more of the entry, then the stop sells all 200.
    At the restart the entry's fill comes before the stop's, so the plan closes with the P&L of
    IB's executions (applied exits first, the stop's 200 looked like a reversal of a 100 position)."""
    w = World(tmp_path, plan_toml("AW", stop=171.00, target=200.00), partial_fill_max=100)
    await w.gw.start()
    await w.start()
    try:
        await w.until(lambda: "AW" in w.engine.plans and w.plan("AW").filled_qty == 100
                      and w.plan("AW").state == "protected", "100 filled and protected")
        await w.stop()
        w.gw.set_price("AAPL", 180.00)              # 100 more of the entry
        await w.gw.wait_until(lambda: _position(w) > 100)
        for price in (170.00, 169.90, 169.80):      # the stop sells all 200, 100 at a time
            w.gw.set_price("AAPL", price)
        await w.gw.wait_until(lambda: _position(w) == 0)
        await w.start()
        plan = await w.state("AW", "closed")
        assert ("filled", "error") not in [(a, b) for a, b, _ in w.history("AW")]
        assert "closed" in [b for _, b, _ in w.history("AW")] and "error" not in [b for _, b, _ in w.history("AW")]
        assert plan.filled_qty == plan.exited_qty > 100 and plan.exit_reason == "stop" and _position(w) == 0
    finally:
        await w.stop()
        await w.gw.stop()
