"""Automatic ticking: call ``step`` every ``seconds`` on the event loop's clock.

A loop that stalls (a busy machine) does not burst to catch up: it skips ahead instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("orchestrator.simgw")


async def tick_forever(seconds: float, step: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        due += seconds
        if loop.time() - due > 1.0:  # fell far behind (a stalled loop): do not burst-catch-up
            due = loop.time()
        await asyncio.sleep(max(0.0, due - loop.time()))
        try:
            step()
        except Exception:
            log.exception("tick failed")
