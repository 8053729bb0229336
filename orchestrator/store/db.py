"""Opening state.db: engine, per-connection pragmas, schema version and forward migrations.

- WAL journal, ``synchronous=NORMAL`` (survives kill -9; see libs.md §3), foreign keys on,
  a busy timeout, all set in a connect listener because they are per connection.
- ``BEGIN IMMEDIATE`` for every write transaction, so a writer takes the lock up front.
- The schema version lives in ``meta``; a database written by a newer version is refused,
  never rewritten; an unreadable file is reported, never recreated.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlmodel import SQLModel

from ..errors import SchemaTooNew, StoreCorrupt, StoreError, StoreMissing
from ..readside import SCHEMA_VERSION, sqlite_path  # noqa: F401  (one definition of each)
from . import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
BUSY_TIMEOUT_MS = 5000
# The writer's own automatic checkpoint is only a backstop: the Store checkpoints on a thread of
# its own (checkpoint.py) long before the WAL reaches this size (16 MiB).
WAL_AUTOCHECKPOINT_PAGES = 4000


def _pragmas(readonly: bool) -> Callable[..., None]:
    def on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        if not readonly:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
    return on_connect


def _begin_immediate(conn: object) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # type: ignore[attr-defined]


def _engine(path: Path, readonly: bool) -> Engine:
    if readonly:
        url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    else:
        url = f"sqlite:///{path}"
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _pragmas(readonly))
    if not readonly:
        event.listen(engine, "begin", _begin_immediate)
    return engine


def _check_readable(engine: Engine, path: Path, *, pages: bool = True) -> int | None:
    """The stored schema version (None for an empty file). Raises StoreCorrupt if unreadable.
    ``pages`` also reads every page (``PRAGMA quick_check``): once per open is enough."""
    try:
        with engine.connect() as conn:
            names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" not in names:
                if names:
                    raise StoreCorrupt(f"{path}: not an orchestrator state database (tables: {sorted(names)})")
                return None
            row = conn.exec_driver_sql("SELECT value FROM meta WHERE key='schema_version'").first()
            if row is None:
                raise StoreCorrupt(f"{path}: the meta table has no schema_version")
            check = conn.exec_driver_sql("PRAGMA quick_check").first() if pages else ("ok",)
            if check is None or check[0] != "ok":  # damaged pages, not only the header
                raise StoreCorrupt(f"{path}: the database is damaged ({check[0] if check else 'no answer'}); it is "
                                   "left untouched — restore it from a backup or move it away to start fresh")
            return int(row[0])
    except (DatabaseError, OperationalError) as exc:
        raise StoreCorrupt(f"{path}: cannot read the database ({exc.orig}); it is left untouched — "
                           "restore it from a backup or move it away to start fresh") from None
    except ValueError:
        raise StoreCorrupt(f"{path}: schema_version is not a number") from None


def _migrate_1(conn: object) -> None:
    SQLModel.metadata.create_all(conn)  # type: ignore[arg-type]


# version → migration that brings the schema from version-1 to version. Append only.
MIGRATIONS: dict[int, Callable[[object], None]] = {1: _migrate_1}


def open_engine(url: str, *, create: bool = True, readonly: bool = False) -> Engine:
    """Open (and with ``create`` make or migrate) the database at ``url``.

    Raises:
        StoreMissing: the file does not exist and ``create`` is false.
        StoreCorrupt: the file is not a readable orchestrator database.
        SchemaTooNew: the file was written by a newer version of the orchestrator.
    """
    path = sqlite_path(url)
    exists = path.exists()
    if not exists and not create:
        raise StoreMissing(f"{path}: no state database yet — nothing has run with this config")
    if not exists:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)  # owner-only from the first byte
        except OSError as exc:
            raise StoreError(f"{path}: cannot create the state database: {exc.strerror or exc}") from None
        os.close(fd)
    if exists and not readonly:
        # Judge an existing file through a read-only connection first: the writer's connection
        # switches the file to WAL, which would already change a foreign or damaged file.
        probe = _engine(path, readonly=True)
        try:
            _check_readable(probe, path)
        finally:
            probe.dispose()
    engine = _engine(path, readonly=readonly and exists)
    version = _check_readable(engine, path, pages=readonly or not exists)  # the probe read the pages
    if version is not None and version > SCHEMA_VERSION:
        engine.dispose()
        raise SchemaTooNew(f"{path}: schema version {version} is newer than this orchestrator's "
                           f"{SCHEMA_VERSION}; upgrade the orchestrator — the database was not changed")
    if readonly:
        if version is None:
            engine.dispose()
            raise StoreMissing(f"{path}: the database is empty — nothing has run with this config")
        return engine
    current = version or 0
    if current < SCHEMA_VERSION:
        with engine.begin() as conn:
            for target in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](conn)
            conn.execute(text("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', :v)"),
                         {"v": str(SCHEMA_VERSION)})
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            os.chmod(side, 0o600)
    return engine
