"""Pure rendering: rows → JSON-ready dicts, Rich tables and Mermaid text. No I/O here.

``status`` (the plan rows: ``status_record`` is the one row → JSON mapping), ``history`` (the
journal), ``daemon`` (is a daemon running, and what that means for a request), ``figures``
(a row's figures as a trader reads them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from machines import TRANSITIONS, State, guard_names

from ..statusrecord import json_lines, status_json
from .daemon import daemon_line, pickup
from .history import details, history_lines, history_record, history_table, pnl_footer
from .status import compact_table, status_record, status_table, summary_line, wide_table

__all__ = ["compact_table", "daemon_line", "details", "history_json", "history_lines", "history_record",
           "history_table", "mermaid_diagram", "outbox_json", "pickup", "pnl_footer", "status_json", "status_record",
           "status_table", "summary_line", "wide_table"]

OutboxRow: TypeAlias = Any


def history_json(rows: Sequence[Any]) -> str:
    return json_lines([history_record(j) for j in rows])


def outbox_json(rows: Sequence[OutboxRow]) -> str:
    return json_lines([{
        "id": r.id, "plan_id": r.plan_id, "kind": r.kind, "created_at": r.created_at, "attempts": r.attempts,
        "next_attempt_at": r.next_attempt_at, "sent_at": r.sent_at, "dead_at": r.dead_at,
        "last_error": r.last_error} for r in rows])


def mermaid_diagram(internal: bool = False) -> str:
    """The transition table as a Mermaid ``stateDiagram-v2``.

    Rows that change the state are drawn; with ``internal`` the rows that keep it (benign
    repeats, partial fills, trailing bookkeeping) are drawn too, as self-loops.
    """
    lines = ["stateDiagram-v2", f"    [*] --> {State.PENDING.value}"]
    seen: set[str] = set()
    for r in TRANSITIONS:
        guards = guard_names(r)
        label = r["trigger"] + (f" [{' & '.join(guards)}]" if guards else "")
        if r["dest"] is None and not internal:
            continue
        for src in r["source"]:
            dest = r["dest"] or src
            line = f"    {src} --> {dest}: {label}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
    for s in (State.CLOSED, State.REJECTED, State.CANCELLED):
        lines.append(f"    {s.value} --> [*]")
    return "\n".join(lines) + "\n"
