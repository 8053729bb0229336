"""The notification outbox: rows written with their transition (or alone, for a notice), then
delivered by the sender, retried, or dead-lettered."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .codec import dumps, iso, parse_iso
from .tx import Tables


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    dedupe_key: str
    plan_id: str | None
    seq: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: datetime | None = None


class Outbox(Tables):
    def add_notice(self, dedupe_key: str, kind: str, payload: dict[str, Any], *, at: datetime,
                   plan_id: str | None = None) -> bool:
        """A notification not tied to a transition (e.g. an invalid plan file). False if a duplicate."""
        with self._tx():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO outbox(dedupe_key, plan_id, seq, kind, payload, created_at, attempts) "
                "VALUES (?,?,0,?,?,?,0)", (dedupe_key, plan_id, str(kind), dumps(payload), iso(at)))
        return cur.rowcount == 1

    def pending_outbox(self, limit: int = 200) -> list[OutboxItem]:
        """Undelivered and not dead-lettered, oldest first (due or not: the sender keeps per-plan order)."""
        rows = self.db.execute(
            "SELECT id, dedupe_key, plan_id, seq, kind, payload, attempts, next_attempt_at FROM outbox "
            "WHERE sent_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], parse_iso(r[7])) for r in rows]

    def mark_sent(self, item_id: int, *, at: datetime) -> None:
        with self._tx():
            self.db.execute("UPDATE outbox SET sent_at=?, attempts=attempts+1, last_error=NULL WHERE id=?",
                            (iso(at), item_id))

    def outbox_due(self, at: datetime) -> None:
        """Every pending message waiting past ``at`` is due at ``at`` (the clock stepped under its wait)."""
        with self._tx():
            self.db.execute("UPDATE outbox SET next_attempt_at=? WHERE sent_at IS NULL AND dead_at IS NULL "
                            "AND next_attempt_at > ?", (iso(at), iso(at)))

    def mark_retry(self, item_id: int, *, error: str, next_attempt_at: datetime, count_attempt: bool = True) -> None:
        with self._tx():
            self.db.execute("UPDATE outbox SET attempts=attempts+?, last_error=?, next_attempt_at=? WHERE id=?",
                            (int(count_attempt), error, iso(next_attempt_at), item_id))

    def mark_dead(self, item_id: int, *, error: str, at: datetime) -> None:
        with self._tx():
            self.db.execute("UPDATE outbox SET dead_at=?, attempts=attempts+1, last_error=? WHERE id=?",
                            (iso(at), error, item_id))
