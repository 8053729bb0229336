"""The chaos run: episodes of real processes under seeded faults, each judged by the invariants.

An episode is one simulated gateway process (manual ticks, control port, journal, TWS window),
one Discord stand-in, one state.db, one ``orchestrator run`` process at a time (restarted whenever
it is killed) and, when the trader acts, the trader's own clientId-0 API session; it trades a
handful of plans whose symbols follow a seeded price path (``episode.py``). Faults (``faults.py``)
and the trader's interventions (``actor.py``) are drawn from what is left of the run's budget and
injected at seeded steps of the path; ``play.py`` runs an episode, ``judge.py`` gives its verdict.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .episode import Episode
from .play import play
from .tally import ACTOR_KINDS, ALL_KINDS, DISCORD_KINDS, Budget, Tally

__all__ = ["ALL_KINDS", "Budget", "Run", "Tally"]


class Run:
    def __init__(self, seed: int, budget: Budget, *, base: Path | None = None, plans_per_episode: int = 6,
                 per_episode: Budget | None = None, tick: float = 0.04, keep: bool = False, strict: bool = False,
                 settle: bool = True, sessions: bool = False, episodes: int | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.seed = seed
        self.sessions = sessions   # every episode on the session clock (chaos/sessiontime.py)
        self.episodes = episodes   # at most this many episodes (None: until the budget is spent)
        self.settle = settle   # after the trader trades a plan's shares, hold the market until its exits fit
        self.tag = seed % 10_000
        self.budget = budget
        self.rng = random.Random(seed)
        self.plans_per_episode = plans_per_episode
        self.per_episode = per_episode or Budget(kills=10, gateway_faults=6, discord_faults=2, suspends=1,
                                                 interventions=4)
        self.tick = tick
        self.keep = keep
        self.strict = strict
        self.log = log
        self.tally = Tally(seed)
        self.t0 = time.monotonic()
        self._deck: list[str] = []
        self._shuffle = random.Random(f"{seed}:actor")
        self._own_base = base is None
        self.base = Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-")) if base is None else base
        self.base.mkdir(parents=True, exist_ok=True)

    def _quota(self) -> Budget:
        t, b, cap = self.tally, self.budget, self.per_episode
        left = Budget(max(0, b.kills - t.kills), max(0, b.gateway_faults - t.gateway_faults),
                      max(0, b.discord_faults - sum(t.injected[k] for k in DISCORD_KINDS)),
                      max(0, b.suspends - t.injected["clock.suspend"]),
                      max(0, b.interventions - sum(t.injected[k] for k in ACTOR_KINDS)))
        return replace(b, kills=min(left.kills, cap.kills), gateway_faults=min(left.gateway_faults, cap.gateway_faults),
                       discord_faults=min(left.discord_faults, cap.discord_faults),
                       suspends=min(left.suspends, cap.suspends),
                       interventions=min(left.interventions, cap.interventions))

    def deal(self, n: int) -> list[str]:
        """The next ``n`` interventions: every kind of the menu once per round, in a seeded order,
        so that a run of at least as many interventions as kinds has each of them."""
        out = []
        for _ in range(n):
            if not self._deck:
                self._deck = list(self.budget.actor_kinds)
                self._shuffle.shuffle(self._deck)
            out.append(self._deck.pop())
        return out

    async def run(self) -> Tally:
        t0 = time.monotonic()
        index = 0
        stalled = 0
        while True:
            quota = self._quota()
            if (quota.total() == 0 and index > 0) or (self.episodes is not None and index >= self.episodes):
                break
            before = self.tally.faults
            episode = Episode(self, index, quota)
            episode.interventions = self.deal(quota.interventions)
            try:
                await play(episode)
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
                     f"{self.tally.gateway_faults} gateway, {self.tally.interventions} interventions), "
                     f"{len(self.tally.violations)} violations, {len(self.tally.known)} known")
        self.tally.elapsed = time.monotonic() - t0
        if self._own_base and not self.tally.kept and not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)
        return self.tally
