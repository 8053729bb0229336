"""What a plan can own of what IB holds in its symbol — the position gate on every exit.

IB's position is the truth, but only once it is *settled*: IB reported it after every fill of
ours in that symbol this session has seen (a position report can lag an execution by moments;
reconciliation asks for a complete report). Then a plan can own IB's position less the other
plans' open shares and what the trader accepted as their own. Before it is settled nothing is
judged.

Exit orders that are not ours (the trader's own stop in TWS, another program's) are counted
too: beyond the shares no plan holds (the trader's own), they could sell our plans' shares, and
a second set of exits beside them would sell twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from machines import Plan, Side

from ..broker.port import Broker, ForeignOrder
from .fills import FillsInFlight
from .gate import EntryGate
from .registry import PlanRegistry


class Holdings:
    def __init__(self, broker: Broker, registry: PlanRegistry, gate: EntryGate, fills: FillsInFlight) -> None:
        self.broker = broker
        self.registry = registry
        self.gate = gate
        self.fills = fills

    def settled(self, symbol: str) -> int | None:
        """IB's position in ``symbol`` now, once settled and with no fill of a live plan there still
        to apply; None until then."""
        held = self.broker.held(symbol)
        if not held.settled or any(self.fills.unapplied(p) for p in self.registry.live() if p.key == symbol):
            return None
        return held.quantity

    def ownable(self, plan: Plan) -> int | None:
        """Shares in the plan's direction it can own of IB's settled position; None while the
        position is not settled (nothing can be judged yet)."""
        symbol = plan.key
        held = self.broker.held(symbol)
        if not held.settled:
            return None
        on_symbol = [p for p in self.registry if p.key == symbol]
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
            by_symbol.setdefault(p.key, []).append(p)
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

    def trader_exits(self, symbol: str, side: Side, foreign: Iterable[ForeignOrder]) -> tuple[str, int] | None:
        """Others' working exit orders in ``symbol`` that reach into the shares of the plans on
        ``side``: (what they are, how many of those shares they could sell together beyond the
        trader's own); None if none do or the position is not settled. Orders that exclude each
        other (one OCA group, one bracket's children) count once, at the largest; any others
        can all fill, so they add up."""
        held = self.broker.held(symbol)
        if not held.settled:
            return None
        foreign = list(foreign)
        waiting = {(o.client_id, o.order_id) for o in foreign}   # a child waits while its parent works
        exits = [o for o in foreign if o.symbol == symbol and o.action == side.exit_action and o.remaining > 0
                 and o.order_type != "MKT" and (o.client_id, o.parent_id) not in waiting]
        if not exits:
            return None
        plans_hold = sum(p.open_qty * p.spec.side.sign for p in self.registry if p.key == symbol)
        traders_own = max(0, (held.quantity - plans_hold) * side.sign)
        groups: dict[tuple[object, ...], int] = {}
        for o in exits:
            key = o.exclusive_with()
            groups[key] = max(groups.get(key, 0), o.remaining)
        reach = sum(groups.values()) - traders_own
        if reach <= 0:
            return None
        return "; ".join(o.describe() for o in exits), reach
