"""What a plan can own of what IB holds in its symbol — the position gate on every exit.

IB's position is the truth, but only once it is *settled*: IB reported it after every fill of
ours in that symbol this session has seen (a position report can lag an execution by moments;
reconciliation asks for a complete report). Then a plan can own IB's position less the other
plans' open shares and the trader's own: what they accepted, and what IB was last seen holding
beside the plans. Before it is settled nothing is judged.

IB does not say whose shares are whose. The trader buys 50 beside a plan's 221 (IB: 271), then
sells 221 by hand (IB: 50): the 50 are taken as the ones they bought, so the plan closed outside
and no exit of ours is put on the trader's shares. A sale by hand is counted against the plan's
shares first; the price of a wrong guess is shares left to the trader (told, and held), never an
exit of ours selling what is not the plan's. What is beside is only noted from a look that no
fill of ours can still change (no entry working in the symbol, plans on one side), so a
position report ahead of our own fill is never taken for the trader's shares; any look may
lower it (the trader sold their own).

Exit orders that are not ours (the trader's own stop in TWS, another program's) are counted
too: beyond the shares no plan holds (the trader's own), they could sell our plans' shares, and
a second set of exits beside them would sell twice.
"""

from __future__ import annotations

from collections.abc import Iterable

import machines
from machines import Leg, Plan, Side

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
        return (held.quantity - others - self.gate.own(symbol)) * plan.spec.side.sign

    def note_beside(self, symbols: Iterable[str]) -> None:
        """Note, per symbol, the shares IB holds beyond the plans and the accepted positions in the
        plans' direction (the trader's own). Only a sure look (no entry of ours may still fill, the
        plans on one side) can raise the note; any settled look can lower it. A look showing less
        than the plans hold keeps it (that shortfall is judged with it); none is kept once no plan
        holds shares in the symbol."""
        by_symbol: dict[str, list[Plan]] = {symbol: [] for symbol in symbols}
        for p in self.registry:   # one pass (reconciliation asks for every symbol)
            if p.key in by_symbol:
                by_symbol[p.key].append(p)
        for symbol, on_symbol in by_symbol.items():
            held = self.broker.held(symbol)
            if not held.settled or any(self.fills.unapplied(p) for p in on_symbol):
                continue
            holding = [p for p in on_symbol if p.open_qty]
            plans_hold = sum(p.open_qty * p.spec.side.sign for p in holding)
            if not plans_hold:
                self.gate.saw_beside(symbol, 0)
                continue
            sign = 1 if plans_hold > 0 else -1
            beyond = (held.quantity - plans_hold - self.gate.accepted.get(symbol, 0)) * sign
            if beyond < 0:
                continue
            sure = len({p.spec.side for p in holding}) == 1 and not any(_entry_may_fill(self.broker, p)
                                                                       for p in on_symbol)
            noted = self.gate.beside.get(symbol, 0) * sign
            self.gate.saw_beside(symbol, (beyond if sure else min(noted, beyond)) * sign)

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
            own = self.gate.own(symbol)
            for p in asked:
                others = total - p.open_qty * p.spec.side.sign
                judged = not unsettled and (p.open_qty or not self.fills.unapplied(p))
                out[p.id] = (held.quantity - others - own) * p.spec.side.sign if judged else None
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


def _entry_may_fill(broker: Broker, plan: Plan) -> bool:
    """An entry of the plan IB may still fill (its fill could be behind the position report)."""
    if plan.state in machines.TERMINAL_STATES:
        return False
    if plan.state in machines.UNFILLED_WORKING or (plan.filled_qty and not plan.entry_done):
        return True
    return any(o.leg is Leg.ENTRY and not o.state.done for o in broker.orders_of(plan.id))
