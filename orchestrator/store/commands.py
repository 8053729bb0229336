"""The trader's channel to the daemon: ``orchestrator cancel`` (and the console) write a command
row; the running daemon polls them (or the next one applies them at its start) and marks each
done with a result. This is the only way anything but the daemon changes what a plan does.

:func:`submit_command` is the one writer (the CLI's and the console's): one short ``BEGIN
IMMEDIATE`` / ``INSERT`` / ``COMMIT`` on a connection of its own with plain sqlite3, never
creating the file, never touching another table. A store of schema 1 has no ``args``/``origin``
columns: the row is then written without them, and a command that needs arguments (pause or
resume of one symbol) is refused with a clear message rather than silently widened.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import StoreError, StoreMissing
from .codec import iso
from .tx import Tables
from .url import sqlite_path

COMMANDS = ("cancel", "flatten", "pause", "resume", "accept_position")
PLAN_COMMANDS = ("cancel", "flatten")


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    plan_id: str          # "" for a command about no single plan (pause, resume)
    command: str
    args: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None


class Commands(Tables):
    def add_command(self, plan_id: str, command: str, *, at: datetime, args: dict[str, Any] | None = None,
                    origin: str | None = None) -> int:
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO commands(plan_id, command, args, origin, created_at) VALUES (?,?,?,?,?)",
                (plan_id, command, json.dumps(args) if args else None, origin, iso(at)))
        return int(cur.lastrowid or 0)

    def pending_commands(self) -> list[Command]:
        return [Command(r[0], r[1], r[2], json.loads(r[3]) if r[3] else {}, r[4]) for r in self.db.execute(
            "SELECT id, plan_id, command, args, origin FROM commands WHERE processed_at IS NULL ORDER BY id")]

    def mark_command_done(self, command_id: int, *, at: datetime, result: str) -> None:
        with self._tx():
            self.db.execute("UPDATE commands SET processed_at=?, result=? WHERE id=?", (iso(at), result, command_id))


class CommandRefused(StoreError):
    """The command cannot be written as asked (bad arguments, or a store too old to carry them)."""


def _now() -> datetime:
    return datetime.now(UTC)  # the writer's own time: it runs in the CLI or the console, not the engine


def submit_command(url: str, command: str, plan_id: str = "", args: dict[str, Any] | None = None,
                   origin: str | None = None, *, now: Callable[[], datetime] = _now) -> int:
    """Write one command row; returns its id.

    Raises:
        CommandRefused: unknown command, a plan command without a plan, or arguments the store cannot hold.
        StoreMissing: there is no state database yet.
    """
    if command not in COMMANDS:
        raise CommandRefused(f"unknown command {command!r} (known: {', '.join(COMMANDS)})")
    if (command in PLAN_COMMANDS) != bool(plan_id):
        raise CommandRefused(f"{command} needs a plan id" if command in PLAN_COMMANDS
                             else f"{command} is not about one plan")
    if command == "accept_position" and not (args or {}).get("symbol"):
        raise CommandRefused("accept_position needs a symbol")
    path = sqlite_path(url)
    if not path.exists():
        raise StoreMissing(f"{path}: no state database yet — nothing has run with this config")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        columns = {r[1] for r in conn.execute("PRAGMA table_info(commands)")}
        if not columns:
            raise CommandRefused(f"{path}: this state database has no commands table")
        created = now().astimezone(UTC).isoformat(timespec="microseconds")
        names = ["plan_id", "command", "created_at"]
        values: list[str | None] = [plan_id, command, created]
        if "args" in columns:
            names.append("args")
            values.append(json.dumps(args or {}, sort_keys=True))
        elif args:
            raise CommandRefused(f"{command} with {json.dumps(args, sort_keys=True)} needs a newer state database "
                                 "(commands.args); upgrade the orchestrator and restart it")
        if "origin" in columns:
            names.append("origin")
            values.append(origin)
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(f"INSERT INTO commands({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                               values)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(cur.lastrowid or 0)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot write the command: {exc}") from None
    finally:
        conn.close()
        _owner_only_side_files(str(path))


def _owner_only_side_files(path: str) -> None:
    """Our connection may have created the WAL files with the umask's mode: keep them owner-only
    like state.db itself (the store does the same when it opens)."""
    for suffix in ("-wal", "-shm"):
        try:
            os.chmod(path + suffix, 0o600)
        except OSError:  # absent, or not ours to change
            pass
