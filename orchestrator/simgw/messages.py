"""Server→client message builders at server version 157.

Each function returns the encoded frame (bytes).  Layouts follow
/work/shared/docs/tws-protocol.md §4; the field counts are pinned by tests
that feed these frames to ib_async's own decoder.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .contracts import SimContract
from .orders import Execution, SimOrder
from .positions import Position
from .wire import SERVER_VERSION, encode, fmt_float, fmt_qty

EASTERN = ZoneInfo("US/Eastern")
TZ_NAME = "US/Eastern"
UNSET_TEXT = "1.7976931348623157E308"


def ib_time(dt: datetime) -> str:
    """``YYYYMMDD hh:mm:ss US/Eastern`` (IANA zone, as ib_async requires)."""
    return dt.astimezone(EASTERN).strftime("%Y%m%d %H:%M:%S") + " " + TZ_NAME


def connect_ack(now: datetime) -> bytes:
    local = now.astimezone(EASTERN)
    return encode([SERVER_VERSION, local.strftime("%Y%m%d %H:%M:%S ") + (local.tzname() or "EST")])


def managed_accounts(accounts: str) -> bytes:
    return encode([15, 1, accounts])


def next_valid_id(order_id: int) -> bytes:
    return encode([9, 1, order_id])


def error(req_id: int, code: int, text: str) -> bytes:
    return encode([4, 2, req_id, code, text])


def current_time(epoch: int) -> bytes:
    return encode([49, 1, epoch])


# ---------------------------------------------------------------- contracts
def _c11(c: SimContract) -> list[object]:
    """conId … tradingClass without primaryExchange (openOrder/execDetails layout)."""
    return [c.con_id, c.symbol, c.sec_type, c.last_trade_date, 0, "", c.multiplier_text, c.exchange, c.currency,
            c.local_symbol, c.trading_class]


# ---------------------------------------------------------------- account
def position(account: str, c: SimContract, pos: Position) -> bytes:
    return encode([61, 3, account, *_c11(c), fmt_qty(pos.qty), fmt_float(pos.avg_cost)])


def position_end() -> bytes:
    return encode([62, 1])


def position_multi(req_id: int, account: str, c: SimContract, pos: Position) -> bytes:
    return encode([71, 1, req_id, account, *_c11(c), fmt_qty(pos.qty), fmt_float(pos.avg_cost), ""])


def position_multi_end(req_id: int) -> bytes:
    return encode([72, 1, req_id])


def account_value(tag: str, value: str, currency: str, account: str) -> bytes:
    return encode([6, 2, tag, value, currency, account])


def portfolio(c: SimContract, pos: Position, price: float, account: str) -> bytes:
    """updatePortfolio: market value and P&L in the contract's currency (× multiplier)."""
    return encode([
        7, 8, c.con_id, c.symbol, c.sec_type, c.last_trade_date, 0, "", c.multiplier_text,
        c.primary_exchange or c.exchange, c.currency, c.local_symbol, c.trading_class, fmt_qty(pos.qty),
        fmt_float(price), fmt_float(round(pos.market_value(price), 4)), fmt_float(pos.avg_cost),
        fmt_float(round(pos.unrealized(price), 4)), fmt_float(round(pos.realized_pnl, 4)), account,
    ])


def account_time(now: datetime) -> bytes:
    return encode([8, 1, now.astimezone(EASTERN).strftime("%H:%M")])


def account_download_end(account: str) -> bytes:
    return encode([54, 1, account])


def account_update_multi(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return encode([73, 1, req_id, account, "", tag, value, currency])


def account_update_multi_end(req_id: int) -> bytes:
    return encode([74, 1, req_id])


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return encode([63, 1, req_id, account, tag, value, currency])


def account_summary_end(req_id: int) -> bytes:
    return encode([64, 1, req_id])


# ---------------------------------------------------------------- market data
def tick_price(req_id: int, tick_type: int, price: float, size: int, attr: int = 0) -> bytes:
    return encode([1, 6, req_id, tick_type, fmt_float(price), int(size), attr])


def tick_size(req_id: int, tick_type: int, size: int) -> bytes:
    return encode([2, 6, req_id, tick_type, int(size)])


def market_data_type(req_id: int, data_type: int) -> bytes:
    """marketDataType: the type IB serves this request (1 live, 2 frozen, 3 delayed, 4 delayed-frozen)."""
    return encode([58, 1, req_id, data_type])


def tick_snapshot_end(req_id: int) -> bytes:
    return encode([57, 1, req_id])


def real_time_bar(req_id: int, start: int, o: float, h: float, low: float, c: float,
                  volume: int, wap: float, count: int) -> bytes:
    return encode([50, 3, req_id, start, fmt_float(o), fmt_float(h), fmt_float(low), fmt_float(c),
                   int(volume), fmt_float(wap), count])


# ---------------------------------------------------------------- orders
def _trail_fields(o: SimOrder) -> tuple[str, str]:
    return fmt_float(o.trail_stop_price), fmt_float(o.trailing_percent)


def _aux(o: SimOrder) -> str:
    if o.order_type == "TRAIL" and o.aux_price is None:
        return ""
    return fmt_float(o.aux_price)


def open_order(o: SimOrder, stock: SimContract, what_if: dict[str, float] | None = None) -> bytes:
    """openOrder, 120 fields at 157 (ib_async takes status from field 86)."""
    trail_stop, trail_pct = _trail_fields(o)
    if what_if is None:
        state = [""] * 9 + ["", "", "", "", ""]
    else:
        state = [fmt_float(what_if[k]) for k in (
            "init_before", "maint_before", "equity_before", "init_change", "maint_change",
            "equity_change", "init_after", "maint_after", "equity_after")]
        state += [fmt_float(what_if["commission"]), fmt_float(what_if["commission"]),
                  fmt_float(what_if["commission"]), stock.currency, ""]
    fields: list[object] = [
        5, o.order_id, *_c11(stock),
        o.action, fmt_qty(o.total_qty), o.order_type, fmt_float(o.lmt_price), _aux(o),
        o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.client_id, o.perm_id,
        int(o.outside_rth), 0, 0, "", "", "", "", "", "",           # 26..34
        "", "", "", "", "", 0, "", -1, 0, "", "", "", "", "",        # 35..48
        0, 0, 0, 0, "", o.oca_type, 0, 0, "", o.parent_id, 0,      # 49..59
        "", 0, "", "", 0, 0, trail_stop, trail_pct, "", "", "",     # 60..70
        0, 0, 0, "", "", "", "", 0, "", "", 0, 0, "",               # 71..83
        0, int(what_if is not None), o.reported_status, *state,     # 84..100
        0, 0, 0, "", "", trail_stop, "", "", "", "", 0,             # 101..111
        "", "", "", "", 0, 0, 0, 0,                                 # 112..119
    ]
    return encode(fields)


def open_order_end() -> bytes:
    return encode([53, 1])


def order_status(o: SimOrder) -> bytes:
    return encode([
        3, o.order_id, o.reported_status, fmt_qty(o.filled), fmt_qty(o.remaining),
        fmt_float(o.avg_fill_price), o.perm_id, o.parent_id, fmt_float(o.last_fill_price),
        o.client_id, "", 0,
    ])


def completed_order(o: SimOrder, stock: SimContract) -> bytes:
    """completedOrder, 92 fields at 157 (no orderId, no clientId)."""
    trail_stop, trail_pct = _trail_fields(o)
    completed = ib_time(o.completed_time) if o.completed_time else ""
    fields: list[object] = [
        101, *_c11(stock),
        o.action, fmt_qty(o.total_qty), o.order_type, fmt_float(o.lmt_price), _aux(o), o.tif,
        o.oca_group, o.account, "", 0, o.order_ref, o.perm_id,         # 12..23
        int(o.outside_rth), 0, 0, "", "", "", "", "",                   # 24..31
        "", "", "", "", "", 0, "",                                      # 32..38
        -1, "", "", "", "", "",                                         # 39..44
        0, 0, 0, "", o.oca_type, 0,                                     # 45..50
        "", 0, "", "",                                                  # 51..54
        0, 0, trail_stop, trail_pct, "",                                # 55..59
        0, 0, 0, "", "", "", "",                                        # 60..66
        "", "", 0, 0, "",                                               # 67..71
        0, o.reported_status, 0, 0,                                     # 72..75
        0,                                                              # 76
        trail_stop, "", "", 0, 0, "", fmt_qty(o.filled), 0, 0, "", 0, 0,  # 77..88
        o.parent_perm_id, completed, _completed_status(o),              # 89..91
    ]
    return encode(fields)


def _completed_status(o: SimOrder) -> str:
    if o.status == "Cancelled":
        return f"Cancelled: {o.reason}" if o.reason else "Cancelled by Trader"
    if o.status == "Inactive":
        return f"Rejected: {o.reason}" if o.reason else "Inactive"
    return o.status


def completed_orders_end() -> bytes:
    return encode([102])


def exec_details(req_id: int, e: Execution, stock: SimContract) -> bytes:
    """execDetails, 31 fields at 157."""
    return encode([
        11, req_id, e.order_id, *_c11(stock), e.exec_id, ib_time(e.time), e.account, e.venue,
        e.side, fmt_qty(e.shares), fmt_float(e.price), e.perm_id, e.client_id, 0,
        fmt_qty(e.cum_qty), fmt_float(e.avg_price), e.order_ref, "", "", "", 2,
    ])


def exec_details_end(req_id: int) -> bytes:
    return encode([55, 1, req_id])


def commission_report(e: Execution, currency: str = "USD") -> bytes:
    """commissionReport: commission and realized P&L in the contract's ``currency``."""
    realized = UNSET_TEXT if e.realized_pnl is None else fmt_float(round(e.realized_pnl, 4))
    return encode([59, 1, e.exec_id, fmt_float(e.commission), currency, realized, UNSET_TEXT, ""])
