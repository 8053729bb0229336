"""The plan machine with a contract's money and grid: ES sized with its multiplier (and an FX rate
for a non-USD account), its rounded prices sent as given by the shell, trailing steps on the 0.25
tick, and P&L and open risk in the account's base currency — every figure by hand."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal as D
from typing import Any

from machines import (
    Activate,
    CommissionCharged,
    EntryAccepted,
    EntryFilled,
    Event,
    ExitFilled,
    Instrument,
    InstrumentPlanSpec,
    Leg,
    ModifyStop,
    PlaceBracket,
    PriceUpdate,
    ProtectionStatus,
    SecType,
    State,
)
from machines.instruments import INDEX_FUTURE_RULE

from .helpers import at, bound, plan_in, spec

ES = Instrument(SecType.FUT, "CME", None, "USD", "202612", None)


def _es(**overrides: object) -> InstrumentPlanSpec:
    fields = asdict(spec(id="ES-1", symbol="ES", entry_price=D("5000.00"), stop_loss=D("4990.10"),
                         take_profit=D("5020.00"), trail_trigger_r=D("1"), trail_distance=D("3.10")))
    fields.update(overrides)
    return InstrumentPlanSpec(**fields, instrument=ES)


def test_es_is_sized_with_its_multiplier_and_trails_on_its_tick_in_base_currency() -> None:
    machine, plan = bound(plan_in(State.PENDING, _es()))
    plan.price_rule = INDEX_FUTURE_RULE

    def step(event: Event) -> list[Any]:
        return machine.step(plan, event)

    # an EUR account of 100,000 (2 % = 2,000 EUR); the shell rounded the stop 4990.10 down to 4990.00;
    # one contract risks 10 × 50 USD × 0.925 EUR/USD = 462.50 EUR: floor(2,000 / 462.50) = 4 contracts
    effects = step(Activate(at(1), D(100_000), D(100_000), D(0), multiplier=D(50), fx_rate=D("0.925"),
                            base_currency="EUR", margin_per_unit=D(12_000), stop_price=D("4990.00")))
    [bracket] = [e for e in effects if isinstance(e, PlaceBracket)]
    assert (bracket.symbol, bracket.quantity, bracket.stop_price) == ("ES:FUT:CME::USD:202612:", 4, D("4990.00"))
    assert (plan.risk_amount, plan.multiplier, plan.fx_rate, plan.base_currency) == (
        D("1850.00"), D(50), D("0.925"), "EUR")                                 # 4 × 462.50
    step(EntryAccepted(at(2)))
    step(EntryFilled(at(3), "e1", 4, D("5000.00")))
    step(ProtectionStatus(at(4), 4, 4, D("4990.00"), D("5020.00")))
    assert plan.open_risk() == D("1850.00")
    # 1R (10.00) in favour at 5010.00; best 5010.30 − 3.10 = 5007.20, rounded down on 0.25: 5007.00
    moved = [e for e in step(PriceUpdate(at(5), D("5010.30"))) if isinstance(e, ModifyStop)]
    assert [m.stop_price for m in moved] == [D("5007.00")]
    step(ExitFilled(at(6), "x1", Leg.TARGET, 4, D("5020.00")))
    assert plan.state == State.CLOSED
    assert plan.realized_pnl == D("3700.00")      # 20 points × 4 × 50 = 4,000 USD × 0.925


def test_a_futures_plan_whose_margin_exceeds_the_funds_is_refused_with_the_figures() -> None:
    machine, plan = bound(plan_in(State.PENDING, _es(stop_loss=D("4990.00"))))
    machine.step(plan, Activate(at(1), D(100_000), D(40_000), D(0), multiplier=D(50), fx_rate=D(1),
                                  margin_per_unit=D(13_000)))
    assert plan.state == State.REJECTED
    assert plan.reason == ("risk limit buying_power: initial margin 52000.00 (4 × 13000.00, IB's what-if) exceeds "
                           "available funds 40000.00")


def test_a_commission_charged_in_the_contracts_currency_is_taken_from_the_pnl_in_base_currency() -> None:
    """IB charges a EUR stock's commission in EUR; the plan's P&L is in the account's USD. 2 % of
    100,000 USD over 10 EUR × 1.08 is 185 shares; from 200.00 to 190.00 they lose 185 × 10 × 1.08 =
    1,998.00 USD, and two commissions of 4.485 EUR (8.97 EUR) are 9.6876 USD: net −2,007.6876
    (not −2,006.97, EUR taken for USD)."""
    sap = Instrument(SecType.STK, "IBIS", None, "EUR", None, None)
    fields = asdict(spec(id="SAP-1", symbol="SAP", entry_price=D("200.00"), stop_loss=D("190.00"),
                         take_profit=D("220.00")))
    machine, plan = bound(plan_in(State.PENDING, InstrumentPlanSpec(**fields, instrument=sap)))
    machine.step(plan, Activate(at(1), D(100_000), D(100_000), D(0), multiplier=D(1), fx_rate=D("1.08"),
                                base_currency="USD", stop_price=D("190.00")))
    machine.step(plan, EntryAccepted(at(2)))
    machine.step(plan, EntryFilled(at(3), "e1", plan.quantity, D("200.00")))
    machine.step(plan, CommissionCharged(at(3), "e1", D("4.485"), "EUR"))
    machine.step(plan, ExitFilled(at(4), "x1", Leg.STOP, plan.quantity, D("190.00")))
    machine.step(plan, CommissionCharged(at(4), "x1", D("4.485"), "EUR"))
    assert plan.quantity == 185 and plan.state == State.CLOSED
    assert plan.realized_pnl == D("-1998.00")
    assert plan.commissions == D("9.68760")                  # 8.97 EUR × 1.08
    assert plan.net_pnl == D("-2007.68760")
    # one in the base currency, or with none said (older journals), is taken as it is
    machine.step(plan, CommissionCharged(at(5), "x1-late", D("1.00"), "USD"))
    assert plan.commissions == D("9.68760")                  # not an execution of the plan: ignored
