"""The transaction every write of the store runs in, and the base its table families share."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


class Tx:
    """BEGIN IMMEDIATE … COMMIT on a raw connection; ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection, committed: Callable[[], None]) -> None:
        self.db = db
        self.committed = committed

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.committed()
            return
        self.db.execute("ROLLBACK")


class Tables:
    """What a family of tables needs from the store: its connection and a write transaction."""

    db: sqlite3.Connection

    def _tx(self) -> Tx:
        raise NotImplementedError
