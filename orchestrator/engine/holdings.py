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
