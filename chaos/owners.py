"""The one-owner invariants (issue 12), judged from what the processes did, the gateway's journal
and state.db's daemon row:

- ``owner_refusals``: a second daemon on the store, or a restart with another client id while
  orders of ours work, exits 2 within seconds with a line that says why, and nothing of it
  reaches IB; a client-id change with no order working is accepted; a daemon started right after
  a SIGKILL is never refused for the lock.
- ``holds_only_for_hand_positions``: new entries are held only in a symbol a live plan trades and
  where the trader's hand trades leave IB's position unexplained (not yet sold back or accepted),
  never for a symbol no plan trades, never for every symbol; a hold lifts within the grace once
  the position is explained.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .exposure import GRACE, up_time
from .hand import Hand
from .invariants import Violation

REFUSE_WITHIN = 20.0      # seconds: "exits 2 within seconds" (a client-id check first connects to IB)
LOCKED = re.compile(r"in use by another orchestrator")
CLIENT_ID_REFUSAL = re.compile(r"client_id")


def judge_refusal(what: str, rc: int | None, seconds: float, stderr: str, expect: re.Pattern[str],
                  journal: Iterable[dict[str, Any]], client_id: int) -> list[Violation]:
    """A start that must be refused: ``rc`` None means it was still running after REFUSE_WITHIN."""
    out = []
    if rc is None:
        out.append(Violation("owner_refusals", None, f"{what}: still running {seconds:.1f} s after its start"))
    elif rc != 2:
        out.append(Violation("owner_refusals", None, f"{what}: exit code {rc}, not 2 ({stderr.strip()[-200:]})"))
    elif not expect.search(stderr):
        out.append(Violation("owner_refusals", None, f"{what}: exit 2 without saying why: {stderr.strip()[-200:]}"))
    seen = [e for e in journal if e.get("client_id") == client_id]
    if seen:
        out.append(Violation("owner_refusals", None, f"{what}: client {client_id} reached IB: "
                             + ", ".join(f"{e['event']} {e.get('order_ref')}" for e in seen[:5])))
    return out


def daemon_status(db_path: Path) -> dict[str, Any] | None:
    """state.db's daemon row (read-only), or None when there is none yet."""
    if not db_path.exists():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='daemon'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return json.loads(row[0]) if row else None


def unexplained_holds(daemon: dict[str, Any] | None, hand: Hand, foreign: Iterable[str],
                      explained_since: dict[str, float], since_start: float, now: float,
                      down: list[tuple[float, float | None]], grace: float = GRACE) -> list[Violation]:
    """Holds the daemon reports now that nothing the trader did explains."""
    if not daemon:
        return []
    out = []
    if daemon.get("blocked"):
        out.append(Violation("holds_only_for_hand_positions", None, f"every entry stopped: {daemon['blocked']}"))
    accepted = daemon.get("accepted_positions") or {}
    foreign = set(foreign)
    for symbol, why in sorted((daemon.get("blocked_symbols") or {}).items()):
        if symbol in foreign:
            out.append(Violation("holds_only_for_hand_positions", None,
                                 f"{symbol}, which no plan trades, holds entries: {why}"))
            continue
        by_hand = hand.own.get(symbol, 0) + hand.close.get(symbol, 0)
        if by_hand != accepted.get(symbol, 0):
            continue   # the trader's shares are not explained yet: holding this symbol is right
        since = explained_since.get(symbol, since_start)
        if up_time(since, now, down) > grace:
            out.append(Violation("holds_only_for_hand_positions", None, (
                f"{symbol} still held {now - since:.1f} s after IB's position was explained (by hand {by_hand}, "
                f"accepted {accepted.get(symbol, 0)}): {why}")))
    return out
