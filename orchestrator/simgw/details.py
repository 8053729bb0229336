"""Contract messages: contract details (stocks, futures, a continuous future), their trading
hours, symbol samples and market rules, at server version 157 (tws-protocol.md §4.3).

Trading hours are a week of IB's ``YYYYMMDD:HHMM-YYYYMMDD:HHMM`` sessions in the contract's time
zone: US stocks 04:00–20:00 (liquid 09:30–16:00) US/Eastern, CME equity futures from 17:00 the
day before to 16:00 (liquid 08:30–15:00) US/Central, Xetra 09:00–17:30 Europe/Berlin. The
gateway itself fills at any hour (docs/sim-gateway.md, "Limits").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .contracts import CONTFUT, SimContract
from .listings import STOCK_ORDER_TYPES
from .wire import encode

# time zone -> ((open, close), (liquid open, liquid close), session starts the evening before)
_HOURS: dict[str, tuple[tuple[str, str], tuple[str, str], bool]] = {
    "US/Eastern": (("0400", "2000"), ("0930", "1600"), False),
    "US/Central": (("1700", "1600"), ("0830", "1500"), True),
    "Europe/Berlin": (("0900", "1730"), ("0900", "1730"), False),
}


def hours(now: datetime, zone: str, liquid: bool) -> str:
    """A week of sessions from ``now``'s day in ``zone`` (weekends closed)."""
    trading, liquid_hours, overnight = _HOURS[zone]
    open_, close = liquid_hours if liquid else trading
    local = now.astimezone(ZoneInfo(zone))
    parts = []
    for i in range(7):
        day = local + timedelta(days=i)
        stamp = day.strftime("%Y%m%d")
        if day.weekday() >= 5:
            parts.append(f"{stamp}:CLOSED")
        else:
            start = (day - timedelta(days=1)).strftime("%Y%m%d") if overnight and not liquid else stamp
            parts.append(f"{start}:{open_}-{stamp}:{close}")
    return ";".join(parts)


def contract_details(req_id: int, c: SimContract, now: datetime, sec_type: str | None = None) -> bytes:
    """contractDetails (39 fields for no secIds); ``sec_type`` CONTFUT answers a continuous future
    with its front month's fields."""
    future = c.is_future
    return encode([
        10, 8, req_id, c.symbol, sec_type or c.sec_type, c.last_trade_date, 0, "", c.exchange, c.currency,
        c.local_symbol, c.market_name, c.trading_class, c.con_id, c.min_tick, 1, c.multiplier_text,
        STOCK_ORDER_TYPES, c.valid_exchanges, 1, c.under_con_id, c.long_name, c.primary_exchange,
        c.contract_month, "", "", "", c.time_zone, hours(now, c.time_zone, False), hours(now, c.time_zone, True),
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
