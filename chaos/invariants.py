"""The invariants a chaos run checks, from broker truth and from state.db only.

Broker truth: the gateway's control port (``state``: orders, positions, executions; ``journal``:
every order event, refusal and pacing). ``state.db`` is read-only: judged by what it left behind.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from machines import Leg, parse_order_ref

from .catalogue import INVARIANTS as INVARIANTS  # re-exported: the summary's order
from .hand import CLOSE_REF, TRADER_CLIENT, Hand

WORKING = ("PreSubmitted", "Submitted")


def unsent_notifications(db_path: Path, *, dead_too: bool = False) -> int:
    """Outbox rows not delivered yet (dead-lettered ones only with ``dead_too``), read from
    another process's state.db without writing to it."""
    where = "sent_at IS NULL" if dead_too else "sent_at IS NULL AND dead_at IS NULL"
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        (n,) = conn.execute(f"SELECT count(*) FROM outbox WHERE {where}").fetchone()
    finally:
        conn.close()
    return int(n)


@dataclass(frozen=True)
class Violation:
    invariant: str
    plan: str | None
    detail: str
    known: str | None = None   # the id of a known, reported, not yet fixed issue it is an instance of

    def line(self) -> str:
        tag = f" [known: {self.known}]" if self.known else ""
        return f"{self.invariant}: {self.plan or '-'}: {self.detail}{tag}"


@dataclass
class Db:
    """state.db read once, read-only (it is never created or changed here)."""

    plans: dict[str, sqlite3.Row]
    journal: dict[str, list[sqlite3.Row]]
    fills: dict[str, list[sqlite3.Row]]
    outbox: list[sqlite3.Row]
    pending_effects: list[sqlite3.Row]

    @classmethod
    def read(cls, path: Path) -> Db:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            plans = {r["id"]: r for r in conn.execute("SELECT * FROM plans")}
            journal: dict[str, list[sqlite3.Row]] = defaultdict(list)
            for r in conn.execute("SELECT * FROM journal ORDER BY plan_id, seq"):
                journal[r["plan_id"]].append(r)
            fills: dict[str, list[sqlite3.Row]] = defaultdict(list)
            for r in conn.execute("SELECT rowid AS applied, * FROM fills ORDER BY rowid"):
                fills[r["plan_id"]].append(r)
            outbox = list(conn.execute("SELECT * FROM outbox ORDER BY id"))
            pending = list(conn.execute("SELECT * FROM effects WHERE done_at IS NULL"))
        finally:
            conn.close()
        return cls(plans, dict(journal), dict(fills), outbox, pending)


@dataclass
class Broker:
    """The gateway's state and journal, with our orders and executions grouped by plan."""

    state: dict[str, Any]
    journal: list[dict[str, Any]]
    executions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    orders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ex: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in self.state["executions"]:
            ref = parse_order_ref(e.get("order_ref") or "")
            if ref is not None:
                ex[ref[0]].append(e)
        orders: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for o in self.state["orders"]:
            ref = parse_order_ref(o.get("order_ref") or "")
            if ref is not None:
                orders[ref[0]].append(o)
        self.executions, self.orders = dict(ex), dict(orders)

    def position(self, symbol: str) -> int:
        return sum(int(round(p["quantity"])) for p in self.state["positions"] if p["symbol"] == symbol)

    @property
    def hand(self) -> Hand:
        return Hand.from_executions(self.state["executions"])


def leg_of(ref: str | None) -> Leg | None:
    parsed = parse_order_ref(ref or "")
    return parsed[1] if parsed else None


def dec(v: Any) -> Decimal:
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v))


# --------------------------------------------------------------------------- broker-side checks

LOST_ENTRY = "the entry was sent but IB shows no trace of it"
LOST_CANCELLED = "cancelled before the entry reached IB"


def _escalated_lost_entry(db: Db, plan_id: str) -> bool:
    """The plan went to ``error`` because IB never saw its entry (the gateway dropped the
    connection before it read the bracket, as IB can lose the last orders before a reset; or a kill
    after its intents were written, which is never sent twice: ``EntryUnseen``) — or
    to ``cancelled``, when a cancel or its expiry had been asked for meanwhile."""
    return any((r["to_state"] == "error" and (r["event"] == "EntryUnseen" or LOST_ENTRY in str(r["payload"] or "")))
               or (r["to_state"] == "cancelled" and LOST_CANCELLED in str(r["payload"] or ""))
               for r in db.journal.get(plan_id, []))


def one_entry_per_plan(db: Db, broker: Broker) -> list[Violation]:
    """Every order the orchestrator created for a plan's entry: distinct permIds (and refused ids).
    An order reached the market if IB ever had it working, filled it or rejected it. One that only
    ever sat untransmitted (``Held``, e.g. after a crash between the placeOrders of a bracket) did
    not; it is harmless once cancelled, but one still held at the end is an order left at the broker."""
    attempts: dict[str, set[Any]] = defaultdict(set)
    transmitted: dict[str, set[Any]] = defaultdict(set)
    last: dict[Any, str] = {}
    for e in broker.journal:
        ref = parse_order_ref(e.get("order_ref") or "")
        if ref is None or ref[1] is not Leg.ENTRY:
            continue
        key = e.get("perm_id") or ("ghost", e.get("client_id"), e.get("order_id"))
        if e["event"] in ("placed", "transmitted", "rejected"):
            attempts[ref[0]].add(key)
        if e.get("status") in ("PreSubmitted", "Submitted", "Filled") or e["event"] in ("rejected", "filled"):
            transmitted[ref[0]].add(key)
        if e.get("status"):
            last[key] = f"{e['status']}" + (f" ({e['reason']})" if e.get("reason") else "")
    out = []
    for plan_id, row in db.plans.items():
        sized = False   # sized, and not sent back to pending unsent (SizedAgain) since
        for r in db.journal.get(plan_id, []):
            sized = r["to_state"] == "sized" or (sized and r["event"] != "SizedAgain")
        want = 1 if sized else 0
        n, sent = len(attempts.get(plan_id, ())), len(transmitted.get(plan_id, ()))
        held = sorted(last.get(k, "?") for k in attempts.get(plan_id, set()) - transmitted.get(plan_id, set()))
        if sent == 0 and n == 0 and _escalated_lost_entry(db, plan_id):
            want = 0  # the bracket was lost with the connection; the plan told a human, nothing was re-sent
        if sent != want:
            out.append(Violation("one_entry_per_plan", plan_id,
                                 f"{sent} entry orders reached the market (want {want}); state {row['state']}"))
        elif any(not h.startswith("Cancelled") for h in held):
            out.append(Violation("one_entry_per_plan", plan_id,
                                 f"{n} entry orders created; never transmitted and left at the broker: {held}"))
    return out


def never_two_stops(broker: Broker) -> list[Violation]:
    """The orchestrator's own stops (every client id but the trader's); a duplicate the trader
    places with the plan's orderRef is one_stop_one_target's business."""
    status: dict[Any, tuple[str, str]] = {}   # perm id -> (plan, status)
    worst: dict[str, tuple[int, str]] = {}
    for i, e in enumerate(broker.journal):
        ref = parse_order_ref(e.get("order_ref") or "")
        perm = e.get("perm_id")
        if (ref is None or not perm or ref[1] is not Leg.STOP or not e.get("status")
                or e.get("client_id") == TRADER_CLIENT):
            continue
        status[perm] = (ref[0], e["status"])
        working = sum(1 for p, s in status.values() if p == ref[0] and s in WORKING)
        if working > 1 and working > worst.get(ref[0], (0, ""))[0]:
            worst[ref[0]] = (working, f"journal line {i + 1} ({e['event']} {e.get('order_ref')} at {e.get('ts')})")
    return [Violation("never_two_stops", p, f"{n} stops working at once, first at {where}")
            for p, (n, where) in sorted(worst.items())]


def coverage_gaps(state: dict[str, Any], plan_of_symbol: dict[str, str], hand: Hand | None = None,
                  sides: dict[str, int] | None = None) -> dict[str, tuple[int, str]]:
    """Open positions without a working stop for their full quantity: {plan (or symbol): (position, what)}.

    The trader's own shares need no stop of ours; what is left is the plan's. A stop of the
    trader's on the plan's shares (``TWS-close``, or the plan's orderRef) covers too, and so does
    our market flatten for them (it exits where a triggered stop would; the stop goes first).
    Where the trader is in the symbol (a trade by hand, a stop of theirs) only too little cover
    is a gap — too much is exits_within_position's, with its grace — and a share the trader's
    hand trades reversed is theirs. Elsewhere the orchestrator's stops must match exactly."""
    hand = hand or Hand()
    gaps: dict[str, tuple[int, str]] = {}
    for pos in state["positions"]:
        sym = pos["symbol"]
        qty = hand.plan_share(sym, int(round(pos["quantity"])))
        if qty == 0:
            continue
        plan = plan_of_symbol.get(sym)
        if plan is None:
            gaps[sym] = (qty, f"{sym}: position {qty} belongs to no plan")
            continue
        if hand.traded(sym) and sides is not None and qty * sides.get(plan, 1) < 0:
            continue
        exit_action = "SELL" if qty > 0 else "BUY"
        ours = theirs = flattening = 0
        for o in state["orders"]:
            ref = parse_order_ref(o.get("order_ref") or "")
            mine = ref is not None and ref[0] == plan
            if (mine and ref is not None and ref[1] is Leg.FLATTEN and o["status"] == "PreSubmitted"
                    and o["order_type"] == "MKT" and o["action"] == exit_action and o["symbol"] == sym
                    and o.get("client_id") != TRADER_CLIENT):
                ours += int(round(o["remaining"]))   # held for the open
                continue
            if o["status"] != "Submitted" or o["action"] != exit_action or o["symbol"] != sym:
                continue
            if o.get("client_id") == TRADER_CLIENT:   # a stop of the trader's on the plan's shares
                if (mine or o.get("order_ref") == CLOSE_REF) and o.get("order_type") in ("STP", "TRAIL"):
                    theirs += int(round(o["remaining"]))
            elif ref is not None and mine and ref[1] is Leg.STOP:
                ours += int(round(o["remaining"]))
            elif ref is not None and mine and ref[1] is Leg.FLATTEN and o.get("order_type") == "MKT":
                flattening += int(round(o["remaining"]))
        trader_in = hand.traded(sym) or theirs > 0
        cover = ours + flattening   # a market flatten working for the shares exits where a stop would
        if cover + theirs < abs(qty) or (cover != abs(qty) and not trader_in):
            gaps[plan] = (qty, f"position {qty}, working stop quantity {ours}" + (
                f" (and {theirs} of the trader's)" if theirs else "") + (
                f" (a flatten order for {flattening} is working)" if flattening else ""))
    return gaps


def final_matches_broker(db: Db, broker: Broker, symbol_of: dict[str, str]) -> list[Violation]:
    """The trader's hand trades count apart: IB's position = the plan's open quantity + the
    trader's own shares + what the trader traded of the plan's; an ended plan leaves nothing of
    its own at IB (position minus the trader's own shares; where the trader traded the plan's
    shares by hand, what is left is never_reversed_by_us's to judge, with its timing) and no
    working order of an orchestrator."""
    out = []
    hand = broker.hand
    for plan_id, row in db.plans.items():
        ex = broker.executions.get(plan_id, [])
        entry = sum(int(round(e["shares"])) for e in ex if leg_of(e["order_ref"]) is Leg.ENTRY)
        exits = sum(int(round(e["shares"])) for e in ex if leg_of(e["order_ref"]) not in (Leg.ENTRY, None))
        if (row["filled_qty"], row["exited_qty"]) != (entry, exits):
            out.append(Violation("final_matches_broker", plan_id,
                                 f"plan filled/exited {row['filled_qty']}/{row['exited_qty']}, "
                                 f"executions {entry}/{exits}"))
        sign = 1 if row["side"] == "long" else -1
        symbol = symbol_of.get(plan_id, row["symbol"])
        own, closed = hand.own.get(symbol, 0), hand.close.get(symbol, 0)
        pos = broker.position(symbol) - own
        if pos - closed != (row["filled_qty"] - row["exited_qty"]) * sign:
            by_hand = f" (besides the trader's own {own} and {closed} traded by hand)" if own or closed else ""
            out.append(Violation("final_matches_broker", plan_id,
                                 f"IB position {pos}{by_hand} != plan's open quantity "
                                 f"{row['filled_qty'] - row['exited_qty']} ({row['state']})"))
        if row["state"] in ("closed", "cancelled", "rejected"):
            mine = [o for o in broker.orders.get(plan_id, []) if o.get("client_id") != TRADER_CLIENT]
            working = [o for o in mine if o["status"] in WORKING + ("PendingCancel",)]
            held = [o for o in mine if o["status"] in ("Held", "PendingSubmit")]
            for what, left in (("working", working), ("untransmitted (held)", held)):
                if left:
                    out.append(Violation("final_matches_broker", plan_id, f"{row['state']} but IB still has {what}: "
                                         + ", ".join(f"{o['order_ref']} {o['order_type']} {o['status']}"
                                                     for o in left)))
            if pos != 0 and not (closed or hand.other.get(symbol)):   # else never_reversed_by_us judges it
                out.append(Violation("final_matches_broker", plan_id, f"{row['state']} but IB holds {pos}"
                                     + (f" besides the trader's own {own}" if own else "")
                                     + (f" (the trader's own {own}, traded by hand of the plan's {closed})"
                                        if closed else "")))
    return out
