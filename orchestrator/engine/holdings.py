"""What a plan can own of what IB holds in its symbol — the position gate on every exit.

IB's position is the truth, but only once it is *settled*: IB reported it after every fill of
ours in that symbol this session has seen (a position report can lag an execution by moments;
reconciliation asks for a complete report). Then a plan can own IB's position less the other
plans' open shares and what the trader accepted as their own. Before it is settled nothing is
judged.
"""

from __future__ import annotations

from machines import Plan

from ..broker.port import Broker
from .fills import FillsInFlight
from .gate import EntryGate
from .registry import PlanRegistry


class Holdings:
    def __init__(self, broker: Broker, registry: PlanRegistry, gate: EntryGate, fills: FillsInFlight) -> None:
        self.broker = broker
        self.registry = registry
        self.gate = gate
        self.fills = fills

    def ownable(self, plan: Plan) -> int | None:
        """Shares in the plan's direction it can own of IB's settled position; None while the
        position is not settled (nothing can be judged yet)."""
        symbol = plan.spec.symbol
        held = self.broker.held(symbol)
        if not held.settled:
            return None
        on_symbol = [p for p in self.registry if p.spec.symbol == symbol]
        if any(self.fills.unapplied(p) for p in on_symbol if p.open_qty or p.id == plan.id):
            return None  # the plans' own fills are still arriving: nothing to judge yet
        others = sum(p.open_qty * p.spec.side.sign for p in on_symbol if p.id != plan.id and p.open_qty)
        accepted = self.gate.accepted.get(symbol, 0)
        return (held.quantity - others - accepted) * plan.spec.side.sign

    def ownable_each(self, plans: list[Plan]) -> dict[str, int | None]:
        """``ownable`` of every plan given, in one pass per symbol (reconciliation asks for all of
        them: plan by plan it was O(plans²) fill look-ups, seconds at a few hundred plans)."""
        by_symbol: dict[str, list[Plan]] = {}
        for p in self.registry:
            by_symbol.setdefault(p.spec.symbol, []).append(p)
        wanted = {p.id for p in plans}
        out: dict[str, int | None] = {}
        for symbol, on_symbol in by_symbol.items():
            asked = [p for p in on_symbol if p.id in wanted]
            if not asked:
                continue
            held = self.broker.held(symbol)
            unsettled = not held.settled or any(self.fills.unapplied(p) for p in on_symbol if p.open_qty)
            total = sum(p.open_qty * p.spec.side.sign for p in on_symbol if p.open_qty)
            accepted = self.gate.accepted.get(symbol, 0)
            for p in asked:
                others = total - p.open_qty * p.spec.side.sign
                judged = not unsettled and (p.open_qty or not self.fills.unapplied(p))
                out[p.id] = (held.quantity - others - accepted) * p.spec.side.sign if judged else None
        return out

