"""Session mode in the default suite: a short chaos pass (two episodes) with every gateway on its
session clock (XNYS at 300x), the orchestrator on IB's clock with market hours and a maintenance
window. The session events are counted from the gateway's own answers (chaos/sessionplay.py),
not assumed from the timeline: each episode must have seen a close with positions held through
it, an open at prices away from the close, and its maintenance window crossed with the
disconnect in it; and no invariant may be violated, the session ones included.

No Discord storms here: a 503 or 429 that the first delivery of a fresh process meets before its
clock has synced with IB's is retried at a time on the machine's clock, months past the
simulated day, and the outbox stalls (a finding of the session runs, reported: the quick pass
has the storms, on a clock that is the machine's)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chaos import Budget, Run
from chaos.report import summary

pytestmark = pytest.mark.chaos

SEED = 2101
BUDGET = Budget(kills=6, gateway_faults=4, discord_faults=0, suspends=1, interventions=2)
PER_EPISODE = Budget(kills=3, gateway_faults=2, discord_faults=0, suspends=1, interventions=1)


@pytest.mark.timeout(240)
def test_session_mode_pass(tmp_path: Path) -> None:
    lines: list[str] = []
    run = Run(SEED, BUDGET, base=tmp_path, plans_per_episode=4, per_episode=PER_EPISODE, settle=False,
              sessions=True, episodes=2, log=lines.append)
    tally = asyncio.run(run.run())
    text = summary(tally, f"python -m chaos --sessions --seed {SEED} (test budget)") + "\n\nrun log:\n" + "\n".join(
        lines[-60:])
    print(text)
    n = tally.episodes
    assert n == 2, text
    seen = tally.sessions
    assert seen["closes"] >= n and seen["opens"] >= n, text
    assert seen["positions held through a close"] >= 1, text
    assert seen["opens with a gap"] >= 1, text
    assert seen["maintenance windows crossed"] >= n and seen["disconnects in a maintenance window"] >= n, text
    for name in ("no_fill_while_closed", "no_entry_in_maintenance", "day_orders_end_at_close"):
        assert tally.checks[name] >= n, text
    assert tally.kills >= 1 and tally.gateway_faults >= 1, text
    assert not tally.violations, text
