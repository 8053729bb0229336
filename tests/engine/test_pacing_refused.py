"""IB's error 100, end to end (engine + ib_async over TCP + the simulated gateway in its own
thread): a gateway stricter than the pacer expects (30 messages/s) refuses part of a burst of
trailing stop moves; the engine slows down, finds out from IB's open orders which moves did not
happen and sends them again, tells the trader once, and every stop at the gateway ends at its
wanted price with nothing lost and the link kept. The trailing job's own re-send is put out of
reach (confirm_seconds = 60), so what repairs the refused moves is the reaction to error 100.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from orchestrator import bootstrap
from orchestrator.broker.port import BrokerNotice
from orchestrator.config import load_config
from orchestrator.simgw import PricePath
from orchestrator.simgw.runner import GatewayThread

from .harness import PRICES, paper_config, plan_toml, until_changed

PLANS = 50
STRICT = 30   # messages a second the gateway accepts once every plan is protected
EXTRA = "confirm_seconds = 60\n[risk]\nsmall_pct = 0.01\nmax_portfolio_risk_pct = 50\n"


def _distance(i: int) -> D:
    return D("1.00") + D(i) / 100



def _book(gw: Any) -> dict[str, D]:
    return {o.order_ref.split(":")[0]: D(str(o.aux_price)) for o in gw.orders
            if o.order_ref.endswith(":stop") and not o.is_done}


async def test_error_100_slows_the_pacer_and_every_refused_stop_move_is_sent_again(tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plans.toml").write_text("".join(
        plan_toml(f"T{i:03d}", "NVDA", entry_price=130.00, stop=120.00, target=200.00, risk="small",
                  trail=(0.1, float(_distance(i)))) for i in range(PLANS)))
    (tmp_path / "config.toml").write_text(paper_config(trailing_seconds=0.05, extra=EXTRA))
    with GatewayThread(PricePath.from_rows(PRICES), port=0, tick_seconds=None, account_value=10_000_000,
                       journal_path=tmp_path / "sim-journal.jsonl") as gt:
        rt = await bootstrap.build(load_config(tmp_path / "config.toml", {}), out=io.StringIO(), port=gt.port,
                                   host="127.0.0.1")
        engine, pacer = rt.engine, rt.broker.pacer
        notices: list[tuple[BrokerNotice, float]] = []   # with the pacer's rate when it came

        def observe(item: Any) -> None:
            if isinstance(item, BrokerNotice):
                notices.append((item, pacer.current_rate()))
        engine.queue.observers.append(observe)
        errors: list[int] = []
        rt.broker.ib.errorEvent += lambda _req, code, _msg, _c: errors.append(code)
        try:
            await bootstrap.start(rt)
            await until_changed(engine, lambda: len(engine.plans) == PLANS and all(
                p.state == "protected" for p in engine.plans.values()), "every plan protected", 40)
            await until_changed(engine, lambda: pacer.backlog() == 0 and pacer.room() == pacer.rate,
                                "an idle pacer", 10)
            gt.call(lambda gw: gw.set_pacing_limit(STRICT))
            journal_from, errors_from = len(gt.call(lambda gw: gw.journal_entries)), len(errors)

            gt.set_price("NVDA", 140.00)   # every wanted stop moves: 50 modifications, 45 of them at once
            wanted = {f"T{i:03d}": D("140.00") - _distance(i) for i in range(PLANS)}
            await until_changed(engine, lambda: all(engine.plans[pid].confirmed_stop_price == stop
                                             for pid, stop in wanted.items()),
                         "every stop confirmed at its wanted price", 30)

            assert gt.call(_book) == wanted   # the gateway's book: every stop where the plan wants it
            journal = gt.call(lambda gw: gw.journal_entries[journal_from:])
            assert [e for e in journal if e["event"] == "pacing_refused"] and 100 in errors[errors_from:]
            assert not [e for e in journal if e["event"] == "pacing_dropped"]
            assert gt.call(lambda gw: gw.clients) == [7] and not [n for n, _r in notices if n.kind == "disconnected"]
            pacing = [(n.kind, rate) for n, rate in notices if n.kind.startswith("pacing")]
            assert ("pacing", 20.0) in pacing and ("pacing", 40.0) not in pacing   # told once slowed, at half speed
            assert pacing.index(("pacing", 20.0)) < [k for k, _r in pacing].index("pacing_checked")
            told = [json.loads(r[0]) for r in rt.store.db.execute("SELECT payload FROM outbox WHERE kind=?",
                                                                   ("pacing_slowed",))]
            slowdowns = [k for k, _r in pacing].count("pacing")   # one notice per slow-down, not per error 100
            assert len(told) == slowdowns < pacer.stats.refusals + 1 and pacer.stats.refusals >= 1
            assert "slowed its requests to 20 a second" in told[-1]["facts"]["message"]
            assert all(engine.plans[pid].stop_attempts == 0 for pid in wanted)   # no trailing re-send was needed
            moved = [e for e in journal if e["event"] == "modified"]
            assert len(moved) >= PLANS   # each stop moved at IB (the refused moves were never journaled)
        finally:
            await bootstrap.shutdown(rt, flush_seconds=0.5)
