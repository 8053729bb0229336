"""A live world for the latency benchmarks: the simulated gateway in its own process (the real
``sim-gateway`` command, journal on, driven through its control port) and the real orchestrator
runtime (``bootstrap.build``/``start``, mode paper, a real state.db, plan files) in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator import bootstrap
from orchestrator.config import load_config

from .simgw_bench import Gateway

SYMBOLS = {"AAPL": 110.0, "MSFT": 110.0, "NVDA": 110.0, "TSLA": 110.0, "SPY": 110.0}


def plan_toml(plan_id: str, symbol: str, *, entry: str = "limit", entry_price: float, stop: float, target: float,
              start_at: str | None = None, trail: tuple[float, float] | None = None) -> str:
    text = (f'[[plans]]\nid = "{plan_id}"\nsymbol = "{symbol}"\nside = "long"\nentry = "{entry}"\n'
            f'entry_price = {entry_price:.2f}\nstop_loss = {stop:.2f}\ntake_profit = {target:.2f}\nrisk = "small"\n')
    if start_at:
        text += f'start_at = "{start_at}"\n'
    if trail:
        text += f"[plans.trail]\ntrigger_r = {trail[0]}\ndistance = {trail[1]:.2f}\n"
    return text


class World:
    """Gateway process + orchestrator runtime in ``tmp``. Use as ``async with World(...) as w``."""

    def __init__(self, tmp: Path, plans: str, *, trailing_interval: float = 1.0, account_value: float = 1e9) -> None:
        self.tmp = tmp
        (tmp / "plans").mkdir(exist_ok=True)
        (tmp / "plans" / "plans.toml").write_text(plans)
        (tmp / "prices.csv").write_text("symbol,price\n" + "".join(f"{s},{p:.2f}\n" for s, p in SYMBOLS.items()))
        self.journal = tmp / "gw-journal.jsonl"
        self.account_value = account_value
        (tmp / "config.toml").write_text(textwrap.dedent(f"""\
            [broker]
            mode = "paper"
            host = "127.0.0.1"
            client_id = 7
            [store]
            url = "sqlite:///state.db"
            [plans]
            files = ["plans/*.toml"]
            [maintenance]
            windows = []
            [risk]
            small_pct = 0.01
            max_portfolio_risk_pct = 50
            [trailing]
            interval_seconds = {trailing_interval}
            """))
        self.config = load_config(tmp / "config.toml", {})
        self.gw = Gateway()
        self.rt: bootstrap.Runtime | None = None
        self._drains: list[asyncio.Task[None]] = []
        self._devnull = open(os.devnull, "w")  # noqa: SIM115 - notifications go to the console deliverer

    async def __aenter__(self) -> World:
        await self.gw.start(self.tmp / "prices.csv", "--journal", str(self.journal),
                            "--account-value", f"{self.account_value:.0f}")
        assert self.gw.proc and self.gw.proc.stdout and self.gw.proc.stderr
        self._drains = [asyncio.get_running_loop().create_task(_drain(s))
                        for s in (self.gw.proc.stdout, self.gw.proc.stderr)]
        self.rt = await bootstrap.build(self.config, out=self._devnull, port=self.gw.port, host="127.0.0.1")
        # ib_async paces requests to IB's 45/s by default; the benchmark's gateway is started with a
        # pacing limit far above IB's, and the figures are about the orchestrator, so the pacing is
        # off (see docs/benchmarks.md).
        self.rt.broker.ib.client.MaxRequests = 0
        await bootstrap.start(self.rt)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.rt is not None:
            await bootstrap.shutdown(self.rt, flush_seconds=0.5)
        for t in self._drains:
            t.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)
        await self.gw.stop()
        self._devnull.close()

    @property
    def engine(self) -> Any:
        assert self.rt is not None
        return self.rt.engine

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after every work item the engine handles."""
        engine = self.engine

        async def loop() -> None:
            while not predicate():
                engine.changed.clear()
                if predicate():
                    return
                await engine.changed.wait()
        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise RuntimeError(f"bench: timed out waiting for {what}") from None

    async def settled(self) -> None:
        """The engine's queue is empty and stays empty for a moment (stray IB messages handled)."""
        while True:
            await self.until(self.engine.queue.empty, "an empty queue")
            await asyncio.sleep(0.002)
            if self.engine.queue.empty():
                return

    async def control(self, **cmd: Any) -> dict[str, Any]:
        reply = await self.gw.command(**cmd)
        if not reply.get("ok"):
            raise RuntimeError(f"gateway refused {cmd}: {reply}")
        return reply

    def journal_rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.journal.read_text().splitlines() if line.strip()]


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
