"""``no_pacing_errors`` catches an error 100: the gateway's journal of a real burst over its limit
(a real ib_async client over TCP, its own throttle off), and pacing lines planted in an episode's
logs; a clean episode passes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ib_async import IB

from chaos.invariants import INVARIANTS
from chaos.pacing import no_pacing_errors
from orchestrator.simgw import PricePath
from orchestrator.simgw.runner import GatewayThread

from ..engine.harness import PRICES

CLEAN_LOG = ("2026-12-02 02:00:00,000 INFO orchestrator.startup: connected to IB at 127.0.0.1:4002\n"
             "2026-12-02 02:00:01,000 WARNING orchestrator.engine.connection: IB connection lost; reconnecting\n")


def _refused(gw: Any) -> bool:
    return any(e["event"] == "pacing_refused" for e in gw.journal_entries)


async def test_an_error_100_in_the_gateway_journal_is_a_violation(tmp_path: Path, log_guard: Any) -> None:
    log_guard.expect(r"Error 100, reqId -1: Max rate")   # a bare ib_async client logs it at ERROR
    (tmp_path / "orchestrator-001.err.log").write_text(CLEAN_LOG)
    with GatewayThread(PricePath.from_rows(PRICES), port=0, tick_seconds=None, pacing_limit=20,
                       journal_path=tmp_path / "sim-journal.jsonl") as gt:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gt.port, clientId=31, timeout=10)
        try:
            assert no_pacing_errors(gt.call(lambda gw: list(gw.journal_entries)), tmp_path) == []   # the handshake
            ib.client.MaxRequests = 0   # ib_async's own throttle off: everything goes at once
            for _ in range(30):
                ib.client.reqCurrentTime()  # type: ignore[no-untyped-call]
            await asyncio.to_thread(gt.run, lambda gw: gw.wait_until(lambda: _refused(gw), 10), 15)
        finally:
            ib.disconnect()
        journal = gt.call(lambda gw: list(gw.journal_entries))
    found = no_pacing_errors(journal, tmp_path)
    assert [v.invariant for v in found] == ["no_pacing_errors"]
    assert "1 x pacing_refused for client 31" in found[0].detail and "Max rate of messages" in found[0].detail
    assert "no_pacing_errors" in INVARIANTS


def test_pacing_lines_in_any_log_are_violations_whatever_their_level(tmp_path: Path) -> None:
    (tmp_path / "orchestrator-001.err.log").write_text(
        CLEAN_LOG + "2026-12-02 02:00:02,000 INFO ib_async.wrapper: Error 100, reqId -1: Max rate of messages per "
                    "second has been exceeded:max=50 rec=51 (1)\n")
    (tmp_path / "orchestrator-002.err.log").write_text(
        CLEAN_LOG + "2026-12-02 02:00:03,000 WARNING orchestrator.engine.notices: pacing_slowed: IB refused messages\n")
    (tmp_path / "gateway-sim-journal.err.log").write_text(
        "2026-12-02 02:00:04,000 WARNING orchestrator.simgw: <client 7> keeps exceeding 50 messages/s; "
        "disconnecting it\n")
    (tmp_path / "trader.err.log").write_text(CLEAN_LOG)
    found = no_pacing_errors([], tmp_path)
    assert sorted(v.detail.split(":")[0] for v in found) == ["gateway-sim-journal.err.log", "orchestrator-001.err.log",
                                                             "orchestrator-002.err.log"]
    journal = [{"event": "pacing_dropped", "client_id": 7, "ts": "t", "text": "disconnected"},
               {"event": "modified", "client_id": 7, "order_ref": "P1:stop"}]
    assert [v.detail for v in no_pacing_errors(journal, tmp_path / "none")] == [
        "gateway journal: 1 x pacing_dropped for client 7, first at t: disconnected"]
