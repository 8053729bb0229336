"""An episode: the world (``world.py``) with the market's clock, and the checkpoints — after every
fault that touches the orchestrator or its connection: connected again, every position protected
within 2 s, and the invariants that hold at every moment (the gateway's journal so far across all
clients, the daemon's entry holds) judged on what has happened since the last one."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from . import invariants as inv
from . import records
from .exposure import DUPLICATED, GRACE
from .hand import Hand
from .owners import daemon_status, unexplained_holds
from .world import CONNECT_TIMEOUT, COVER_SECONDS, POLL, World


class Episode(World):
    async def checkpoint(self, why: str, cover: float = COVER_SECONDS) -> None:
        """Connected again within CONNECT_TIMEOUT; then protected within ``cover`` seconds."""
        assert self.gw is not None
        self.tally.checkpoints += 1
        for _attempt in range(50):
            await self.ensure_running()

            async def connected_or_dead() -> bool:   # this process: the gateway may still list a dying one
                return (self.orch is None or not self.orch.alive()
                        or (self.has_started() and await self.client_connected()))
            if not await self.bounded(connected_or_dead, CONNECT_TIMEOUT):
                self.violate("orchestrator_healthy", None, f"not connected {CONNECT_TIMEOUT:.0f} s after {why}")
                return
            if self.orch is not None and not self.orch.alive():
                continue
            self.came_up()
            if await self._covered(why, cover):
                await self.observe()
                return
        self.violate("orchestrator_healthy", None, f"could not get a stable orchestrator after {why}")

    async def _covered(self, why: str, cover: float) -> bool:
        """Every position protected within ``cover`` s; False if the orchestrator died meanwhile."""
        assert self.gw is not None
        t0 = time.monotonic()
        gaps: dict[str, tuple[int, str]] = {}
        while True:
            state = await self.gw.state()
            gaps = inv.coverage_gaps(state, self.plan_of_symbol, Hand.from_executions(state["executions"]),
                                     self.side_of)
            if gaps:
                gaps = self._owed(gaps)
            if not gaps or (self.orch is not None and not self.orch.alive()):
                break
            seen_before = all(self.gaps_reported.get(p) == q for p, (q, _) in gaps.items())
            if time.monotonic() - t0 > cover + (0.1 if seen_before else 1.5):
                break
            await asyncio.sleep(POLL)
        if self.orch is not None and not self.orch.alive():
            return False   # it died (KILL_AT) while we looked: restart and look again
        took = time.monotonic() - t0
        self.tally.cover_seconds.append(took)
        if gaps:
            await self.feed()
        for plan, (qty, what) in gaps.items():
            if self.gaps_reported.get(plan) != qty:   # the same gap is reported once
                self.gaps_reported[plan] = qty
                dup = f" ({DUPLICATED})" if plan in self.replay.duplicated else ""
                self.violate("protected_after_connect", plan,
                             f"after {why}: {what} ({took:.2f} s after connecting){dup}")
        if not gaps and took > cover:
            self.violate("protected_after_connect", None, f"after {why}: covered only {took:.2f} s after connecting")
        return True

    def _owed(self, gaps: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
        """The gaps a stop of ours is owed for. A plan that stepped back for the trader's exit
        orders (TraderExits → error, its own exits cancelled) left its position to a human: the
        trader's orders protect it, or nobody's once the trader takes them away."""
        try:
            yielded = records.left_to_the_trader(inv.Db.read(self.db_path)) if self.db_path.exists() else set()
        except sqlite3.Error:
            yielded = set()
        for plan in set(gaps) & yielded - set(self.gaps_reported):
            self.gaps_reported[plan] = gaps[plan][0]
            self.tally.notes["bare positions of plans left to the trader (stepped back for the trader's exits)"] += 1
        return {p: g for p, g in gaps.items() if p not in yielded}

    async def feed(self) -> None:
        """The gateway's journal since the last look, into the replay."""
        assert self.gw is not None
        entries = (await self.gw("journal", since=self._journal_seen))["entries"]
        self._journal_seen += len(entries)
        for e in entries:
            self.replay.step(e)

    async def observe(self) -> None:
        """The invariants that hold at every moment: the journal so far, and the daemon's holds."""
        assert self.gw is not None
        await self.feed()
        now = time.time()
        self.replay.check_open(now)
        self.found(list(self.replay.found.values()))
        state = await self.gw.state()
        self.found(unexplained_holds(daemon_status(self.db_path), Hand.from_executions(state["executions"]),
                                     self.scenario.foreign, self.explained_since, self.t_start, now, self.down,
                                     GRACE))

    async def market_step(self) -> None:
        prices = self.scenario.steps[min(self.step, len(self.scenario.steps) - 1)]
        for symbol, price in prices.items():
            await self.set_price(symbol, price)
        self.step += 1
        await asyncio.sleep(self.run.tick)   # the market's clock
        await self.disarm_if_due()

    async def disarm_if_due(self, force: bool = False) -> None:
        assert self.gw is not None
        if self.armed is None:
            return
        kind, until, fired = self.armed
        state = await self.gw.state()
        done = fired(state["faults"])
        if done or force or self.step >= until:
            if done:
                self.tally.fired[kind] += 1
            self.armed = None
            await self.gw("clear_faults")
            if done and kind in ("gw.drop_status", "gw.reject_entry", "gw.reject_order", "gw.reject_modify"):
                await self.checkpoint(kind)

