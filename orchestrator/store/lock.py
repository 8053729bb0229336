"""One daemon per store: an exclusive OS lock on a file beside state.db, held for the daemon's life.

``flock`` is released by the kernel when the process dies, however it dies, so a ``kill -9``
never leaves a stale lock. The lock file is named after the database's real path (symlinks and
relative paths resolved), so two config files that point at the same database share one lock.
The holder writes who it is (pid, host, start time) into the file for the refusal message;
readers (``status``) probe the lock without keeping it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import OrchestratorError, StoreError

PROBE_RETRIES, PROBE_PAUSE = 20, 0.01
HOLDER_RETRIES = 50   # a reader waits up to 0.5 s for a new holder to write its name


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    host: str
    started_at: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, running since {self.started_at}"


class StoreLocked(OrchestratorError):
    """Another daemon holds this store: do not start a second one."""

    exit_code = 2

    def __init__(self, db: Path, holder: Holder | None) -> None:
        self.db, self.holder = db, holder
        who = holder.describe() if holder is not None else "a process that did not say who it is"
        super().__init__(f"{db} is in use by another orchestrator ({who}); one daemon per store: "
                         "nothing was started")


def lock_path(db: Path) -> Path:
    real = db.resolve()
    return real.with_name(real.name + ".lock")


def _read_holder(fd: int) -> Holder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096) or b"{}")
        return Holder(int(data["pid"]), str(data["host"]), str(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class StoreLock:
    """``acquire()`` the lock of the store at ``db`` or raise StoreLocked; ``release()`` at exit."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.path = lock_path(db)
        self._fd: int | None = None

    def acquire(self, *, now: datetime) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # the database beside it could not be created either: say so
            raise StoreError(f"{self.db}: cannot create the state database: {exc.strerror or exc}") from None
        for attempt in range(PROBE_RETRIES + 1):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == PROBE_RETRIES:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise StoreLocked(self.db, holder) from None
                time.sleep(PROBE_PAUSE)  # a reader's probe holds a shared lock for microseconds
        me = Holder(os.getpid(), socket.gethostname(), now.isoformat(timespec="seconds"))
        data = json.dumps({"pid": me.pid, "host": me.host, "started_at": me.started_at}).encode()
        os.pwrite(fd, data, 0)      # written over the last holder's, then cut: never empty while locked
        os.ftruncate(fd, len(data))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            if not self.db.exists():  # a refused first run removed its store: leave no lock file either
                self.path.unlink(missing_ok=True)
            os.close(self._fd)  # closing the last descriptor releases the lock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def holder_of(db: Path) -> Holder | None:
    """Who holds the store's lock now, or None if no daemon does. Never creates a file, and holds
    the lock for no longer than the probe (a shared lock: it cannot block a reader)."""
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:   # held: the holder writes who it is just after taking the lock
            for _ in range(HOLDER_RETRIES):
                if (holder := _read_holder(fd)) is not None:
                    return holder
                time.sleep(PROBE_PAUSE)
            return Holder(0, "?", "?")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
