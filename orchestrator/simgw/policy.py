"""Account settings and IB checks that decide about an order before the book does.

* read-only API: every new order gets 321 and never exists;
* precautionary percentage: a marketable limit more than N % through the market is refused
  with 201 (IB's own check refuses stock orders more than 10 % through the NBBO);
* modify processing window: a modify that arrives while the previous modify of the same
  order is still being processed gets 2102 and is lost (the order keeps its old terms).

Everything is off by default. Pure state plus a monotonic clock; the book asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .orders import SimOrder

READ_ONLY_TEXT = "Error validating request.-'bN' : cause - The API interface is currently in Read-Only mode."
STILL_PROCESSING_TEXT = "Unable to modify this order as it is still being processed."


class OrderPolicy:
    """The gateway's order-entry settings (``gw.policy``)."""

    def __init__(self, *, read_only: bool = False, precaution_percent: float | None = None,
                 modify_processing_seconds: float = 0.0, now: Callable[[], float] = time.monotonic) -> None:
        self.read_only = read_only
        self.precaution_percent = precaution_percent
        self.modify_processing_seconds = modify_processing_seconds
        # market orders whose rest IB cancels right after their first partial fill (no liquidity
        # left): the error 202 reaches the client before the fill's status and execution
        self.cancel_market_rest = 0
        self._now = now
        self._last_modify: dict[int, float] = {}  # perm_id -> when its last modify was applied

    def precaution_problem(self, o: SimOrder, lmt: float | None, price: float) -> str:
        """Why a marketable limit is too far through the market ``price``, or ``""``."""
        pct = self.precaution_percent
        if pct is None or lmt is None or o.order_type not in ("LMT", "STP LMT"):
            return ""
        through = (lmt - price) if o.is_buy else (price - lmt)
        if through <= 0 or through <= price * pct / 100.0:
            return ""
        return (f'The following order "ID:{o.order_id}" price exceeds the Percentage constraint of {pct:g}%. '
                "Restriction is specified in Precautionary Settings of Global Configuration/Presets.")

    def modify_busy(self, o: SimOrder) -> bool:
        """Is the previous modify of ``o`` still being processed?"""
        last = self._last_modify.get(o.perm_id)
        return last is not None and self._now() - last < self.modify_processing_seconds

    def modified(self, o: SimOrder) -> None:
        if self.modify_processing_seconds > 0:
            self._last_modify[o.perm_id] = self._now()

    def to_json(self) -> dict[str, object]:
        return {"read_only": self.read_only, "precaution_percent": self.precaution_percent,
                "modify_processing_seconds": self.modify_processing_seconds}
