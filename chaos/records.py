"""The invariants on the orchestrator's own records, from state.db (read-only) and, for the fills,
IB's executions: each plan's journal replays through the machine, every execution applied once,
every transition notified, every plan ended; the files are owner-only and hold no secret."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

import machines
from machines import Leg, Plan, PlanMachine
from orchestrator.contractinfo import ContractDetails, price_rule
from orchestrator.engine.step import quiet_figures
from orchestrator.store.codec import event_from_json
from orchestrator.store.plans import plan_from_row, spec_from_row

from .invariants import Broker, Db, Violation, dec, leg_of

# Every figure of the plan row must be what its journal replays to, except the quiet ones a step
# may change without a journal row (the best price of a price tick, unless the plan trails; the
# time of a status echo): ``orchestrator.engine.step.quiet_figures``.


def contract_details(db_path: Path) -> dict[str, ContractDetails]:
    """IB's contract details as the engine cached them in state.db (read-only), by contract key."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return {k: ContractDetails.from_json(d) for k, d in conn.execute("SELECT key, details FROM contracts")}
    finally:
        conn.close()


def journal_replays(db: Db, details: Mapping[str, ContractDetails] | None = None) -> list[Violation]:
    """Replay every plan's journal through a fresh machine; states and figures must agree (the
    quiet figures apart). ``outside_qty`` (shares that left outside the orchestrator) is a
    journaled figure like the others: a step that changes it is a transition of its own. The
    machine rounds prices onto the contract's market rule, which the engine gives it from IB's
    details (cached in state.db: ``details``) and not through the journal; the replay does the same."""
    out = []
    machine = PlanMachine()
    for plan_id, row in db.plans.items():
        rows = db.journal.get(plan_id, [])
        if not rows or rows[0]["seq"] != 0 or rows[0]["to_state"] != "pending":
            out.append(Violation("journal_replays", plan_id, "journal does not start with the loaded plan"))
            continue
        plan = Plan(spec_from_row(row))
        machine.bind(plan)
        plan.price_rule = price_rule((details or {}).get(plan.key), plan.spec.symbol, plan.spec.instrument)
        try:
            for expected_seq, r in enumerate(rows):
                if r["seq"] != expected_seq:
                    out.append(Violation("journal_replays", plan_id, f"journal seq {r['seq']} where {expected_seq} "
                                         "was expected (a transition is missing)"))
                    break
                if expected_seq == 0:
                    continue
                if r["from_state"] != plan.state:
                    out.append(Violation("journal_replays", plan_id, f"seq {r['seq']}: from {r['from_state']} but "
                                         f"the replay is in {plan.state}"))
                    break
                try:
                    machine.step(plan, event_from_json(r["event"], r["payload"]))
                except machines.InvalidEvent as exc:
                    out.append(Violation("journal_replays", plan_id, f"seq {r['seq']}: illegal: {exc}"))
                    break
                if plan.state != r["to_state"]:
                    out.append(Violation("journal_replays", plan_id, f"seq {r['seq']} {r['event']}: journal says "
                                         f"{r['to_state']}, the replay {plan.state}"))
                    break
            else:
                if row["version"] != rows[-1]["seq"]:
                    out.append(Violation("journal_replays", plan_id,
                                         f"plan version {row['version']} != last journal seq {rows[-1]['seq']}"))
                if plan.state != row["state"]:
                    out.append(Violation("journal_replays", plan_id,
                                         f"replay ends in {plan.state}, the plan row says {row['state']}"))
                stored_plan = plan_from_row(row)
                quiet = quiet_figures(stored_plan)
                for name in (name for name in machines.FIGURES if name not in quiet):
                    stored, replayed = getattr(stored_plan, name), getattr(plan, name)
                    if stored != replayed:
                        out.append(Violation("journal_replays", plan_id,
                                             f"{name}: stored {stored}, replayed {replayed}"))
        finally:
            machine.release(plan)
    return out


REVERSED = "the position at IB is reversed"
TRADERS_WITH_OUR_REF = "the trader's executions with a plan's orderRef"   # the known-issue classifier reads this


def reversal_claims(db: Db, broker: Broker, symbol_of: dict[str, str]) -> list[Violation]:
    """A plan left in error saying IB's position is reversed sends a human to flatten it: IB must
    show it — the plan's share (IB's position less the trader's own shares) past zero."""
    out = []
    hand = broker.hand
    for plan_id, row in db.plans.items():
        if row["state"] != "error" or REVERSED not in (row["reason"] or ""):
            continue
        symbol = symbol_of.get(plan_id, row["symbol"])
        share = hand.plan_share(symbol, broker.position(symbol))
        if share * (1 if row["side"] == "long" else -1) >= 0:
            out.append(Violation("final_matches_broker", plan_id, f"in error saying '{REVERSED}', but IB holds "
                                 f"{share} {symbol} for it ({TRADERS_WITH_OUR_REF}: {hand.other.get(symbol, 0)})"))
    return out


def left_to_the_trader(db: Db) -> set[str]:
    """Plans in error that stepped back for the trader's exit orders (TraderExits): their own exits
    cancelled, the position is a human's from then on."""
    return {p for p, r in db.plans.items()
            if r["state"] == "error" and any(j["event"] == "TraderExits" for j in db.journal.get(p, []))}


def fills_exactly_once(db: Db, broker: Broker) -> list[Violation]:
    out = []
    for plan_id, row in db.plans.items():
        ex = {e["exec_id"]: e for e in broker.executions.get(plan_id, [])}
        fills = db.fills.get(plan_id, [])
        seen = [f["exec_id"] for f in fills]
        dupes = {x for x in seen if seen.count(x) > 1}
        missing = sorted(set(ex) - set(seen))
        extra = sorted(set(seen) - set(ex))
        for what, ids in (("applied twice", dupes), ("never applied", missing), ("not an execution of IB's", extra)):
            if ids:
                out.append(Violation("fills_exactly_once", plan_id, f"{what}: {sorted(ids)}"))
        for f in fills:
            e = ex.get(f["exec_id"])
            if e is None:
                continue
            if int(f["quantity"]) != int(round(e["shares"])) or dec(f["price"]) != dec(e["price"]):
                out.append(Violation("fills_exactly_once", plan_id, f"{f['exec_id']}: applied {f['quantity']} @ "
                                     f"{f['price']}, IB executed {e['shares']} @ {e['price']}"))
            leg = leg_of(e["order_ref"])
            if leg is not None and f["leg"] != leg.value:
                out.append(Violation("fills_exactly_once", plan_id, f"{f['exec_id']}: applied as {f['leg']}, "
                                     f"IB's order is {leg.value}"))
        # realized P&L (in base currency: × multiplier × the sizing's rate): the machine's average-cost
        # rule over the fills in the order applied ...
        sign = (1 if row["side"] == "long" else -1) * Decimal(row["multiplier"] or 1) * Decimal(row["fx_rate"] or 1)
        filled = held = 0
        every = cost = Decimal(0)   # the average of every entry fill; the average cost of the shares held
        pnl = Decimal(0)
        for f in fills:
            qty, price = int(f["quantity"]), Decimal(f["price"])
            if f["leg"] == "entry":
                every = (every * filled + price * qty) / (filled + qty)
                cost = (cost * held + price * qty) / (held + qty) if held > 0 else price
                filled, held = filled + qty, held + qty
            else:
                basis = cost if held > 0 else every if filled else Decimal(row["entry_price"])
                pnl += (price - basis) * qty * sign
                held -= qty
        if abs(dec(row["realized_pnl"]) - pnl) > Decimal("0.000001"):
            out.append(Violation("fills_exactly_once", plan_id,
                                 f"realized P&L {row['realized_pnl']} != {pnl} from the fills applied"))
        # ... and, once flat, the broker's cash flow (independent of the order fills were applied in)
        if row["filled_qty"] and row["filled_qty"] == row["exited_qty"] and ex:
            flow = sum((dec(e["price"]) * int(round(e["shares"])) * (-1 if leg_of(e["order_ref"]) is Leg.ENTRY else 1)
                        for e in ex.values()), Decimal(0)) * sign
            if abs(flow - dec(row["realized_pnl"])) > Decimal("0.01"):
                out.append(Violation("fills_exactly_once", plan_id,
                                     f"realized P&L {row['realized_pnl']} != {flow} from IB's executions"))
    return out


def transitions_notified(db: Db, delivered: set[tuple[str, int]] | None) -> list[Violation]:
    out = []
    rows = {(r["plan_id"], r["seq"]) for r in db.outbox}
    for plan_id, journal in db.journal.items():
        for r in journal:
            if r["seq"] == 0 or r["from_state"] == r["to_state"]:
                continue
            if (plan_id, r["seq"]) not in rows:
                out.append(Violation("transitions_notified", plan_id,
                                     f"seq {r['seq']} {r['from_state']} -> {r['to_state']} has no outbox row"))
    for r in db.outbox:
        if r["dead_at"] is not None:
            out.append(Violation("transitions_notified", r["plan_id"], f"outbox #{r['id']} {r['kind']} dead-lettered: "
                                 f"{r['last_error']}"))
        elif r["sent_at"] is None:
            out.append(Violation("transitions_notified", r["plan_id"], f"outbox #{r['id']} {r['kind']} never sent"))
        elif delivered is not None and r["plan_id"] and r["seq"] and (r["plan_id"], r["seq"]) not in delivered:
            out.append(Violation("transitions_notified", r["plan_id"],
                                 f"outbox #{r['id']} (step {r['seq']}) marked sent but Discord never got it"))
    return out


def plans_finish(db: Db, touched: Iterable[str] = ()) -> list[Violation]:
    """Every plan ended; a plan the trader traded or placed orders on by hand (``touched``) may
    also be left in ``error`` for a human (what it did to IB is judged by the other invariants)."""
    touched = set(touched)
    out = [Violation("plans_finish", pid, f"still {r['state']} ({r['reason'] or 'no reason'})")
           for pid, r in db.plans.items() if r["state"] not in ("closed", "cancelled", "rejected")
           and not (r["state"] == "error" and pid in touched)]
    out += [Violation("plans_finish", r["plan_id"], f"effect #{r['id']} {r['kind']} never carried out")
            for r in db.pending_effects]
    return out


def owner_only(paths: Iterable[Path]) -> list[Violation]:
    out = []
    for p in paths:
        if p.exists() and p.stat().st_mode & 0o077:
            out.append(Violation("owner_only_files", None, f"{p.name} is {oct(p.stat().st_mode & 0o777)}"))
    return out


def no_secret(secret: str, files: Iterable[Path], texts: dict[str, str]) -> list[Violation]:
    out = []
    needle = secret.encode()
    for p in files:
        if p.is_file() and needle in p.read_bytes():
            out.append(Violation("no_secret_in_output", None, f"the webhook token is in {p.name}"))
    for name, text in texts.items():
        if secret in text:
            out.append(Violation("no_secret_in_output", None, f"the webhook token is in the output of {name}"))
    return out
