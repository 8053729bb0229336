"""Every lifecycle path, end to end: engine + ib_async over TCP + simulated gateway + SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from .harness import World, plan_toml


def _entries(world: World, plan_id: str) -> list[str]:
    return [r for r in world.placed_refs(plan_id) if r.startswith(f"{plan_id}:entry")]


async def test_long_market_take_profit(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("L1")) as w:
        plan = await w.state("L1", "protected")
        assert plan.quantity == 221 and plan.filled_qty == 221  # floor(2000 / 9.01): sized on the ask, 180.01
        assert plan.avg_entry_price == D("180.00")
        w.gw.set_price("AAPL", 189.50)
        plan = await w.state("L1", "closed")
        assert plan.exit_reason == "target" and plan.exited_qty == 221
        assert plan.realized_pnl == (plan.avg_exit_price - D("180.00")) * 221
        assert w.states("L1") == ["pending", "sized", "submitted", "filled", "protected", "closed"]
        assert _entries(w, "L1") == ["L1:entry"]
        assert w.working("L1") == []
        assert w.gw.positions.get("AAPL") is None or w.gw.positions["AAPL"].qty == 0
        # every transition was notified (console: no webhook)
        kinds = [r[0] for r in w.rt.store.db.execute("SELECT kind FROM outbox WHERE plan_id='L1' ORDER BY id")]
        assert kinds == ["sized", "submitted", "filled", "protected", "take_profit"]


async def test_short_market_stop_loss(tmp_path: Path) -> None:
    plans = plan_toml("S1", "TSLA", side="short", entry_price=250.00, stop=262.50, target=237.50)
    async with World(tmp_path, plans) as w:
        plan = await w.state("S1", "protected")
        assert plan.quantity == 159  # floor(2000 / 12.51): a short is sized on the bid, 249.99
        w.gw.set_price("TSLA", 263.00)
        plan = await w.state("S1", "closed")
        assert plan.exit_reason == "stop"
        assert plan.realized_pnl < 0
        assert plan.realized_pnl == (plan.avg_entry_price - plan.avg_exit_price) * 159
        assert w.working("S1") == []


async def test_limit_entry_waits_for_its_price(tmp_path: Path) -> None:
    plans = plan_toml("LIM", "MSFT", entry="limit", entry_price=415.00, stop=400.00, target=440.00)
    async with World(tmp_path, plans) as w:
        await w.state("LIM", "submitted")
        w.gw.set_price("MSFT", 417.00)
        assert w.plan("LIM").state == "submitted"
        w.gw.set_price("MSFT", 414.90)
        plan = await w.state("LIM", "protected")
        assert plan.avg_entry_price <= D("415.00")


async def test_stop_entry_triggers_on_breakout(tmp_path: Path) -> None:
    plans = plan_toml("BRK", "NVDA", entry="stop", entry_price=132.00, stop=126.00, target=144.00)
    async with World(tmp_path, plans) as w:
        await w.state("BRK", "submitted")
        w.gw.set_price("NVDA", 132.10)
        plan = await w.state("BRK", "protected")
        assert plan.avg_entry_price >= D("132.00")


async def test_trailing_stop_ratchets_in_place_then_exits(tmp_path: Path) -> None:
    plans = plan_toml("TR", "NVDA", entry_price=130.00, stop=124.00, target=150.00, trail=(1.0, 3.00))
    async with World(tmp_path, plans) as w:
        await w.state("TR", "protected")
        (stop_order,) = [o for o in w.working("TR") if o.order_type == "STP"]
        w.gw.set_price("NVDA", 134.0)  # +4: under 1R (6.00), no trailing yet
        await w.until(lambda: w.plan("TR").best_price == D("134.0"), "best price 134")
        assert w.plan("TR").state == "protected" and w.plan("TR").stop_price == D("124.00")
        for price in (136.5, 138.0, 140.0):
            w.gw.set_price("NVDA", price)
            await w.until(lambda p=price: w.plan("TR").confirmed_stop_price == D(str(p)) - 3,
                          f"stop confirmed at {price - 3}")
        assert w.plan("TR").state == "trailing"
        w.gw.set_price("NVDA", 139.0)  # a pull-back never loosens the stop
        await w.until(lambda: w.plan("TR").best_price == D("140.0"), "best price recorded")
        assert w.plan("TR").stop_price == D("137.00")
        # the same IB order was modified in place: one stop order, its price moved
        stops = [o for o in w.gw.orders if (o.order_ref or "").startswith("TR:stop")]
        assert len(stops) == 1 and stops[0].perm_id == stop_order.perm_id
        assert stops[0].aux_price == 137.00
        modified = [r for r in w.journal_events("TR:stop") if r["event"] == "modified"]
        assert [r["aux_price"] for r in modified] == [133.5, 135.0, 137.0]
        w.gw.set_price("NVDA", 136.90)
        plan = await w.state("TR", "closed")
        assert plan.exit_reason == "trailing_stop"
        assert plan.realized_pnl > 0


async def test_partial_fills_grow_protection(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("PF"), partial_fill_max=100) as w:
        await w.state("PF", "filled", "protected")
        for _ in range(3):
            await w.gw.advance(1)
        plan = await w.state("PF", "protected")
        await w.until(lambda: w.plan("PF").filled_qty == 221, "all 221 filled")
        plan = await w.state("PF", "protected")
        assert plan.protected_stop_qty == 221 and plan.protected_target_qty == 221
        fills = [r for r in w.journal_events("PF:entry") if r["event"] == "filled"]
        assert [r["fill_qty"] for r in fills] == [100, 100, 21]
        for price in (170.00, 169.90, 169.80):  # the stop fills 100 shares per tick too
            w.gw.set_price("AAPL", price)
        plan = await w.state("PF", "closed")
        assert plan.exited_qty == 221 and plan.exit_reason == "stop"


async def test_entry_expires_unfilled(tmp_path: Path) -> None:
    # whole seconds in the file: 3 s leaves the entry ample time to be working first
    expire = (datetime.now(UTC) + timedelta(seconds=3)).isoformat(timespec="seconds")
    plans = plan_toml("EXP", "SPY", entry="limit", entry_price=560.00, stop=532.00, target=600.00,
                      risk="small", expire_at=expire)
    async with World(tmp_path, plans) as w:
        plan = await w.state("EXP", "cancelled")
        assert w.states("EXP") == ["pending", "sized", "submitted", "cancelled"]
        assert plan.reason == "entry expired"
        assert w.working("EXP") == []


async def test_risk_cap_rejects_the_plan_that_would_exceed_it(tmp_path: Path) -> None:
    plans = plan_toml("R1", risk="large") + plan_toml("R2", "TSLA", side="short", entry_price=250.00,
                                                       stop=262.50, target=237.50, risk="large")
    async with World(tmp_path, plans, risk="[risk]\nmax_portfolio_risk_pct = 5") as w:
        await w.state("R1", "protected")
        plan = await w.state("R2", "rejected")
        assert "max_portfolio_risk_pct" in plan.reason
        assert w.placed_refs("R2") == []


async def test_broker_rejection_of_the_entry(tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    log_guard.expect(r"Error 201, reqId \d+: Order rejected - reason:no trading permissions",
                     r"Error 201, reqId \d+: Order rejected - reason:parent order \d+ is Inactive")
    async with World(tmp_path, "") as w:
        w.gw.faults.reject_next(1, "no trading permissions")
        (tmp_path / "plans" / "late.toml").write_text(plan_toml("REJ"))
        plan = await w.state("REJ", "rejected")
        assert plan.error_code == 201
        assert "no trading permissions" in plan.reason
        assert w.working("REJ") == []


async def test_cancel_before_fill(tmp_path: Path) -> None:
    plans = plan_toml("C1", "MSFT", entry="limit", entry_price=400.00, stop=380.00, target=440.00)
    async with World(tmp_path, plans) as w:
        await w.state("C1", "submitted")
        w.rt.store.add_command("C1", "cancel", at=datetime.now(UTC))
        plan = await w.state("C1", "cancelled")
        assert plan.filled_qty == 0
        assert w.working("C1") == []


async def test_cancel_after_fill_flattens(tmp_path: Path) -> None:
    async with World(tmp_path, plan_toml("C2")) as w:
        await w.state("C2", "protected")
        w.rt.store.add_command("C2", "cancel", at=datetime.now(UTC))
        plan = await w.state("C2", "closed")
        assert plan.exit_reason == "flatten" and plan.exited_qty == 221
        assert w.working("C2") == []
        assert w.gw.positions.get("AAPL") is None or w.gw.positions["AAPL"].qty == 0
        # the exit is the bracket's own take-profit repriced to the stop (marketable), not a new order
        exits = [(x.order_ref, x.shares, x.price) for x in w.gw.executions if x.order_ref.startswith("C2:t")]
        assert exits == [("C2:target", 221, 180.0)]
        assert not [r for r in w.placed_refs("C2") if r.startswith("C2:flatten")]
        [target] = w.gw.orders_by_ref("C2:target")
        assert target.lmt_price == 171.0


async def test_a_refused_repricing_of_the_take_profit_falls_back_to_a_market_flatten(
        tmp_path: Path, log_guard) -> None:  # type: ignore[no-untyped-def]
    """IB may refuse to move the take-profit (e.g. a price constraint): the position must still
    be closed, once, by a market order."""
    log_guard.expect(r"Error 201")
    async with World(tmp_path, plan_toml("C3")) as w:
        await w.state("C3", "protected")
        w.gw.faults.reject_next_modify(1, "price constraint")
        w.rt.store.add_command("C3", "cancel", at=datetime.now(UTC))
        plan = await w.state("C3", "closed")
        assert plan.exit_reason == "flatten" and plan.exited_qty == 221
        exits = [(x.order_ref, x.shares) for x in w.gw.executions if not x.order_ref.endswith(":entry")]
        assert exits == [("C3:flatten", 221)]
        assert w.working("C3") == []
        assert w.gw.positions.get("AAPL") is None or w.gw.positions["AAPL"].qty == 0


class _Writes:
    """Records every write ib_async makes to its socket (a wrapper around the real transport)."""

    def __init__(self, transport: object) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.transport, name)


def _order_refs(write: bytes) -> list[str]:
    """The orderRefs of the placeOrder messages (id 3) framed in one socket write."""
    refs, at = [], 0
    while at + 4 <= len(write):
        size = int.from_bytes(write[at:at + 4], "big")
        fields = write[at + 4:at + 4 + size].split(b"\0")
        at += 4 + size
        if fields[0] == b"3":
            refs += [f.decode() for f in fields if f.startswith(b"B:") and not f.endswith(b":oca")]
    return refs


async def test_a_bracket_reaches_ib_in_one_socket_write(tmp_path: Path) -> None:
    """A process killed between a bracket's placeOrders left the untransmitted parent held at IB
    (chaos: held-entry-orphan). The three orders now go out in one write: all or none."""
    async with World(tmp_path, plan_toml("A")) as w:
        await w.state("A", "protected")
        conn = w.rt.broker.ib.client.conn  # type: ignore[union-attr]
        spy = _Writes(conn.transport)
        conn.transport = spy
        (tmp_path / "plans" / "more.toml").write_text(plan_toml("B", "MSFT", entry_price=415.00, stop=400.00,
                                                                 target=440.00))
        await w.state("B", "protected")
        with_orders = [refs for data in spy.writes if (refs := _order_refs(data))]
        assert with_orders == [["B:entry", "B:target", "B:stop"]]
