"""The survival harness: the orchestrator as a real process against the simulated gateway in
its own process, under seeded crashes, disconnects, outages and clock jumps, and a second actor
— a trader at the same account (``actor.py``) — with invariants checked from broker truth (every
client's orders) and state.db at every checkpoint and after every episode. ``python -m chaos --help``."""

from .invariants import INVARIANTS, Violation
from .runner import Run
from .tally import ALL_KINDS, Budget, Tally

__all__ = ["ALL_KINDS", "Budget", "INVARIANTS", "Run", "Tally", "Violation", "run"]


async def run(seed: int, budget: Budget, **kw: object) -> Tally:
    """One chaos run (see :class:`Run`)."""
    return await Run(seed, budget, **kw).run()  # type: ignore[arg-type]
