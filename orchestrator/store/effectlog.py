"""The effect log: broker effects committed with their step, marked done once carried out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .codec import effect_from_json, iso
from .tx import Tables


@dataclass(frozen=True, slots=True)
class PendingEffect:
    id: int
    plan_id: str
    seq: int
    effect: Any


class EffectLog(Tables):
    def pending_effects(self) -> list[PendingEffect]:
        rows = self.db.execute("SELECT id, plan_id, seq, kind, payload FROM effects WHERE done_at IS NULL "
                               "ORDER BY id").fetchall()
        return [PendingEffect(r[0], r[1], r[2], effect_from_json(r[3], r[4])) for r in rows]

    def mark_effect_done(self, effect_id: int, *, at: datetime, result: str = "ok") -> None:
        with self._tx():
            self.db.execute("UPDATE effects SET done_at=?, result=? WHERE id=?", (iso(at), result, effect_id))

    def flatten_waiting(self, plan_id: str, prefix: str) -> bool:
        """The plan's newest Flatten carried out ended waiting for IB to confirm its exits cancelled
        (its result starts with ``prefix``) and no flatten order was recorded since: the market
        order is still owed. What survives a restart of that wait."""
        row = self.db.execute("SELECT result, done_at FROM effects WHERE plan_id=? AND kind='Flatten' "
                              "AND done_at IS NOT NULL ORDER BY id DESC LIMIT 1", (plan_id,)).fetchone()
        if row is None or not str(row[0] or "").startswith(prefix):
            return False
        later = self.db.execute("SELECT 1 FROM orders WHERE plan_id=? AND leg='flatten' AND created_at>=? LIMIT 1",
                                (plan_id, row[1])).fetchone()
        return later is None
