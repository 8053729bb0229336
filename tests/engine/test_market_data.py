"""Market data as a first-class input, end to end over TCP: the account's entitlement at the
simulated gateway (live, delayed, none), data that stops (a stalled symbol, a competing live
session), and what the orchestrator does: which prices it acts on, what it tells the trader, and
that protection at IB is never touched by a missing price."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from orchestrator.engine import ReconcileRequest

from .harness import World, plan_toml

# a limit entry at the market fills without a price from the feed; R = 9, trails from 184.50, 2.00 behind
TRAIL = {"entry": "limit", "entry_price": 180.05, "stop": 171.00, "target": 200.00, "trail": (0.5, 2.0)}


def _notices(w: World, kind: str) -> list[dict[str, Any]]:
    assert w.rt is not None
    return [json.loads(r[0]) for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind=?", (kind,))]


def _stop_at_ib(w: World, plan_id: str) -> float:
    [stop] = [o for o in w.working(plan_id) if o.order_ref == f"{plan_id}:stop"]
    return float(stop.aux_price)


def _daemon(w: World) -> dict[str, Any]:
    assert w.rt is not None
    w.engine.status.write()
    return json.loads(w.rt.store.get_meta("daemon") or "{}")


async def _reconcile(w: World) -> None:
    w.engine.reconciled.clear()
    w.engine.enqueue(ReconcileRequest("test"))
    await w.reconciled()


async def _trail_ticks(w: World, n: int = 3) -> None:
    """Let the trailing job run ``n`` times (it runs every 0.05 s in the harness)."""
    for _ in range(n):
        w.engine.changed.clear()
        await _reconcile(w)


async def test_without_market_data_the_stop_never_moves_and_the_trader_is_told_once(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("N", **TRAIL), market_data="none") as w:
        await w.state("N", "protected")
        w.gw.set_price("AAPL", 190.00)                       # 1.1R in favour: would trail to 188
        await w.until(lambda: bool(_notices(w, "market_data_lost")), "the trader told")
        await _trail_ticks(w)
        plan = w.plan("N")
        assert (plan.stop_price, _stop_at_ib(w, "N")) == (Decimal(171), 171.0)   # protection untouched
        [note] = _notices(w, "market_data_lost")
        # auto: live was refused (10089), delayed was asked for and refused too (354)
        assert "no usable price for AAPL: IB sends no usable market data (IB 354" in note["facts"]["message"]
        assert _daemon(w)["market_data"] == {"AAPL": "none"} and "AAPL" in _daemon(w)["data_holds"]
        assert len(_notices(w, "market_data_delayed")) == 1
        # the account gets data: the next reconciliation subscribes again, the stop trails, the trader hears
        w.gw.feed.set_entitlement("live")
        await _reconcile(w)
        w.gw.set_price("AAPL", 190.50)
        await w.until(lambda: w.plan("N").confirmed_stop_price == Decimal("188.50"), "the trail")
        assert len(_notices(w, "market_data_restored")) == 1 and len(_notices(w, "market_data_lost")) == 1
        assert _daemon(w)["market_data"] == {"AAPL": "live"} and _daemon(w)["data_holds"] == {}


async def test_delayed_data_is_asked_for_and_said_but_not_trailed_on_by_default(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("D", **TRAIL), market_data="delayed") as w:
        await w.state("D", "protected")
        await w.until(lambda: bool(_notices(w, "market_data_delayed")), "the fallback told")
        w.gw.set_price("AAPL", 190.00)
        await w.until(lambda: _daemon(w)["market_data"] == {"AAPL": "delayed"}, "delayed data flowing")
        await w.until(lambda: bool(_notices(w, "market_data_lost")), "trailing held")
        await _trail_ticks(w)
        assert w.plan("D").stop_price == Decimal(171) and _stop_at_ib(w, "D") == 171.0
        assert "trail_on_delayed is off" in _notices(w, "market_data_lost")[0]["facts"]["message"]


async def test_delayed_data_trails_when_the_trader_allows_it(tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    extra = "\n[market_data]\ntrail_on_delayed = true\n"
    async with World(tmp_path, plan_toml("A", **TRAIL), market_data="delayed", risk=extra) as w:
        await w.state("A", "protected")
        w.gw.set_price("AAPL", 190.00)
        await w.until(lambda: w.plan("A").confirmed_stop_price == Decimal(188), "the trail on delayed data")
        assert _stop_at_ib(w, "A") == 188.0 and not _notices(w, "market_data_lost")


async def test_a_market_entry_waits_for_a_usable_price_and_says_why(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("M"), market_data="none") as w:
        w.engine.activation.price_wait = 0.0
        await w.until(lambda: "M" in w.engine.plans and "IB sends no usable" in (w.plan("M").reason or ""),
                      "the plan waiting, saying why")
        assert "waiting for a usable price of AAPL (IB sends no usable market data (IB" in w.plan("M").reason
        assert w.plan("M").state == "pending" and w.gw.orders == []
        w.gw.feed.set_entitlement("live")
        await _reconcile(w)
        plan = await w.state("M", "protected")
        assert plan.reason is None and plan.filled_qty == 221


async def test_a_symbol_whose_ticks_stop_is_not_trailed_on_once_its_price_is_old(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    extra = "\n[market_data]\nmax_age_seconds = 0.5\n"
    async with World(tmp_path, plan_toml("S", **TRAIL), risk=extra) as w:
        await w.state("S", "protected")
        w.gw.set_price("AAPL", 183.00)
        await w.until(lambda: bool(_notices(w, "market_data_lost")), "the old price told", timeout=15)
        assert "the last price is" in _notices(w, "market_data_lost")[0]["facts"]["message"]
        w.gw.feed.stall("AAPL")
        w.gw.set_price("AAPL", 190.00)                       # IB sends nothing for AAPL
        await _trail_ticks(w)
        assert w.plan("S").stop_price == Decimal(171)
        w.gw.feed.stall("AAPL", False)
        w.gw.set_price("AAPL", 190.10)
        await w.until(lambda: w.plan("S").confirmed_stop_price == Decimal("188.10"), "the trail")
        assert len(_notices(w, "market_data_restored")) == 1


async def test_a_competing_live_session_stops_trailing_until_data_flows_again(
        tmp_path, log_guard) -> None:  # type: ignore[no-untyped-def]
    async with World(tmp_path, plan_toml("C", **TRAIL)) as w:
        await w.state("C", "protected")
        w.gw.set_price("AAPL", 181.00)
        await w.until(lambda: _daemon(w)["market_data"] == {"AAPL": "live"}, "live data")
        w.gw.feed.competing_session()
        await w.until(lambda: bool(_notices(w, "market_data_lost")), "the outage told")
        assert "IB 10197" in _notices(w, "market_data_lost")[0]["facts"]["message"]
        w.gw.set_price("AAPL", 190.00)
        await _trail_ticks(w)
        assert w.plan("C").stop_price == Decimal(171)
        w.gw.feed.set_entitlement("live")                    # the other session logs out
        await _reconcile(w)
        w.gw.set_price("AAPL", 190.20)
        await w.until(lambda: w.plan("C").confirmed_stop_price == Decimal("188.20"), "the trail")
