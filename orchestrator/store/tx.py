"""The transaction every write of the store runs in, and the base its table families share."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


class Tx:
    """BEGIN IMMEDIATE … COMMIT on a raw connection; ROLLBACK on any exception. ``joined``: the
    writes join a transaction already open (a batch) and begin or end nothing themselves."""

    def __init__(self, db: sqlite3.Connection, committed: Callable[[], None], joined: bool = False) -> None:
        self.db = db
        self.committed = committed
        self.joined = joined

    def __enter__(self) -> None:
        if not self.joined:
            self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.joined:
            return  # the batch commits, or rolls everything back when the exception reaches it
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
