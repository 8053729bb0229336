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
