"""PURE: whether a daemon runs on this store, what it is connected to, and what that means for a
request the trader just made (``cancel``, ``pause`` …).

Two facts decide: the store's lock (``holder``: held by a live process, whatever its heartbeat)
and the daemon's own status document (CONTRACTS.md §1: running while not stopped and its
heartbeat is at most 15 s old). A held lock with a stale heartbeat is a daemon that is stopped
(SIGSTOP) or hung; no lock is no daemon, whatever the document says (a ``kill -9`` leaves it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..store.read import daemon_running, heartbeat_age

Holder = Any  # store.lock.Holder: pid, host, started_at, describe()


def starting(holder: Holder, doc: dict[str, Any]) -> bool:
    """The lock is held but the document is older than the holder: a daemon that has not
    connected to IB yet (it writes its document once connected), the document its
    predecessor's."""
    if not doc:
        return True
    try:
        held = datetime.fromisoformat(str(holder.started_at))
        written = datetime.fromisoformat(str(doc["started_at"]))
    except (AttributeError, KeyError, TypeError, ValueError):
        return False
    return written < held - timedelta(seconds=1)


def _pid(holder: Holder, doc: dict[str, Any]) -> str:
    pid = getattr(holder, "pid", 0) or doc.get("pid")
    return f"pid {pid}" if pid else "(pid unknown)"


def pickup(holder: Holder | None, doc: dict[str, Any], now: datetime) -> str:
    """When a request written now is applied: at once, once IB is back, or at the next start."""
    if holder is None:
        return "no daemon is running on this store: it is applied when `orchestrator run` starts"
    who = f"daemon {_pid(holder, doc)}"
    if starting(holder, doc):
        return f"{who} is starting and not connected to IB yet: it picks the request up once connected"
    if not daemon_running(doc, now):
        age = heartbeat_age(doc, now)
        last = f"its last heartbeat was {age:.0f} s ago" if age is not None else "it has written no heartbeat"
        return f"{who} holds the store but {last} (stopped or hung?): it is applied once it runs again"
    if doc.get("connected") is False:
        return (f"{who} is running but not connected to IB: it picks the request up within a second and acts at "
                "IB once reconnected")
    return f"{who} is running: it picks the request up within a second"


def daemon_line(holder: Holder | None, doc: dict[str, Any], now: datetime | None = None) -> str:
    """One line: is a daemon running on this store, what is it connected to, what is held."""
    if holder is None:
        since = f" (last stopped {doc['stopped_at'][:19].replace('T', ' ')} UTC)" if doc.get("stopped_at") else ""
        return f"daemon: not running{since}"
    if starting(holder, doc):
        return f"daemon: starting, {holder.describe()}; not connected to IB yet"
    line = f"daemon: running, {holder.describe()}"
    if now is not None and not daemon_running(doc, now):
        age = heartbeat_age(doc, now)
        line += f"; NO HEARTBEAT for {age:.0f} s (stopped or hung?)" if age is not None else "; no heartbeat yet"
    if doc:
        ib = "connected to IB" if doc.get("connected") else "NOT connected to IB"
        line += f"; {ib} {doc.get('ib_host', '?')}:{doc.get('ib_port', '?')}, account {doc.get('account') or '?'}, " \
                f"client id {doc.get('client_id', '?')}"
        if doc.get("entries_paused"):
            line += "; NEW ENTRIES PAUSED"
        if doc.get("paused_symbols"):
            line += f"; paused: {', '.join(doc['paused_symbols'])}"
        if doc.get("blocked_symbols"):
            line += f"; held: {', '.join(doc['blocked_symbols'])}"
        if doc.get("blocked"):
            line += f"; STOPPED: {doc['blocked']}"
    return line
