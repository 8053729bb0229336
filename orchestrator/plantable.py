"""The tables of a plan file as pydantic models: ``[[plans]]`` and its ``[plans.trail]``.

Each key's value type is in :mod:`.planfields`; the contract's cross-key rules and tick warnings
in :mod:`.plancontract`; the trading logic in the pure core (:func:`machines.validate_plan_fields`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from machines import (
    EntryType,
    Instrument,
    InstrumentPlanSpec,
    PlanSpec,
    RiskCategory,
    SecType,
    Side,
    validate_plan_fields,
)

from .plancontract import contract_problems, instrument_of, price_rule_for_errors, tick_warnings
from .planfields import (
    ContractMonth,
    Currency,
    Exchange,
    LocalSymbol,
    PlanId,
    PlanNumber,
    SecTypeField,
    Symbol,
    Timestamp,
    choice,
)

__all__ = ["CONTRACT_KEYS", "PlanTable", "TrailTable"]

CONTRACT_KEYS = ("sec_type", "exchange", "primary_exchange", "currency", "contract_month", "local_symbol")


class _Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrailTable(_Table):
    """``[plans.trail]``: trail once price moved ``trigger_r`` × R in favour, ``distance`` behind."""

    trigger_r: PlanNumber
    distance: PlanNumber


class PlanTable(_Table):
    """One ``[[plans]]`` table, shape-checked (trading logic is checked by the pure core)."""

    id: PlanId
    symbol: Symbol
    side: Annotated[str, choice(Side)]
    entry: Annotated[str, choice(EntryType)]
    entry_price: PlanNumber
    stop_loss: PlanNumber
    take_profit: PlanNumber
    risk: Annotated[str, choice(RiskCategory)]
    start_at: Timestamp | None = None
    expire_at: Timestamp | None = None
    trail: TrailTable | None = None
    # the contract (IB's vocabulary); all absent: a US stock on SMART in USD, as before
    sec_type: SecTypeField = SecType.STK
    exchange: Exchange | None = None
    primary_exchange: Exchange | None = None
    currency: Currency = "USD"
    contract_month: ContractMonth | None = None
    local_symbol: LocalSymbol | None = None

    def logic_problems(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """The pure core's trading-logic checks and the contract's, as (field, message) pairs
        (with ``now``: against time too)."""
        contract = contract_problems(self.symbol, self.sec_type, self.exchange, self.contract_month,
                                     self.local_symbol)
        if contract:
            return contract
        trail = self.trail
        return validate_plan_fields(
            side=self.side, entry_type=self.entry, entry_price=self.entry_price, stop_loss=self.stop_loss,
            take_profit=self.take_profit, risk=self.risk, start_at=self.start_at, expire_at=self.expire_at,
            trail_trigger_r=trail.trigger_r if trail else None, trail_distance=trail.distance if trail else None,
            at=now, price_rule=price_rule_for_errors(self._instrument()))

    def tick_warnings(self) -> list[tuple[str, str]]:
        """Prices off a tick known offline that IB would refuse as written (call once valid)."""
        prices = (("entry_price", self.entry_price), ("stop_loss", self.stop_loss), ("take_profit", self.take_profit))
        return tick_warnings(self.symbol, self._instrument(), Side(self.side), EntryType(self.entry), prices)

    def _instrument(self) -> Instrument:
        return instrument_of(self.sec_type, self.exchange, self.primary_exchange, self.currency,
                             self.contract_month, self.local_symbol)

    def to_spec(self) -> PlanSpec:
        """The validated plan for the machine (call only when :meth:`logic_problems` is empty): a
        ``PlanSpec`` for a US stock on SMART in USD (the keys absent, or at their defaults), else an
        ``InstrumentPlanSpec`` — so a plan file written before the contract keys existed gives the
        very same spec, and the same ``spec_hash``, as it did then."""
        trail = self.trail
        spec = PlanSpec(
            id=self.id, symbol=self.symbol, side=Side(self.side), entry_type=EntryType(self.entry),
            entry_price=self.entry_price, stop_loss=self.stop_loss, take_profit=self.take_profit,
            risk=RiskCategory(self.risk), start_at=self.start_at, expire_at=self.expire_at,
            trail_trigger_r=trail.trigger_r if trail else None, trail_distance=trail.distance if trail else None)
        instrument = self._instrument()
        if instrument.is_default:
            return spec
        return InstrumentPlanSpec(**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, instrument=instrument)
