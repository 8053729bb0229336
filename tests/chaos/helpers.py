"""A bench for process-level regression tests: the simulated gateway in its own process, and
``orchestrator run`` processes (killed and restarted at will) on one state.db. Waiting is on
output lines, the control port and state.db — bounded loops, never sleeps that assume."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from chaos import invariants as inv
from chaos.procs import Child, Gateway, TraderProcess
from orchestrator.cli import main as cli

from ..engine.harness import paper_config

WAIT = 20.0
POLL = 0.05


def plan_toml(plan_id: str = "P", *, symbol: str = "AAPL", side: str = "long", entry: str = "market",
              entry_price: str = "180.00", stop: str = "171.00", target: str = "189.00", risk: str = "normal") -> str:
    return textwrap.dedent(f"""\
        [[plans]]
        id = "{plan_id}"
        symbol = "{symbol}"
        side = "{side}"
        entry = "{entry}"
        entry_price = {entry_price}
        stop_loss = {stop}
        take_profit = {target}
        risk = "{risk}"
        """)


class Bench:
    def __init__(self, tmp: Path, plans: str, *, partial_fill_max: int | None = None,
                 prices: dict[str, float] | None = None, window: bool = False) -> None:
        self.tmp = tmp
        self.plans = plans
        self.partial_fill_max = partial_fill_max
        self.window = window   # the gateway with its TWS window (chaos/tws_gateway.py)
        self.prices = prices or {"AAPL": 180.0, "MSFT": 420.0}
        self.gw: Gateway | None = None
        self.runs = 0
        self.orch: Child | None = None

    @property
    def config(self) -> Path:
        return self.tmp / "config.toml"

    @property
    def db(self) -> Path:
        return self.tmp / "state.db"

    async def __aenter__(self) -> Bench:
        (self.tmp / "plans").mkdir()
        (self.tmp / "plans" / "p.toml").write_text(self.plans)
        prices = self.tmp / "prices.csv"
        prices.write_text("symbol,price\n" + "".join(f"{s},{p}\n" for s, p in self.prices.items()))
        self.gw = await Gateway.start(self.tmp, prices=prices, journal=self.tmp / "journal.jsonl",
                                      account_value=100_000, partial_fill_max=self.partial_fill_max,
                                      window=self.window)
        self.config.write_text(paper_config(port=self.gw.port, trailing_seconds=0.1))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.orch is not None and self.orch.alive():
            await self.orch.terminate(20)
        if self.gw is not None:
            await self.gw.stop()

    async def start(self, kill_at: str | None = None, env: dict[str, str] | None = None) -> Child:
        self.runs += 1
        extra = dict(env or {})
        if kill_at:
            extra["ORCHESTRATOR_KILL_AT"] = kill_at
        self.orch = await Child.spawn(f"orchestrator-{self.runs}", ["-m", "orchestrator", "run", "--config",
                                                                     str(self.config)],
                                      cwd=self.tmp, logdir=self.tmp, env=extra)
        return self.orch

    async def line(self, pattern: str, *, stream: str = "out", timeout: float = WAIT) -> str:
        assert self.orch is not None
        s = self.orch.out if stream == "out" else self.orch.err
        found = await s.wait_line(pattern, timeout)
        assert found is not None, f"no line matching {pattern!r}; stderr: {self.orch.err.lines[-10:]}"
        return found

    async def gw_call(self, cmd: str, **kw: Any) -> dict[str, Any]:
        assert self.gw is not None
        return await self.gw(cmd, **kw)

    async def state(self) -> dict[str, Any]:
        assert self.gw is not None
        return await self.gw.state()

    def plan(self, plan_id: str) -> sqlite3.Row | None:
        if not self.db.exists():
            return None
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute("SELECT * FROM plans WHERE id=?", (plan_id,)).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()

    async def until(self, what: str, predicate: Callable[[], Any], timeout: float = WAIT) -> None:
        """Poll (state.db or the gateway: other processes) until ``predicate`` holds, bounded."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(POLL)

    async def plan_state(self, plan_id: str, *states: str, timeout: float = WAIT) -> sqlite3.Row:
        await self.until(f"{plan_id} in {states}",
                         lambda: (r := self.plan(plan_id)) is not None and r["state"] in states, timeout)
        row = self.plan(plan_id)
        assert row is not None
        return row

    def cancel(self, plan_id: str) -> None:
        assert cli(["cancel", plan_id, "--config", str(self.config)], out=io.StringIO()) == 0

    def accept(self, symbol: str) -> None:
        assert cli(["positions", "accept", symbol, "--config", str(self.config)], out=io.StringIO()) == 0

    def command_result(self) -> str | None:
        """The result of the last trader command the daemon applied (None until it is applied)."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT result FROM commands ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            conn.close()
        return None if row is None else row[0]

    async def broker(self) -> inv.Broker:
        assert self.gw is not None
        return inv.Broker(await self.gw.state(), await self.gw.journal())

    async def position(self, symbol: str) -> int:
        return (await self.broker()).position(symbol)


@asynccontextmanager
async def protected(tmp_path: Path, plans: str | None = None) -> AsyncIterator[tuple[Bench, TraderProcess]]:
    """A long plan P in AAPL (by default stop 171, target 189), bought and protected, and the
    trader's clientId-0 session."""
    async with Bench(tmp_path, plans or plan_toml("P"), window=True) as b:
        assert b.gw is not None
        await b.start()
        await b.plan_state("P", "protected")
        trader = await TraderProcess.start(tmp_path, b.gw.port)
        try:
            yield b, trader
        finally:
            await trader.stop()
