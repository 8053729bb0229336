"""Every price the engine sends is on its contract's grid and never on the trader's losing side:
``engine.contracts.prices_on_tick`` over random ladders, sides, entry types and prices."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from machines import EntryType, Instrument, InstrumentPlanSpec, MarketRule, Plan, SecType, Side
from machines.instruments import INDEX_FUTURE_RULE, US_STOCK_RULE
from orchestrator.engine.contracts import prices_on_tick

from ..machines.helpers import hsettings
from .factories import spec

XETRA = MarketRule.from_increments([("0", "0.0001"), ("1", "0.0002"), ("2", "0.0005"), ("5", "0.001"),
                                    ("10", "0.002"), ("20", "0.005"), ("50", "0.01"), ("100", "0.02"),
                                    ("200", "0.05"), ("500", "0.1"), ("1000", "0.2"), ("2000", "0.5")])
FUT = Instrument(SecType.FUT, "CME", None, "USD", "202612", None)
prices = st.decimals(min_value=D("0.5"), max_value=D("6000"), places=3, allow_nan=False, allow_infinity=False)


def _plan(side: Side, entry_type: EntryType, entry: D, stop: D, target: D) -> Plan:
    fields = asdict(spec("P-1", symbol="ES", side=side, entry_type=entry_type))
    fields.update(entry_price=entry, stop_loss=stop, take_profit=target)
    return Plan(InstrumentPlanSpec(**fields, instrument=FUT))


@hsettings()
@given(rule=st.sampled_from([INDEX_FUTURE_RULE, US_STOCK_RULE, XETRA]), side=st.sampled_from(list(Side)),
       entry_type=st.sampled_from(list(EntryType)), entry=prices, stop_gap=prices, target_gap=prices)
def test_every_price_sent_is_on_tick_and_rounded_the_conservative_way(
        rule: MarketRule, side: Side, entry_type: EntryType, entry: D, stop_gap: D, target_gap: D) -> None:
    sign = 1 if side is Side.LONG else -1
    stop, target = entry - sign * stop_gap, entry + sign * target_gap
    if stop <= 0:
        return
    out = prices_on_tick(_plan(side, entry_type, entry, stop, target), rule)
    if isinstance(out, str):   # refused with a reason: then nothing is sent at all
        assert "cannot be placed" in out
        return
    sent_entry, sent_stop, sent_target = (given_ if given_ is not None else written
                                          for given_, written in zip(out, (entry, stop, target), strict=True))
    assert rule.on_tick(sent_stop) and rule.on_tick(sent_target)
    assert (stop - sent_stop) * sign >= 0          # the stop only moves away from the entry: risk never grows
    assert (sent_target - target) * sign >= 0      # the target only moves further out
    if entry_type is EntryType.MARKET:
        assert out[0] is None                      # a market entry's price is never sent
    else:
        assert rule.on_tick(sent_entry)
        if entry_type is EntryType.LIMIT:
            assert (entry - sent_entry) * sign >= 0    # a buy limit never pays more than written
        else:
            assert (sent_entry - entry) * sign >= 0    # a buy stop never triggers before its level
