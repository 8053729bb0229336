"""The simulated gateway's security master: US stocks on SMART/USD.

Every symbol of the price path is a stock (STK) routed SMART in USD with a
primary exchange of NASDAQ or NYSE, minTick 0.01 and a stable, nonzero conId.
Well-known symbols keep their real IB conId; any other symbol gets one derived
from a CRC-32 of its name, so the id is the same in every process.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# symbol -> (conId, primary exchange, long name); real IB values for familiarity.
_KNOWN: dict[str, tuple[int, str, str]] = {
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

MIN_TICK = 0.01
ORDER_TYPES = "LMT,MKT,STP,STP LMT,TRAIL"
VALID_EXCHANGES = "SMART,NASDAQ,NYSE,ARCA,ISLAND,BATS,IEX"


@dataclass(frozen=True, slots=True)
class Stock:
    """One tradable stock."""

    symbol: str
    con_id: int
    primary_exchange: str
    long_name: str

    @property
    def trading_class(self) -> str:
        return "NMS" if self.primary_exchange == "NASDAQ" else self.symbol

    @property
    def market_name(self) -> str:
        return self.trading_class


def con_id_for(symbol: str) -> int:
    """The conId of ``symbol``: stable across processes, never 0."""
    known = _KNOWN.get(symbol)
    if known:
        return known[0]
    return 500_000_000 + zlib.crc32(symbol.encode()) % 400_000_000


def make_stock(symbol: str) -> Stock:
    known = _KNOWN.get(symbol)
    if known:
        return Stock(symbol, known[0], known[1], known[2])
    exchange = "NASDAQ" if zlib.crc32(symbol.encode()) % 2 == 0 else "NYSE"
    return Stock(symbol, con_id_for(symbol), exchange, f"{symbol} COMMON STOCK")


class Catalog:
    """Lookup of the stocks the gateway knows, by symbol or conId."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self._by_symbol: dict[str, Stock] = {}
        self._by_con_id: dict[int, Stock] = {}
        for symbol in symbols:
            if symbol in self._by_symbol:
                continue
            stock = make_stock(symbol)
            self._by_symbol[symbol] = stock
            self._by_con_id[stock.con_id] = stock

    def __iter__(self) -> Iterator[Stock]:
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    def by_symbol(self, symbol: str) -> Stock | None:
        return self._by_symbol.get(symbol)

    def by_con_id(self, con_id: int) -> Stock | None:
        return self._by_con_id.get(con_id)

    def resolve(
        self,
        con_id: int,
        symbol: str,
        sec_type: str = "",
        exchange: str = "",
        currency: str = "",
    ) -> Stock | None:
        """Match a client's contract description; ``None`` when it is unknown.

        A nonzero conId must match; otherwise the symbol must.  secType must be
        empty or STK, currency empty or USD, exchange empty or one of
        :data:`VALID_EXCHANGES`.
        """
        if sec_type not in ("", "STK") or currency not in ("", "USD"):
            return None
        if con_id:
            stock = self._by_con_id.get(con_id)
            if stock is None or (symbol and symbol != stock.symbol):
                return None
        else:
            stock = self._by_symbol.get(symbol)
            if stock is None:
                return None
        if exchange and exchange not in VALID_EXCHANGES.split(","):
            return None
        return stock

    def matching(self, pattern: str) -> list[Stock]:
        """Stocks whose symbol starts with ``pattern`` (reqMatchingSymbols)."""
        p = pattern.upper()
        return [s for s in self._by_symbol.values() if s.symbol.startswith(p)][:16]
