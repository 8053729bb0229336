"""Read-only access to state.db for the CLI (status, history, outbox) with plain sqlite3.

Reading needs none of the ORM: this keeps ``orchestrator status`` quick to start (SQLAlchemy and
SQLModel take ~0.3 s to import) and it never writes — the file is opened ``mode=ro``, so a
missing, foreign, damaged or newer database is reported and never created or changed. Safe
while a daemon writes (WAL).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .errors import SchemaTooNew, StoreCorrupt, StoreError, StoreMissing

SCHEMA_VERSION = 1  # the schema this orchestrator writes (store/db.py migrates up to it)
Row = SimpleNamespace  # a row with its columns as attributes


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///path`` URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise StoreError(f"store.url must look like sqlite:///state.db (got {url!r})")
    return Path(url[len(prefix):])


def open_readonly(url: str) -> sqlite3.Connection:
    """Open the database for reading. Raises StoreMissing, StoreCorrupt or SchemaTooNew."""
    path = sqlite_path(url)
    if not path.exists():
        raise StoreMissing(f"{path}: no state database yet — nothing has run with this config")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout=5000")
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in names:
            conn.close()
            if names:
                raise StoreCorrupt(f"{path}: not an orchestrator state database (tables: {sorted(names)})")
            raise StoreMissing(f"{path}: the database is empty — nothing has run with this config")
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        check = conn.execute("PRAGMA quick_check").fetchone()  # damaged pages, not only the header
        if check is None or check[0] != "ok":
            conn.close()
            raise StoreCorrupt(f"{path}: the database is damaged ({check[0] if check else 'no answer'}); it is "
                               "left untouched — restore it from a backup or move it away to start fresh")
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path}: cannot read the database ({exc}); it is left untouched — "
                           "restore it from a backup or move it away to start fresh") from None
    if row is None or not str(row[0]).isdigit():
        conn.close()
        raise StoreCorrupt(f"{path}: the meta table has no valid schema_version")
    if int(row[0]) > SCHEMA_VERSION:
        conn.close()
        raise SchemaTooNew(f"{path}: schema version {row[0]} is newer than this orchestrator's "
                           f"{SCHEMA_VERSION}; upgrade the orchestrator — the database was not changed")
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


def outbox_rows(conn: sqlite3.Connection, include_sent: bool = False) -> list[Row]:
    where = "" if include_sent else " WHERE sent_at IS NULL"
    return _all(conn, f"SELECT * FROM outbox{where} ORDER BY id")


def outbox_counts(conn: sqlite3.Connection) -> OutboxCounts:
    (r,) = _all(conn, "SELECT sum(sent_at IS NULL AND dead_at IS NULL) AS pending, "
                      "sum(sent_at IS NOT NULL) AS sent, sum(dead_at IS NOT NULL) AS dead FROM outbox")
    return OutboxCounts(int(r.pending or 0), int(r.sent or 0), int(r.dead or 0))
