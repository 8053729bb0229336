"""IB's pacing limit, end to end (engine + ib_async over TCP + the simulated gateway at its
default 50 messages/s): a burst of trailing stop moves reaches IB paced, most urgent first and
coalesced, and every stop ends at its wanted price, with no error 100 and no dropped link.

The gateway runs in its own thread and event loop, like IB in its own process: IB reads our
messages as they arrive, whatever our event loop is busy with. (A gateway on the engine's own
loop reads them only when the engine's loop gets to it, which can be a whole busy pass later.)
"""

from __future__ import annotations

import io
import os
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from orchestrator import bootstrap
from orchestrator.broker.port import BrokerNotice
from orchestrator.config import load_config
from orchestrator.simgw import PricePath
from orchestrator.simgw.runner import GatewayThread

from .harness import PRICES, paper_config, plan_toml, until_changed

PLANS = 200
RISK = "[risk]\nsmall_pct = 0.01\nmax_portfolio_risk_pct = 50\n"


def _distance(i: int) -> D:
    return D("1.00") + D(i) / 100   # 1.00 … 2.99: the nearer the stop to the price, the sooner it moves



@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("PACING_LOAD"),
                    reason="a load test against a 50/s gateway in this process: its margins are timing-bound on a "
                           "loaded machine (PACING_LOAD=1 runs it; the pacer's rules are tested on an injected clock)")
async def test_two_hundred_trailing_stops_moving_at_once_reach_ib_paced_urgent_first_and_coalesced(
        tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plans.toml").write_text("".join(
        plan_toml(f"T{i:03d}", "NVDA", entry_price=130.00, stop=120.00, target=200.00, risk="small",
                  trail=(0.1, float(_distance(i)))) for i in range(PLANS)))
    (tmp_path / "config.toml").write_text(paper_config(trailing_seconds=0.05, extra=RISK))
    with GatewayThread(PricePath.from_rows(PRICES), port=0, tick_seconds=None, account_value=10_000_000) as gt:
        rt = await bootstrap.build(load_config(tmp_path / "config.toml", {}), out=io.StringIO(), port=gt.port,
                                   host="127.0.0.1")
        engine, pacer = rt.engine, rt.broker.pacer
        notices: list[Any] = []
        engine.queue.observers.append(lambda item: notices.append(item) if isinstance(item, BrokerNotice) else None)
        errors: list[int] = []
        rt.broker.ib.errorEvent += lambda _req, code, _msg, _c: errors.append(code)
        try:
            await bootstrap.start(rt)
            await until_changed(engine, lambda: len(engine.plans) == PLANS and all(
                p.state == "protected" for p in engine.plans.values()), "every plan protected", 40)
            journal_from = len(gt.call(lambda gw: gw.journal_entries))
            # activation's running open-risk total follows every step: 200 stops 10 below the entry
            assert engine.registry.risk.total() == sum((p.open_risk() for p in engine.live_plans()), D(0)) > 0

            gt.set_price("NVDA", 140.00)   # every wanted stop moves: 200 modifications, 45 a second
            await until_changed(engine, lambda: pacer.backlog() >= 100, "a backlog of stop moves", 10)
            gt.set_price("NVDA", 141.00)   # and again, while most of the first moves still wait
            wanted = {f"T{i:03d}": D("141.00") - _distance(i) for i in range(PLANS)}
            await until_changed(engine, lambda: all(engine.plans[pid].confirmed_stop_price == stop
                                             for pid, stop in wanted.items()),
                         "every stop confirmed at its wanted price", 30)

            book = gt.call(lambda gw: {o.order_ref.split(":")[0]: D(str(o.aux_price)) for o in gw.orders
                                       if o.order_ref.endswith(":stop") and not o.is_done})
            assert book == wanted
            entries = gt.call(lambda gw: gw.journal_entries[journal_from:])
            moves = [(int(str(r["order_ref"])[1:4]), D(str(r["aux_price"]))) for r in entries
                     if r["event"] == "modified"]
            for price in (D("140.00"), D("141.00")):   # each wave left nearest stop first
                wave = [i for i, stop in moves if stop + _distance(i) == price]
                assert wave == sorted(wave) and wave, price
            assert {stop + _distance(i) for i, stop in moves} == {D("140.00"), D("141.00")}
            assert len(moves) < 2 * PLANS and pacer.stats.coalesced > 0   # queued moves replaced, not sent
            assert 100 not in errors
            assert gt.call(lambda gw: sum(link.session.pacing.violations for link in gw.links())) == 0
            assert gt.call(lambda gw: gw.clients) == [7] and not [n for n in notices if n.kind == "disconnected"]
            assert all(engine.plans[pid].stop_attempts == 0 for pid in wanted)   # confirmed: no re-sends pending
            assert engine.registry.risk.total() == 0   # every stop now past its entry: no risk left
        finally:
            await bootstrap.shutdown(rt, flush_seconds=0.5)
