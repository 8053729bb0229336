"""IB's message-rate limit: at most N messages per second from one client (default 50).

A message over the limit is refused (not processed) and answered with error 100, at most
once per second; a client that goes on, with as many messages refused within one second as
the limit allows, is disconnected (IB: "The TWS will likely disconnect the client
application after this message"). The window is a sliding second of arrival times.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

DEFAULT_LIMIT = 50
WINDOW = 1.0


class Verdict(Enum):
    OK = "ok"
    REFUSE = "refuse"  # refused, error 100 already sent within the last second
    REFUSE_NOTIFY = "refuse_notify"  # refused: send error 100
    DROP = "drop"  # refused too often: disconnect


def rate_text(limit: int, received: int, count: int) -> str:
    return f"Max rate of messages per second has been exceeded:max={limit} rec={received} ({count})"


class PaceWindow:
    """The recent messages of one connection."""

    def __init__(self) -> None:
        self._seen: deque[float] = deque()
        self._refused: deque[float] = deque()
        self._notified = -WINDOW
        self.violations = 0

    def admit(self, now: float, limit: int) -> Verdict:
        for q in (self._seen, self._refused):
            while q and now - q[0] >= WINDOW:
                q.popleft()
        if len(self._seen) < limit:
            self._seen.append(now)
            return Verdict.OK
        self._refused.append(now)
        self.violations += 1
        if len(self._refused) >= limit:
            return Verdict.DROP
        if now - self._notified >= WINDOW:
            self._notified = now
            return Verdict.REFUSE_NOTIFY
        return Verdict.REFUSE

    def received(self) -> int:
        """Messages seen in the current window, refused ones included."""
        return len(self._seen) + len(self._refused)
