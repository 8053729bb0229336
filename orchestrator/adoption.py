"""Taking plans over from IB's evidence when the store lost them (``run --adopt-existing``).

Each plan id IB knows in our namespace becomes a stored plan again, from its plan file (the
spec: stop, target, risk) and IB's orders and executions (where it stands). Fills that IB's
orders show but no execution visible today covers (an entry filled on an earlier day) go into
the ``Adopt`` event; today's executions are applied afterwards by the ordinary reconciliation,
like any fill the orchestrator missed, and so are the working entry's status and the stop and
take-profit that protect the position. Nothing is sent that IB does not already hold, except
what protection the plan lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import machines
from machines import Leg, PlanMachine, PlanSpec

from .broker.port import BrokerFill, BrokerOrder
from .engine.intake import spec_hash
from .engine.step import apply_event
from .ownership import OwnershipRefused, Trace
from .store import Store

EXITS = (Leg.STOP, Leg.TARGET, Leg.FLATTEN)


def _distinct(orders: Iterable[BrokerOrder]) -> list[BrokerOrder]:
    seen: dict[object, BrokerOrder] = {}
    for o in orders:
        seen.setdefault(o.perm_id or o.ref, o)
    return list(seen.values())


def _filled(orders: list[BrokerOrder]) -> tuple[int, Decimal | None]:
    """Shares filled over these orders and their average price (None when none is known)."""
    qty = sum(o.filled for o in orders)
    priced = [(o.filled, o.avg_fill_price) for o in orders if o.filled and o.avg_fill_price is not None]
    if not qty or not priced:
        return qty, None
    return qty, sum((Decimal(q) * p for q, p in priced), Decimal(0)) / sum(q for q, _ in priced)


def _seen_today(fills: list[BrokerFill], legs: tuple[Leg, ...]) -> int:
    return sum(f.quantity for f in fills if f.leg in legs)


def adopt_event(trace: Trace, at: datetime) -> machines.Adopt:
    """Where the plan stands according to IB, less what today's executions will tell again."""
    orders = _distinct([*trace.working, *trace.completed])
    entries = [o for o in orders if o.leg is Leg.ENTRY]
    exits = [o for o in orders if o.leg in EXITS]
    exit_qty, exit_price = _filled(exits)
    if entries:
        entry_qty, entry_price = _filled(entries)
        quantity = max(o.total for o in entries)
    else:  # the entry is from an earlier day: the exits still working say what is held
        held = max((o.open_quantity for o in exits if not o.state.done), default=0)
        entry_qty, entry_price, quantity = held + exit_qty, None, held + exit_qty
    prior_entry = max(entry_qty - _seen_today(trace.fills, (Leg.ENTRY,)), 0)
    prior_exit = max(exit_qty - _seen_today(trace.fills, EXITS), 0)
    return machines.Adopt(at, quantity=quantity, entry_qty=prior_entry,
                          entry_price=entry_price if prior_entry else None, exit_qty=prior_exit,
                          exit_price=exit_price if prior_exit else None,
                          entry_done=not any(not o.state.done for o in entries))


def adopt(store: Store, traces: dict[str, Trace], specs: dict[str, PlanSpec], *, at: datetime) -> list[str]:
    """Store every traced plan again and step it to where IB says it is. All or nothing: a plan
    without a plan file refuses the whole start before anything is written."""
    missing = sorted(pid for pid in traces if pid not in specs)
    if missing:
        raise OwnershipRefused(
            f"cannot adopt {', '.join(missing)}: no plan file defines {'it' if len(missing) == 1 else 'them'} "
            "(the stop, target and risk come from the plan); put the plan back under plans/, or start with "
            "--ignore-existing to leave those orders alone")
    machine = PlanMachine()
    for plan_id, trace in traces.items():
        spec = specs[plan_id]
        plan = machine.bind(store.insert_plan(spec, at=at, spec_hash=spec_hash(spec)))
        apply_event(machine, store, plan, adopt_event(trace, at), now=at)
    return sorted(traces)
