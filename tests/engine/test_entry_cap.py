"""A market entry is a marketable limit at its price cap, end to end over TCP: in a market that
gaps between sizing and the order's arrival it fills at the cap or better, or rests, never
worse; a remainder rests under the plan's expiry; a market already past the cap is refused.

The plan throughout: long AAPL at market, entry_price 180, stop 171, target 189, risk normal (2 %
of 100 000 = 2000). Sized on the ask 180.01: 2000 ÷ 9.01 → 221 shares; cap = 171 + 2000 × 1.5 ÷
221 = 184.5746… → 184.57 (the default tolerance 0.5). Verdicts come from the gateway's
executions and orders, across every client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import machines
from orchestrator.clock import FixedClock
from orchestrator.engine.work import ExpireRequest
from orchestrator.notify.format import lines
from orchestrator.simgw import OrderPolicy

from ..cli.helpers import call
from .harness import World, plan_toml

BUDGET, TOLERANCE, QTY, STOP, CAP = D(2000), D("0.5"), 221, D(171), D("184.57")
NOW = datetime.now(UTC).replace(microsecond=0)


@asynccontextmanager
async def _gapping(tmp_path: Path, gap_to: float, plans: str = "", **world: Any) -> AsyncIterator[World]:
    """A world whose market jumps to ``gap_to`` the moment the bracket is committed, before it is
    sent: the order reaches the gateway after the jump, as at IB in a gap or a fast market."""
    w = World(tmp_path, plans or plan_toml("P"), **world)
    await w.gw.start()

    def gap(_point: str) -> None:
        w.gw.set_price("AAPL", gap_to)
    try:
        await w.start(crash_at="after_commit:PlaceBracket:1", on_hit=gap)
        yield w
    finally:
        await w.stop()
        await w.gw.stop()


def _entry_fills(w: World) -> list[tuple[float, float]]:
    return [(x.shares, x.price) for x in w.gw.executions if x.order_ref == "P:entry"]


def _risk(fills: list[tuple[float, float]]) -> D:
    return sum((abs(D(repr(price)) - STOP) * D(repr(shares)) for shares, price in fills), D(0))


async def _until_gateway(w: World, predicate: Callable[[], bool], what: str) -> None:
    await w.gw.wait_until(predicate, timeout=10)
    assert predicate(), what


async def test_a_gap_past_the_cap_leaves_the_entry_resting_and_it_fills_at_the_cap_or_better(tmp_path: Path) -> None:
    """R1201-E37-P3: the market ran from the sized price past the budget; a MKT filled there
    (risk 3315 here, 1.66 × the budget). The capped entry waits instead, and fills once the
    market is back under the cap, within budget × (1 + tolerance)."""
    async with _gapping(tmp_path, 186.00) as w:
        plan = await w.state("P", "submitted", "protected")
        await _until_gateway(w, lambda: any(o.order_ref == "P:entry" and o.status in ("Submitted", "Filled")
                                            for o in w.gw.orders), "the entry at IB")
        assert [p for _s, p in _entry_fills(w) if p > float(CAP)] == []   # nothing bought past the cap
        (entry,) = [o for o in w.gw.orders if o.order_ref == "P:entry"]
        assert (entry.order_type, entry.lmt_price, entry.total_qty) == ("LMT", float(CAP), QTY)
        assert (plan.state, plan.quantity, plan.entry_cap, plan.sized_price) == ("submitted", QTY, CAP, D("180.01"))
        assert _entry_fills(w) == []                     # the gap is past the cap: it rests
        rc, out, _ = call("status", "--json", "--config", str(tmp_path / "config.toml"))
        (shown,) = json.loads(out)
        assert rc == 0 and shown["entry_cap"] == 184.57 and shown["state"] == "submitted"
        rc, out, _ = call("status", "--wide", "--config", str(tmp_path / "config.toml"))
        assert "market entry pays at most 184.57 (its price cap" in out
        assert w.rt is not None
        (sized,) = [json.loads(r[0]) for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind='sized'")]
        assert sized["facts"]["entry_cap"] == "184.57" and "Entry cap: $184.57" in "\n".join(lines(sized))
        w.gw.set_price("AAPL", 184.00)
        plan = await w.state("P", "protected")
        fills = _entry_fills(w)
        assert fills == [(QTY, 184.00)] and max(p for _s, p in fills) <= float(CAP)
        assert _risk(fills) == D(2873) <= BUDGET * (1 + TOLERANCE)
        assert plan.actual_risk == D(2873) and plan.stop_price == STOP


async def test_a_gap_short_of_the_cap_fills_at_the_gapped_price_within_budget(tmp_path: Path) -> None:
    async with _gapping(tmp_path, 184.50) as w:
        plan = await w.state("P", "protected")
        fills = _entry_fills(w)
        assert fills == [(QTY, 184.50)]
        assert _risk(fills) == D("2983.50") <= BUDGET * (1 + TOLERANCE)
        stops = [o for o in w.gw.orders if o.order_ref == "P:stop" and not o.is_done]
        assert [(s.order_type, s.aux_price, s.total_qty) for s in stops] == [("STP", 171.0, QTY)]
        assert plan.entry_cap == CAP


async def test_a_partly_filled_capped_entry_protects_what_filled_and_its_rest_expires(tmp_path: Path) -> None:
    """100 shares fill under the cap, then the market runs past it again: the filled part is
    protected as always, the rest rests as a limit, and the plan's expire_at cancels it."""
    expire = NOW + timedelta(hours=1)
    clock = FixedClock(NOW)
    plans = plan_toml("P", expire_at=expire.isoformat())
    async with _gapping(tmp_path, 186.00, plans, partial_fill_max=100, clock=clock) as w:
        await w.state("P", "submitted", "protected")
        assert [p for _s, p in _entry_fills(w) if p > float(CAP)] == []
        await _until_gateway(w, lambda: any(o.order_ref == "P:entry" and o.status == "Submitted" for o in w.gw.orders),
                             "the entry working at IB")
        w.gw.set_price("AAPL", 184.00)                  # 100 of 221 fill (at most 100 per tick)
        w.gw.set_price("AAPL", 185.00)                  # past the cap again: the rest waits
        plan = await w.state("P", "protected")
        await w.until(lambda: plan.protected_stop_qty == 100, "protection for the 100 filled")
        assert _entry_fills(w) == [(100, 184.00)] and plan.open_qty == 100 and not plan.entry_done
        clock.set(expire + timedelta(seconds=1))
        w.engine.enqueue(ExpireRequest("P"))
        await w.until(lambda: plan.entry_done, "the rest of the entry cancelled by the expiry")
        plan = await w.state("P", "protected")
        await _until_gateway(w, lambda: not any(o.order_ref == "P:entry" and not o.is_done for o in w.gw.orders),
                             "no entry working at IB")
        assert _entry_fills(w) == [(100, 184.00)]
        stops = [o for o in w.gw.orders if o.order_ref == "P:stop" and not o.is_done]
        assert [(s.aux_price, s.total_qty - s.filled) for s in stops] == [(171.0, 100)]
        assert _risk(_entry_fills(w)) <= BUDGET * (1 + TOLERANCE)


async def test_a_market_already_past_the_cap_when_the_entry_goes_out_is_refused_with_the_reason(
        tmp_path: Path) -> None:
    """The market moves between sizing and the send (here: the tick reached the orchestrator just
    after the plan was sized on 180.01). A limit at the cap would only rest below the market, so
    nothing is sent and the plan is refused, as one too far from its entry_price is."""
    clock = FixedClock(NOW)
    plans = plan_toml("P", start_at=(NOW + timedelta(hours=1)).isoformat())   # pending until sized by hand
    async with World(tmp_path, plans, clock=clock) as w:
        await w.until(lambda: "P" in w.engine.plans and w.engine.reconciled.is_set(), "the plan loaded")
        await w.engine.activation.subscribe(w.plan("P"))
        w.gw.set_price("AAPL", 186.00)
        await w.until(lambda: w.engine.broker.quote("AAPL").ask == D("186.01"), "the new ask seen")
        limits = machines.RiskLimits(normal_pct=D(2), entry_tolerance_r=TOLERANCE)
        sized = machines.Activate(clock.now(), D(100_000), D(100_000), D(0), limits, market_price=D("180.01"))
        assert await w.engine.unit.apply("P", sized)
        plan = await w.state("P", "rejected")
        assert plan.reason == ("market entry refused: the market 186.01 is already past the entry's price cap "
                               "184.57 (an entry of 221 may not pay more than 184.57 for its risk to stay within the "
                               "budget × (1 + market_entry_tolerance_r)); nothing was sent")
        assert w.states("P") == ["pending", "sized", "rejected"]
        assert [o for o in w.gw.orders if o.order_ref.startswith("P:")] == [] and _entry_fills(w) == []
        assert w.rt is not None
        told = [r[0] for r in w.rt.store.db.execute("SELECT payload FROM outbox WHERE kind='rejected'")]
        assert len(told) == 1 and "184.57" in told[0]


async def test_the_cap_passes_ordinary_precautions_and_a_tighter_one_rejects_the_plan_with_ibs_reason(
        tmp_path: Path, log_guard: Any) -> None:
    """The cap is tolerance × R beyond the sized price: here 184.57 over a last trade of 180.00,
    2.5 % through the market. An account's precautionary percentage of 5 % lets it through (it
    fills at the market, 180.00); one of 2 % refuses it with IB's 201, and the plan is rejected
    with IB's words, nothing working (IB's own check refuses a stock order 10 % through the NBBO:
    a stop further than 20 % of the price away would meet it)."""
    log_guard.expect(r"Error 201, reqId \d+: Order rejected - reason:The following order .* Percentage constraint",
                     r"Error 201, reqId \d+: Order rejected - reason:parent order \d+ is Inactive")
    async with World(tmp_path, plan_toml("P"), sim={"policy": OrderPolicy(precaution_percent=5)}) as w:
        await w.state("P", "protected")
        assert _entry_fills(w) == [(QTY, 180.00)]
    (tmp_path / "tight").mkdir()
    async with World(tmp_path / "tight", plan_toml("P"), sim={"policy": OrderPolicy(precaution_percent=2)}) as w:
        plan = await w.state("P", "rejected")
        assert plan.error_code == 201 and "exceeds the Percentage constraint of 2%" in (plan.reason or "")
        assert w.working("P") == [] and _entry_fills(w) == []
