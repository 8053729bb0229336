"""Read-only access to state.db for the CLI (status, history, outbox) and the console, with plain sqlite3.

Reading needs none of the ORM: this keeps ``orchestrator status`` quick to start (SQLAlchemy and
SQLModel take ~0.3 s to import) and it never writes — the file is opened ``mode=ro``, so a
missing, foreign, damaged or newer database is reported and never created or changed. Safe
while a daemon writes (WAL).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import StoreCorrupt, StoreMissing
from .schema import check_readable, refuse_empty, refuse_newer
from .url import sqlite_path

Row = SimpleNamespace  # a row with its columns as attributes


def open_readonly(url: str) -> sqlite3.Connection:
    """Open the database for reading. Raises StoreMissing, StoreCorrupt or SchemaTooNew."""
    path = sqlite_path(url)
    if not path.exists():
        raise StoreMissing(f"{path}: no state database yet — nothing has run with this config")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path}: cannot read the database ({exc})") from None
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        version = check_readable(conn, path)
        refuse_empty(version, path)
        refuse_newer(version, path)
    except BaseException:
        conn.close()
        raise
    conn.row_factory = _row
    return conn


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    return SimpleNamespace(**{d[0]: v for d, v in zip(cursor.description, values)})


def _all(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> list[Row]:
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"cannot read the state database: {exc}") from None


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    dead: int


def plan_rows(conn: sqlite3.Connection) -> list[Row]:
    return _all(conn, "SELECT * FROM plans ORDER BY created_at, id")


def plan_row(conn: sqlite3.Connection, plan_id: str) -> Row | None:
    rows = _all(conn, "SELECT * FROM plans WHERE id=?", (plan_id,))
    return rows[0] if rows else None


def journal_rows(conn: sqlite3.Connection, plan_id: str) -> list[Row]:
    return _all(conn, "SELECT * FROM journal WHERE plan_id=? ORDER BY seq", (plan_id,))


def waiting_command(conn: sqlite3.Connection, plan_id: str, command: str) -> Row | None:
    """The oldest ``command`` for ``plan_id`` the daemon has not processed yet, if any."""
    rows = _all(conn, "SELECT id, created_at FROM commands WHERE plan_id=? AND command=? AND processed_at IS NULL "
                      "ORDER BY id LIMIT 1", (plan_id, command))
    return rows[0] if rows else None


def outbox_rows(conn: sqlite3.Connection, include_sent: bool = False) -> list[Row]:
    where = "" if include_sent else " WHERE sent_at IS NULL"
    return _all(conn, f"SELECT * FROM outbox{where} ORDER BY id")


def outbox_counts(conn: sqlite3.Connection) -> OutboxCounts:
    (r,) = _all(conn, "SELECT sum(sent_at IS NULL AND dead_at IS NULL) AS pending, "
                      "sum(sent_at IS NOT NULL) AS sent, sum(dead_at IS NOT NULL) AS dead FROM outbox")
    return OutboxCounts(int(r.pending or 0), int(r.sent or 0), int(r.dead or 0))


def path_of(conn: sqlite3.Connection) -> Path:
    """The file this connection reads."""
    return Path(conn.execute("PRAGMA database_list").fetchone().file)


HEARTBEAT_SECONDS = 15  # CONTRACTS.md §1: running while not stopped and the heartbeat is at most this old


def heartbeat_age(doc: dict[str, Any], now: datetime) -> float | None:
    """Seconds since the daemon's last heartbeat (None when the document has none)."""
    try:
        return (now - datetime.fromisoformat(str(doc["heartbeat_at"]))).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None


def daemon_running(doc: dict[str, Any], now: datetime) -> bool:
    """The contract's judgement: ``stopped_at`` empty and a heartbeat at most 15 s old."""
    age = heartbeat_age(doc, now)
    return doc.get("stopped_at") is None and age is not None and age <= HEARTBEAT_SECONDS


def daemon_status(conn: sqlite3.Connection) -> dict[str, Any]:
    """The daemon's own status document (empty if it never wrote one)."""
    rows = _all(conn, "SELECT value FROM meta WHERE key='daemon'")
    try:
        found = json.loads(rows[0].value) if rows else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
