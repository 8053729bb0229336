"""Session mode's market: the plans' price paths laid out around a close, a closed period and an
opening gap (``scenario.build(shape=SessionShape(...))``).

Steps ``[0, close_step)`` trade on D1. A D1 plan (``hold``, ``flatten``) follows its path until a
few steps past its entry, so it holds a position with its stop and target working when the
market closes. Steps ``[close_step, night_step)`` are the closed period: every price walks to its
opening price, away from the close (stops and targets are crossed there; none may trigger but an
``outside_rth`` one's). One D1 plan's opening price is through its stop or its target, so the open
fills it at the gap. From ``night_step`` on it is D2: each path goes on from its opening price;
a D2 plan (``next_open``, ``in_window``) holds its first price until then (and DAY2_HOLD steps
more: its start comes after the open) and then runs its whole path (entry and outcome) on D2.
"""

from __future__ import annotations

import random
from decimal import Decimal

from .scenario import PlanDraft, padded
from .sessiontime import KINDS, Timeline, plan_fields

CLOSED_STEPS = 6
DAY2_HOLD = 40        # steps a D2 plan's path holds its opening price: its start comes after the open
DAY2_KINDS = ("next_open", "in_window")


def _entered(d: PlanDraft, path: list[Decimal]) -> int:
    """The first step at which the plan's entry can fill (a market entry: at once)."""
    if d.entry == "market":
        return 0
    buys_below = (d.entry == "limit") == (d.side == "long")   # a long limit / a short stop: price falls to it
    for i, p in enumerate(path):
        if (p <= d.entry_price) if buys_below else (p >= d.entry_price):
            return i
    return len(path) - 1


class SessionShape:
    """A ``scenario.Shape``; remembers where the close and the night are, and which plan gaps."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.kind: dict[str, str] = {}
        self.close_step = 0
        self.night_step = 0
        self.through: tuple[str, str] | None = None   # (plan, "stop" | "target") the opening gap crosses

    def __call__(self, rng: random.Random, drafts: list[PlanDraft],
                 paths: dict[str, list[Decimal]]) -> list[dict[str, Decimal]]:
        for d in drafts:
            tick_plan = d.inst is not None
            kind = "hold" if tick_plan else rng.choice(KINDS)
            if kind == "in_window" and d.entry == "market":
                kind = "next_open"   # a market entry waits for the open anyway: the window needs a resting entry
            self.kind[d.id] = kind
            d.expire_in = None   # session mode's expiries are anchors (sessiontime.plan_fields)
            d.session = plan_fields(rng, kind, self.timeline, tick_plan=tick_plan, entry=d.entry)
        day1 = [d for d in drafts if self.kind[d.id] not in DAY2_KINDS]
        cut = {d.symbol: min(len(paths[d.symbol]) - 1, _entered(d, paths[d.symbol]) + rng.randint(2, 5))
               for d in day1}
        self.close_step = max(cut.values(), default=4) + 2
        self.night_step = self.close_step + CLOSED_STEPS
        gapper = rng.choice(day1) if day1 else None
        columns: dict[str, list[Decimal]] = {}
        for d in drafts:
            p, q = paths[d.symbol], d.instrument.path_price
            first = p[:cut[d.symbol]] if d.symbol in cut else [p[0]]
            before = first + [first[-1]] * (self.close_step - len(first))
            last = float(before[-1])
            if d is gapper:
                r = abs(float(d.entry_price - d.stop))
                side = rng.choice(["stop", "target"])
                level = float(d.stop if side == "stop" else d.target)
                gap = level + (d.sign if side == "target" else -d.sign) * r * rng.uniform(0.15, 0.4)
                self.through = (d.id, side)
            else:   # a D2 plan's path runs from its first price: its gap is small, and not carried on
                gap = last * (1 + rng.choice([-1, 1]) * rng.uniform(*((0.003, 0.008) if d.symbol in cut
                                                                      else (0.001, 0.003))))
            closed = [q(last + (gap - last) * (i + 1) / CLOSED_STEPS) for i in range(CLOSED_STEPS)]
            rest = p[cut[d.symbol]:] if d.symbol in cut else [q(gap)] * DAY2_HOLD + p
            scale = gap / float(rest[0]) if rest and d.symbol in cut else 1.0
            columns[d.symbol] = before + closed + [q(float(x) * scale) for x in rest]
        return padded(rng, drafts, columns)
