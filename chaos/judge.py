"""The verdict on an episode, once every process has stopped: every invariant from broker truth
(the gateway's state and journal) and from state.db (read-only), the orchestrator's own output,
the read-side CLI, file modes and the webhook token."""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from orchestrator.config import RiskConfig

from . import invariants as inv
from . import known as known_issues
from . import records, sessionchecks
from .episode import Episode
from .exposure import market_entry_risk
from .hand import OWN_REF, TRADER_CLIENT
from .pacing import no_pacing_errors
from .procs import run_cli
from .scenario import ACCOUNT_VALUE, RISK_PCT
from .sessiontime import Hours
from .ticks import catalogue_rules, prices_on_tick

# ERROR lines the orchestrator may log under these faults without anything being wrong.
EXPECTED_ERRORS = (
    r"ERROR ib_async",                       # ib_async logs every IB error code (201, 202, 10147, ...) at ERROR
    #                                          (but 100: no_pacing_errors counts every pacing line, at any level)
    # a bracket written just before the gateway dropped the connection never reached it: the plan
    # goes to error for a human and nothing is re-sent (one_entry_per_plan checks exactly that)
    r"ERROR orchestrator\.engine\.reconcile: reconcile \(.*\): \S+ was sent but IB shows no trace of its entry",
)
TIMELINE = ("one_stop_one_target", "exits_within_position", "never_reversed_by_us")


def entry_tolerance(config: Path) -> float:
    """The engine's market-entry tolerance in R (``[risk] market_entry_tolerance_r``, else its
    default): a market entry is sized on the live price and refused beyond it, so its actual risk
    stays within the budget × (1 + tolerance) — a loose bound, slippage past the sized price only."""
    risk = tomllib.loads(config.read_text()).get("risk", {})
    return float(risk.get("market_entry_tolerance_r", RiskConfig().market_entry_tolerance_r))


async def judge(ep: Episode) -> None:
    assert ep.gw is not None
    ep.log("judging")
    state = await ep.gw.state()
    journal = await ep.gw.journal()
    broker = inv.Broker(state, journal)
    if not ep.db_path.exists():
        ep.violate("journal_replays", None, "no state.db was written")
        return
    await ep.observe()   # the rest of the journal, and the daemon's last word on holds
    db = inv.Db.read(ep.db_path)
    delivered = ep.discord.delivered()
    if any(not s.path_ok for s in ep.discord.seen):
        ep.violate("transitions_notified", None, "a notification went to the wrong webhook path")
    touched = touched_by_hand(ep, broker)
    checks: list[tuple[str, Callable[[], list[inv.Violation]]]] = [
        ("one_entry_per_plan", lambda: inv.one_entry_per_plan(db, broker)),
        ("never_two_stops", lambda: inv.never_two_stops(broker)),
        ("journal_replays", lambda: records.journal_replays(db, records.contract_details(ep.db_path))),
        ("final_matches_broker", lambda: inv.final_matches_broker(db, broker, ep.symbol_of)
         + records.reversal_claims(db, broker, ep.symbol_of)),
        ("fills_exactly_once", lambda: records.fills_exactly_once(db, broker)),
        ("transitions_notified", lambda: records.transitions_notified(db, delivered)),
        ("plans_finish", lambda: records.plans_finish(db, touched)),
        ("no_pacing_errors", lambda: no_pacing_errors(journal, ep.dir)),
        ("prices_on_tick", lambda: prices_on_tick(journal, catalogue_rules(ep.scenario.base, ep.scenario.sim_date))),
    ]
    if ep.timeline is not None:
        checks += await _session_checks(ep)
    tolerance = entry_tolerance(ep.config)
    checks.append(("market_entry_risk", lambda: market_entry_risk(
        db, state["executions"], tolerance, Decimal(ACCOUNT_VALUE), RISK_PCT)))
    for name, check in checks:
        ep.tally.checks[name] += 1
        ep.found(check())
    for name in (*TIMELINE, "holds_only_for_hand_positions"):   # judged all along (Episode.observe)
        ep.tally.checks[name] += 1
    for r in db.plans.values():
        ep.tally.plans[r["state"]] += 1
    ep.tally.notes["plans the trader traded by hand"] += len(touched)
    ep.tally.notes["... of them left in error for a human"] += sum(
        1 for p in touched if p in db.plans and db.plans[p]["state"] == "error")
    ep.tally.notes["reversed by an exit of ours within the grace of the trader's sale under it"] += len(
        ep.replay.excused)
    _healthy_output(ep)
    await _read_side(ep, db)
    ep.tally.checks["owner_only_files"] += 1
    files = [ep.db_path, Path(f"{ep.db_path}-wal"), Path(f"{ep.db_path}-shm"), ep.journal_path, *ep.dir.glob("*.log")]
    ep.found(records.owner_only(files))
    ep.tally.checks["no_secret_in_output"] += 1
    ep.found(records.no_secret(ep.discord.token, [p for p in ep.dir.rglob("*") if p.is_file()], ep.cli_outputs))
    ep.violations = known_issues.classify(ep.violations)


async def _session_checks(ep: Episode) -> list[tuple[str, Callable[[], list[inv.Violation]]]]:
    """Session mode's invariants (chaos/sessionchecks.py), on the gateway's state and journal."""
    assert ep.gw is not None and ep.timeline is not None
    tl = ep.timeline
    now = datetime.fromisoformat((await ep.gw("advance_time", seconds=0))["time"])
    state, journal = await ep.gw.state(), await ep.gw.journal()
    futures = {d.instrument.key for d in (*ep.scenario.plans, *ep.scenario.spare) if d.instrument.kind == "future"}
    ep.tally.sessions["fills of ours at an open"] += sessionchecks.fills_at_open(journal, tl)
    return [("no_fill_while_closed", lambda: sessionchecks.no_fill_while_closed(journal, state["orders"], Hours(),
                                                                               futures, tl.speed)),
            ("no_entry_in_maintenance", lambda: sessionchecks.no_entry_in_maintenance(journal, tl)),
            ("day_orders_end_at_close", lambda: sessionchecks.day_orders_end_at_close(journal, state["orders"], tl,
                                                                                     now))]


def touched_by_hand(ep: Episode, broker: inv.Broker) -> set[str]:
    """Plans whose shares the trader traded or placed an order on: any order of client 0 in the
    plan's symbol but the trader's own shares (a sale, a stop of their own, a duplicate with the
    plan's ref)."""
    symbols = {e["symbol"] for e in broker.journal if e.get("client_id") == TRADER_CLIENT and e.get("symbol")
               and e.get("order_ref") != OWN_REF}
    return {p for p, s in ep.symbol_of.items() if s in symbols}


def _healthy_output(ep: Episode) -> None:
    """The orchestrator's own output: no traceback, no unexpected ERROR."""
    ep.tally.checks["orchestrator_healthy"] += 1
    allowed = [re.compile(p) for p in EXPECTED_ERRORS]
    seen: set[str] = set()
    for log_file in sorted(ep.dir.glob("orchestrator-*.err.log")):
        for record in log_records(log_file.read_text(errors="replace")):
            head = record[0]
            if not (" ERROR " in head or " CRITICAL " in head or any("Traceback" in ln for ln in record)):
                continue
            if any(a.search(head) for a in allowed):
                continue
            text = head.split(" ", 2)[-1][:300] + (f" | {record[-1].strip()[:200]}" if len(record) > 1 else "")
            if text not in seen:   # the same failure in several incarnations is reported once
                seen.add(text)
                ep.violate("orchestrator_healthy", None, f"{log_file.name}: {text}")


async def _read_side(ep: Episode, db: inv.Db) -> None:
    """The read-side CLI on what is left (its output is also searched for the token)."""
    some_plan = next(iter(sorted(db.plans)), None)
    runs = [("status", ["status", "--config", str(ep.config)]),
            ("status --json", ["status", "--json", "--config", str(ep.config)]),
            ("outbox --all --json", ["outbox", "--all", "--json", "--config", str(ep.config)])]
    if some_plan:
        runs.append((f"history {some_plan}", ["history", some_plan, "--config", str(ep.config)]))
    results = await asyncio.gather(*(run_cli(*args, cwd=ep.dir, logdir=ep.dir, name=f"cli-{i}")
                                     for i, (_n, args) in enumerate(runs)))
    for (name, _args), (rc, out, err) in zip(runs, results):
        ep.cli_outputs[name] = out + "\n" + err
        if rc != 0:
            ep.violate("orchestrator_healthy", None, f"orchestrator {name} exited {rc}: {err.strip()[:200]}")


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
