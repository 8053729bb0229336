"""IB's own connectivity (1100 / 1101 / 1102) with the client's socket kept up.

While connectivity is lost no ticks or bars flow, order messages from clients wait, and
what happens to orders at IB (fills included) is told to their owners only when it comes
back. It comes back after ``lost_seconds`` with 1101 (data lost: every market-data and bar
request is gone and must be sent again) or 1102 (data maintained: the ticks resume).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from . import messages as msg
from .delivery import Delivery
from .feed import MarketFeed
from .ports import Link

LOST = (1100, "Connectivity between IB and Trader Workstation has been lost.")
RESTORED = {
    "1101": (1101, "Connectivity between IB and Trader Workstation has been restored - data lost."),
    "1102": (1102, "Connectivity between IB and Trader Workstation has been restored - data maintained."),
}


class Connectivity:
    """IB's connectivity as the gateway's clients see it."""

    def __init__(self, feed: MarketFeed, delivery: Delivery, links: Callable[[], list[Link]],
                 changed: Callable[[], None]) -> None:
        self.feed, self.delivery, self.links, self.changed = feed, delivery, links, changed
        self.up = asyncio.Event()
        self.up.set()
        self._restore = "1102"
        self._timer: asyncio.TimerHandle | None = None

    @property
    def lost(self) -> bool:
        return not self.up.is_set()

    def lose(self, lost_seconds: float, restore: str = "1101") -> None:
        """Connectivity is lost now (1100) and comes back after ``lost_seconds`` (``restore``)."""
        if restore not in RESTORED:
            raise ValueError(f"restore {restore!r}: use 1101 (data lost) or 1102 (data maintained)")
        if lost_seconds <= 0:
            raise ValueError("lost_seconds must be > 0")
        self._restore = restore
        if not self.lost:
            self.up.clear()
            self.feed.paused = True
            self.delivery.holding = True
            for conn in self.links():
                conn.send(msg.error(-1, *LOST))
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(lost_seconds, self.restore)
        self.changed()

    def restore(self) -> None:
        """Connectivity is back: 1101 or 1102, then what happened meanwhile."""
        self._timer = None
        if not self.lost:
            return
        if self._restore == "1101":
            self.feed.lose_all()
        self.feed.paused = False
        for conn in self.links():
            conn.send(msg.error(-1, *RESTORED[self._restore]))
        if self._restore == "1102":
            self.feed.resume()
        self.delivery.release()
        self.up.set()
        self.changed()

    def greet(self, conn: Link) -> None:
        """A client that connects while connectivity is lost is told so at once."""
        if self.lost:
            conn.send(msg.error(-1, *LOST))

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
