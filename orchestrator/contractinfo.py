"""IB's contract details as the engine keeps them, and the price grid they give a contract.

IB's answer to ``reqContractDetails`` (with the market rule its ids name, ``reqMarketRule``) is
the source of truth for a contract's multiplier, currency, minimum tick and price ladder; the
trading and liquid hours, time zone and long name are kept for messages and for the sessions
code. The broker adapter builds one; the store caches it per contract (``store/contracts.py``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from machines import Instrument, MarketRule, known_rule


@dataclass(frozen=True, slots=True)
class ContractDetails:
    """What the engine keeps of IB's contract details (prices and money as exact text)."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    local_symbol: str = ""
    multiplier: str = "1"
    min_tick: str = ""
    market_rule_ids: str = ""
    price_rule: list[tuple[str, str]] = field(default_factory=list)  # (low edge, increment), lowest first
    long_name: str = ""
    trading_hours: str = ""
    liquid_hours: str = ""
    time_zone: str = ""
    contract_month: str = ""
    primary_exchange: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ContractDetails:
        data: dict[str, Any] = json.loads(text)
        data["price_rule"] = [tuple(level) for level in data.get("price_rule", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def multiplier_value(self) -> Decimal | None:
        """The multiplier as a number (a stock's empty one is 1); None if IB's is not a positive number."""
        if self.multiplier in ("", "0") and self.sec_type == "STK":
            return Decimal(1)
        try:
            value = Decimal(self.multiplier)
        except InvalidOperation:
            return None
        return value if value.is_finite() and value > 0 else None


def price_rule(details: ContractDetails | None, symbol: str, instrument: Instrument) -> MarketRule | None:
    """The price ladder of the contract: IB's market rule, else its minimum tick, else the one we
    know offline (US stocks, ES, MES); None when none of them is known."""
    if details is not None and details.price_rule:
        try:
            return MarketRule.from_increments(details.price_rule)
        except (ValueError, ArithmeticError):
            pass
    if details is not None and details.min_tick:
        try:
            tick = Decimal(details.min_tick)
            if tick.is_finite() and tick > 0:
                return known_rule(symbol, instrument) or MarketRule.fixed(tick)
        except InvalidOperation:
            pass
    return known_rule(symbol, instrument)
