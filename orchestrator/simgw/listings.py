"""The simulated gateway's security master: which contract each symbol of the price path is.

* **US stocks** (any other symbol): STK on SMART in USD, primary NASDAQ or NYSE, market rule
  0.0001 below $1 and 0.01 from $1; a stock that starts under $1 reports minTick 0.0001.
* **ES and MES** (CME, USD, multipliers 50 and 5, a 0.25 tick): two listed quarterly contracts,
  the front month (the first March, June, September or December whose last trading day — the
  third Friday — is on or after the simulator's date) and the next one, with IB's local
  symbols (``ESH7`` for March 2027). Both months trade at the price-path price of ``ES``.
* **SAP** on Xetra (IB: ``IBIS``) in EUR, Xetra's multi-level tick ladder.
* **Currency pairs** ``CCY.USD`` (CASH on IDEALPRO, half-pip tick) for every other currency the
  account has a rate for: quotes only (the rate, for clients that size from a pair's quote).

conIds are stable in every process: IB's real conId for well-known US stocks, a CRC-32 of the
contract otherwise. Contract details of futures and SAP follow IB's layout; their exact
trading-hours strings and long names are (unsure).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

from . import ticks

STOCK_ORDER_TYPES = "LMT,MKT,STP,STP LMT,TRAIL"
US_EXCHANGES = "SMART,NASDAQ,NYSE,ARCA,ISLAND,BATS,IEX"
MONTH_CODES = "FGHJKMNQUVXZ"  # IB's futures month letters, January first
QUARTERLY = (3, 6, 9, 12)

# symbol -> (conId, primary exchange, long name); real IB values for familiarity.
KNOWN_STOCKS: dict[str, tuple[int, str, str]] = {
    "AAPL": (265598, "NASDAQ", "APPLE INC"),
    "MSFT": (272093, "NASDAQ", "MICROSOFT CORP"),
    "NVDA": (4815747, "NASDAQ", "NVIDIA CORP"),
    "TSLA": (76792991, "NASDAQ", "TESLA INC"),
    "AMZN": (3691937, "NASDAQ", "AMAZON.COM INC"),
    "GOOGL": (208813719, "NASDAQ", "ALPHABET INC-CL A"),
    "META": (107113386, "NASDAQ", "META PLATFORMS INC-CLASS A"),
    "QQQ": (320227571, "NASDAQ", "INVESCO QQQ TRUST SERIES 1"),
    "SPY": (756733, "NYSE", "SPDR S&P 500 ETF TRUST"),
    "IBM": (8314, "NYSE", "INTL BUSINESS MACHINES CORP"),
    "JPM": (1520593, "NYSE", "JPMORGAN CHASE & CO"),
    "XOM": (13977, "NYSE", "EXXON MOBIL CORP"),
}


@dataclass(frozen=True, slots=True)
class FutureRoot:
    symbol: str
    multiplier: int
    long_name: str
    init_margin: float  # USD per contract (IB's overnight initial, roughly; configurable)
    fee: float  # USD per contract: commission and exchange fees


FUTURES: dict[str, FutureRoot] = {
    "ES": FutureRoot("ES", 50, "E-mini S&P 500", 13_000.0, 2.25),
    "MES": FutureRoot("MES", 5, "Micro E-mini S&P 500", 1_300.0, 0.62),
}
#: Stocks of other markets: symbol -> (exchange, currency, long name, trading class, rule)
FOREIGN_STOCKS: dict[str, tuple[str, str, str, str, ticks.Rule]] = {
    "SAP": ("IBIS", "EUR", "SAP SE", "XETRA", ticks.XETRA_BAND6),
}
#: Long names of the currencies the simulator quotes against USD (others: the code itself).
CURRENCY_NAMES: dict[str, str] = {"EUR": "European Monetary Union Euro", "GBP": "British pound",
                                  "CHF": "Swiss franc", "JPY": "Japanese yen", "CAD": "Canadian dollar"}
MAINT_RATIO = 1.1  # CME's initial margin is 110 % of maintenance


def crc_con_id(text: str) -> int:
    """A stable, nonzero conId for ``text`` (never one of the well-known stocks' ids)."""
    return 500_000_000 + zlib.crc32(text.encode()) % 400_000_000


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def listed_months(today: date, count: int = 2) -> list[tuple[int, int, date]]:
    """The ``count`` quarterly contract months trading on ``today``: (year, month, last trade date)."""
    out: list[tuple[int, int, date]] = []
    year, month = today.year, today.month
    while len(out) < count:
        if month in QUARTERLY and third_friday(year, month) >= today:
            out.append((year, month, third_friday(year, month)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def local_symbol(root: str, year: int, month: int) -> str:
    """IB's local symbol of a futures month: ``ESH7`` is ES March 2027 (one year digit)."""
    return f"{root}{MONTH_CODES[month - 1]}{year % 10}"
