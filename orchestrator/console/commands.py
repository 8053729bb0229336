"""The console's one write: a trader command row in ``commands`` (CONTRACTS.md §2).

:func:`submit_command` has the signature of ``orchestrator.store.commands.submit_command``
(which replaces it once it lands): one short ``BEGIN IMMEDIATE`` / ``INSERT`` / ``COMMIT`` on a
connection of its own, never creating the file, never touching another table. The daemon stays
the only writer of plan state; it marks the row processed with a short ``result``.

A store of schema 1 has no ``args``/``origin`` columns: the row is then written without them,
and a command that needs arguments (pause or resume of one symbol) is refused with a clear
message rather than silently widened to every symbol.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..errors import StoreError, StoreMissing
from ..store import sqlite_path

COMMANDS = ("cancel", "flatten", "pause", "resume")
PLAN_COMMANDS = ("cancel", "flatten")


class CommandRefused(StoreError):
    """The command cannot be written as asked (bad arguments, or a store too old to carry them)."""


def _now() -> datetime:
    return datetime.now(UTC)


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
