"""Contract messages: contract details (stocks, futures, a continuous future), their trading
hours, symbol samples and market rules, at server version 157 (tws-protocol.md §4.3).

Trading hours are a week of IB's ``YYYYMMDD:HHMM-YYYYMMDD:HHMM`` sessions in the contract's time
zone (``hours``): US stocks the session clock's calendar's regular session (liquid; without a
calendar 09:30–16:00 on weekdays) within 04:00–20:00 US/Eastern, CME equity futures from 17:00
the day before to 16:00 (liquid 08:30–15:00) US/Central, Xetra 09:00–17:30 Europe/Berlin; a
day the gateway was told to report otherwise (``SimGateway.set_hours``) as told.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from .contracts import CONTFUT, SimContract
from .hours import contract_hours
from .listings import STOCK_ORDER_TYPES
from .wire import encode


def contract_details(req_id: int, c: SimContract, now: datetime, sec_type: str | None = None,
                     calendar: str | None = None, overrides: Mapping[date, str] | None = None) -> bytes:
    """contractDetails (39 fields for no secIds); ``sec_type`` CONTFUT answers a continuous future
    with its front month's fields; hours from ``now``'s day on (``calendar``, ``overrides``)."""
    future = c.is_future
    trading, liquid = (contract_hours(now, c.time_zone, flag, calendar, overrides) for flag in (False, True))
    return encode([
        10, 8, req_id, c.symbol, sec_type or c.sec_type, c.last_trade_date, 0, "", c.exchange, c.currency,
        c.local_symbol, c.market_name, c.trading_class, c.con_id, c.min_tick, 1, c.multiplier_text,
        STOCK_ORDER_TYPES, c.valid_exchanges, 1, c.under_con_id, c.long_name, c.primary_exchange,
        c.contract_month, "", "", "", c.time_zone, trading, liquid,
        "", "", 0, 2 if future else 1, c.symbol if future else "", "IND" if future else "", c.rule_ids,
        c.last_trade_date, "" if future else "COMMON",
    ])


def is_continuous(sec_type: str) -> bool:
    return sec_type == CONTFUT


def contract_details_end(req_id: int) -> bytes:
    return encode([52, 1, req_id])


def symbol_samples(req_id: int, contracts: list[SimContract]) -> bytes:
    fields: list[object] = [79, req_id, len(contracts)]
    for c in contracts:
        fields += [c.con_id, c.symbol, c.sec_type, c.primary_exchange, c.currency, 0]
    return encode(fields)


def market_rule(rule_id: int, rows: list[tuple[float, float]]) -> bytes:
    """marketRule: ``93, id, n, lowEdge, increment, …`` (no version field)."""
    fields: list[object] = [93, rule_id, len(rows)]
    for edge, increment in rows:
        fields += [edge, increment]
    return encode(fields)
