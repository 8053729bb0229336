"""The store: one writer's connection to state.db, with every table family behind one facade.

One Store is the only writer in a process; other processes may read at any time (WAL). Each
family lives in its own module: plans, journal, fills and the step commit (``plans.py``), order
intents (``orders.py``), the effect log (``effectlog.py``), the outbox (``outbox.py``) and the
trader's commands (``commands.py``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from .checkpoint import Checkpointer
from .commands import Commands
from .db import open_engine
from .effectlog import EffectLog
from .orders import OrderIntents
from .outbox import Outbox
from .plans import PlanRows
from .tx import Tx
from .url import sqlite_path


class Store(PlanRows, OrderIntents, EffectLog, Outbox, Commands):
    """state.db for one orchestrator process (the single writer)."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or open_engine(url, create=True)
        self._raw = self.engine.raw_connection()
        self.db: sqlite3.Connection = self._raw.driver_connection  # type: ignore[assignment]
        self.db.row_factory = sqlite3.Row
        self.checkpointer = Checkpointer(self.db.execute("PRAGMA database_list").fetchone()[2])

    @property
    def path(self) -> Path:
        return sqlite_path(self.url)

    def _tx(self) -> Tx:
        return Tx(self.db, self.checkpointer.committed)

    def holds_nothing(self) -> bool:
        """No plan, journal row, order, command or notification has been written."""
        return not any(self.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                       for table in ("plans", "journal", "orders", "commands", "outbox"))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self.checkpointer.close()
        self._raw.close()
        self.engine.dispose()

