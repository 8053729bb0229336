"""Errors raised by the pure core. They carry fields, not just text."""

from __future__ import annotations


class PlanError(Exception):
    """Base of every error the pure core raises."""


class InvalidEvent(PlanError):
    """An event that the transition table does not allow in the plan's current state.

    The plan is left exactly as it was.
    """

    def __init__(self, plan_id: str, state: str, event: str) -> None:
        super().__init__(f"plan {plan_id}: event {event} is not allowed in state {state}")
        self.plan_id = plan_id
        self.state = state
        self.event = event


class SizingError(PlanError):
    """Inputs that make sizing meaningless (zero distance, non-positive account value)."""
