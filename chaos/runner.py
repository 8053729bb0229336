"""The chaos run: episodes of real processes under seeded faults, each judged by the invariants.

An episode is one simulated gateway process (manual ticks, control port, journal), one Discord
stand-in, one state.db, and one ``orchestrator run`` process at a time (restarted whenever it is
killed), trading a handful of plans whose symbols follow a seeded price path. Faults are drawn
from what is left of the run's budget and injected at seeded steps of the path:

=====================  ============================================================================
kill.random            SIGKILL at a random moment (after a price step, after a random delay)
kill.after_commit      ``ORCHESTRATOR_KILL_AT=after_commit:N`` (or ``point:Kind:N``, counting only
kill.after_broker      steps with a broker effect of that kind): the orchestrator kills itself right
kill.after_place       after the N-th committed step / broker call / placeOrder (drawn per start)
gw.drop                every connection dropped
gw.refuse              reconnects refused for 0.3–1.5 s, then every connection dropped
gw.restart             IB's nightly restart: connections dropped, order ids reset, orders re-keyed
gw.replay_twice        executions replayed twice on every reqExecutions (forced by a drop)
gw.drop_status         the next orderStatus is never sent
gw.reject_entry        the next order is rejected, and a new plan is dropped into plans/ to meet it
gw.reject_order        whatever order comes next is rejected (a stop, a target, a flatten, ...)
gw.reject_modify       the next modification (a trailing stop move) is refused; the stop keeps working
gw.ack_delay           order acknowledgements delayed 0.1–0.4 s for a few steps
discord.503            the next 2–3 webhook posts get 503
discord.429            the next 2–4 webhook posts get 429 with retry_after 0.2–0.8 s
clock.suspend          SIGSTOP for 1–3 s while the market moves on, then SIGCONT
=====================  ============================================================================

After every fault that touches the orchestrator or its connection there is a checkpoint: wait
(bounded) until it is connected again — restarting it if it died — then every open position
must have a working stop for its full quantity within 2 seconds. At the end of an episode every
plan is driven to an end (prices through the stops, ``orchestrator cancel`` for unfilled
entries), the orchestrator gets SIGTERM, and every invariant is checked.

Waiting is on output lines, on the control port and on state.db, in bounded loops; the only
timed pauses are the market's own clock (one price step every ``tick`` seconds), the random
delay before a kill, and the length of a suspension — these are the faults, not synchronisation.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import shutil
import signal
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import invariants as inv
from . import known as known_issues
from .discord import DiscordStandIn
from .procs import Child, Gateway, run_cli
from .scenario import Scenario, build, cents

CLIENT_ID = 7
COVER_SECONDS = 2.0          # the invariant: protected within this long after connecting
CONNECT_TIMEOUT = 30.0
POLL = 0.05                  # poll interval when observing another process's files or state

KILL_KINDS = ("kill.random", "kill.after_commit", "kill.after_broker", "kill.after_place")
GATEWAY_KINDS = ("gw.drop", "gw.refuse", "gw.restart", "gw.replay_twice", "gw.drop_status", "gw.reject_entry",
                 "gw.reject_order", "gw.reject_modify", "gw.ack_delay")
GATEWAY_WEIGHTS = (3, 2, 2, 2, 1, 1, 1, 2, 1)
DISCORD_KINDS = ("discord.503", "discord.429")
ALL_KINDS = (*KILL_KINDS, *GATEWAY_KINDS, *DISCORD_KINDS, "clock.suspend")
REJECT_REASON = "chaos: injected rejection"

# ERROR lines the orchestrator may log under these faults without anything being wrong.
EXPECTED_ERRORS = (
    r"ERROR ib_async",                       # ib_async logs every IB error code (201, 202, 10147, ...) at ERROR
    # a bracket written just before the gateway dropped the connection never reached it: the plan
    # goes to error for a human and nothing is re-sent (one_entry_per_plan checks exactly that)
    r"ERROR orchestrator\.engine\.reconcile: reconcile \(.*\): \S+ was sent but IB shows no trace of its entry",
)


@dataclass
class Budget:
    kills: int
    gateway_faults: int
    discord_faults: int = 0
    suspends: int = 0

    def total(self) -> int:
        return self.kills + self.gateway_faults + self.discord_faults + self.suspends


@dataclass
class Tally:
    """What a run did and found."""

    seed: int
    injected: Counter[str] = field(default_factory=Counter)
    fired: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    violations: list[inv.Violation] = field(default_factory=list)   # new ones: these fail a run
    known: list[inv.Violation] = field(default_factory=list)        # instances of known issues (chaos/known.py)
    episodes: int = 0
    plans: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    checkpoints: int = 0
    cover_seconds: list[float] = field(default_factory=list)
    cancels: int = 0
    elapsed: float = 0.0
    kept: list[Path] = field(default_factory=list)
    interrupted: bool = False

    @property
    def kills(self) -> int:
        return sum(self.injected[k] for k in KILL_KINDS)

    @property
    def gateway_faults(self) -> int:
        return sum(self.injected[k] for k in GATEWAY_KINDS)

    @property
    def faults(self) -> int:
        return sum(self.injected.values())


class Episode:
    def __init__(self, run: Run, index: int, quota: Budget) -> None:
        self.run = run
        self.tally = run.tally
        self.index = index
        self.quota = quota
        self.rng = random.Random(f"{run.seed}:{index}")
        self.dir = run.base / f"episode-{index:04d}"
        self.dir.mkdir(parents=True)
        self.scenario: Scenario = build(self.rng, run=run.tag, episode=index, plans=run.plans_per_episode)
        self.symbol_of = {d.id: d.symbol for d in [*self.scenario.plans, *self.scenario.spare]}
        self.plan_of_symbol = {s: p for p, s in self.symbol_of.items()}
        self.gw: Gateway | None = None
        self.discord = DiscordStandIn()
        self.orch: Child | None = None
        self.kill_at: str | None = None
        self.killed_by_us = False
        self.incarnation = 0
        self.kills = 0
        self.random_kills_left = 0
        self.step = 0
        self.last_price: dict[str, Decimal] = dict(self.scenario.base)
        self.armed: tuple[str, int, Callable[[dict[str, Any]], bool]] | None = None  # kind, until step, fired?
        self.storm: str | None = None
        self.spare = list(self.scenario.spare)
        self.violations: list[inv.Violation] = []
        self.gaps_reported: dict[str, int] = {}
        self.cli_outputs: dict[str, str] = {}
        self.partial = self.rng.random() < 0.3

    # ------------------------------------------------------------------ logging
    def log(self, text: str) -> None:
        self.run.log(f"[{time.monotonic() - self.run.t0:7.2f}s ep {self.index} step {self.step}] {text}")

    def violate(self, invariant: str, plan: str | None, detail: str) -> None:
        v = inv.Violation(invariant, plan, detail)
        self.violations.append(v)
        self.log("VIOLATION " + v.line())

    # ------------------------------------------------------------------ set-up
    @property
    def config(self) -> Path:
        return self.dir / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.dir / "state.db"

    @property
    def journal_path(self) -> Path:
        return self.dir / "sim-journal.jsonl"

    async def setup(self) -> None:
        (self.dir / "plans").mkdir()
        prices = self.dir / "prices.csv"
        prices.write_text(self.scenario.prices_csv())
        self.gw = await Gateway.start(self.dir, prices=prices, journal=self.journal_path,
                                      account_value=2_000_000, partial_fill_max=1500 if self.partial else None)
        await self.discord.start()
        self.config.write_text(f"""\
[broker]
mode = "paper"
host = "127.0.0.1"
port = {self.gw.port}
client_id = {CLIENT_ID}
[store]
url = "sqlite:///state.db"
[plans]
files = ["plans/*.toml"]
rescan_seconds = 0.2
[maintenance]
windows = []
[risk]
small_pct = 0.1
normal_pct = 0.2
large_pct = 0.3
max_portfolio_risk_pct = 10
[trailing]
interval_seconds = 0.1
[discord]
timeout_seconds = 2
""")
        (self.dir / "plans" / "plans.toml").write_text("".join(d.toml() for d in self.scenario.plans))

    # ------------------------------------------------------------------ the orchestrator process
    async def start_orchestrator(self, allow_kill_at: bool = True) -> None:
        self.incarnation += 1
        env = {"ORCHESTRATOR_DISCORD_WEBHOOK_URL": self.discord.url}
        self.kill_at = None
        if allow_kill_at and self.kills + self.random_kills_left < self.quota.kills and self.rng.random() < 0.6:
            self.kill_at = self.kill_point()
            env["ORCHESTRATOR_KILL_AT"] = self.kill_at
        self.killed_by_us = False
        if self.incarnation > 1:
            self.tally.restarts += 1
        self.orch = await Child.spawn(f"orchestrator-{self.incarnation:03d}",
                                      ["-m", "orchestrator", "run", "--config", str(self.config)],
                                      cwd=self.dir, logdir=self.dir, env=env)

    def kill_point(self) -> str:
        """``point:N`` or ``point:Kind:N`` (only steps with a broker effect of that kind count)."""
        point = self.rng.choice(["after_commit", "after_broker", "after_place"])
        if point == "after_place":   # right after the N-th bracket went out (one write)
            return f"{point}:{self.rng.randint(1, 3)}"
        if self.rng.random() < 0.5:
            return f"{point}:{self.rng.randint(1, 4)}"
        kind = self.rng.choice(["PlaceBracket", "Protect", "Flatten", "ModifyStop", "CancelExits", "CancelEntry"])
        return f"{point}:{kind}:{self.rng.randint(1, 2)}"

    async def client_connected(self) -> bool:
        assert self.gw is not None
        return CLIENT_ID in (await self.gw.state())["clients"]

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
        async def gone() -> bool:
            return not await self.client_connected()
        if not await self.bounded(gone, 10):
            self.violate("orchestrator_healthy", None, "the gateway still lists the dead orchestrator's connection")
        await self.start_orchestrator()

    async def ensure_running(self) -> None:
        while self.orch is not None and not self.orch.alive():
            await self.handle_exit()

    async def checkpoint(self, why: str) -> None:
        """Connected again within CONNECT_TIMEOUT; then protected within COVER_SECONDS."""
        assert self.gw is not None
        self.tally.checkpoints += 1
        for _attempt in range(50):
            await self.ensure_running()

            async def connected_or_dead() -> bool:
                return self.orch is None or not self.orch.alive() or await self.client_connected()
            if not await self.bounded(connected_or_dead, CONNECT_TIMEOUT):
                self.violate("orchestrator_healthy", None, f"not connected {CONNECT_TIMEOUT:.0f} s after {why}")
                return
            if self.orch is not None and not self.orch.alive():
                continue
            t0 = time.monotonic()
            gaps: dict[str, tuple[int, str]] = {}
            while True:
                state = await self.gw.state()
                gaps = inv.coverage_gaps(state, self.plan_of_symbol)
                if not gaps or (self.orch is not None and not self.orch.alive()):
                    break
                seen_before = all(self.gaps_reported.get(p) == q for p, (q, _) in gaps.items())
                if time.monotonic() - t0 > COVER_SECONDS + (0.1 if seen_before else 1.5):
                    break
                await asyncio.sleep(POLL)
            if self.orch is not None and not self.orch.alive():
                continue   # it died (KILL_AT) while we looked: restart and look again
            took = time.monotonic() - t0
            self.tally.cover_seconds.append(took)
            for plan, (qty, what) in gaps.items():
                if self.gaps_reported.get(plan) != qty:   # the same gap is reported once
                    self.gaps_reported[plan] = qty
                    self.violate("protected_after_connect", plan, f"after {why}: {what} ({took:.2f} s after "
                                 "connecting)")
            if not gaps and took > COVER_SECONDS:
                self.violate("protected_after_connect", None, f"after {why}: covered only {took:.2f} s after "
                             "connecting")
            return
        self.violate("orchestrator_healthy", None, f"could not get a stable orchestrator after {why}")

    # ------------------------------------------------------------------ the market
    async def set_price(self, symbol: str, price: Decimal) -> None:
        assert self.gw is not None
        if self.last_price.get(symbol) != price:
            await self.gw("set_price", symbol=symbol, price=float(price))
            self.last_price[symbol] = price

    async def market_step(self) -> None:
        prices = self.scenario.steps[min(self.step, len(self.scenario.steps) - 1)]
        for symbol, price in prices.items():
            await self.set_price(symbol, price)
        self.step += 1
        await asyncio.sleep(self.run.tick)   # the market's clock
        await self.disarm_if_due()

    # ------------------------------------------------------------------ faults
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

    async def inject(self, kind: str) -> None:
        assert self.gw is not None and self.orch is not None
        gw = self.gw
        self.log(f"inject {kind}")
        if kind.startswith("gw."):
            await self.disarm_if_due(force=True)
        self.tally.injected[kind] += 1
        if kind == "kill.random":
            self.kills += 1
            self.random_kills_left -= 1
            await asyncio.sleep(self.rng.uniform(0, 0.3))   # a random moment of whatever it is doing
            if self.orch.alive():
                self.killed_by_us = True
                self.orch.signal(signal.SIGKILL)
                self.tally.fired[kind] += 1
            await self.checkpoint(kind)
        elif kind == "clock.suspend":
            if self.orch.signal(signal.SIGSTOP):
                self.orch.stopped = True
                until = time.monotonic() + self.rng.uniform(1.0, 3.0)
                for _ in range(self.rng.randint(2, 6)):   # the market moves on while it is frozen ...
                    await self.market_step()
                # ... and its clock jumps by the whole pause (the pause is the fault, not a wait)
                await asyncio.sleep(max(0.0, until - time.monotonic()))
                self.orch.signal(signal.SIGCONT)
                self.orch.stopped = False
                self.tally.fired[kind] += 1
            await self.checkpoint(kind)
        elif kind == "discord.503":
            self.discord.storm(503, self.rng.randint(2, 3))
        elif kind == "discord.429":
            self.discord.storm(429, self.rng.randint(2, 4), round(self.rng.uniform(0.2, 0.8), 2))
        elif kind == "gw.drop":
            await gw("drop_connections")
            self.tally.fired[kind] += 1
            await self.checkpoint(kind)
        elif kind == "gw.refuse":
            await gw("refuse_for", seconds=round(self.rng.uniform(0.3, 1.5), 2))
            await gw("drop_connections")
            self.tally.fired[kind] += 1
            await self.checkpoint(kind)
            await gw("clear_faults")
        elif kind == "gw.restart":
            await gw("restart", refuse_seconds=self.rng.choice([0, 0, 0.5, 1.0]))
            self.tally.fired[kind] += 1
            await self.checkpoint(kind)
        elif kind == "gw.replay_twice":
            await gw("replay_executions", twice=True)
            await gw("drop_connections")
            self.tally.fired[kind] += 1
            await self.checkpoint(kind)
            self.armed = (kind, self.step + 10, lambda f: False)
        elif kind == "gw.drop_status":
            await gw("drop_next_order_status", count=1)
            self.armed = (kind, self.step + 12, lambda f: f["drop_next_order_status"] == 0)
        elif kind == "gw.reject_entry":
            await gw("reject_next", count=1, reason=REJECT_REASON)
            self.armed = (kind, self.step + 12, lambda f: f["reject_next"] == 0)
            if self.spare:
                d = self.spare.pop(0)
                (self.dir / "plans" / f"late-{d.id}.toml").write_text(d.toml())
        elif kind == "gw.reject_order":
            await gw("reject_next", count=1, reason=REJECT_REASON)
            self.armed = (kind, self.step + 12, lambda f: f["reject_next"] == 0)
        elif kind == "gw.reject_modify":
            await gw("reject_next_modify", count=1, reason=REJECT_REASON)
            self.armed = (kind, self.step + 20, lambda f: f["reject_next_modify"] == 0)
        elif kind == "gw.ack_delay":
            await gw("ack_delay", seconds=round(self.rng.uniform(0.1, 0.4), 2))
            self.tally.fired[kind] += 1
            self.armed = (kind, self.step + 5, lambda f: False)
        else:  # pragma: no cover
            raise ValueError(kind)

    def schedule(self) -> dict[int, list[str]]:
        """Which faults go in at which step (random kills, gateway, Discord, suspensions)."""
        q = self.quota
        random_kills = max(0, math.ceil(q.kills * 0.5))
        self.random_kills_left = random_kills
        kinds = ["kill.random"] * random_kills
        kinds += self.rng.choices(GATEWAY_KINDS, GATEWAY_WEIGHTS, k=q.gateway_faults)
        kinds += [self.rng.choice(DISCORD_KINDS) for _ in range(q.discord_faults)]
        kinds += ["clock.suspend"] * q.suspends
        n = len(self.scenario.steps)
        out: dict[int, list[str]] = {}
        for kind in kinds:
            hi = max(2, n // 2) if kind.startswith("discord") else n - 2
            out.setdefault(self.rng.randint(1, max(1, hi)), []).append(kind)
        for v in out.values():
            self.rng.shuffle(v)
        return out

    async def cancel_plan(self, plan_id: str) -> None:
        rc, out, err = await run_cli("cancel", plan_id, "--config", str(self.config), cwd=self.dir, logdir=self.dir,
                                     name=f"cancel-{plan_id}")
        self.cli_outputs[f"cancel {plan_id}"] = out + err
        self.tally.cancels += 1
        ended = rc == 2 and f"plan {plan_id} is " in err and "nothing to cancel" in err  # it ended first: refused
        if rc != 0 and not ended:
            self.violate("orchestrator_healthy", plan_id, f"orchestrator cancel exited {rc}: {err.strip()}")

    # ------------------------------------------------------------------ the episode
    async def play(self) -> None:
        await self.setup()
        try:
            plan = self.schedule()
            await self.start_orchestrator()
            await self.checkpoint("start")
            cancelled = False
            cancel_at = self.rng.randint(len(self.scenario.steps) // 3, max(len(self.scenario.steps) // 3,
                                                                            len(self.scenario.steps) - 3))
            while self.step < len(self.scenario.steps) or self.armed is not None or plan:
                for due in sorted(k for k in plan if k <= self.step):
                    for kind in plan.pop(due):
                        if kind == "kill.random" and self.kills >= self.quota.kills:
                            self.random_kills_left -= 1
                            continue
                        await self.inject(kind)
                if self.step >= cancel_at and not cancelled:
                    cancelled = True
                    live = self.live_plans()
                    if live:
                        await self.cancel_plan(self.rng.choice(sorted(live)))
                await self.market_step()
                if self.orch is not None and not self.orch.alive():
                    await self.checkpoint("exit")
                if self.step > len(self.scenario.steps) + 60:
                    break
            await self.disarm_if_due(force=True)
            await self.drain()
        finally:
            await self.finish()

    def live_plans(self) -> dict[str, sqlite3.Row]:
        if not self.db_path.exists():
            return {}
        try:
            db = inv.Db.read(self.db_path)
        except sqlite3.Error:
            return {}
        return {p: r for p, r in db.plans.items() if r["state"] not in ("closed", "cancelled", "rejected")}

    async def drain(self) -> None:
        """Take every plan to an end: prices through the stops, cancels for unfilled entries."""
        assert self.gw is not None
        self.log("drain")
        for kind, fired in self.discord.calm().items():
            self.tally.fired[kind] += fired
        await self.gw("clear_faults")
        await self.ensure_running()
        await self.checkpoint("drain")
        cancelled: set[str] = set()
        anchor: dict[str, Decimal] = {}
        t0 = time.monotonic()
        while True:
            await self.ensure_running()
            db = inv.Db.read(self.db_path)
            live = {p: r for p, r in db.plans.items() if r["state"] not in ("closed", "cancelled", "rejected")}
            if not live and not db.pending_effects:
                break
            waited = time.monotonic() - t0
            if waited > 60:
                return   # plans_finish reports what is left
            for pid, r in live.items():
                open_qty = r["filled_qty"] - r["exited_qty"]
                sign = 1 if r["side"] == "long" else -1
                wiggle = Decimal("0.01") * (int(waited * 4) % 2)   # a new tick each time: partial fills go on
                if open_qty > 0 and r["state"] != "error" and waited < 15:
                    stop = Decimal(r["stop_price"] or r["stop_loss"])   # through the stop
                    anchor[r["symbol"]] = cents(float(stop) * (1 - sign * 0.03))
                anchor.setdefault(r["symbol"], self.last_price.get(r["symbol"], Decimal(r["entry_price"])))
                await self.set_price(r["symbol"], anchor[r["symbol"]] - sign * wiggle)
                if pid not in cancelled and (open_qty <= 0 or r["state"] == "error" or waited >= 15):
                    if open_qty > 0 and r["state"] != "error":
                        self.violate("plans_finish", pid, f"{r['state']} with {open_qty} open did not close when "
                                     "the price went through its stop; cancelled (flattened) instead")
                    cancelled.add(pid)
                    await self.cancel_plan(pid)
            await asyncio.sleep(0.25)   # bounded poll of state.db (another process's file)

        async def delivered() -> bool:
            if self.orch is not None and not self.orch.alive():
                await self.handle_exit()
            return inv.unsent_notifications(self.db_path) == 0
        self.log("every plan ended; waiting for notifications")
        if not await self.bounded(delivered, 90):
            self.log("notifications still pending after 90 s")
        self.log("drained")

    async def finish(self) -> None:
        try:
            await self._finish()
        finally:   # whatever happened (a cancel included), no child outlives the episode
            for child in (self.orch, self.gw.child if self.gw is not None else None):
                if child is not None and child.alive():
                    child.signal(signal.SIGKILL)

    async def _finish(self) -> None:
        try:
            if self.orch is not None:
                if self.orch.alive():
                    rc = await self.orch.terminate(20)
                    if rc != 0:
                        self.violate("orchestrator_healthy", None, f"SIGTERM: exit code {rc}")
                else:
                    await self.orch.wait(10)
            if self.gw is not None:
                await self.judge()
        finally:
            if self.gw is not None:
                await self.gw.stop()
            await self.discord.stop()

    async def judge(self) -> None:
        assert self.gw is not None
        self.log("judging")
        state = await self.gw.state()
        journal = await self.gw.journal()
        broker = inv.Broker(state, journal)
        checks: list[tuple[str, Callable[[], list[inv.Violation]]]] = []
        if not self.db_path.exists():
            self.violate("journal_replays", None, "no state.db was written")
            return
        db = inv.Db.read(self.db_path)
        delivered = self.discord.delivered()
        if any(not s.path_ok for s in self.discord.seen):
            self.violate("transitions_notified", None, "a notification went to the wrong webhook path")
        checks = [
            ("one_entry_per_plan", lambda: inv.one_entry_per_plan(db, broker)),
            ("never_two_stops", lambda: inv.never_two_stops(broker)),
            ("journal_replays", lambda: inv.journal_replays(db)),
            ("final_matches_broker", lambda: inv.final_matches_broker(db, broker, self.symbol_of)),
            ("fills_exactly_once", lambda: inv.fills_exactly_once(db, broker)),
            ("transitions_notified", lambda: inv.transitions_notified(db, delivered)),
            ("plans_finish", lambda: inv.plans_finish(db)),
        ]
        for name, check in checks:
            self.tally.checks[name] += 1
            for v in check():
                self.violations.append(v)
                self.log("VIOLATION " + v.line())
        for r in db.plans.values():
            self.tally.plans[r["state"]] += 1
        # the orchestrator's own output: no traceback, no unexpected ERROR
        self.tally.checks["orchestrator_healthy"] += 1
        allowed = [re.compile(p) for p in EXPECTED_ERRORS]
        seen: set[str] = set()
        for log_file in sorted(self.dir.glob("orchestrator-*.err.log")):
            for record in log_records(log_file.read_text(errors="replace")):
                head = record[0]
                if not (" ERROR " in head or " CRITICAL " in head or any("Traceback" in ln for ln in record)):
                    continue
                if any(a.search(head) for a in allowed):
                    continue
                text = head.split(" ", 2)[-1][:300] + (f" | {record[-1].strip()[:200]}" if len(record) > 1 else "")
                if text not in seen:   # the same failure in several incarnations is reported once
                    seen.add(text)
                    self.violate("orchestrator_healthy", None, f"{log_file.name}: {text}")
        # read-side CLI on what is left (also grepped for the token)
        some_plan = next(iter(sorted(db.plans)), None)
        runs = [("status", ["status", "--config", str(self.config)]),
                ("status --json", ["status", "--json", "--config", str(self.config)]),
                ("outbox --all --json", ["outbox", "--all", "--json", "--config", str(self.config)])]
        if some_plan:
            runs.append((f"history {some_plan}", ["history", some_plan, "--config", str(self.config)]))
        results = await asyncio.gather(*(run_cli(*args, cwd=self.dir, logdir=self.dir, name=f"cli-{i}")
                                         for i, (_n, args) in enumerate(runs)))
        for (name, _args), (rc, out, err) in zip(runs, results):
            self.cli_outputs[name] = out + "\n" + err
            if rc != 0:
                self.violate("orchestrator_healthy", None, f"orchestrator {name} exited {rc}: {err.strip()[:200]}")
        self.tally.checks["owner_only_files"] += 1
        files = [self.db_path, Path(f"{self.db_path}-wal"), Path(f"{self.db_path}-shm"), self.journal_path,
                 *self.dir.glob("*.log")]
        for v in inv.owner_only(files):
            self.violate(v.invariant, v.plan, v.detail)
        self.tally.checks["no_secret_in_output"] += 1
        for v in inv.no_secret(self.discord.token, [p for p in self.dir.rglob("*") if p.is_file()], self.cli_outputs):
            self.violate(v.invariant, v.plan, v.detail)
        self.violations = known_issues.classify(self.violations)


_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def log_records(text: str) -> list[list[str]]:
    """A stderr log split into records: a timestamped line and its continuation lines (a traceback)."""
    records: list[list[str]] = []
    for line in text.splitlines():
        if _RECORD_START.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    return records


class Run:
    def __init__(self, seed: int, budget: Budget, *, base: Path | None = None, plans_per_episode: int = 6,
                 per_episode: Budget | None = None, tick: float = 0.04, keep: bool = False, strict: bool = False,
                 log: Callable[[str], None] = print) -> None:
        self.seed = seed
        self.tag = seed % 10_000
        self.budget = budget
        self.rng = random.Random(seed)
        self.plans_per_episode = plans_per_episode
        self.per_episode = per_episode or Budget(kills=10, gateway_faults=6, discord_faults=2, suspends=1)
        self.tick = tick
        self.keep = keep
        self.strict = strict
        self.log = log
        self.tally = Tally(seed)
        self.t0 = time.monotonic()
        self._own_base = base is None
        self.base = Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-")) if base is None else base
        self.base.mkdir(parents=True, exist_ok=True)

    def _quota(self) -> Budget:
        t, b, cap = self.tally, self.budget, self.per_episode
        left = Budget(max(0, b.kills - t.kills), max(0, b.gateway_faults - t.gateway_faults),
                      max(0, b.discord_faults - sum(t.injected[k] for k in DISCORD_KINDS)),
                      max(0, b.suspends - t.injected["clock.suspend"]))
        return Budget(min(left.kills, cap.kills), min(left.gateway_faults, cap.gateway_faults),
                      min(left.discord_faults, cap.discord_faults), min(left.suspends, cap.suspends))

    async def run(self) -> Tally:
        t0 = time.monotonic()
        index = 0
        stalled = 0
        while True:
            quota = self._quota()
            if quota.total() == 0 and index > 0:
                break
            before = self.tally.faults
            episode = Episode(self, index, quota)
            try:
                await episode.play()
            except asyncio.CancelledError:   # SIGINT/SIGTERM: the episode cleaned up; report what ran
                self.log(f"interrupted in episode {index}")
                self.tally.interrupted = True
                self.tally.kept.append(episode.dir)
                break
            self.tally.episodes += 1
            self.tally.violations += [v for v in episode.violations if not v.known or self.strict]
            self.tally.known += [v for v in episode.violations if v.known and not self.strict]
            if episode.violations:
                self.tally.kept.append(episode.dir)
            elif not self.keep:
                shutil.rmtree(episode.dir, ignore_errors=True)
            stalled = stalled + 1 if self.tally.faults == before else 0
            if stalled >= 3:
                self.log("three episodes injected nothing; stopping")
                break
            index += 1
            self.log(f"episode {index}: {self.tally.faults} faults so far ({self.tally.kills} kills, "
                     f"{self.tally.gateway_faults} gateway), {len(self.tally.violations)} violations, "
                     f"{len(self.tally.known)} known")
        self.tally.elapsed = time.monotonic() - t0
        if self._own_base and not self.tally.kept and not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)
        return self.tally
