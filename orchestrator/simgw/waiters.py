"""``wait_until``: futures that complete when a predicate over the gateway's state holds.

The gateway calls :meth:`Waiters.changed` after every change it makes, so a waiter is
re-checked exactly when something could have made it true: no polling, no sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Waiters:
    """Predicates waiting to hold."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds; it is re-checked after every change.

        Raises:
            asyncio.TimeoutError: it did not hold within ``timeout`` seconds.
        """
        if predicate():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, fut)
        self._waiting.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            if entry in self._waiting:
                self._waiting.remove(entry)

    def changed(self) -> None:
        """Re-check every waiting predicate."""
        for predicate, fut in list(self._waiting):
            if not fut.done():
                try:
                    if predicate():
                        fut.set_result(None)
                except Exception as exc:  # noqa: BLE001 - surface predicate bugs to the waiter
                    fut.set_exception(exc)
