"""WAL checkpoints off the commit path.

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past
``wal_autocheckpoint`` pages: that commit copies the WAL into the database file and syncs both
(5–7 ms for SQLite's default 1,000 pages on the benchmark VM), and the event loop waits for it
(docs/benchmarks.md, P1: most fills slower than 5 ms were those). Here a daemon thread with its
own connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` after every ``every`` commits; the
sqlite3 module releases the GIL while SQLite copies and syncs, so commits and the loop go on.

The writer keeps an automatic checkpoint as a backstop at a larger size
(``db.WAL_AUTOCHECKPOINT_PAGES``): a passive checkpoint racing a busy writer cannot finish the
WAL (and only a finished WAL is started over), so when writes never pause the backstop bounds
the WAL, and by then it finds most pages already copied. Durability is unchanged: a checkpoint
only copies committed pages, and the commit itself is untouched (WAL, ``synchronous=NORMAL``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

COMMITS_PER_CHECKPOINT = 100  # ~1,000 WAL pages of the store's commits (SQLite's default size)


class Checkpointer:
    """Checkpoints the WAL of the database file ``path`` on a thread of its own, started at the
    first checkpoint. ``path`` empty (an in-memory database): does nothing."""

    def __init__(self, path: str, every: int = COMMITS_PER_CHECKPOINT) -> None:
        self.path = path
        self.every = every
        self.checkpoints = 0
        self._count = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        """Count one commit (called on the writer's thread); every ``every`` wake the checkpointer."""
        self._count += 1
        if self._count < self.every or not self.path:
            return
        self._count = 0
        if self._thread is None:
            try:
                thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
                thread.start()
            except RuntimeError as exc:  # never fail a commit that happened; the backstop remains
                log.warning("WAL checkpoint thread not started: %s", exc)
                return
            self._thread = thread
        self._wake.set()

    def close(self) -> None:
        """Stop the thread (after the checkpoint in progress) and close its connection."""
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        db = sqlite3.connect(f"{Path(self.path).as_uri()}?mode=rw", uri=True, isolation_level=None)  # never creates
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # the writer's backstop checkpoint still bounds the WAL
                    log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            db.close()
