"""What the second actor found, each reduced to one deterministic run of the real processes: the
gateway (with its TWS window), ``orchestrator run``, and the trader's clientId-0 session.

Most are issue 13's cases (act only on broker truth), whose fixes are being written; one is
issue 12's ``positions accept``. Each test asserts the fixed behaviour, is ``xfail(strict=True)``
and listed in chaos/known.py until then: when a fix lands the test passes, strict xfail fails
the suite, and the marker and the entry go.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.exposure import GRACE, exposure_now
from chaos.hand import CLOSE_REF, OWN_REF

from .helpers import Bench, plan_toml, protected

pytestmark = pytest.mark.chaos
QTY = 222   # plan_toml's plan on a $100,000 account: risk 2 % = $2,000 over 9.00 a share


async def exits_within_position(b: Bench) -> None:
    """Within one reconciliation (and the grace), the plan's exits come down to what IB holds;
    then the market runs through the target and the stop: IB's position is never reversed."""
    async def within() -> bool:
        exits, held = exposure_now(await b.state(), "P", "AAPL", 1)
        return exits <= held
    try:
        await b.until("the plan's exits within IB's position", within, timeout=GRACE)
    finally:
        exits, held = exposure_now(await b.state(), "P", "AAPL", 1)
        print(f"exit quantity {exits}, IB holds {held} for the plan")
    for price in (190.0, 170.0):
        await b.gw_call("set_price", symbol="AAPL", price=price)
    assert await b.position("AAPL") >= 0


@pytest.mark.xfail(strict=True, reason="known: exits-not-gated-by-position (issue 13, field report M2)")
async def test_a_partial_sale_by_hand_shrinks_the_exits(tmp_path: Path) -> None:
    async with protected(tmp_path) as (b, trader):
        assert (await trader("trade", symbol="AAPL", action="SELL", qty=100, ref=CLOSE_REF))["filled"] == 100
        await exits_within_position(b)


@pytest.mark.xfail(strict=True, reason="known: exits-not-gated-by-position (issue 13, field report M2)")
async def test_a_global_cancel_and_a_sale_by_hand_leave_no_exit(tmp_path: Path) -> None:
    async with protected(tmp_path) as (b, trader):
        assert (await trader("global_cancel"))["ok"]
        assert (await trader("trade", symbol="AAPL", action="SELL", qty=QTY, ref=CLOSE_REF))["filled"] == QTY
        await exits_within_position(b)


@pytest.mark.xfail(strict=True, reason="known: duplicate-exit-with-our-ref (issue 13 deliverable 2)")
async def test_a_stop_the_trader_placed_with_our_order_ref_is_not_a_second_exit(tmp_path: Path) -> None:
    async with protected(tmp_path) as (b, trader):
        placed = await trader("stop", symbol="AAPL", action="SELL", qty=QTY, stop=171.0, ref="P:stop")
        assert placed["status"] == "Submitted", placed
        await exits_within_position(b)



@pytest.mark.xfail(strict=True, reason="known: accept-uses-stale-positions (issue 12 deliverable 5)")
async def test_positions_accept_right_after_the_trade_accepts_the_traders_shares(tmp_path: Path) -> None:
    """The trader buys 20 next to the plan's 222 and accepts them at once (before the next
    periodic reconciliation): what is accepted must be the 20 IB holds beyond the plan."""
    async with protected(tmp_path) as (b, trader):
        assert (await trader("trade", symbol="AAPL", action="BUY", qty=20, ref=OWN_REF))["filled"] == 20
        b.accept("AAPL")

        def applied() -> str | None:
            return b.command_result()
        await b.until("the accept applied", applied)
        assert applied() == "accepted 20 AAPL as the trader's own"


@pytest.mark.xfail(strict=True, reason="known: duplicate-exit-with-our-ref (issue 13 deliverable 2)")
async def test_the_orchestrator_never_modifies_an_order_of_another_client(tmp_path: Path) -> None:
    """IB binds an order id to the client that placed it: a modification the orchestrator sends
    for the trader's order (taken for its own stop) goes out on its own connection, under its own
    id space — IB refuses it (103 here; 104 when the id is one of its own filled orders) or, were
    that id one of its live orders, changes that order."""
    plans = plan_toml("P", target="199.00") + "[plans.trail]\ntrigger_r = 0.5\ndistance = 3.00\n"
    async with protected(tmp_path, plans) as (b, trader):
        assert b.orch is not None
        placed = await trader("stop", symbol="AAPL", action="SELL", qty=QTY, stop=171.0, ref="P:stop")
        assert placed["status"] == "Submitted", placed
        assert await b.orch.terminate(20) == 0   # a restart: its reconciliation at connect sees both stops
        await b.start()
        await b.line(r"P Protect: ", stream="err")
        await b.gw_call("set_price", symbol="AAPL", price=186.0)   # 0.67 R in favour: the stop trails to 183
        await b.line(r"P ModifyStop: ", stream="err")
        journal = (await b.broker()).journal
        refused = [e for e in journal if e.get("client_id") == 7 and e.get("code") in (103, 104, 105)]
        assert refused == [], refused
