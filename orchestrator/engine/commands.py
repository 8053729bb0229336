"""The trader's commands (``orchestrator cancel``, the console) reaching the engine.

They arrive as rows in state.db's ``commands`` table (``store/commands.py``); the engine polls
them every ``command_interval`` and before anything is sent at a reconciliation, applies each
once, and marks it done with its result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import machines

from ..clock import Clock
from ..store import Store

Apply = Callable[[str, Any], Awaitable[bool]]


class TraderCommands:
    def __init__(self, store: Store, clock: Clock, apply: Apply) -> None:
        self.store = store
        self.clock = clock
        self.apply = apply

    async def poll(self) -> None:
        for cmd in self.store.pending_commands():
            if cmd.command != "cancel":
                self.store.mark_command_done(cmd.id, at=self.clock.now(), result=f"unknown command {cmd.command}")
                continue
            ok = await self.apply(cmd.plan_id, machines.CancelRequested(self.clock.now()))
            self.store.mark_command_done(cmd.id, at=self.clock.now(), result="applied" if ok else "not applicable")
