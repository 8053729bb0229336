"""Fills IB has reported that a plan has not applied yet — the one place that knows.

Two sources, whichever says more: fill events still waiting in the engine's queue, and what
IB's own views show (executions the plan has not seen, and the cumulative ``filled`` of its
orders: IB may send an orderStatus before its execDetails). Anything that judges a position
from IB's order view waits until these are applied, or counts them in.
"""

from __future__ import annotations

from machines import Leg, Plan

from ..broker.port import Broker
from .work import WorkQueue


class FillsInFlight:
    def __init__(self, broker: Broker, queue: WorkQueue) -> None:
        self.broker = broker
        self.queue = queue

    def gaps(self, plan: Plan) -> tuple[int, int]:
        """Shares IB shows filled that the plan has not applied yet: (entry, exit)."""
        entry_exec = exit_exec = 0
        for fill in self.broker.fills_of(plan.id):
            if fill.exec_id in plan.seen_exec_ids:
                continue
            if fill.leg is Leg.ENTRY:
                entry_exec += fill.quantity
            else:
                exit_exec += fill.quantity
        entry_status = exit_status = 0
        for order in self.broker.orders_of(plan.id):
            if not order.filled:
                continue
            if order.leg is Leg.ENTRY:
                entry_status += order.filled
            else:
                exit_status += order.filled
        return (max(entry_exec, entry_status - plan.filled_qty, 0),
                max(exit_exec, exit_status - plan.exited_qty, 0))

    def live_open_qty(self, plan: Plan) -> int:
        """The position as IB will soon report it: the plan's plus what IB filled that it has not applied."""
        entry_gap, exit_gap = self.gaps(plan)
        return max(0, plan.open_qty + entry_gap - exit_gap)

    def unapplied(self, plan: Plan) -> bool:
        """IB reported fills of this plan that it has not applied yet (queued, or only in IB's views)."""
        return self.queue.fills_waiting(plan.id) > 0 or self.gaps(plan) != (0, 0)
