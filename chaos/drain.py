"""The end of an episode: take every plan to an end (prices through the stops, ``orchestrator
cancel`` for unfilled entries and for what does not close), then wait for every notification."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from machines import parse_order_ref

from . import invariants as inv
from .episode import Episode
from .exposure import GRACE
from .folder import ENDED
from .hand import TRADER_CLIENT

ERROR_PATIENCE = 3.0   # s after its cancel: the daemon applies commands every 0.5 s


async def drain(ep: Episode, cover: float) -> None:
    """``cover``: how long the first checkpoint gives for protection (longer after the trader
    took back protective orders of their own, which the orchestrator sees at a reconciliation)."""
    assert ep.gw is not None
    ep.log("drain")
    for kind, fired in ep.discord.calm().items():
        ep.tally.fired[kind] += fired
    await ep.gw("clear_faults")
    await ep.ensure_running()
    await ep.checkpoint("drain", cover)
    cancelled: dict[str, float] = {}   # plan -> when its cancel was sent
    anchor: dict[str, Decimal] = {}
    t0 = time.monotonic()
    while True:
        await ep.ensure_running()
        db = inv.Db.read(ep.db_path)
        live = {p: r for p, r in db.plans.items() if r["state"] not in ENDED}
        # a plan left in error that a cancel does not end (a reversed position is a human's) is not waited for
        waiting = {p for p, r in live.items() if not (r["state"] == "error" and time.monotonic() - cancelled.get(
            p, time.monotonic()) > ERROR_PATIENCE)}
        if not waiting and not db.pending_effects:
            break
        waited = time.monotonic() - t0
        if waited > 60:
            return   # plans_finish reports what is left
        for pid, r in live.items():
            open_qty = r["filled_qty"] - r["exited_qty"]
            sign = 1 if r["side"] == "long" else -1
            grid = ep.scenario.instrument(r["symbol"])
            wiggle = grid.path_step * (int(waited * 4) % 2)   # a new tick each time: partial fills go on
            if open_qty > 0 and r["state"] != "error" and waited < 15:
                stop = Decimal(r["stop_price"] or r["stop_loss"])   # through the stop
                anchor[r["symbol"]] = grid.path_price(float(stop) * (1 - sign * 0.03))
            anchor.setdefault(r["symbol"], ep.last_price.get(r["symbol"], Decimal(r["entry_price"])))
            await ep.set_price(r["symbol"], anchor[r["symbol"]] - sign * wiggle)
            if pid not in cancelled and (open_qty <= 0 or r["state"] == "error" or waited >= 15):
                if open_qty > 0 and r["state"] != "error":
                    ep.violate("plans_finish", pid, f"{r['state']} with {open_qty} open did not close when "
                               "the price went through its stop; cancelled (flattened) instead")
                cancelled[pid] = time.monotonic()
                await ep.cancel_plan(pid)
        await asyncio.sleep(0.25)   # bounded poll of state.db (another process's file)

    async def applied() -> bool:
        """The trader's executions carrying a plan's orderRef are in state.db: the orchestrator hears of
        another client's executions only when it reconciles."""
        await ep.ensure_running()
        state = await ep.gw.state() if ep.gw is not None else {"executions": []}
        theirs = {e["exec_id"] for e in state["executions"] if e.get("client_id") == TRADER_CLIENT
                  and parse_order_ref(e.get("order_ref") or "") is not None}
        return theirs <= {f["exec_id"] for fills in inv.Db.read(ep.db_path).fills.values() for f in fills}
    if ep.replay.duplicated and not await ep.bounded(applied, GRACE):
        ep.log(f"the trader's executions with a plan's orderRef not applied {GRACE:.0f} s after the drain")

    async def delivered() -> bool:
        if ep.orch is not None and not ep.orch.alive():
            await ep.handle_exit()
        return inv.unsent_notifications(ep.db_path) == 0
    ep.log("every plan ended; waiting for notifications")
    if not await ep.bounded(delivered, 90):
        ep.log("notifications still pending after 90 s")
    ep.log("drained")
