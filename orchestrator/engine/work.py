"""The engine's work items and the one queue they travel on.

Everything the engine does starts as an item on :class:`WorkQueue`: machine events from IB (the
broker port's ``PlanEvent``, ``Verify``, ``ProtectionMayHaveChanged``, ``BrokerNotice``),
requests from scheduled jobs (below) and a stop. The queue also counts the fills waiting in it
per plan: IB's order view runs ahead of the queue, so the fills not yet applied must be known.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import machines

from ..broker.port import PlanEvent


@dataclass(frozen=True, slots=True)
class ActivateRequest:
    """A pending plan's start time has come (``now``: a start asked for at once, before its
    ``start_at``; every other check of activation still applies)."""

    plan_id: str
    now: bool = False


@dataclass(frozen=True, slots=True)
class ExpireRequest:
    """A plan's ``expire_at`` has come."""

    plan_id: str


@dataclass(frozen=True, slots=True)
class FlattenAtRequest:
    """A plan's ``flatten_at`` has come: its position is flattened, its orders cancelled."""

    plan_id: str


@dataclass(frozen=True, slots=True)
class TrailTick:
    """Time to look at prices for trailing stops."""


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    reason: str


@dataclass(frozen=True, slots=True)
class RescanRequest:
    """Time to look at the plan files again."""


@dataclass(frozen=True, slots=True)
class PollCommands:
    """Time to pick up the trader's commands from state.db."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Time to rewrite the daemon's status for readers of state.db."""


@dataclass(frozen=True, slots=True)
class PriceTick:
    """Time to sample prices for the charts and write them (or, with ``prune``, drop old ones)."""

    prune: bool = False


@dataclass(frozen=True, slots=True)
class Stop:
    """The consumer finishes the current item and returns."""


@dataclass(frozen=True, slots=True)
class Again:
    """A work item retried after a failed commit."""

    item: Any
    attempt: int


def _fill_of(item: Any) -> str | None:
    """The plan of a fill event, or None."""
    if isinstance(item, PlanEvent) and isinstance(item.event, (machines.EntryFilled, machines.ExitFilled)):
        return item.plan_id
    return None


def _verdict_of(item: Any) -> str | None:
    """The plan of an entry the executor did not send (refused, to be sized again) or IB refused, or None."""
    verdicts = (machines.EntryRefused, machines.EntryRejected, machines.SizedAgain)
    if isinstance(item, PlanEvent) and isinstance(item.event, verdicts):
        return item.plan_id
    return None


class WorkQueue:
    """An asyncio queue of work items that counts the fills, and the verdicts on entries, in it,
    per plan."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._fills: dict[str, int] = {}
        self._verdicts: dict[str, int] = {}
        self.observers: list[Callable[[Any], None]] = []  # see every item put (benchmarks, tracing)

    def put(self, item: Any) -> None:
        """Enqueue (safe to call from IB handlers and scheduled jobs on the event loop)."""
        self._count(item, +1)
        for observe in self.observers:
            observe(item)
        self.queue.put_nowait(item)

    def put_later(self, delay: float, item: Any) -> None:
        self._count(item.item if isinstance(item, Again) else item, +1)
        asyncio.get_running_loop().call_later(delay, self.queue.put_nowait, item)

    def taken(self, item: Any) -> None:
        """The consumer is about to handle ``item``: it no longer waits in the queue."""
        self._count(item, -1)

    def fills_waiting(self, plan_id: str) -> int:
        return self._fills.get(plan_id, 0)

    def verdict_waiting(self, plan_id: str) -> bool:
        """An entry of the plan was refused (not sent, or by IB) and the plan has not heard yet."""
        return self._verdicts.get(plan_id, 0) > 0

    def _count(self, item: Any, delta: int) -> None:
        for counts, plan_id in ((self._fills, _fill_of(item)), (self._verdicts, _verdict_of(item))):
            if plan_id is not None:
                counts[plan_id] = counts.get(plan_id, 0) + delta

    async def get(self) -> Any:
        return await self.queue.get()

    def task_done(self) -> None:
        self.queue.task_done()

    def empty(self) -> bool:
        return self.queue.empty()

    async def join(self) -> None:
        await self.queue.join()
