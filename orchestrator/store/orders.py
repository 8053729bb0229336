"""Order intents: written before ``placeOrder``, so a crash leaves evidence of what was sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from .codec import iso
from .tx import Tables


def _dec(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


class OrderIntents(Tables):
    def record_intents(self, intents: Sequence[dict[str, Any]], *, at: datetime) -> None:
        """Write order intents (before placeOrder) in one transaction. Existing refs are kept."""
        now = iso(at)
        with self._tx():
            for o in intents:
                self.db.execute(
                    "INSERT OR IGNORE INTO orders(order_ref, plan_id, leg, attempt, order_id, parent_ref, oca_group, "
                    "action, order_type, quantity, lmt_price, aux_price, status, filled, created_at, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?, 'intent', 0, ?, ?)",
                    (o["order_ref"], o["plan_id"], o["leg"], o.get("attempt", 1), o.get("order_id"),
                     o.get("parent_ref"), o.get("oca_group"), o["action"], o["order_type"], o["quantity"],
                     _dec(o.get("lmt_price")), _dec(o.get("aux_price")), now, now))

    def entry_may_be_at_ib(self, plan_id: str) -> bool:
        """An entry intent of this plan was written before a send that may have left (IB's own
        view can lag by seconds): a second entry must never be sent beside it."""
        row = self.db.execute("SELECT 1 FROM orders WHERE plan_id=? AND leg='entry' AND status='intent' LIMIT 1",
                              (plan_id,)).fetchone()
        return row is not None

    def mark_unsent(self, refs: Sequence[str], *, at: datetime) -> None:
        """These intents never left (the send failed before anything was written)."""
        with self._tx():
            self.db.executemany("UPDATE orders SET status='unsent', updated_at=? WHERE order_ref=?",
                                [(iso(at), ref) for ref in refs])

    def next_attempt(self, plan_id: str, leg: str) -> int:
        row = self.db.execute("SELECT max(attempt) FROM orders WHERE plan_id=? AND leg=?", (plan_id, leg)).fetchone()
        return int(row[0] or 0) + 1

    def max_order_id(self) -> int:
        """The highest order id this store ever reserved (0 if none): new ids must go above it."""
        row = self.db.execute("SELECT max(order_id) FROM orders").fetchone()
        return int(row[0] or 0)
