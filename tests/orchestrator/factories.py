"""Shared builders for orchestrator tests: specs, times, a store on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import machines
from machines import EntryType, PlanSpec, RiskCategory, Side

T0 = datetime(2026, 11, 27, 14, 35, tzinfo=UTC)


def at(seconds: float = 0) -> datetime:
    return T0 + timedelta(seconds=seconds)


def spec(plan_id: str = "AAPL-1", *, symbol: str = "AAPL", side: Side = Side.LONG,
         entry_type: EntryType = EntryType.MARKET, entry: str = "180.00", stop: str = "176.00",
         target: str = "188.00", risk: RiskCategory = RiskCategory.NORMAL, trail: tuple[str, str] | None = None,
         start_at: datetime | None = None, expire_at: datetime | None = None) -> PlanSpec:
    return PlanSpec(plan_id, symbol, side, entry_type, D(entry), D(stop), D(target), risk,
                    start_at=start_at, expire_at=expire_at,
                    trail_trigger_r=D(trail[0]) if trail else None, trail_distance=D(trail[1]) if trail else None)


def lifecycle_events(qty_hint: int = 500) -> list[object]:
    """A full long lifecycle: activate, accept, two partial fills, protection, trail, stop exit."""
    return [
        machines.Activate(at(1), D(100000), D(200000), D(0), market_price=D("180.00")),
        machines.EntryAccepted(at(2), 10, 1000),
        machines.EntryFilled(at(3), "e-1", 200, D("180.00")),
        machines.EntryFilled(at(3.5), "e-1", 200, D("180.00")),  # replayed: no-op
        machines.EntryFilled(at(4), "e-2", 300, D("180.10")),
        machines.ProtectionStatus(at(5), 500, 500, D("176.00"), D("188.00")),
        machines.PriceUpdate(at(6), D("186.00")),
        machines.StopModified(at(7), D("184.00")),
        machines.ExitFilled(at(8), "x-1", machines.Leg.STOP, 500, D("184.00")),
    ]
