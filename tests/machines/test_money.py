"""Sizing, risk and P&L in the account's base currency across multipliers and currencies: hand
computed cases (the arithmetic is written out), refusals, then Hypothesis properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from machines import (
    US_STOCK_RULE,
    PriceRole,
    Side,
    SizingError,
    fx_rate,
    pair_rate,
    pnl_in_base,
    position_size,
    risk_budget,
    risk_in_base,
    round_price,
    size_in_base,
    value_in_base,
)
from machines.instruments import INDEX_FUTURE_RULE
from machines.money import commission_in_base, risk_per_unit_base

from .helpers import D, hsettings

ES, MES, STOCK = D(50), D(5), D(1)


# --------------------------------------------------------------------------- hand-computed cases

def test_es_from_an_eur_account() -> None:
    """2 % of 100,000 EUR on ES (multiplier 50, USD) with a 10-point stop, EURUSD = 1.08.

    budget          = 100,000 × 2 %                     = 2,000 EUR
    fx (USD → EUR)  = 1 / 1.08                           ≈ 0.925926 EUR per USD
    risk/contract   = 10 × 50 × (1 / 1.08) = 500 / 1.08  ≈ 462.96 EUR
    quantity        = floor(2,000 / 462.96) = floor(2,000 × 1.08 / 500) = floor(4.32) = 4
    actual risk     = 4 × 500 USD = 2,000 USD = 2,000 / 1.08 ≈ 1,851.85 EUR ≤ 2,000 EUR
    """
    budget = risk_budget(D(100_000), D(2))
    assert budget == D(2000)
    fx = pair_rate("USD", "EUR", "EURUSD", D("1.08"))
    assert abs(fx - D(1) / D("1.08")) < D("1e-27")
    assert size_in_base(budget, D(5000), D(4990), ES, fx) == 4
    risk = risk_in_base(Side.LONG, D(5000), D(4990), 4, ES, fx)
    assert risk.quantize(D("0.01")) == D("1851.85") and risk <= budget
    # the same from IB's ExchangeRate row of USD in that account (8 decimals, as IB sends it)
    rates = {"USD": D("0.92592593"), "EUR": D(1)}
    assert size_in_base(budget, D(5000), D(4990), ES, fx_rate("USD", "EUR", rates)) == 4


def test_mes_and_es_from_a_usd_account() -> None:
    """2 % of 100,000 USD with a 10-point stop: ES risks 10 × 50 = 500 USD a contract → 4;
    MES 10 × 5 = 50 USD → 40. Today's stock formula would give floor(2,000 / 10) = 200 (50× ES's)."""
    budget = risk_budget(D(100_000), D(2))
    assert size_in_base(budget, D(5000), D(4990), ES, D(1)) == 4
    assert size_in_base(budget, D(5000), D(4990), MES, D(1)) == 40
    assert position_size(D(100_000), D(2), D(5000), D(4990)) == 200


def test_eur_stock_from_a_usd_account() -> None:
    """SAP in EUR: entry 200.00, stop 190.00, 2 % of 100,000 USD, EURUSD = 1.08.

    risk/share = 10 EUR × 1.08 = 10.80 USD; quantity = floor(2,000 / 10.80) = floor(185.18) = 185;
    actual risk = 185 × 10.80 = 1,998.00 USD.
    """
    fx = pair_rate("EUR", "USD", "EURUSD", D("1.08"))
    assert fx == D("1.08")
    assert size_in_base(D(2000), D(200), D(190), STOCK, fx) == 185
    assert risk_in_base(Side.LONG, D(200), D(190), 185, STOCK, fx) == D("1998.00")


def test_usd_stock_from_an_eur_account() -> None:
    """AAPL: entry 180.00, stop 176.00, 2 % of 100,000 EUR.

    From the EURUSD quote 1.08: risk/share = 4 × (1 / 1.08) ≈ 3.7037 EUR, quantity =
    floor(2,000 × 1.08 / 4) = floor(540) = 540 exactly; actual risk 540 × 4 = 2,160 USD = 2,000 EUR.
    From IB's ExchangeRate of USD, 0.92592593 (a hair above 1/1.08): 4 × 0.92592593 = 3.70370372,
    floor(2,000 / 3.70370372) = floor(539.99999…) = 539 — one share less, never one more.
    """
    assert size_in_base(D(2000), D(180), D(176), STOCK, pair_rate("USD", "EUR", "EURUSD", D("1.08"))) == 540
    assert size_in_base(D(2000), D(180), D(176), STOCK, fx_rate("USD", "EUR", {"USD": D("0.92592593")})) == 539
    assert size_in_base(D(2000), D(180), D(176), STOCK, fx_rate("USD", "EUR", {"USD": D("0.925")})) == 540


def test_pnl_and_value_in_base() -> None:
    """3 ES bought at 5000.00, sold at 5012.25: 12.25 × 50 × 3 = 1,837.50 USD; at 0.925 EUR per USD
    that is 1,699.6875 EUR. The notional of 3 ES at 5000 is 750,000 USD."""
    assert pnl_in_base(Side.LONG, D(5000), D("5012.25"), 3, ES, D(1)) == D("1837.50")
    assert pnl_in_base(Side.LONG, D(5000), D("5012.25"), 3, ES, D("0.925")) == D("1699.6875")
    assert pnl_in_base(Side.SHORT, D(5000), D("5012.25"), 3, ES, D(1)) == D("-1837.50")
    assert value_in_base(D(5000), -3, ES, D(1)) == D(750_000)


def test_rounded_prices_feed_the_sizing() -> None:
    """A long ES plan written with an off-tick stop 4990.10: the stop rounds down to 4990.00, and
    sizing uses that distance (10.00, not 9.90)."""
    stop = round_price(INDEX_FUTURE_RULE, D("4990.10"), PriceRole.STOP, Side.LONG)
    assert stop == D("4990.00")
    assert size_in_base(D(2000), D(5000), stop, ES, D(1)) == 4


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize(("multiplier", "fx", "message"), [
    (None, D(1), "multiplier is not known"), (D(0), D(1), "multiplier 0 is not positive"),
    (ES, None, "exchange rate is not known"), (ES, D(-1), "exchange rate -1 is not positive"),
    (ES, D("NaN"), "not positive"),
])
def test_missing_or_bad_multiplier_or_rate_is_refused(multiplier: Decimal | None, fx: Decimal | None,
                                                      message: str) -> None:
    with pytest.raises(SizingError, match=message):
        size_in_base(D(2000), D(5000), D(4990), multiplier, fx)
    with pytest.raises(SizingError, match=message):
        risk_in_base(Side.LONG, D(5000), D(4990), 1, multiplier, fx)


def test_rates_are_never_assumed() -> None:
    assert fx_rate("EUR", "EUR", {}) == 1
    with pytest.raises(SizingError, match="EUR → USD is not known"):
        fx_rate("EUR", "USD", {"USD": D(1)})
    with pytest.raises(SizingError, match="is not positive"):
        fx_rate("EUR", "USD", {"EUR": D(0)})
    with pytest.raises(SizingError, match="GBPUSD does not convert EUR"):
        pair_rate("EUR", "USD", "GBPUSD", D("1.27"))
    with pytest.raises(SizingError, match="quote is not known"):
        pair_rate("EUR", "USD", "EURUSD", None)
    with pytest.raises(SizingError, match="equal"):
        size_in_base(D(2000), D(5000), D(5000), ES, D(1))
    with pytest.raises(SizingError, match="account value"):
        risk_budget(D(0), D(2))
    assert risk_budget(D(1000), D(-1)) == 0 and size_in_base(D(0), D(10), D(9), STOCK, D(1)) == 0


# --------------------------------------------------------------------------- properties

multipliers = st.sampled_from([D(1), D(5), D(10), D(20), D(50), D(100), D(1000), D("0.1")])
rates = st.decimals(min_value=D("0.005"), max_value=D(200), places=8)
budgets = st.decimals(min_value=D(1), max_value=D(10_000_000), places=2)
prices = st.decimals(min_value=D("0.0001"), max_value=D(20_000), places=4)


@hsettings()
@given(side=st.sampled_from(list(Side)), budget=budgets, entry=prices, distance=prices, multiplier=multipliers,
       fx=rates)
def test_actual_risk_never_exceeds_the_budget_and_one_more_would(side: Side, budget: Decimal, entry: Decimal,
                                                                  distance: Decimal, multiplier: Decimal,
                                                                  fx: Decimal) -> None:
    stop = entry - distance * side.sign
    qty = size_in_base(budget, entry, stop, multiplier, fx)
    assert qty >= 0
    assert risk_in_base(side, entry, stop, qty, multiplier, fx) <= budget
    assert (qty + 1) * risk_per_unit_base(entry, stop, multiplier, fx) > budget       # the largest such size


@hsettings()
@given(budget=budgets, entry=prices, distance=prices, multiplier=multipliers, quote=rates)
def test_sizing_through_an_inverted_pair_stays_in_budget(budget: Decimal, entry: Decimal, distance: Decimal,
                                                         multiplier: Decimal, quote: Decimal) -> None:
    """A USD contract in an EUR account sized from the EURUSD quote: the exact risk (USD loss
    ÷ quote, computed without the inverse) is within the budget."""
    stop = entry - distance
    qty = size_in_base(budget, entry, stop, multiplier, pair_rate("USD", "EUR", "EURUSD", quote))
    assert qty * distance * multiplier <= budget * quote                # USD loss ≤ budget in USD


@hsettings()
@given(side=st.sampled_from(list(Side)), entry=prices.filter(lambda p: p > 1),
       offset=st.decimals(min_value=D("0.0001"), max_value=D(500), places=4), multiplier=multipliers, fx=rates,
       budget=budgets)
def test_a_rounded_stop_never_loosens_the_risk(side: Side, entry: Decimal, offset: Decimal, multiplier: Decimal,
                                               fx: Decimal, budget: Decimal) -> None:
    """The stop is rounded before sizing and the size comes from the rounded distance: whatever
    the rounding did, the risk at the rounded stop is within the budget, and the stop is no
    closer to the entry than written (a tick never stops the plan out early)."""
    for rule in (US_STOCK_RULE, INDEX_FUTURE_RULE):
        raw = entry - offset * side.sign
        if raw <= 0:
            continue
        stop = round_price(rule, raw, PriceRole.STOP, side)
        assert (entry - stop) * side.sign >= (entry - raw) * side.sign
        if stop <= 0 or stop == entry:
            continue
        qty = size_in_base(budget, entry, stop, multiplier, fx)
        assert risk_in_base(side, entry, stop, qty, multiplier, fx) <= budget


def test_a_commission_is_converted_only_from_the_contracts_currency() -> None:
    assert commission_in_base(D("8.97"), "EUR", "USD", "EUR", D("1.08")) == D("9.6876")
    assert commission_in_base(D("2.50"), "USD", "USD", "EUR", D("1.08")) == D("2.50")   # charged in the base
    assert commission_in_base(D("2.50"), None, "USD", "EUR", D("1.08")) == D("2.50")    # older journals
    assert commission_in_base(D("2.50"), "EUR", None, "EUR", D("1.08")) == D("2.50")    # base not recorded
