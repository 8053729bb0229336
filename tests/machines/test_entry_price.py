"""What a plan is sized on: the live price for a market entry (and a stop entry already
triggered), refused when the market is past the stop or the target or too far from entry_price."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from machines import EntryType, Side, decide_size, entry_reference

from .helpers import hsettings


def ref(entry_type: EntryType, market: str | None, side: Side = Side.LONG, entry: str = "180.00",
        stop: str = "176.00", target: str = "188.00", tolerance: str = "0.5"):  # type: ignore[no-untyped-def]
    return entry_reference(side=side, entry_type=entry_type, entry_price=D(entry), stop=D(stop), target=D(target),
                           market=None if market is None else D(market), tolerance_r=D(tolerance))


@pytest.mark.parametrize("market, problem", [
    ("180.00", None),
    ("181.90", None),                                   # 1.90 from entry: within 0.5R (2.00)
    ("182.10", "is 2.10 from entry_price 180.00, more than 0.5R (2.000) allows"),
    ("187.50", "is 7.50 from entry_price 180.00"),      # field report M1: AAPL at 187.50, entry 180 / stop 176
    ("200.00", "already at or beyond the target 188.00"),
    ("170.00", "already at or beyond the stop 176.00"),
    (None, "no live price"),
])
def test_a_market_entry_is_sized_on_the_live_price_and_refused_far_from_its_plan(market: str | None,
                                                                                 problem: str | None) -> None:
    r = ref(EntryType.MARKET, market)
    assert r.market and (r.problem is None if problem is None else problem in (r.problem or "")), r
    if market is not None:
        assert r.price == D(market)


def test_limit_entries_size_on_their_limit_and_stop_entries_on_their_trigger_until_crossed() -> None:
    assert ref(EntryType.LIMIT, "187.50").price == D("180.00") and ref(EntryType.LIMIT, None).problem is None
    waiting = ref(EntryType.STOP, "179.00")               # a buy stop at 180 not yet triggered
    assert (waiting.price, waiting.market, waiting.problem) == (D("180.00"), False, None)
    crossed = ref(EntryType.STOP, "181.00")               # triggered: it fills at the market
    assert (crossed.price, crossed.market, crossed.problem) == (D("181.00"), True, None)
    gapped = ref(EntryType.STOP, "186.00")
    assert gapped.problem is not None and "trigger is already crossed" in gapped.problem
    short = ref(EntryType.STOP, "179.00", side=Side.SHORT, entry="180.00", stop="184.00", target="172.00")
    assert short.market and short.price == D("179.00")    # a sell stop at 180 is crossed below it


@hsettings()
@given(st.integers(17_600, 18_800), st.integers(1, 3))
def test_the_risk_of_a_market_entry_filled_at_its_reference_never_exceeds_the_budget(cents: int, pct: int) -> None:
    market = D(cents) / 100
    r = ref(EntryType.MARKET, str(market), tolerance="100")   # tolerance off: every price inside stop..target
    if r.problem is not None:
        return
    d = decide_size(side=Side.LONG, entry=r.price, stop=D("176.00"), risk_pct=D(pct), account_value=D(100_000),
                    available_funds=D(10**9), other_open_risk=D(0), max_portfolio_risk_pct=D(100))
    assert d.quantity * (market - D("176.00")) <= D(100_000) * pct / 100
