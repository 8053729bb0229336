"""The schema version this orchestrator writes, and the one check that a file is a usable store.

Plain sqlite3, no ORM: the read side (``status``, ``history``) and the writer's open both use
:func:`check_readable`, so a missing, foreign, damaged or newer database gets the same message
from every command.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import SchemaTooNew, StoreCorrupt, StoreMissing

SCHEMA_VERSION = 8  # store/db.py migrates older files up to this


def _damaged(path: Path, detail: str) -> StoreCorrupt:
    return StoreCorrupt(f"{path}: {detail}; it is left untouched — restore it from a backup or move it away "
                        "to start fresh")


def check_readable(conn: sqlite3.Connection, path: Path, *, pages: bool = True) -> int | None:
    """The stored schema version, or None for an empty file.

    ``pages`` also reads every page (``PRAGMA quick_check``; once per open is enough).

    Raises:
        StoreCorrupt: not an orchestrator database, unreadable, or damaged.
    """
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in names:
            if names:
                raise StoreCorrupt(f"{path}: not an orchestrator state database (tables: {sorted(names)})")
            return None
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        check = conn.execute("PRAGMA quick_check").fetchone() if pages else ("ok",)
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, f"cannot read the database ({exc})") from None
    if check is None or check[0] != "ok":  # damaged pages, not only the header
        raise _damaged(path, f"the database is damaged ({check[0] if check else 'no answer'})")
    if row is None or not str(row[0]).isdigit():
        raise StoreCorrupt(f"{path}: the meta table has no valid schema_version")
    return int(row[0])


def refuse_newer(version: int | None, path: Path) -> None:
    """Raises SchemaTooNew for a store written by a newer orchestrator."""
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaTooNew(f"{path}: schema version {version} is newer than this orchestrator's "
                           f"{SCHEMA_VERSION}; upgrade the orchestrator — the database was not changed")


def refuse_empty(version: int | None, path: Path) -> None:
    """Raises StoreMissing for a file that holds no store yet."""
    if version is None:
        raise StoreMissing(f"{path}: the database is empty — nothing has run with this config")
