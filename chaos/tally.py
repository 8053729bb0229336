"""The fault menu's kinds, a run's budget, and its tally (what was injected, what it found)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import invariants as inv

KILL_KINDS = ("kill.random", "kill.after_commit", "kill.after_broker", "kill.after_place")
GATEWAY_KINDS = ("gw.drop", "gw.refuse", "gw.restart", "gw.replay_twice", "gw.drop_status", "gw.reject_entry",
                 "gw.reject_order", "gw.reject_modify", "gw.ack_delay")
GATEWAY_WEIGHTS = (3, 2, 2, 2, 1, 1, 1, 2, 1)
DISCORD_KINDS = ("discord.503", "discord.429")
# the second actor: the trader at the shared account (chaos/actor.py); issue 12's, then issue 13's
OWNER_KINDS = ("actor.second_daemon", "actor.client_id_change", "actor.foreign_position",
               "actor.position_in_plan_symbol", "actor.kill9_lock")
BROKER_TRUTH_KINDS = ("actor.global_cancel_and_close", "actor.cancel_our_stop", "actor.partial_sell",
                      "actor.manual_stop_with_our_ref")
ACTOR_KINDS = (*OWNER_KINDS, *BROKER_TRUTH_KINDS)
ALL_KINDS = (*KILL_KINDS, *GATEWAY_KINDS, *DISCORD_KINDS, "clock.suspend", *ACTOR_KINDS)


@dataclass
class Budget:
    kills: int
    gateway_faults: int
    discord_faults: int = 0
    suspends: int = 0
    interventions: int = 0
    actor_kinds: tuple[str, ...] = ACTOR_KINDS   # which interventions the actor draws from

    def total(self) -> int:
        return self.kills + self.gateway_faults + self.discord_faults + self.suspends + self.interventions


@dataclass
class Tally:
    """What a run did and found."""

    seed: int
    injected: Counter[str] = field(default_factory=Counter)
    fired: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, str] = field(default_factory=dict)         # invariant -> why it was not checked
    notes: Counter[str] = field(default_factory=Counter)          # what was seen and allowed (not violations)
    sessions: Counter[str] = field(default_factory=Counter)       # session mode's events, seen at the gateway
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
    def interventions(self) -> int:
        return sum(self.injected[k] for k in ACTOR_KINDS)

    @property
    def faults(self) -> int:
        return sum(self.injected.values())
