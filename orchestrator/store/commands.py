"""The trader's channel to the daemon: ``orchestrator cancel`` (and the console) write a command
row; the running daemon polls them (or the next one applies them at its start) and marks each
done with a result. This is the only way anything but the daemon changes what a plan does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .codec import iso
from .tx import Tables

COMMANDS = ("cancel", "flatten", "pause", "resume")


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
