"""The second actor: a trader at the shared account who, at seeded moments between the
orchestrator's kills, does what traders do — through their own clientId-0 API session
(``chaos/trader.py``, the TWS socket protocol), a click in the TWS window (``tws_gateway.py``), the
orchestrator's CLI — plus the operational mistakes of issue 12 (``ops.py``).

=================================  ================================================================
actor.second_daemon                a second ``orchestrator run`` (another config file, another client
                                   id) on the same state.db: exit 2 within seconds, nothing at IB
actor.client_id_change             a restart with another ``broker.client_id``: exit 2 while orders
                                   work (then back to the old id), accepted (and kept) otherwise
actor.foreign_position             buy or sell a symbol no plan trades: never blocks anything
actor.position_in_plan_symbol      a few shares of a live plan's symbol, in the plan's direction;
                                   later sold back, or (after the hold alert) ``positions accept``
actor.kill9_lock                   SIGKILL and an immediate restart: the lock is not in the way
actor.global_cancel_and_close      reqGlobalCancel, then the plan's whole position sold at market
actor.cancel_our_stop              the plan's stop cancelled in the TWS window, sometimes replaced
                                   by a stop of the trader's own
actor.partial_sell                 part of a plan's position sold at market
actor.manual_stop_with_our_ref     a stop carrying the plan's own orderRef (a duplicate exit)
=================================  ================================================================

Interventions that need a protected position wait (step by step) until there is one, and are
given up at the end of the path. The trader's think-time (between a cancel and what follows) is
seeded and is one of the harness's few timed pauses.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from machines import Leg, parse_order_ref

from . import ops
from .episode import Episode
from .exposure import GRACE, exposure_now
from .hand import CLOSE_REF, OWN_REF, TRADER_CLIENT, Hand

POSITION_KINDS = ("actor.global_cancel_and_close", "actor.cancel_our_stop", "actor.partial_sell",
                  "actor.manual_stop_with_our_ref")
PROTECTED = ("protected", "trailing")
HOLD_ALERT_WAIT = 12.0   # s: a trader accepts a position after the hold alert (it comes at a reconciliation)


@dataclass
class Candidate:
    plan: str
    symbol: str
    sign: int
    share: int                       # what IB holds for the plan (the trader's own shares apart)
    stop: dict[str, Any] | None      # the orchestrator's working stop

    @property
    def exit_action(self) -> str:
        return "SELL" if self.sign > 0 else "BUY"


@dataclass
class OwnShares:
    symbol: str
    shares: int     # signed
    how: str        # "sell back" | "accept"


class Actor:
    def __init__(self, ep: Episode) -> None:
        self.ep = ep
        self.rng = random.Random(f"{ep.run.seed}:{ep.index}:actor")
        self.due: dict[int, list[str]] = {}
        self.follow_ups: dict[int, list[OwnShares]] = {}
        self.handlers: dict[str, Callable[[], Awaitable[bool | None]]] = {
            "actor.second_daemon": lambda: ops.second_daemon(ep, self.rng),
            "actor.client_id_change": lambda: ops.client_id_change(ep, self.rng),
            "actor.kill9_lock": lambda: ops.kill9_lock(ep),
            "actor.foreign_position": self.foreign_position,
            "actor.position_in_plan_symbol": self.position_in_plan_symbol,
            "actor.global_cancel_and_close": self.global_cancel_and_close,
            "actor.cancel_our_stop": self.cancel_our_stop,
            "actor.partial_sell": self.partial_sell,
            "actor.manual_stop_with_our_ref": self.manual_stop_with_our_ref,
        }

    # ------------------------------------------------------------------ when
    def schedule(self) -> None:
        n = len(self.ep.scenario.steps)
        for kind in self.ep.interventions:
            lo, hi = (n // 4, 3 * n // 4) if kind in POSITION_KINDS else (1, n - 2)
            self.due.setdefault(self.rng.randint(max(1, lo), max(1, hi)), []).append(kind)

    def pending(self) -> bool:
        return bool(self.due)

    async def act(self) -> None:
        """What is due at this step: follow-ups first, then interventions."""
        step, last = self.ep.step, len(self.ep.scenario.steps) - 2
        for at in sorted(k for k in self.follow_ups if k <= step):
            for own in self.follow_ups.pop(at):
                if own.how == "accept" and not ops.alerted(self.ep, own.symbol):   # the trader waits for the alert
                    self.follow_ups.setdefault(step + 1, []).append(own)
                else:
                    await self.resolve(own)
        for at in sorted(k for k in self.due if k <= step):
            for kind in self.due.pop(at):
                await self.ep.ensure_running()
                took = await self.handlers[kind]()
                if took is None and step < last:   # nothing to act on yet: try again at the next step
                    self.due.setdefault(step + 1, []).append(kind)
                    continue
                self.ep.log(f"actor {kind}: " + {True: "took effect", False: "no effect", None: "nothing to act on"}[
                    took])
                self.ep.tally.injected[kind] += 1
                self.ep.tally.fired[kind] += bool(took)
                await self.ep.observe()

    async def cleanup(self) -> bool:
        """Before the drain: own shares resolved, the trader's working orders taken back.
        True if any order was taken back (the orchestrator sees that only at a reconciliation)."""
        for at in sorted(self.follow_ups):
            for own in self.follow_ups.pop(at):
                await self.resolve(own)
        if self.ep.trader is None:
            return False
        reply = await self.ep.trader("cancel_mine")
        return bool(reply.get("cancelled"))

    async def stop(self) -> None:
        if self.ep.trader is not None:
            await self.ep.trader.stop()

    # ------------------------------------------------------------------ what the trader sees
    def by_hand(self, row: Any) -> bool:
        """The trader's session names US stocks at a cent (``chaos/trader.py``): a plan on a
        contract with other tick rules (``chaos/instruments.py``) is left to the orchestrator."""
        return not self.ep.scenario.instrument(row["symbol"]).tick_rules

    async def candidates(self, min_share: int = 1, with_stop: bool = False) -> list[Candidate]:
        """Plans with a protected position at IB (from state.db and the gateway)."""
        assert self.ep.gw is not None
        state = await self.ep.gw.state()
        hand = Hand.from_executions(state["executions"])
        out = []
        for plan_id, row in sorted(self.ep.plans_now().items()):
            if row["state"] not in PROTECTED or not self.by_hand(row):
                continue
            symbol, sign = row["symbol"], self.ep.side_of.get(plan_id, 1 if row["side"] == "long" else -1)
            pos = sum(int(round(p["quantity"])) for p in state["positions"] if p["symbol"] == symbol)
            share = sign * hand.plan_share(symbol, pos)
            stops = [o for o in state["orders"] if o["status"] == "Submitted" and o["client_id"] != TRADER_CLIENT
                     and (r := parse_order_ref(o.get("order_ref") or "")) and r[0] == plan_id and r[1] is Leg.STOP]
            if share >= min_share and (stops or not with_stop):
                out.append(Candidate(plan_id, symbol, sign, share, stops[0] if stops else None))
        return out

    async def pick(self, min_share: int = 1, with_stop: bool = False) -> Candidate | None:
        found = await self.candidates(min_share, with_stop)
        return self.rng.choice(found) if found else None

    async def share(self, c: Candidate) -> int:
        assert self.ep.gw is not None
        state = await self.ep.gw.state()
        pos = sum(int(round(p["quantity"])) for p in state["positions"] if p["symbol"] == c.symbol)
        return c.sign * Hand.from_executions(state["executions"]).plan_share(c.symbol, pos)

    async def settle(self, c: Candidate, why: str) -> None:
        """After the trader traded the plan's shares (or doubled its exit), the market holds (the
        trader watches) until the plan's exits fit what IB holds — at most the grace, so that what
        the orchestrator does about it within one reconciliation, or fails to do, is what the
        timeline invariants judge rather than the next price step. Off in the quick pass (time)."""
        if not self.ep.run.settle:
            return
        assert self.ep.gw is not None
        gw = self.ep.gw

        async def fits() -> bool:
            exits, held = exposure_now(await gw.state(), c.plan, c.symbol, c.sign)
            return exits <= held or self.ep.orch is None or not self.ep.orch.alive()
        took = await self.ep.bounded(fits, GRACE + 0.5)
        self.ep.log(f"{why}: {c.plan}'s exits " + ("fit IB's position" if took else f"still above IB's position "
                                                                                      f"after {GRACE + 0.5:.1f} s"))

    async def think(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.05, 0.6))   # the trader's own think-time

    async def trade(self, symbol: str, action: str, qty: int, ref: str) -> int:
        reply = await (await self.ep.trader_session())("trade", symbol=symbol, action=action, qty=qty, ref=ref)
        self.ep.log(f"trader {action} {qty} {symbol} ({ref}): {reply}")
        return int(round(reply.get("filled") or 0))

    async def place_stop(self, c: Candidate, qty: int, price: float, ref: str) -> bool:
        reply = await (await self.ep.trader_session())("stop", symbol=c.symbol, action=c.exit_action, qty=qty,
                                                        stop=round(price, 2), ref=ref)
        self.ep.log(f"trader stop {c.exit_action} {qty} {c.symbol} @ {price:.2f} ({ref}): {reply}")
        return bool(reply.get("ok"))

    # ------------------------------------------------------------------ issue 12: positions of the trader's own
    async def foreign_position(self) -> bool:
        symbol = self.rng.choice(self.ep.scenario.foreign)
        return await self.trade(symbol, self.rng.choice(["BUY", "SELL"]), self.rng.randint(5, 200), OWN_REF) > 0

    async def position_in_plan_symbol(self) -> bool | None:
        waiting = {o.symbol for ones in self.follow_ups.values() for o in ones}
        live = [(p, r) for p, r in sorted(self.ep.live_plans().items())
                if r["symbol"] not in waiting and self.by_hand(r)]
        if not live:
            return None
        plan_id, row = self.rng.choice(live)
        sign = 1 if row["side"] == "long" else -1
        qty = self.rng.randint(1, 50)
        self.ep.explained_since.pop(row["symbol"], None)
        filled = await self.trade(row["symbol"], "BUY" if sign > 0 else "SELL", qty, OWN_REF)
        if not filled:
            self.ep.explained_since[row["symbol"]] = time.time()
            return False
        own = OwnShares(row["symbol"], sign * filled, self.rng.choice(["sell back", "accept"]))
        self.follow_ups.setdefault(self.ep.step + self.rng.randint(3, 15), []).append(own)
        return True

    async def resolve(self, own: OwnShares) -> None:
        """The trader's own shares in a plan's symbol: sold back, or accepted once the alert came."""
        if own.how == "sell back":
            await self.trade(own.symbol, "SELL" if own.shares > 0 else "BUY", abs(own.shares), OWN_REF)
        else:
            await ops.hold_alert(self.ep, own.symbol, HOLD_ALERT_WAIT)   # at once unless at the end of the path
            rc, out, err = await self.ep.cli(f"positions accept {own.symbol}", "positions", "accept", own.symbol)
            self.ep.log(f"trader: orchestrator positions accept {own.symbol}: {rc} {out.strip()}")
            if rc != 0:
                self.ep.violate("orchestrator_healthy", None, f"positions accept {own.symbol} exited {rc}: {err}")
        self.ep.explained_since[own.symbol] = time.time()

    # ------------------------------------------------------------------ issue 13: the trader acts on a plan's position
    async def global_cancel_and_close(self) -> bool | None:
        c = await self.pick()
        if c is None:
            return None
        await (await self.ep.trader_session())("global_cancel")
        await self.think()
        share = await self.share(c)
        sold = await self.trade(c.symbol, c.exit_action, share, CLOSE_REF) if share > 0 else 0
        await self.ep.checkpoint("actor.global_cancel_and_close")
        await self.settle(c, "actor.global_cancel_and_close")
        return sold > 0

    async def cancel_our_stop(self) -> bool | None:
        c = await self.pick(with_stop=True)
        if c is None:
            return None
        assert c.stop is not None and self.ep.gw is not None
        clicked = await self.ep.gw.click("cancel", order_ref=c.stop["order_ref"])
        self.ep.log(f"trader cancels {c.stop['order_ref']} in TWS: {clicked}")
        if self.rng.random() < 0.5:   # ... and puts a stop of their own in its place
            await self.think()
            price = (c.stop.get("aux_price") or 0) - c.sign * 0.05
            share = await self.share(c)
            if share > 0 and price > 0:
                await self.place_stop(c, share, price, CLOSE_REF)
        await self.ep.checkpoint("actor.cancel_our_stop")
        return bool(clicked.get("cancelled"))

    async def partial_sell(self) -> bool | None:
        c = await self.pick(min_share=2)
        if c is None:
            return None
        sold = await self.trade(c.symbol, c.exit_action, self.rng.randint(1, c.share - 1), CLOSE_REF)
        await self.ep.checkpoint("actor.partial_sell")
        await self.settle(c, "actor.partial_sell")
        return sold > 0

    async def manual_stop_with_our_ref(self) -> bool | None:
        c = await self.pick(with_stop=True)
        if c is None:
            return None
        assert c.stop is not None
        qty = max(1, int(round(c.stop["remaining"])))
        placed = await self.place_stop(c, qty, float(c.stop.get("aux_price") or 0), c.stop["order_ref"])
        await self.ep.checkpoint("actor.manual_stop_with_our_ref")
        await self.settle(c, "actor.manual_stop_with_our_ref")
        return placed
