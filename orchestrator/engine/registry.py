"""The plans the engine holds in memory, bound to the one shared machine."""

from __future__ import annotations

from collections.abc import Iterator

import machines
from machines import Plan, PlanMachine

from ..store import Store
from .openrisk import OpenRisk


class PlanRegistry:
    """Every plan this process has touched, by id. A plan not in memory is loaded from the
    store on first use (an event for a plan that ended before this start, say)."""

    def __init__(self, store: Store, machine: PlanMachine) -> None:
        self.store = store
        self.machine = machine
        self.plans: dict[str, Plan] = {}
        self.risk = OpenRisk()  # kept up to date by ``add`` and a commit hook (engine wiring)

    def add(self, plan: Plan) -> Plan:
        self.machine.bind(plan)
        self.plans[plan.id] = plan
        self.risk.update(plan)
        return plan

    def get(self, plan_id: str) -> Plan | None:
        """The plan, loading it from the store if needed; None if the store has no such plan."""
        plan = self.plans.get(plan_id)
        if plan is None:
            plan = self.store.load_plan(plan_id)
            if plan is not None:
                self.add(plan)
        return plan

    def known(self, plan_id: str) -> Plan | None:
        """The plan if it is in memory (never loads)."""
        return self.plans.get(plan_id)

    def live(self) -> list[Plan]:
        return [p for p in self.plans.values() if p.state not in machines.TERMINAL_STATES]

    def __iter__(self) -> Iterator[Plan]:
        return iter(list(self.plans.values()))

    def __contains__(self, plan_id: object) -> bool:
        return plan_id in self.plans
