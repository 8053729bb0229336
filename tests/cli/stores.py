"""A state.db with plans in the states a trader reads, built through the real machine and store."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import machines
from machines import Leg, PlanMachine
from orchestrator.engine.step import apply_event
from orchestrator.store import Store

from ..orchestrator.factories import at, spec

LONG_REASON = ("IB refused the order: the account's available funds are less than the order's margin "
               "requirement, and this message goes on for a while")


def build(db: Path, source: Path) -> None:
    """Four plans: closed at the target with both commissions, trailing with a stop IB has not
    confirmed, rejected with a long reason, and one still pending."""
    store = Store(f"sqlite:///{db}")
    m = PlanMachine()

    def plan(s: machines.PlanSpec, events: list[object]) -> None:
        p = m.bind(store.insert_plan(s, at=at(0), source_file=str(source)))
        for e in events:
            apply_event(m, store, p, e, now=e.at)   # type: ignore[attr-defined]

    activate = machines.Activate(at(1), D(100000), D(200000), D(0), market_price=D("180.00"))
    filled = [activate, machines.EntryAccepted(at(2), 10, 1000), machines.EntryFilled(at(3), "e-1", 500, D("180.00")),
              machines.ProtectionStatus(at(4), 500, 500, D("176.00"), D("188.00"))]
    plan(spec("AAPL-20261127-TP"), [
        *filled, machines.CommissionCharged(at(4.5), "e-1", D("2.50")),
        machines.ExitFilled(at(5), "x-1", Leg.TARGET, 500, D("188.00")),
        machines.CommissionCharged(at(5.5), "x-1", D("2.50"))])
    plan(spec("NVDA-TRAIL", symbol="NVDA", trail=("1", "2.00")), [
        *filled, machines.PriceUpdate(at(6), D("186.00"))])   # wants 184.00; IB still holds 176.00
    plan(spec("MSFT-REJECTED", symbol="MSFT"), [activate, machines.EntryRejected(at(2), 201, LONG_REASON)])
    plan(spec("SPY-LATER", symbol="SPY", entry="590.00", stop="580.00", target="610.00"), [])
    store.close()
