"""Contracts the gateway trades and how a client's contract description is matched to them.

Each :class:`SimContract` has a ``key``, the gateway's own name for it: a stock's symbol, a
future's local symbol (``ESH7``). Prices, quotes, orders, positions and the journal are keyed by
it; the wire carries IB's fields (symbol ``ES``, localSymbol ``ESH7`` …).

Matching follows IB: every field the client fills in must agree (conId, symbol, secType,
lastTradeDateOrContractMonth as ``YYYYMM`` or ``YYYYMMDD``, multiplier, exchange among the valid
ones, primary exchange, currency, local symbol, trading class). Contract details answer every
match (a future without a month: each listed month, which ib_async calls ambiguous); an order or
a market-data request needs exactly one — none is error 200 "No security definition", several is
200 "ambiguous". ``CONTFUT`` is answered with the front month's details under secType CONTFUT (its
conId is the front month's), and refused for orders and market data.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from . import listings, ticks

NO_SECDEF = "No security definition has been found for the request"
CONTFUT = "CONTFUT"
CONTFUT_TEXT = ("Error validating request.-'bN' : cause - Continuous futures (CONTFUT) cannot be used to place "
                "orders or for real time data")


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """A client's contract description (the 12-field block of a request)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    last_trade: str = ""
    multiplier: str = ""
    local_symbol: str = ""
    trading_class: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a description names no single tradable contract: IB's error code and text."""

    code: int
    text: str


@dataclass(frozen=True, slots=True)
class SimContract:
    """One tradable contract, with the fields IB's contract details carry."""

    key: str
    symbol: str
    sec_type: str
    con_id: int
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    long_name: str
    rule: ticks.Rule
    min_tick: float
    valid_exchanges: str
    time_zone: str
    multiplier: int = 1
    last_trade_date: str = ""    # futures: YYYYMMDD
    contract_month: str = ""     # futures: YYYYMM
    init_margin: float = 0.0     # futures: per contract, in the contract's currency
    fee_per_contract: float = 0.0  # futures: commission and fees per contract
    under_con_id: int = 0

    @property
    def is_future(self) -> bool:
        return self.sec_type == "FUT"

    @property
    def venue(self) -> str:
        """Where a fill happens (execDetails' exchange): a US stock's on ISLAND, others at home."""
        return "ISLAND" if self.sec_type == "STK" and self.currency == "USD" else self.primary_exchange or self.exchange

    @property
    def market_name(self) -> str:
        return self.trading_class

    @property
    def multiplier_text(self) -> str:
        """The multiplier as IB writes it in a contract: empty for a stock."""
        return str(self.multiplier) if self.is_future else ""

    @property
    def maint_margin(self) -> float:
        return round(self.init_margin / listings.MAINT_RATIO, 2)

    @property
    def rule_ids(self) -> str:
        """One market rule id per valid exchange, in the same order (as IB lists them)."""
        return ",".join(str(self.rule.rule_id) for _ in self.valid_exchanges.split(","))

    def fits(self, spec: ContractSpec) -> bool:
        """Does every field the client gave agree with this contract?"""
        if (spec.con_id and spec.con_id != self.con_id) or (spec.symbol and spec.symbol != self.symbol):
            return False
        if spec.local_symbol and spec.local_symbol != self.local_symbol:
            return False
        if spec.sec_type not in ("", self.sec_type) and not (spec.sec_type == CONTFUT and self.is_future):
            return False
        if (spec.currency and spec.currency != self.currency) or \
                (spec.exchange and spec.exchange not in self.valid_exchanges.split(",")):
            return False
        if spec.primary_exchange and not self.is_future and spec.primary_exchange != self.primary_exchange:
            return False
        if spec.trading_class and spec.trading_class != self.trading_class:
            return False
        if spec.multiplier and _number(spec.multiplier) != self.multiplier:
            return False
        return not spec.last_trade or spec.last_trade in (self.contract_month, self.last_trade_date)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def make_stock(symbol: str, first_price: float | None = None) -> SimContract:
    """A US stock (SMART, USD); one that starts under $1 reports the 0.0001 minTick."""
    known = listings.KNOWN_STOCKS.get(symbol)
    if known:
        con_id, primary, name = known
    else:
        con_id = listings.crc_con_id(symbol)
        primary = "NASDAQ" if zlib.crc32(symbol.encode()) % 2 == 0 else "NYSE"
        name = f"{symbol} COMMON STOCK"
    min_tick = float(ticks.US_STOCK.increment_at(first_price if first_price is not None else 1.0))
    return SimContract(symbol, symbol, "STK", con_id, "SMART", primary, "USD", symbol,
                       "NMS" if primary == "NASDAQ" else symbol, name, ticks.US_STOCK, min_tick,
                       listings.US_EXCHANGES, "US/Eastern")


def con_id_for(symbol: str) -> int:
    """The conId of the US stock ``symbol``: stable across processes, never 0."""
    return make_stock(symbol).con_id


def make_futures(root: listings.FutureRoot, today: date, margins: Mapping[str, float]) -> list[SimContract]:
    """The listed months of a futures root on ``today`` (front first); ``margins``: initial margin
    per contract by root, where it is not the default."""
    out = []
    for year, month, last in listings.listed_months(today):
        local = listings.local_symbol(root.symbol, year, month)
        out.append(SimContract(
            local, root.symbol, "FUT", listings.crc_con_id(f"FUT:{local}:{year}"), "CME", "", "USD", local,
            root.symbol, root.long_name, ticks.CME_QUARTER, 0.25, "CME", "US/Central", multiplier=root.multiplier,
            last_trade_date=last.strftime("%Y%m%d"), contract_month=f"{year}{month:02d}",
            init_margin=margins.get(root.symbol, root.init_margin), fee_per_contract=root.fee,
            under_con_id=listings.crc_con_id(f"IND:{root.symbol}")))
    return out


def make_foreign_stock(symbol: str) -> SimContract:
    exchange, currency, name, trading_class, rule = listings.FOREIGN_STOCKS[symbol]
    return SimContract(symbol, symbol, "STK", listings.crc_con_id(f"STK:{symbol}:{exchange}"), "SMART", exchange,
                       currency, symbol, trading_class, name, rule, float(rule.finest), f"SMART,{exchange}",
                       "Europe/Berlin")


def make_pair(currency: str) -> SimContract:
    """The currency pair ``CCY.USD`` on IDEALPRO (IB's secType CASH: symbol CCY, currency USD)."""
    local = f"{currency}.USD"
    name = listings.CURRENCY_NAMES.get(currency, currency)
    return SimContract(local, currency, "CASH", listings.crc_con_id(f"CASH:{local}"), "IDEALPRO", "", "USD", local,
                       local, name, ticks.IDEALPRO_HALF_PIP, float(ticks.IDEALPRO_HALF_PIP.finest), "IDEALPRO",
                       "US/Eastern")


class Catalog:
    """The contracts of the price path's symbols, by key, by IB symbol and by conId.

    ``first_prices`` (the path's first price of each symbol) set a US stock's minTick; ``today``
    (default: the UTC date now) decides which futures months are listed; ``margins`` overrides a
    futures root's initial margin per contract.
    """

    def __init__(self, symbols: Iterable[str], first_prices: Mapping[str, float] | None = None,
                 today: date | None = None, margins: Mapping[str, float] | None = None) -> None:
        self.today = today or datetime.now(UTC).date()
        self._by_key: dict[str, SimContract] = {}
        self._by_con_id: dict[int, SimContract] = {}
        self._families: dict[str, list[str]] = {}  # a price-path symbol -> the keys it prices
        for symbol in symbols:
            if symbol in self._families:
                continue
            if symbol in listings.FUTURES:
                contracts = make_futures(listings.FUTURES[symbol], self.today, margins or {})
            elif symbol in listings.FOREIGN_STOCKS:
                contracts = [make_foreign_stock(symbol)]
            else:
                contracts = [make_stock(symbol, (first_prices or {}).get(symbol))]
            self._families[symbol] = [c.key for c in contracts]
            for c in contracts:
                self._by_key[c.key] = c
                self._by_con_id[c.con_id] = c

    def add_pairs(self, currencies: Iterable[str]) -> list[SimContract]:
        """Quote ``CCY.USD`` for each currency but USD (the pairs' keys are their local symbols)."""
        added = [make_pair(c) for c in currencies if c != "USD" and f"{c}.USD" not in self._by_key]
        for c in added:
            self._families[c.key] = [c.key]
            self._by_key[c.key] = c
            self._by_con_id[c.con_id] = c
        return added

    def __iter__(self) -> Iterator[SimContract]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def by_key(self, key: str) -> SimContract | None:
        return self._by_key.get(key)

    def by_con_id(self, con_id: int) -> SimContract | None:
        return self._by_con_id.get(con_id)

    def keys_of(self, name: str) -> list[str]:
        """The keys a price-path symbol prices (``ES``: every listed month), or a key itself."""
        return list(self._families.get(name, [name] if name in self._by_key else []))

    def matches(self, spec: ContractSpec) -> list[SimContract]:
        if spec.con_id:  # a qualified contract: one candidate
            found = self._by_con_id.get(spec.con_id)
            return [found] if found is not None and found.fits(spec) else []
        return [c for c in self._by_key.values() if c.fits(spec)]

    def details(self, spec: ContractSpec) -> list[SimContract]:
        """What reqContractDetails answers (empty: error 200); CONTFUT: the front month only."""
        if spec.sec_type == CONTFUT:
            futures = [c for c in self.matches(replace(spec, last_trade="")) if c.is_future]
            return sorted(futures, key=lambda c: c.last_trade_date)[:1]
        return self.matches(spec)

    def resolve(self, spec: ContractSpec) -> SimContract | Refusal:
        """The one contract an order or a market-data request names, or IB's refusal."""
        found = self.matches(spec)
        if spec.sec_type == CONTFUT:
            return Refusal(321, CONTFUT_TEXT) if found else Refusal(200, NO_SECDEF)
        if not found:
            return Refusal(200, NO_SECDEF)
        if len(found) > 1:
            return Refusal(200, f"The contract description specified for {spec.symbol or spec.local_symbol} "
                                "is ambiguous.")
        return found[0]

    def matching(self, pattern: str) -> list[SimContract]:
        """Stocks whose symbol starts with ``pattern`` (reqMatchingSymbols)."""
        p = pattern.upper()
        return [c for c in self._by_key.values() if c.sec_type == "STK" and c.symbol.startswith(p)][:16]
