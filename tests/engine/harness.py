"""End-to-end harness: the real engine, the real ib_async client over TCP, the simulated
gateway (manual ticks), real SQLite files. Waiting is on events, never on sleeps."""

from __future__ import annotations

import asyncio
import io
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator import bootstrap
from orchestrator.config import load_config
from orchestrator.faultpoints import FaultPoints
from orchestrator.simgw import PricePath, SimGateway
from orchestrator.simgw.ticks import OFF_TICK_CODE

WAIT = 10.0

PRICES = [("AAPL", 180.00), ("MSFT", 420.00), ("NVDA", 130.00), ("TSLA", 250.00), ("SPY", 590.00)]


def plan_toml(plan_id: str, symbol: str = "AAPL", *, side: str = "long", entry: str = "market",
              entry_price: float = 180.00, stop: float = 171.00, target: float = 189.00, risk: str = "normal",
              trail: tuple[float, float] | None = None, expire_at: str | None = None,
              start_at: str | None = None) -> str:
    text = textwrap.dedent(f"""\
        [[plans]]
        id = "{plan_id}"
        symbol = "{symbol}"
        side = "{side}"
        entry = "{entry}"
        entry_price = {entry_price:.2f}
        stop_loss = {stop:.2f}
        take_profit = {target:.2f}
        risk = "{risk}"
        """)
    if expire_at:
        text += f'expire_at = "{expire_at}"\n'
    if start_at:
        text += f'start_at = "{start_at}"\n'
    if trail:
        text += f"[plans.trail]\ntrigger_r = {trail[0]}\ndistance = {trail[1]:.2f}\n"
    return text


def paper_config(*, port: int | None = None, trailing_seconds: float = 0.05, extra: str = "",
                 reconcile_seconds: float = 5.0) -> str:
    """The config.toml of a test orchestrator: paper mode, clientId 7, ./state.db, plans/*.toml."""
    port_line = f"port = {port}\n" if port is not None else ""
    return (f'[broker]\nmode = "paper"\n{port_line}client_id = 7\nreconcile_seconds = {reconcile_seconds}\n'
            '[store]\nurl = "sqlite:///state.db"\n'
            '[plans]\nfiles = ["plans/*.toml"]\nrescan_seconds = 0.2\n'
            '[maintenance]\nwindows = []\n'  # IB's reset windows would hold entries at some hours of the day
            '[sessions]\nmarket_hours = false\n'  # so would a closed market: the clock here is real
            f"[trailing]\ninterval_seconds = {trailing_seconds}\n{extra}\n")


TRADER_CLIENT_ID = 0   # tests/trader.py: the trader in TWS; every other client is ours


class Crashed(BaseException):
    """Raised at a crash point: escapes every ``except Exception`` and ends the consumer task."""


def _crash(point: str) -> None:
    raise Crashed(point)


class World:
    """One gateway and (re)startable orchestrator runtimes sharing a state.db."""

    def __init__(self, tmp: Path, plans: str, *, partial_fill_max: int | None = None,
                 account_value: float = 100_000, risk: str = "", prices: list[tuple[str, float]] | None = None,
                 market_data: str = "live", clock: Any = None, sim: dict[str, Any] | None = None,
                 gateway: dict[str, Any] | None = None, reconcile_seconds: float = 5.0):
        self.tmp = tmp
        (tmp / "plans").mkdir(exist_ok=True)
        (tmp / "plans" / "plans.toml").write_text(plans)
        (tmp / "config.toml").write_text(paper_config(trailing_seconds=0.05, extra=risk,
                                                      reconcile_seconds=reconcile_seconds))
        self.config = load_config(tmp / "config.toml", {})
        self.journal = tmp / "sim-journal.jsonl"
        self.gw = SimGateway(PricePath.from_rows(prices or PRICES), port=0, tick_seconds=None,
                             account_value=account_value, journal_path=self.journal,
                             partial_fill_max=partial_fill_max, market_data=market_data,
                             **(sim or {}), **(gateway or {}))   # e.g. the session clock; base currency, fx
        self.rt: bootstrap.Runtime | None = None
        self.out = io.StringIO()
        self.clock = clock   # the engine's clock (None: the system clock)

    async def __aenter__(self) -> World:
        await self.gw.start()
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        await self.stop()
        await self.gw.stop()
        if exc_type is None:   # a test that passed: judge one more thing from IB's side (issue 15)
            off_tick = [r for r in self.journal_events() if r.get("code") == OFF_TICK_CODE
                        and r.get("client_id") != TRADER_CLIENT_ID]
            assert not off_tick, f"IB refused a price of ours for its tick (110): {off_tick}"

    async def start(self, crash_at: str = "", on_hit: Callable[[str], None] = _crash) -> bootstrap.Runtime:
        """Start an orchestrator. ``crash_at`` (FaultPoints syntax, e.g. ``after_commit:Protect:1``)
        makes it stop dead at that step boundary, as a kill -9 would: nothing after it runs
        (or, with ``on_hit``, whatever that does there, e.g. raise an ordinary exception)."""
        faults = FaultPoints(crash_at, on_hit=on_hit) if crash_at else None
        self.rt = await bootstrap.build(self.config, out=self.out, port=self.gw.port, host="127.0.0.1",
                                        faults=faults, clock=self.clock)
        await bootstrap.start(self.rt)
        return self.rt

    async def stop(self) -> None:
        if self.rt is not None:
            await bootstrap.shutdown(self.rt, flush_seconds=2)
            self.rt = None

    @property
    def engine(self) -> Any:
        assert self.rt is not None
        return self.rt.engine

    def plan(self, plan_id: str) -> Any:
        return self.engine.plans[plan_id]

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        """Wait until ``predicate()`` holds, re-checking after every committed step."""
        await until_changed(self.engine, predicate, what, timeout)

    async def reconciled(self, timeout: float = WAIT) -> None:
        """Wait for the engine's next completed reconciliation with IB."""
        await asyncio.wait_for(self.engine.reconciled.wait(), timeout)

    async def state(self, plan_id: str, *states: str, timeout: float = WAIT) -> Any:
        await self.until(lambda: plan_id in self.engine.plans and self.plan(plan_id).state in states,
                         f"{plan_id} in {states}", timeout)
        return self.plan(plan_id)

    def journal_events(self, order_ref_prefix: str | None = None) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        rows = [json.loads(line) for line in self.journal.read_text().splitlines() if line.strip()]
        if order_ref_prefix is None:
            return rows
        return [r for r in rows if str(r.get("order_ref") or "").startswith(order_ref_prefix)]

    def placed_refs(self, plan_id: str) -> list[str]:
        return [r["order_ref"] for r in self.journal_events(plan_id + ":") if r["event"] == "placed"]

    def working(self, plan_id: str) -> list[Any]:
        return [o for o in self.gw.orders if (o.order_ref or "").startswith(plan_id + ":") and not o.is_done]

    def history(self, plan_id: str) -> list[tuple[str, str, str]]:
        assert self.rt is not None
        rows = self.rt.store.db.execute("SELECT from_state, to_state, event FROM journal WHERE plan_id=? ORDER BY seq",
                                        (plan_id,)).fetchall()
        return [tuple(r) for r in rows]

    def states(self, plan_id: str) -> list[str]:
        """The distinct successive states the plan went through."""
        out: list[str] = []
        for _f, to, _e in self.history(plan_id):
            if not out or out[-1] != to:
                out.append(to)
        return out


async def until_changed(engine: Any, predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait until ``predicate()`` holds, re-checked after every step ``engine`` commits."""
    async def loop() -> None:
        while not predicate():
            engine.changed.clear()
            if predicate():
                return
            await engine.changed.wait()
    try:
        await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}; plans: "
                             f"{ {p.id: p.state for p in engine.plans.values()} }") from None
