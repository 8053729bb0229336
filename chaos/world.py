"""One episode's world: a simulated gateway (with its TWS window), a Discord stand-in, a state.db,
one ``orchestrator run`` at a time (restarted whenever it dies), the trader's API session, and
the times no orchestrator was up (the grace of the timeline invariants counts only the others).

``episode.py`` adds the market's clock and the checkpoints; the faults (``faults.py``), the
trader (``actor.py``), the drain (``drain.py``) and the verdict (``judge.py``) act on it.

Waiting is on output lines, on the control port and on state.db, in bounded loops; the only timed
pauses are the market's own clock, the random delay before a kill, a suspension's length and the
trader's think-time — these are the faults, not synchronisation.
"""


from __future__ import annotations

import asyncio
import random
import re
import signal
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from . import invariants as inv
from .discord import DiscordStandIn
from .exposure import Replay
from .folder import Folder
from .procs import Child, Gateway, TraderProcess
from .scenario import ACCOUNT_VALUE, Scenario, build, config_toml
from .sessionpath import SessionShape
from .sessiontime import Timeline, draw
from .tally import Budget, Tally

CLIENT_ID = 7
COVER_SECONDS = 2.0          # the invariant: protected within this long after connecting
CONNECT_TIMEOUT = 30.0
POLL = 0.05                  # poll interval when observing another process's files or state
STARTED = re.compile(r"orchestrator\.startup: connected to IB at ")   # once per process, after its ownership checks



class RunContext(Protocol):
    """What an episode needs of its run (``runner.Run``)."""

    seed: int
    tag: int
    tally: Tally
    base: Path
    plans_per_episode: int
    tick: float
    t0: float
    settle: bool
    sessions: bool

    def log(self, text: str) -> None: ...


class World(Folder):
    def __init__(self, run: RunContext, index: int, quota: Budget) -> None:
        self.run = run
        self.tally = run.tally
        self.index = index
        self.quota = quota
        self.rng = random.Random(f"{run.seed}:{index}")
        self.dir: Path = run.base / f"episode-{index:04d}"
        self.dir.mkdir(parents=True)
        self.timeline: Timeline | None = draw(self.rng) if run.sessions else None   # session mode's days
        self.shape = SessionShape(self.timeline) if self.timeline else None
        self.scenario: Scenario = build(
            self.rng, run=run.tag, episode=index, plans=run.plans_per_episode,
            **({"shape": self.shape, "sim_date": self.timeline.day1} if self.shape and self.timeline else {}))
        drafts = [*self.scenario.plans, *self.scenario.spare]
        self.symbol_of = {d.id: d.instrument.key for d in drafts}   # the gateway's names
        self.side_of = {d.id: d.sign for d in drafts}
        self.plan_of_symbol = {s: p for p, s in self.symbol_of.items()}
        self.gw: Gateway | None = None
        self.discord = DiscordStandIn()
        self.orch: Child | None = None
        self.client_id = CLIENT_ID
        self.kill_at: str | None = None
        self.killed_by_us = False      # the current incarnation's end is accounted for already
        self.incarnation = 0
        self.kills = 0
        self.random_kills_left = 0
        self.step = 0
        self.last_price: dict[str, Decimal] = dict(self.scenario.base)
        self.armed: tuple[str, int, Callable[[dict[str, Any]], bool]] | None = None  # kind, until step, fired?
        self.spare = list(self.scenario.spare)
        self.violations: list[inv.Violation] = []
        self.seen: set[tuple[str, str | None, str]] = set()
        self.gaps_reported: dict[str, int] = {}
        self.cli_outputs: dict[str, str] = {}
        self.partial = self.rng.random() < 0.3
        self.trader: TraderProcess | None = None
        self.interventions: list[str] = []   # the trader's, dealt by the run (actor.py schedules them)
        self.down: list[tuple[float, float | None]] = []     # epoch intervals with no orchestrator up
        self.t_start = time.time()
        self.explained_since: dict[str, float] = {}          # symbol -> when the trader's shares were explained
        self.replay = Replay({p: (s, self.side_of[p]) for p, s in self.symbol_of.items()}, self.down)
        self._journal_seen = 0
        self._scanned = 0                                   # the current orchestrator's stderr lines looked at
        self.watchers: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ logging and verdicts
    def log(self, text: str) -> None:
        self.run.log(f"[{time.monotonic() - self.run.t0:7.2f}s ep {self.index} step {self.step}] {text}")

    def violate(self, invariant: str, plan: str | None, detail: str) -> None:
        self.found([inv.Violation(invariant, plan, detail)])

    def found(self, violations: list[inv.Violation]) -> None:
        for v in violations:
            key = (v.invariant, v.plan, v.detail)
            if key not in self.seen:
                self.seen.add(key)
                self.violations.append(v)
                self.log("VIOLATION " + v.line())

    # ------------------------------------------------------------------ set-up
    def config_text(self, client_id: int, *, db: str = "state.db", plans: str = "plans") -> str:
        assert self.gw is not None
        return config_toml(self.gw.port, client_id, db=db, plans=plans,
                           **({"sessions": self.timeline.config()} if self.timeline else {}))

    async def setup(self) -> None:
        (self.dir / "plans").mkdir()
        (prices := self.dir / "prices.csv").write_text(self.scenario.prices_csv())
        self.gw = await Gateway.start(self.dir, prices=prices, journal=self.journal_path, window=True,
                                      account_value=ACCOUNT_VALUE, partial_fill_max=1500 if self.partial else None,
                                      sim_date=self.scenario.sim_date,   # the futures months listed
                                      clock=self.timeline.gateway_args() if self.timeline else [])
        await self.discord.start()
        self.config.write_text(self.config_text(self.client_id))
        (self.dir / "plans" / "plans.toml").write_text("".join(d.toml() for d in self.scenario.plans))

    async def trader_session(self) -> TraderProcess:
        """The trader's clientId-0 API session (started at its first use)."""
        assert self.gw is not None
        if self.trader is None:
            self.trader = await TraderProcess.start(self.dir, self.gw.port)
        return self.trader

    # ------------------------------------------------------------------ the orchestrator process
    async def start_orchestrator(self, allow_kill_at: bool = True) -> Child:
        self.incarnation += 1
        env = {"ORCHESTRATOR_DISCORD_WEBHOOK_URL": self.discord.url}
        self.kill_at = None
        if allow_kill_at and self.kills + self.random_kills_left < self.quota.kills and self.rng.random() < 0.6:
            self.kill_at = self.kill_point()
            env["ORCHESTRATOR_KILL_AT"] = self.kill_at
        self.killed_by_us = False
        self._scanned = 0
        if self.incarnation > 1:
            self.tally.restarts += 1
        self.orch = orch = await Child.spawn(f"orchestrator-{self.incarnation:03d}",
                                             ["-m", "orchestrator", "run", "--config", str(self.config)],
                                             cwd=self.dir, logdir=self.dir, env=env)
        watcher = asyncio.get_running_loop().create_task(self._went_down_at_exit(orch))
        self.watchers.add(watcher)
        watcher.add_done_callback(self.watchers.discard)
        return orch

    async def _went_down_at_exit(self, orch: Child) -> None:
        await orch.proc.wait()
        self.went_down()

    def went_down(self) -> None:
        """From now on no orchestrator is up (killed, stopped, suspended, disconnected)."""
        if not self.down or self.down[-1][1] is not None:
            self.down.append((time.time(), None))

    def came_up(self) -> None:
        if self.down and self.down[-1][1] is None:
            self.down[-1] = (self.down[-1][0], time.time())

    def kill_point(self) -> str:
        """``point:N`` or ``point:Kind:N`` (only steps with a broker effect of that kind count)."""
        point = self.rng.choice(["after_commit", "after_broker", "after_place"])
        if point == "after_place":   # right after the N-th bracket went out (one write)
            return f"{point}:{self.rng.randint(1, 3)}"
        if self.rng.random() < 0.5:
            return f"{point}:{self.rng.randint(1, 4)}"
        kind = self.rng.choice(["PlaceBracket", "Protect", "Flatten", "ModifyStop", "CancelExits", "CancelEntry"])
        return f"{point}:{kind}:{self.rng.randint(1, 2)}"

    def has_started(self) -> bool:
        """The current orchestrator logged that it connected and passed its ownership checks."""
        if self.orch is None:
            return False
        lines = self.orch.err.lines
        while self._scanned < len(lines):
            if STARTED.search(lines[self._scanned]):
                return True
            self._scanned += 1
        return False

    async def client_connected(self, client_id: int | None = None) -> bool:
        assert self.gw is not None
        return (self.client_id if client_id is None else client_id) in (await self.gw.state())["clients"]

    async def bounded(self, predicate: Callable[[], Any], timeout: float) -> bool:
        """Poll an async predicate (another process's state) until true or the time is up."""
        deadline = time.monotonic() + timeout
        while True:
            if await predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL)

    async def handle_exit(self) -> None:
        """The orchestrator is gone: account for it, wait for the gateway to notice, restart it."""
        assert self.orch is not None
        rc = await self.orch.wait(30)
        if self.killed_by_us:
            pass  # counted when sent
        elif rc == -signal.SIGKILL and self.kill_at:
            kind = "kill." + self.kill_at.split(":")[0]
            self.tally.injected[kind] += 1
            self.tally.fired[kind] += 1
            self.kills += 1
            self.log(f"orchestrator killed itself at {self.kill_at}")
        else:
            tail = " | ".join(self.orch.err.lines[-6:])
            self.violate("orchestrator_healthy", None, f"orchestrator exited with {rc} on its own: {tail}")
        await self.gone_from_gateway()
        await self.start_orchestrator()

    async def gone_from_gateway(self, client_id: int | None = None) -> None:
        async def gone() -> bool:
            return not await self.client_connected(client_id)
        if not await self.bounded(gone, 10):
            self.violate("orchestrator_healthy", None, "the gateway still lists the dead orchestrator's connection")

    async def ensure_running(self) -> None:
        while self.orch is not None and not self.orch.alive():
            await self.handle_exit()

    async def stop_orchestrator(self) -> None:
        """SIGTERM, as a service manager stops it: exit 0, and the gateway sees it go."""
        assert self.orch is not None
        await self.ensure_running()

        async def started_or_dead() -> bool:   # SIGTERM before it installed its handlers would be -15
            return self.has_started() or self.orch is None or not self.orch.alive()
        while not await self.bounded(started_or_dead, CONNECT_TIMEOUT) or not self.orch.alive():
            await self.ensure_running()
        self.killed_by_us = True
        rc = await self.orch.terminate(20)
        if rc == -signal.SIGKILL and self.kill_at:   # it got to its KILL_AT first
            kind = "kill." + self.kill_at.split(":")[0]
            self.tally.injected[kind] += 1
            self.tally.fired[kind] += 1
            self.kills += 1
        elif rc != 0:
            self.violate("orchestrator_healthy", None, f"SIGTERM: exit code {rc}")
        self.went_down()
        await self.gone_from_gateway()

    # ------------------------------------------------------------------ the market
    async def set_price(self, symbol: str, price: Decimal) -> None:
        assert self.gw is not None
        if self.last_price.get(symbol) != price:
            await self.gw("set_price", symbol=symbol, price=float(price))
            self.last_price[symbol] = price
