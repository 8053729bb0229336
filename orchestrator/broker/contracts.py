"""Contracts at IB: the plan's contract described in IB's terms, qualified through its contract
details before anything is sized or sent, and the names the engine keys contracts by.

``reqContractDetails`` is asked rather than ``qualifyContracts`` because its answer is the source
of truth for sizing and pricing (multiplier, currency, minimum tick, market rule ids, hours, long
name); the market rule of the contract's exchange (``reqMarketRule``) gives the price ladder.
No answer is error 200, two or more answers an ambiguous description: both refuse the plan with
IB's words. Every contract qualified is known by its conId afterwards, so IB's positions,
executions and others' orders find the engine's key (``ES`` the future never mixes with MES or
with a stock called ES).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from ib_async import Contract, Future, MarketOrder, Stock
from ib_async.wrapper import RequestError

from machines import Instrument, SecType, parse_contract_key

from ..contractinfo import ContractDetails
from ..errors import BrokerUnavailable, UnknownContract

log = logging.getLogger(__name__)
Answer = Callable[[Callable[[], Awaitable[Any]], str], Awaitable[Any]]   # (sends the request, what it is)
NOT_SET = Decimal("1e300")  # IB sends Double.MAX_VALUE for a what-if figure it did not compute
DETAILS_MAX_AGE = 12 * 3600.0   # seconds: IB's trading hours reach a few days ahead; read them twice a day


def describe(symbol: str, instrument: Instrument) -> str:
    """The contract in words, for messages: ``US stock 'AAPL' (SMART/USD)``, ``future ES 202612 on CME (USD)``."""
    if instrument.is_default:
        return f"US stock {symbol!r} (SMART/USD)"
    if instrument.is_future:
        month = instrument.local_symbol or instrument.contract_month
        return f"future {symbol} {month} on {instrument.exchange} ({instrument.currency})"
    primary = f", primary {instrument.primary_exchange}" if instrument.primary_exchange else ""
    return f"stock {symbol!r} ({instrument.exchange}{primary}/{instrument.currency})"


def ib_contract(symbol: str, instrument: Instrument) -> Contract:
    """The description sent to IB (only the fields the plan gives: IB matches on every one set)."""
    if instrument.sec_type is SecType.FUT:
        return Future(symbol, lastTradeDateOrContractMonth=instrument.contract_month or "",
                      exchange=instrument.exchange, localSymbol=instrument.local_symbol or "",
                      currency=instrument.currency)
    return Stock(symbol, instrument.exchange, instrument.currency, primaryExchange=instrument.primary_exchange or "")


def fallback_key(contract: Any) -> str:
    """The key of a contract no plan qualified (a position or order of the trader's own): the
    symbol for a US stock, else its fields, never equal to another contract's."""
    sec, currency = str(contract.secType or "STK"), str(contract.currency or "USD")
    if sec == "STK" and currency == "USD":
        return str(contract.symbol)
    return ":".join((str(contract.symbol), sec, "", "", currency, str(contract.lastTradeDateOrContractMonth or ""),
                     str(contract.localSymbol or contract.conId or "")))


def _rule_id(details: Any, instrument: Instrument) -> int | None:
    """The market rule id of the exchange the plan routes to (SMART: the primary exchange's,
    else the first), from IB's parallel lists ``validExchanges`` / ``marketRuleIds``."""
    ids = [i for i in str(details.marketRuleIds or "").split(",") if i.strip()]
    exchanges = str(details.validExchanges or "").split(",")
    if not ids:
        return None
    wanted = [instrument.exchange, instrument.primary_exchange, details.contract.primaryExchange]
    for name in wanted:
        if name and name in exchanges and exchanges.index(name) < len(ids):
            return int(ids[exchanges.index(name)])
    return int(ids[0])


class Contracts:
    """The contracts this connection has qualified, by the engine's key, and the way back from
    IB's conIds to those keys. A contract's details are read again once they are
    ``DETAILS_MAX_AGE`` old (its trading hours move on with the days); if IB cannot answer then,
    the ones read before stay."""

    def __init__(self, ib: Any, answer: Answer, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ib = ib
        self.answer = answer
        self.monotonic = monotonic
        self.contracts: dict[str, Contract] = {}
        self.details: dict[str, ContractDetails] = {}
        self.key_by_con: dict[int, str] = {}
        self._read_at: dict[str, float] = {}

    def remember(self, key: str, con_id: int) -> None:
        """A contract qualified before (state.db's cache): its positions are the key's from the start."""
        if con_id:
            self.key_by_con[con_id] = key

    def key_of(self, contract: Any) -> str:
        found = self.key_by_con.get(int(getattr(contract, "conId", 0) or 0))
        return found if found is not None else fallback_key(contract)

    def cached(self, key: str) -> Contract:
        found = self.contracts.get(key)
        if found is None:  # the executor qualifies before it places; not yet: try again later
            raise BrokerUnavailable(f"contract {key} not looked up yet")
        return found

    async def qualify(self, key: str) -> Contract:
        """The contract of ``key``, qualified with IB (cached; its details read again twice a day).

        Raises:
            UnknownContract: IB has no such contract, or more than one (IB's answer named).
            BrokerUnavailable: IB could not be asked.
        """
        known = self.contracts.get(key)
        if known is not None:
            if self.monotonic() - self._read_at.get(key, 0.0) >= DETAILS_MAX_AGE:
                try:
                    await self._read(key)
                except (UnknownContract, BrokerUnavailable) as exc:
                    log.warning("contract details of %s not read again (%s): the earlier ones stay", key, exc)
                    self._read_at[key] = self.monotonic()
            return known
        await self._read(key)
        return self.contracts[key]

    async def _read(self, key: str) -> None:
        symbol, instrument = parse_contract_key(key)
        what = describe(symbol, instrument)
        try:
            answers = await self.answer(lambda: self.ib.reqContractDetailsAsync(ib_contract(symbol, instrument)),
                                        f"contract details of {key}")
        except RequestError as exc:  # RaiseRequestErrors is on
            if exc.code == 200:
                raise UnknownContract(symbol, exc.message, contract=what) from None
            raise BrokerUnavailable(f"cannot look up {what}: {exc}") from None
        except (ConnectionError, OSError) as exc:  # the link dropped while asking
            raise BrokerUnavailable(f"cannot look up {what}: {exc or type(exc).__name__}") from None
        if not answers:
            raise UnknownContract(symbol, "IB sent no contract details", contract=what)
        if len(answers) > 1:
            names = ", ".join(sorted(str(a.contract.localSymbol or a.contract.conId) for a in answers)[:6])
            raise UnknownContract(symbol, f"the description is ambiguous: IB knows {len(answers)} contracts ({names}); "
                                  "name the contract_month or local_symbol", contract=what)
        cd = answers[0]
        contract: Contract = cd.contract
        try:
            self.details[key] = await self._details(cd, instrument)
        except (ConnectionError, OSError) as exc:  # the link dropped while asking for the market rule
            raise BrokerUnavailable(f"cannot look up the market rule of {what}: {exc or type(exc).__name__}") from None
        self.contracts[key] = contract
        self.key_by_con[int(contract.conId)] = key
        self._read_at[key] = self.monotonic()

    async def _details(self, cd: Any, instrument: Instrument) -> ContractDetails:
        c = cd.contract
        levels: list[tuple[str, str]] = []
        rule_id = _rule_id(cd, instrument)
        if rule_id is not None:
            rows = await self.answer(lambda: self.ib.reqMarketRuleAsync(rule_id), f"market rule {rule_id}")
            levels = [(repr(float(r.lowEdge)), repr(float(r.increment))) for r in rows or []]
        return ContractDetails(
            con_id=int(c.conId), symbol=str(c.symbol), sec_type=str(c.secType), exchange=str(c.exchange),
            currency=str(c.currency), local_symbol=str(c.localSymbol or ""), multiplier=str(c.multiplier or ""),
            min_tick=repr(float(cd.minTick)) if cd.minTick else "", market_rule_ids=str(cd.marketRuleIds or ""),
            price_rule=levels, long_name=str(cd.longName or ""), trading_hours=str(cd.tradingHours or ""),
            liquid_hours=str(cd.liquidHours or ""), time_zone=str(cd.timeZoneId or ""),
            contract_month=str(cd.contractMonth or ""), primary_exchange=str(c.primaryExchange or ""))

    async def margin_per_unit(self, key: str, action: str) -> Decimal | None:
        """IB's initial-margin change for one unit (a what-if market order), in base currency;
        None when IB gives no usable figure.

        Raises:
            BrokerUnavailable: the contract is not qualified, or IB could not be asked.
        """
        contract = self.cached(key)
        try:
            state = await self.answer(lambda: self.ib.whatIfOrderAsync(contract, MarketOrder(action, 1)),
                                     f"what-if {key}")
        except RequestError as exc:
            log.warning("what-if order for %s refused: %s", key, exc)
            return None
        except (ConnectionError, OSError) as exc:
            raise BrokerUnavailable(f"cannot ask the margin of {key}: {exc or type(exc).__name__}") from None
        try:
            value = Decimal(str(getattr(state, "initMarginChange", "") or ""))
        except InvalidOperation:
            return None
        return value if value.is_finite() and 0 <= value < NOT_SET else None
