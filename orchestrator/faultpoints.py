"""Crash points for the survival harness: kill this process at an exact step boundary.

Set ``ORCHESTRATOR_KILL_AT`` to a comma-separated list of ``point:N`` (kill with SIGKILL the N-th
time the point is reached). Points:

- ``after_commit``: a step is committed, its broker effects not yet carried out;
- ``after_broker``: a broker effect was sent to IB, it is not yet marked done;
- ``after_place``: an order intent is written and ``placeOrder`` was called for it.

Unset (always, outside the harness) this does nothing but count.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from typing import Mapping

ENV = "ORCHESTRATOR_KILL_AT"


class FaultPoints:
    def __init__(self, spec: str = "") -> None:
        self.targets: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, n = part.partition(":")
            self.targets[name] = int(n or 1)
        self.counts: Counter[str] = Counter()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "FaultPoints":
        return cls((env if env is not None else os.environ).get(ENV, ""))

    def hit(self, point: str) -> None:
        self.counts[point] += 1
        if self.targets.get(point) == self.counts[point]:
            os.kill(os.getpid(), signal.SIGKILL)
