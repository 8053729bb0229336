"""The trader's commands (``orchestrator cancel``, ``pause``, ``resume``, ``positions accept``,
the console's controls) reaching the engine.

They arrive as rows in state.db's ``commands`` table (``store/commands.py``); the engine polls
them every ``command_interval`` and before anything is sent at a reconciliation, applies each
once, and marks it done with its result (``positions accept`` waits until IB's position in the
symbol is settled: it takes what IB holds then, not what the last reconciliation read).
``cancel`` and ``flatten`` go to the plan's machine (an unfilled entry is cancelled, a position
flattened); the others change the entry gate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import machines
from machines import NotifyKind

from ..clock import Clock
from ..store import Store
from ..store.commands import Command
from .gate import EntryGate
from .notices import Notices
from .registry import PlanRegistry

Apply = Callable[[str, Any], Awaitable[bool]]


class TraderCommands:
    def __init__(self, store: Store, clock: Clock, apply: Apply, registry: PlanRegistry, gate: EntryGate,
                 notices: Notices, position_now: Callable[[str], int | None]) -> None:
        self.position_now = position_now   # IB's settled position in a contract now (None: not settled yet)
        self.store = store
        self.clock = clock
        self.apply = apply
        self.registry = registry
        self.gate = gate
        self.notices = notices

    async def poll(self) -> None:
        for cmd in self.store.pending_commands():
            result = await self._one(cmd)
            if result is not None:   # None: it cannot be decided yet; asked again at the next poll
                self.store.mark_command_done(cmd.id, at=self.clock.now(), result=result)

    async def _one(self, cmd: Command) -> str | None:
        who = f" ({cmd.origin})" if cmd.origin else ""
        if cmd.command in ("cancel", "flatten"):
            reason = "cancelled by user" if cmd.command == "cancel" else "flatten requested by the trader"
            ok = await self.apply(cmd.plan_id, machines.CancelRequested(self.clock.now(), reason + who))
            return "applied" if ok else "not applicable"
        symbol = cmd.args.get("symbol") or None
        if cmd.command == "pause":
            if not self.gate.pause(symbol):
                return "already paused"
            self._notice(cmd, NotifyKind.ENTRIES_PAUSED, f"new entries paused{' in ' + symbol if symbol else ''}"
                         f"{who}; protection at IB is untouched")
            return "applied"
        if cmd.command == "resume":
            if not self.gate.resume(symbol):
                return "not paused"
            where = f" in {symbol}" if symbol else ""
            self._notice(cmd, NotifyKind.ENTRIES_RESUMED, f"new entries resumed{where}{who}")
            return "applied"
        if cmd.command == "accept_position" and symbol:
            key = self.gate.contract_of(symbol)
            held = self.position_now(key)
            if held is None:
                return None   # IB's position there is not settled yet: a stale figure would accept the wrong shares
            own = self.gate.accept(key, self.registry, held)
            return f"accepted {own} {key} as the trader's own" if own else f"nothing to accept in {key}"
        return f"unknown command {cmd.command}"

    def _notice(self, cmd: Command, kind: NotifyKind, message: str) -> None:
        self.notices.report_once(f"command:{cmd.id}", kind, {"message": message})
