"""The trader's operational mistakes (issue 12): a second daemon on the same store, a restart with
another client id, a SIGKILL and an immediate restart — each judged by ``owners.py``."""

from __future__ import annotations

import random
import signal
import time

from machines import parse_order_ref

from .episode import Episode
from .owners import CLIENT_ID_REFUSAL, LOCKED, REFUSE_WITHIN, daemon_status, judge_refusal
from .procs import Child
from .world import CONNECT_TIMEOUT, STARTED

OPEN = ("PreSubmitted", "Submitted", "PendingCancel")   # what reqAllOpenOrders returns (transmitted, not done)


async def stable(ep: Episode, why: str) -> None:
    """The orchestrator up, connected and protected, and not about to kill itself (a KILL_AT
    firing while a second daemon starts would hand that one the store)."""
    await ep.checkpoint(why)
    while ep.kill_at is not None:
        await ep.stop_orchestrator()
        await ep.start_orchestrator(allow_kill_at=False)
        await ep.checkpoint(why)


async def second_daemon(ep: Episode, rng: random.Random) -> bool:
    assert ep.gw is not None
    await stable(ep, "actor.second_daemon")
    other = ep.client_id + 50 + rng.randint(0, 40)
    where = ep.dir / "second"
    where.mkdir(exist_ok=True)
    config = where / "config.toml"
    config.write_text(ep.config_text(other, db="../state.db", plans="../plans"))   # another file, the same store
    t0 = time.monotonic()
    child = await Child.spawn(f"second-daemon-{ep.step:03d}", ["-m", "orchestrator", "run", "--config", str(config)],
                              cwd=where, logdir=ep.dir)
    rc = await _exit_within(child, REFUSE_WITHIN)
    ep.found(judge_refusal(f"a second orchestrator run (client {other}) on the same state.db", rc,
                           time.monotonic() - t0, "\n".join(child.err.lines), LOCKED, await ep.gw.journal(), other))
    ep.tally.checks["owner_refusals"] += 1
    await ep.checkpoint("actor.second_daemon")
    return rc is not None


async def client_id_change(ep: Episode, rng: random.Random) -> bool:
    assert ep.gw is not None
    await ep.checkpoint("actor.client_id_change")
    await ep.stop_orchestrator()
    old, new = ep.client_id, ep.client_id + 1 + rng.randint(0, 30)
    state = await ep.gw.state()
    working = sorted({f"{r[0]} (client {o['client_id']})" for o in state["orders"]
                      if o["status"] in OPEN and o["client_id"] != new
                      and (r := parse_order_ref(o.get("order_ref") or "")) is not None})
    ep.config.write_text(ep.config_text(new))
    orch = await ep.start_orchestrator(allow_kill_at=False)
    ep.killed_by_us = True   # a refusal is expected and accounted for here
    t0 = time.monotonic()
    try:   # the line it logs once the ownership checks passed, or the end of its output (it exited)
        started = await orch.err.wait_line(STARTED.pattern, REFUSE_WITHIN)
    except TimeoutError:
        started = None
    took, what = time.monotonic() - t0, f"a restart with broker.client_id {new} (was {old})"
    if started is None and orch.err.closed:
        rc = await orch.wait(10)
        err = "\n".join(orch.err.lines)
        if working:
            ep.found(judge_refusal(f"{what} while orders work: {', '.join(working)}", rc, took, err,
                                   CLIENT_ID_REFUSAL, await ep.gw.journal(), new))
        else:
            ep.violate("owner_refusals", None, f"{what} with no order working was refused (exit {rc}): {err[-200:]}")
        ep.log(f"{what}: refused (exit {rc}); back to client id {old}")
        ep.config.write_text(ep.config_text(old))
        await ep.gone_from_gateway(new)
        await ep.start_orchestrator()
    else:
        if started is None:
            ep.violate("owner_refusals", None, f"{what}: neither refused nor started after {took:.1f} s")
        elif working:
            ep.violate("owner_refusals", None, f"{what} was accepted while orders work: {', '.join(working)}")
        ep.log(f"{what}: accepted (no order working); the episode keeps client id {new}")
        ep.client_id = new
        ep.killed_by_us = False
    ep.tally.checks["owner_refusals"] += 1
    await ep.checkpoint("actor.client_id_change")
    return True


async def kill9_lock(ep: Episode) -> bool:
    await ep.checkpoint("actor.kill9_lock")
    assert ep.orch is not None
    ep.killed_by_us = True
    ep.orch.signal(signal.SIGKILL)
    await ep.orch.wait(10)
    ep.went_down()
    orch = await ep.start_orchestrator()   # at once: the kernel released the lock with the process

    async def settled() -> bool:
        return not orch.alive() or ep.has_started()
    await ep.bounded(settled, CONNECT_TIMEOUT)
    if not orch.alive():
        rc = await orch.wait(10)
        err = "\n".join(orch.err.lines)
        if rc == 2 and LOCKED.search(err):
            ep.violate("owner_refusals", None, f"a daemon started right after SIGKILL was refused for the lock: "
                       f"{err[-200:]}")
            ep.killed_by_us = True
    ep.tally.checks["owner_refusals"] += 1
    await ep.checkpoint("actor.kill9_lock")
    return True


def alerted(ep: Episode, symbol: str) -> bool:
    """The daemon holds entries in ``symbol`` (the alert a trader answers with ``positions accept``),
    or no live plan trades it any more (nothing will be held: the trader accepts it anyway)."""
    doc = daemon_status(ep.db_path) or {}
    return symbol in (doc.get("blocked_symbols") or {}) or all(r["symbol"] != symbol for r in ep.live_plans().values())


async def hold_alert(ep: Episode, symbol: str, timeout: float) -> bool:
    """Wait (bounded) for :func:`alerted`."""
    async def held() -> bool:
        return alerted(ep, symbol)
    return await ep.bounded(held, timeout)


async def _exit_within(child: Child, seconds: float) -> int | None:
    """The exit code, or None (and the process stopped) if it was still running after ``seconds``."""
    try:
        return await child.wait(seconds)
    except TimeoutError:
        await child.terminate(10)
        return None
