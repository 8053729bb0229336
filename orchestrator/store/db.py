"""Opening state.db for writing: engine, per-connection pragmas, forward migrations.

- WAL journal, ``synchronous=NORMAL`` (survives kill -9), foreign keys on, a busy timeout, all
  set in a connect listener because they are per connection.
- ``BEGIN IMMEDIATE`` for every write transaction, so a writer takes the lock up front.
- The schema version lives in ``meta``; a database written by a newer version is refused,
  never rewritten; an unreadable file is reported, never recreated (``schema.check_readable``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlmodel import SQLModel

from ..errors import StoreError, StoreMissing
from . import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from .contracts import CONTRACT_DDL
from .prices import PRICE_DDL
from .schema import SCHEMA_VERSION, check_readable, refuse_empty, refuse_newer
from .url import sqlite_path

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
    url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true" if readonly else f"sqlite:///{path}"
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _pragmas(readonly))
    if not readonly:
        event.listen(engine, "begin", _begin_immediate)
    return engine


def probe(path: Path, *, pages: bool = True) -> int | None:
    """The schema version of an existing file, judged through a read-only connection (a writer's
    connection would already switch a foreign or damaged file to WAL). Raises StoreCorrupt."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return check_readable(conn, path, pages=pages)
    finally:
        conn.close()


def _migrate_1(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn, tables=[t.__table__ for t in tables.V1])  # type: ignore[attr-defined]


def _migrate_2(conn: Connection) -> None:
    """Trader commands carry arguments (a symbol to pause) and where they came from."""
    for sql in ("ALTER TABLE commands ADD COLUMN args VARCHAR", "ALTER TABLE commands ADD COLUMN origin VARCHAR"):
        conn.exec_driver_sql(sql)


def _migrate_3(conn: Connection) -> None:
    """A compact price series per symbol for the console's charts (``prices.py``)."""
    for statement in PRICE_DDL.split(";"):
        if statement.strip():
            conn.exec_driver_sql(statement)


def _migrate_4(conn: Connection) -> None:
    """Broker truth: commissions, shares that left outside the orchestrator, the price a plan was
    sized on and its risk once filled, and the stop sent but not yet confirmed."""
    for column in ("commissions VARCHAR NOT NULL DEFAULT '0'", "outside_qty INTEGER NOT NULL DEFAULT 0",
                   "sized_price VARCHAR", "actual_risk VARCHAR", "stop_sent_at VARCHAR",
                   "stop_attempts INTEGER NOT NULL DEFAULT 0"):
        conn.exec_driver_sql(f"ALTER TABLE plans ADD COLUMN {column}")


def _migrate_5(conn: Connection) -> None:
    """A plan in error only because IB showed no trace of its entry says so (it carries on if the
    entry turns up)."""
    conn.exec_driver_sql("ALTER TABLE plans ADD COLUMN entry_unseen INTEGER NOT NULL DEFAULT 0")


def _migrate_6(conn: Connection) -> None:
    """Instruments: the contract a plan names (NULL for a US stock on SMART, as every plan was
    before), the money figures it was sized with, and IB's contract details per contract."""
    for column in ("sec_type VARCHAR", "exchange VARCHAR", "primary_exchange VARCHAR", "currency VARCHAR",
                   "contract_month VARCHAR", "local_symbol VARCHAR", "multiplier VARCHAR NOT NULL DEFAULT '1'",
                   "fx_rate VARCHAR", "base_currency VARCHAR"):
        conn.exec_driver_sql(f"ALTER TABLE plans ADD COLUMN {column}")
    conn.exec_driver_sql(CONTRACT_DDL)


def _migrate_7(conn: Connection) -> None:
    """Exchange sessions: a plan's session fields as written, and its flatten_at resolved to UTC.
    Each column is added only if missing, so the order of 6 and 7 does not matter."""
    have = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(plans)")}
    for column in ("start VARCHAR", "expire VARCHAR", "flatten_at VARCHAR", "session_day VARCHAR",
                   "on_closed_day VARCHAR", "outside_rth INTEGER NOT NULL DEFAULT 0", "tif VARCHAR",
                   "flatten_due VARCHAR"):
        if column.split()[0] not in have:
            conn.exec_driver_sql(f"ALTER TABLE plans ADD COLUMN {column}")


def _migrate_8(conn: Connection) -> None:
    """A market entry's price cap: the limit it is sent with (the worst fill its risk budget
    allows). Added only if missing, like 7's columns."""
    have = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(plans)")}
    if "entry_cap" not in have:
        conn.exec_driver_sql("ALTER TABLE plans ADD COLUMN entry_cap VARCHAR")


# version → migration that brings the schema from version-1 to version. Append only.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4,
                                                       5: _migrate_5, 6: _migrate_6, 7: _migrate_7, 8: _migrate_8}


def open_engine(url: str, *, create: bool = True) -> Engine:
    """Open (and with ``create`` make) the database at ``url`` for writing, migrated to the
    current schema.

    Raises:
        StoreMissing: the file does not exist and ``create`` is false.
        StoreCorrupt: the file is not a readable orchestrator database.
        SchemaTooNew: the file was written by a newer version of the orchestrator.
    """
    path = sqlite_path(url)
    exists = path.exists()
    if not exists and not create:
        raise StoreMissing(f"{path}: no state database yet — nothing has run with this config")
    if exists:
        version = probe(path)
        refuse_newer(version, path)
        if not create:
            refuse_empty(version, path)
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)  # owner-only from the first byte
        except OSError as exc:
            raise StoreError(f"{path}: cannot create the state database: {exc.strerror or exc}") from None
        os.close(fd)
        version = None
    engine = _engine(path, readonly=False)
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
