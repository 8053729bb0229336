"""The invariants a chaos run checks, in the summary's order, with the one line it shows for each."""

from __future__ import annotations

# The invariants, in report order, with the one line the summary shows for each.
INVARIANTS: dict[str, str] = {
    "one_entry_per_plan": "exactly one entry order per sized plan (every attempt counted, held ones too)",
    "never_two_stops": "never two working stop orders for one plan at once (gateway journal replayed)",
    "protected_after_connect": "every open position has a working stop for its full quantity within 2 s of connecting",
    "journal_replays": "each plan's journal is a legal path of the machine and replays to the stored plan",
    "final_matches_broker": "final state matches the broker: quantities, positions, no working orders once ended",
    "fills_exactly_once": "every execution applied exactly once (fills vs executions by execId; qty, price, P&L)",
    "transitions_notified": "every transition has an outbox row and reached Discord at least once",
    "plans_finish": "every plan ends (closed, cancelled or rejected) once the market is driven to it",
    "orchestrator_healthy": "SIGTERM exits 0; no traceback, no unexpected ERROR line, no unexpected exit",
    "prices_on_tick": "no order of ours refused for its tick (110); every price placed or modified on its increment",
    "no_pacing_errors": "no error 100 and no disconnect for pacing: none in the gateway's journal, none in any log",
    "owner_only_files": "state.db (+ -wal, -shm), the sim journal and logs are 0600",
    "no_secret_in_output": "the webhook token is in no log, output, status/outbox/history text or state.db",
    # with the second actor (the trader at the shared account): chaos/exposure.py, chaos/owners.py
    "one_stop_one_target": "at most one working stop and one target per plan across all clients (a trader's "
                           "duplicate resolved within the grace)",
    "exits_within_position": "exit quantity working for a plan (all clients) never above what IB holds for it for "
                             "longer than the grace",
    "never_reversed_by_us": "no execution of an orchestrator's exit order reverses the plan's share of IB's position",
    "market_entry_risk": "a market entry's actual risk (fill vs stop) <= its risk budget x (1 + tolerance)",
    "owner_refusals": "a second daemon / a client-id change with orders working exits 2 at once, nothing reaches IB; "
                      "a restart after SIGKILL is never refused for the lock",
    "holds_only_for_hand_positions": "entries are held only in a symbol whose position the trader's hand trades "
                                     "leave unexplained, and released once explained",
    # session mode (python -m chaos --sessions): chaos/sessionchecks.py
    "no_fill_while_closed": "no order of ours fills while its market is closed unless it has outsideRth (and is "
                            "not a market order)",
    "no_entry_in_maintenance": "no entry of ours is placed inside a maintenance window",
    "day_orders_end_at_close": "no DAY order of ours fills, triggers, is modified or still works after its close",
}
SESSION_INVARIANTS = ("no_fill_while_closed", "no_entry_in_maintenance", "day_orders_end_at_close")
