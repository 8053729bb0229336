"""``no_pacing_errors``: IB's error 100 never appears in a chaos run.

The orchestrator survives an error 100 (it slows down and sends again what IB refused), and it
lowers ib_async's ERROR line for it, so nothing else in the verdict would show one: a run with
an error 100 passed unseen. The evidence, any of which is a violation:

- the gateway's journal: ``pacing_refused`` (error 100 sent to a client) and ``pacing_dropped``
  (a client disconnected for pacing), whichever client (the trader's too: it shares the account);
- the orchestrator's logs: ib_async's line for the error, the engine's notice of the slow-down;
- the gateway's own log: its line for each refusal and each disconnect.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from .invariants import Violation

JOURNAL_EVENTS = ("pacing_refused", "pacing_dropped")
ORCHESTRATOR_LINES = re.compile(r"(?:Error|Warning) 100, reqId|pacing_slowed: |IB error 100\b")
GATEWAY_LINES = re.compile(r"(?:exceeds|keeps exceeding) \d+ messages/s")


def no_pacing_errors(journal: list[dict[str, Any]], logs: Path) -> list[Violation]:
    """Every pacing error in the journal and in the episode's logs (``logs``: its folder)."""
    out: list[Violation] = []
    seen: Counter[tuple[str, Any]] = Counter()
    first: dict[tuple[str, Any], str] = {}
    for e in journal:
        if e.get("event") in JOURNAL_EVENTS:
            key = (str(e["event"]), e.get("client_id"))
            seen[key] += 1
            first.setdefault(key, f"{e.get('ts')}: {e.get('text')}")
    for (event, client), n in sorted(seen.items(), key=str):
        out.append(Violation("no_pacing_errors", None, f"gateway journal: {n} x {event} for client {client}, "
                                                       f"first at {first[(event, client)]}"))
    for log_file in sorted(logs.glob("*.log")):
        pattern = GATEWAY_LINES if log_file.name.startswith("gateway") else ORCHESTRATOR_LINES
        lines = [ln for ln in log_file.read_text(errors="replace").splitlines() if pattern.search(ln)]
        if lines:
            out.append(Violation("no_pacing_errors", None,
                                 f"{log_file.name}: {len(lines)} pacing line(s), first: {lines[0].strip()[:200]}"))
    return out
