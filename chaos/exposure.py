"""Invariants on what IB holds and has working for each plan, over time, across all clients: the
gateway's journal (every order event of every client, in order, timestamped) replayed.

- ``one_stop_one_target``: at most one working stop and one working target per plan. Two of the
  orchestrator's own (any client id but the trader's 0) are a violation at once; a duplicate the
  trader made (a clientId-0 order carrying the plan's orderRef) must be resolved within the grace.
- ``exits_within_position``: the exit quantity that can fill now (Submitted stops, targets and
  flattens with the plan's orderRef, any client; orders of one client's OCA group count once, by
  the largest) never exceeds what IB holds for the plan (IB's position minus the trader's own
  shares, ``chaos/hand.py``) for longer than the grace. When the trader's own shares are on the
  plan's side, real IB does not say whose they are (only this judge reads the ``TWS-own`` tag):
  there the bound is the money one — what IB holds in the symbol less what the other plans'
  exits there cover, and never more than the plan's own executions leave it — so exits that
  cannot reverse IB's position pass (chaos R1201-E7-P4: cut to IB's 200 with 42 of them the
  trader's) and an over-exit still fails.
- ``never_reversed_by_us``: no execution of an orchestrator's exit order takes the plan's share of
  IB's position past zero (a long plan's share negative, a short one's positive) — counted from
  the grace after the trader last traded the plan's shares by hand (a sale, a duplicate's fill):
  an exit already working when the trader sold under it cannot have been shrunk in time.
- ``market_entry_risk``: a market entry's actual risk (average fill vs the plan's stop) stays
  within the plan's risk budget × (1 + tolerance).

The grace is one reconciliation interval (5 s) plus 3 s, counted only while an orchestrator was
up and connected (``down`` intervals — killed, restarting, suspended — do not count).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from machines import Leg, parse_order_ref

from .hand import CLOSE_REF, OWN_REF, TRADER_CLIENT, Hand, signed
from .invariants import WORKING, Db, Violation, leg_of

RECONCILE_SECONDS = 5.0
GRACE = RECONCILE_SECONDS + 3.0
EXIT_LEGS = (Leg.STOP, Leg.TARGET, Leg.FLATTEN)
BY_HAND = "traded by hand of the plan's"
DUPLICATED = "the trader placed an order with the plan's orderRef before"   # the known-issue classifier reads these


def epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def up_time(start: float, end: float, down: Iterable[tuple[float, float | None]]) -> float:
    """Seconds of [start, end] not covered by the ``down`` intervals (an open one runs to ``end``)."""
    covered = 0.0
    for a, b in down:
        lo, hi = max(a, start), min(end if b is None else b, end)
        covered += max(0.0, hi - lo)
    return max(0.0, end - start - covered)


@dataclass
class _Spell:
    start: float
    start_ts: str
    detail: str


class Replay:
    """The journal replayed: each order's latest state, IB's positions, the trader's own shares."""

    def __init__(self, plans: dict[str, tuple[str, int]], down: list[tuple[float, float | None]],
                 grace: float = GRACE) -> None:
        self.plans = plans                      # plan id -> (symbol, +1 long / -1 short)
        self.by_symbol: dict[str, list[str]] = defaultdict(list)
        for plan_id, (symbol, _sign) in plans.items():
            self.by_symbol[symbol].append(plan_id)
        self.down, self.grace = down, grace
        self.orders: dict[str, dict[Any, dict[str, Any]]] = defaultdict(dict)   # plan -> perm id -> latest
        self.pos: dict[str, int] = defaultdict(int)
        self.own: dict[str, int] = defaultdict(int)
        self.close: dict[str, int] = defaultdict(int)     # the plan's shares the trader traded by hand
        self.net: dict[str, int] = defaultdict(int)       # plan -> its own executions, signed as the plan
        self.last_hand: dict[str, float] = {}             # symbol -> when the trader last traded a plan's shares
        self.spells: dict[tuple[str, str, str], _Spell] = {}   # (invariant, plan, what) -> since when
        self.found: dict[tuple[str, str], Violation] = {}
        self.excused: set[str] = set()    # plans reversed by an exit of ours within the grace of a trade by hand
        self.duplicated: set[str] = set()  # plans the trader placed an order with the plan's orderRef for

    # ------------------------------------------------------------------ replay
    def run(self, journal: Iterable[dict[str, Any]], now: float) -> list[Violation]:
        for e in journal:
            self.step(e)
        self.check_open(now)
        return list(self.found.values())

    def check_open(self, now: float) -> None:
        """Judge the conditions still going on at ``now`` (they stay open: the journal goes on)."""
        for (invariant, plan, _what), spell in list(self.spells.items()):
            self._judge(invariant, plan, spell, now, f"still at {datetime.fromtimestamp(now, UTC).isoformat()}")

    def step(self, e: dict[str, Any]) -> None:
        ref = parse_order_ref(e.get("order_ref") or "")
        perm = e.get("perm_id")
        if perm and e.get("status") and ref is not None:
            self.orders[ref[0]][perm] = e
            if e.get("client_id") == TRADER_CLIENT:
                self.duplicated.add(ref[0])
        symbol = e.get("symbol")
        if e["event"] == "filled" and symbol:
            self.pos[symbol] += signed(e)
            if e.get("client_id") == TRADER_CLIENT and e.get("order_ref") == OWN_REF:
                self.own[symbol] += signed(e)
            if e.get("client_id") == TRADER_CLIENT and e.get("order_ref") == CLOSE_REF:
                self.close[symbol] += signed(e)
            if e.get("client_id") == TRADER_CLIENT and e.get("order_ref") != OWN_REF:   # a sale, a duplicate
                self.last_hand[symbol] = epoch(e["ts"])
            if ref is not None and ref[0] in self.plans:
                self.net[ref[0]] += self.plans[ref[0]][1] * signed(e)
            if ref is not None and ref[1] in EXIT_LEGS and e.get("client_id") != TRADER_CLIENT:
                self._reversal(ref[0], e)
        affected = set(self.by_symbol.get(symbol or "", ()))
        if ref is not None and ref[0] in self.plans:
            affected.add(ref[0])
        for plan in affected:
            self._look(plan, e)

    # ------------------------------------------------------------------ checks
    def _share(self, plan: str) -> int:
        symbol, sign = self.plans[plan]
        return sign * (self.pos[symbol] - self.own[symbol])

    def _bound(self, plan: str) -> int:
        """What the plan's exits may cover: its share of IB's position — unless the trader's own
        shares are on the plan's side, which no orchestrator can tell from the plan's: then what IB
        holds in the symbol less the other plans' exits there, capped by the plan's own executions."""
        symbol, sign = self.plans[plan]
        if sign * self.own[symbol] <= 0:
            return max(0, self._share(plan))
        others = sum(exit_quantity(self.orders[p].values(), sign) for p in self.by_symbol[symbol]
                     if p != plan and self.plans[p][1] == sign)
        return max(0, min(self.net[plan], sign * self.pos[symbol] - others))

    def _reversal(self, plan: str, e: dict[str, Any]) -> None:
        """An exit of ours reversed the plan's share — unless the trader traded the plan's shares
        under it less than the grace before (no orchestrator can have shrunk its exits by then)."""
        if plan not in self.plans or self._share(plan) >= 0:
            return
        symbol, _ = self.plans[plan]
        hand = self.last_hand.get(symbol)
        if hand is not None and up_time(hand, epoch(e["ts"]), self.down) <= self.grace:
            self.excused.add(plan)
            return
        self._found("never_reversed_by_us", plan, (
            f"execution {e.get('exec_id')} of {e.get('order_ref')} (client {e.get('client_id')}, {e.get('fill_qty')} "
            f"at {e.get('ts')}) took IB's position in {symbol} to {self.pos[symbol]} ({self.by_hand(symbol)}): the "
            "plan's share is reversed"))

    def by_hand(self, symbol: str) -> str:
        """What the trader did in ``symbol`` (the known-issue classifier reads this wording)."""
        return f"the trader's own {self.own[symbol]}, {BY_HAND} {self.close[symbol]}"

    def _look(self, plan: str, e: dict[str, Any]) -> None:
        symbol, sign = self.plans[plan]
        mine = list(self.orders[plan].values())
        for leg in (Leg.STOP, Leg.TARGET):
            working = [o for o in mine if leg_of(o.get("order_ref")) is leg and o["status"] in WORKING]
            ours = [o for o in working if o.get("client_id") != TRADER_CLIENT]
            if len(ours) > 1:
                self._found("one_stop_one_target", plan, f"{len(ours)} {leg.value} orders of the orchestrator working "
                            f"at once at {e['ts']}: " + ", ".join(_describe(o) for o in ours))
            self._spell("one_stop_one_target", plan, leg.value, len(working) > 1, e, lambda w=working, lg=leg: (
                f"{len(w)} {lg.value} orders working across clients: " + ", ".join(_describe(o) for o in w)))
        # the trader's copies (client 0, the plan's orderRef) count while the plan holds shares: once
        # its own executions leave it none, a copy left working is the trader's alone (IB lets only
        # client 0 change it; the engine leaves it and logs it)
        counted = [o for o in mine if o.get("client_id") != TRADER_CLIENT or self.net[plan] != 0]
        exposure, held = exit_quantity(counted, sign), self._bound(plan)
        # ... but only while an exit of ours adds to them: once the orchestrator has none working, what is
        # left over the position is the trader's copy alone, which no API client but theirs can change
        ours = exit_quantity((o for o in mine if o.get("client_id") != TRADER_CLIENT), sign)
        self._spell("exits_within_position", plan, "", exposure > held and ours > 0, e, lambda: (
            f"exit orders for {exposure} working while IB holds {held} for the plan ({symbol}: position "
            f"{self.pos[symbol]}, {self.by_hand(symbol)}): "
            + ", ".join(_describe(o) for o in mine
                        if o["status"] == "Submitted" and leg_of(o.get("order_ref")) in EXIT_LEGS)))

    def _spell(self, invariant: str, plan: str, what: str, bad: bool, e: dict[str, Any], detail: Any) -> None:
        key = (invariant, plan, what)
        spell = self.spells.get(key)
        t = epoch(e["ts"])
        if bad and spell is None:
            self.spells[key] = _Spell(t, e["ts"], detail())
        elif not bad and spell is not None:
            del self.spells[key]
            self._judge(invariant, plan, spell, t, f"until {e['ts']}")

    def _judge(self, invariant: str, plan: str, spell: _Spell, end: float, until: str) -> None:
        up = up_time(spell.start, end, self.down)
        if up > self.grace:
            self._found(invariant, plan, f"{spell.detail} — from {spell.start_ts} {until} ({up:.1f} s while an "
                        f"orchestrator was up; grace {self.grace:.0f} s)")

    def _found(self, invariant: str, plan: str, detail: str) -> None:
        self.found.setdefault((invariant, plan), Violation(invariant, plan, detail))


def exit_quantity(orders: Iterable[dict[str, Any]], sign: int) -> int:
    """What a plan's exit orders (its orderRef, any client) can sell (long) or buy (short) now:
    Submitted stops, targets and flattens; one client's OCA group counts once, by its largest."""
    exit_action = "SELL" if sign > 0 else "BUY"
    groups: dict[Any, int] = defaultdict(int)
    for o in orders:
        if leg_of(o.get("order_ref")) in EXIT_LEGS and o["status"] == "Submitted" and o.get("action") == exit_action:
            key = (o.get("client_id"), o["oca_group"]) if o.get("oca_group") else ("order", o.get("perm_id"))
            groups[key] = max(groups[key], _remaining(o))
    return sum(groups.values())


def exposure_now(state: dict[str, Any], plan: str, symbol: str, sign: int) -> tuple[int, int]:
    """(exit quantity working, what IB holds for the plan) in the gateway's state now."""
    mine = [o for o in state["orders"] if (r := parse_order_ref(o.get("order_ref") or "")) and r[0] == plan]
    pos = sum(int(round(p["quantity"])) for p in state["positions"] if p["symbol"] == symbol)
    return exit_quantity(mine, sign), max(0, sign * Hand.from_executions(state["executions"]).plan_share(symbol, pos))


def _remaining(o: dict[str, Any]) -> int:
    return max(0, int(round((o.get("quantity") or 0) - (o.get("filled") or 0))))


def _describe(o: dict[str, Any]) -> str:
    return (f"{o.get('order_ref')} {o.get('action')} {o.get('order_type')} {_remaining(o)} {o['status']} "
            f"(client {o.get('client_id')}, perm {o.get('perm_id')})")


def timeline(journal: Iterable[dict[str, Any]], plans: dict[str, tuple[str, int]],
             down: list[tuple[float, float | None]], now: float, grace: float = GRACE) -> list[Violation]:
    """one_stop_one_target, exits_within_position and never_reversed_by_us over the journal so far."""
    return Replay(plans, down, grace).run(journal, now)


# --------------------------------------------------------------------------- market entries

def market_entry_risk(db: Db, executions: Iterable[dict[str, Any]], tolerance: float, account_value: Decimal,
                      risk_pct: dict[str, Decimal]) -> list[Violation]:
    """Every filled market entry: |average fill − stop| × shares × multiplier × FX ≤ budget × (1 +
    tolerance), the stop the one sized and sent (on the contract's tick: the sizing's ``stop_price``,
    else the plan's ``stop_loss``), the budget being the plan's risk category in percent of the
    account value (in the
    base currency) it was sized against (its last sizing's ``Activate``; ``account_value`` for a
    plan without one), the multiplier and rate the plan's row says it was sized with (1 for a US
    stock). The engine sends a market entry as a limit at exactly that bound (``machines.entrycap``)."""
    fills: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in executions:
        ref = parse_order_ref(e.get("order_ref") or "")
        if ref is not None and ref[1] is Leg.ENTRY:
            fills[ref[0]].append(e)
    out = []
    for plan_id, row in db.plans.items():
        got = fills.get(plan_id, [])
        shares = sum(int(round(e["shares"])) for e in got)
        if row["entry_type"] != "market" or not shares:
            continue
        avg = sum((Decimal(repr(e["price"])) * int(round(e["shares"])) for e in got), Decimal(0)) / shares
        scale = Decimal(row["multiplier"] or 1) * Decimal(row["fx_rate"] or 1)
        stop = Decimal(last_sizing(db, plan_id).get("stop_price") or row["stop_loss"])   # on its tick, as sent
        actual = abs(avg - stop) * shares * scale
        budget = sized_account_value(db, plan_id, account_value) * risk_pct[row["risk"]] / 100
        if actual > budget * (1 + Decimal(repr(tolerance))):
            out.append(Violation("market_entry_risk", plan_id, (
                f"{shares} filled at {avg:.2f} with the stop at {stop}: actual risk {actual:.2f} > budget "
                f"{budget:.2f} × (1 + {tolerance})")))
    return out


def last_sizing(db: Db, plan_id: str) -> dict[str, Any]:
    """The payload of the plan's last sizing (``Activate`` to ``sized``); {} for none."""
    sized = [r for r in db.journal.get(plan_id, []) if r["event"] == "Activate" and r["to_state"] == "sized"]
    return dict(json.loads(sized[-1]["payload"])) if sized else {}


def sized_account_value(db: Db, plan_id: str, default: Decimal) -> Decimal:
    """The account value the plan's last sizing used (NetLiquidation then, as the engine read it)."""
    value = last_sizing(db, plan_id).get("account_value")
    return default if value is None else Decimal(value)
