"""The instruments an episode's plans trade: US stocks at a cent, and one plan per episode on a
contract whose tick rules bite (drawn by the episode's seeded random).

* ``future``: MES (CME, multiplier 5, a 0.25 tick) in the simulator's front month; its price path
  is on the quarter-point grid (a future only trades on its tick), its plan prices are cents, so
  the engine must round stops, targets and limits onto the grid.
* ``penny``: a US stock under $1 (0.0001 tick): its plan prices on the tick (a US stock's plan
  price off it is refused, by design), its path to five decimals, so the trailing stops the
  engine computes from the best price must be rounded.
* ``eur``: SAP on Xetra in EUR, whose market rule has levels (0.02 from 100, 0.05 from 200):
  the price starts around the 200 edge, in cents, so rounding and trailing cross levels.

Each instrument says how its plan prices and its path prices are quantised, where its first
price is drawn, and the plan-file lines that name its contract.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from orchestrator.simgw import listings

CENT = Decimal("0.01")
TICK_KINDS = ("future", "penny", "eur")


def quantise(x: float | Decimal, step: Decimal) -> Decimal:
    value = Decimal(repr(float(x)))
    return ((value / step).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * step).quantize(step)


@dataclass(frozen=True)
class Instrument:
    kind: str                     # us | future | penny | eur
    symbol: str                   # the plan's symbol and the price path's
    key: str                      # the gateway's name (a future's local symbol): positions, orders, journal
    plan_step: Decimal            # plan prices are quantised to this (finer than the tick: rounding bites)
    path_step: Decimal            # price-path prices
    low: float                    # the first price is drawn in [low, high]
    high: float
    lines: tuple[str, ...] = ()   # the plan-file lines naming the contract

    def plan_price(self, x: float | Decimal) -> Decimal:
        return max(quantise(x, self.plan_step), self.plan_step)

    def path_price(self, x: float | Decimal) -> Decimal:
        return max(quantise(x, self.path_step), self.path_step)

    @property
    def tick_rules(self) -> bool:
        return self.kind != "us"


def us_stock(symbol: str) -> Instrument:
    return Instrument("us", symbol, symbol, CENT, CENT, 50, 300)


def front_month(sim_date: date) -> tuple[str, str]:
    """The front month the simulator lists on ``sim_date``: (contract month YYYYMM, MES local symbol)."""
    year, month, _last = listings.listed_months(sim_date)[0]
    return f"{year}{month:02d}", listings.local_symbol("MES", year, month)


def tick_instrument(rng: random.Random, symbol: str, sim_date: date) -> Instrument:
    """One contract with a non-cent tick, drawn by ``rng``; ``symbol`` names a sub-$1 stock."""
    kind = rng.choice(TICK_KINDS)
    if kind == "future":
        month, local = front_month(sim_date)
        return Instrument("future", "MES", local, CENT, Decimal("0.25"), 4800, 6200,
                          ('sec_type = "FUT"', 'exchange = "CME"', f'contract_month = "{month}"'))
    if kind == "penny":   # a US stock's plan price off its tick is an error (``plans check``), not rounded
        return Instrument("penny", symbol, symbol, Decimal("0.0001"), Decimal("0.00001"), 0.3, 0.8)
    return Instrument("eur", "SAP", "SAP", CENT, CENT, 185, 215,
                      ('exchange = "SMART"', 'primary_exchange = "IBIS"', 'currency = "EUR"'))
