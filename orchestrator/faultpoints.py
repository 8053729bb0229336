"""Crash points for the survival harness: stop this process at an exact step boundary.

Set ``ORCHESTRATOR_KILL_AT`` to a comma-separated list of ``point:N`` or ``point:Kind:N``: the
N-th time the point is reached (counting only steps with a broker effect of that kind, when a
kind is given) the process kills itself with SIGKILL. Points:

- ``after_commit``: a step is committed, its broker effects not yet carried out;
- ``before_broker``: a broker effect is about to be carried out (nothing sent for it yet);
- ``after_broker``: a broker effect was sent to IB, it is not yet marked done;
- ``after_place``: a bracket's intents are written and its three orders were handed to the
  socket (in one write, so there is no point inside a bracket).

Kinds are effect class names (``PlaceBracket``, ``Protect``, ``Flatten``, ``ModifyStop``, ...).
Unset (always, outside the harness) this does nothing but count. Tests in one process pass an
``on_hit`` that raises instead of killing.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

ENV = "ORCHESTRATOR_KILL_AT"


def _kill_self(point: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class FaultPoints:
    def __init__(self, spec: str = "", on_hit: Callable[[str], None] | None = None) -> None:
        self.targets: dict[tuple[str, str | None], int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            bits = part.split(":")
            if len(bits) == 3:
                self.targets[(bits[0], bits[1])] = int(bits[2])
            elif len(bits) == 2:
                self.targets[(bits[0], None)] = int(bits[1])
            else:
                self.targets[(bits[0], None)] = 1
        self.counts: Counter[tuple[str, str | None]] = Counter()
        self.on_hit = on_hit or _kill_self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FaultPoints:
        return cls((env if env is not None else os.environ).get(ENV, ""))

    def hit(self, point: str, kinds: Iterable[str] = ()) -> None:
        for key in [(point, None), *((point, k) for k in set(kinds))]:
            self.counts[key] += 1
            if self.targets.get(key) == self.counts[key]:
                self.on_hit(point)
