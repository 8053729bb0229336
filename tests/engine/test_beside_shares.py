"""Shares the trader holds beside the plans in a symbol (bought by hand, not accepted): the note
of them must follow what the trader does, or a plan is cut for a sale that never touched it.
Verdicts from the gateway: its position and every client's working exits."""

from __future__ import annotations

from ..trader import Trader
from .harness import World, plan_toml
from .test_broker_truth import _exits_at_ib, _position, _reconcile


async def test_the_trader_selling_their_own_shares_while_an_entry_works_leaves_the_plan_whole(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """A holds 221, the trader buys 50 beside it; plan B's limit entry then works in AAPL (a look
    while an entry may fill cannot raise the note, but it can lower it). The trader sells exactly
    their 50: IB holds A's 221, and A keeps all its exits."""
    async with World(tmp_path, plan_toml("A")) as w:
        await w.state("A", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 50, action="BUY")
            await _reconcile(w)
            assert w.engine.status.document()["beside_positions"] == {"AAPL": 50}   # the trader can see it
            (tmp_path / "plans" / "more.toml").write_text(
                plan_toml("B", entry="limit", entry_price=150.00, stop=140.00, target=200.00))
            await w.state("B", "submitted")
            await trader.sell("AAPL", 50)
            await _reconcile(w)
        assert _position(w) == 221
        plan = w.plan("A")
        assert (plan.state, plan.open_qty) == ("protected", 221), plan.reason
        assert [e for e in _exits_at_ib(w) if e[2].startswith("A:")] == [(7, "LMT", "A:target", 221),
                                                                           (7, "STP", "A:stop", 221)]
        assert w.engine.status.document()["beside_positions"] == {}


async def test_shares_seen_beside_a_plan_that_ended_are_never_taken_from_the_next_plan(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """A holds 221, the trader buys 50 beside it; A's target fills, then the trader sells their 50
    (IB: 0). A new plan C buys: every share IB holds is C's, and C is protected for all of them."""
    async with World(tmp_path, plan_toml("A")) as w:
        await w.state("A", "protected")
        async with Trader(w.gw.port) as trader:
            await trader.sell("AAPL", 50, action="BUY")
            await _reconcile(w)
            w.gw.set_price("AAPL", 189.50)
            await w.state("A", "closed")
            await w.gw.wait_until(lambda: _position(w) == 50)
            await _reconcile(w)
            await trader.sell("AAPL", 50)
            await w.gw.wait_until(lambda: _position(w) == 0)
            await _reconcile(w)
        w.gw.set_price("AAPL", 180.00)
        (tmp_path / "plans" / "more.toml").write_text(plan_toml("C"))
        await w.state("C", "protected", "error")
        await _reconcile(w)
        plan = w.plan("C")
        held = _position(w)
        assert (plan.state, plan.open_qty, plan.filled_qty) == ("protected", held, held), plan.reason
        assert [e for e in _exits_at_ib(w) if e[2].startswith("C:")] == [(7, "LMT", "C:target", held),
                                                                           (7, "STP", "C:stop", held)]
