"""The fault menu (kills, gateway faults, Discord storms, suspensions): which go in at which step,
and how each is injected into an episode's processes.

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

After every fault that touches the orchestrator or its connection there is a checkpoint.
The trader's interventions (``actor.*``) are ``actor.py``'s.
"""

from __future__ import annotations

import asyncio
import math
import signal
import time

from .episode import Episode
from .tally import DISCORD_KINDS, GATEWAY_KINDS, GATEWAY_WEIGHTS

REJECT_REASON = "chaos: injected rejection"


def schedule(ep: Episode) -> dict[int, list[str]]:
    """Which faults go in at which step (random kills, gateway, Discord, suspensions)."""
    q = ep.quota
    random_kills = max(0, math.ceil(q.kills * 0.5))
    ep.random_kills_left = random_kills
    kinds = ["kill.random"] * random_kills
    kinds += ep.rng.choices(GATEWAY_KINDS, GATEWAY_WEIGHTS, k=q.gateway_faults)
    kinds += [ep.rng.choice(DISCORD_KINDS) for _ in range(q.discord_faults)]
    kinds += ["clock.suspend"] * q.suspends
    n = len(ep.scenario.steps)
    out: dict[int, list[str]] = {}
    for kind in kinds:
        hi = max(2, n // 2) if kind.startswith("discord") else n - 2
        out.setdefault(ep.rng.randint(1, max(1, hi)), []).append(kind)
    for v in out.values():
        ep.rng.shuffle(v)
    return out


async def inject(ep: Episode, kind: str) -> None:
    assert ep.gw is not None and ep.orch is not None
    gw = ep.gw
    ep.log(f"inject {kind}")
    if kind.startswith("gw."):
        await ep.disarm_if_due(force=True)
    ep.tally.injected[kind] += 1
    if kind == "kill.random":
        ep.kills += 1
        ep.random_kills_left -= 1
        await asyncio.sleep(ep.rng.uniform(0, 0.3))   # a random moment of whatever it is doing
        if ep.orch.alive():
            ep.killed_by_us = True
            ep.orch.signal(signal.SIGKILL)
            ep.tally.fired[kind] += 1
            await ep.orch.wait(10)   # gone (the checkpoint must not take the dying process for a connected one)
        await ep.checkpoint(kind)
    elif kind == "clock.suspend":
        await _suspend(ep)
    elif kind == "discord.503":
        ep.discord.storm(503, ep.rng.randint(2, 3))
    elif kind == "discord.429":
        ep.discord.storm(429, ep.rng.randint(2, 4), round(ep.rng.uniform(0.2, 0.8), 2))
    elif kind in ("gw.drop", "gw.refuse", "gw.restart", "gw.replay_twice"):
        ep.went_down()   # every connection goes: the orchestrator is not up until it is back
        if kind == "gw.refuse":
            await gw("refuse_for", seconds=round(ep.rng.uniform(0.3, 1.5), 2))
        if kind == "gw.restart":
            await gw("restart", refuse_seconds=ep.rng.choice([0, 0, 0.5, 1.0]))
        else:
            if kind == "gw.replay_twice":
                await gw("replay_executions", twice=True)
            await gw("drop_connections")
        ep.tally.fired[kind] += 1
        await ep.checkpoint(kind)
        if kind == "gw.refuse":
            await gw("clear_faults")
        if kind == "gw.replay_twice":
            ep.armed = (kind, ep.step + 10, lambda f: False)
    elif kind == "gw.drop_status":
        await gw("drop_next_order_status", count=1)
        ep.armed = (kind, ep.step + 12, lambda f: f["drop_next_order_status"] == 0)
    elif kind in ("gw.reject_entry", "gw.reject_order"):
        await gw("reject_next", count=1, reason=REJECT_REASON)
        ep.armed = (kind, ep.step + 12, lambda f: f["reject_next"] == 0)
        if kind == "gw.reject_entry" and ep.spare:
            d = ep.spare.pop(0)
            (ep.dir / "plans" / f"late-{d.id}.toml").write_text(d.toml())
    elif kind == "gw.reject_modify":
        await gw("reject_next_modify", count=1, reason=REJECT_REASON)
        ep.armed = (kind, ep.step + 20, lambda f: f["reject_next_modify"] == 0)
    elif kind == "gw.ack_delay":
        await gw("ack_delay", seconds=round(ep.rng.uniform(0.1, 0.4), 2))
        ep.tally.fired[kind] += 1
        ep.armed = (kind, ep.step + 5, lambda f: False)
    else:  # pragma: no cover
        raise ValueError(kind)


async def _suspend(ep: Episode) -> None:
    assert ep.orch is not None
    if ep.orch.signal(signal.SIGSTOP):
        ep.orch.stopped = True
        ep.went_down()
        until = time.monotonic() + ep.rng.uniform(1.0, 3.0)
        for _ in range(ep.rng.randint(2, 6)):   # the market moves on while it is frozen ...
            await ep.market_step()
        # ... and its clock jumps by the whole pause (the pause is the fault, not a wait)
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        ep.orch.signal(signal.SIGCONT)
        ep.orch.stopped = False
        ep.tally.fired["clock.suspend"] += 1
    await ep.checkpoint("clock.suspend")
