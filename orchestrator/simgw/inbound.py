"""Client→server request parsing at server version 157.

Only what the gateway acts on is parsed strictly; fields past index 90 of
placeOrder are read leniently.  Malformed input raises
:class:`~orchestrator.simgw.wire.ProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .contracts import ContractSpec
from .orders import OrderRequest
from .wire import FieldReader

# Message ids
REQ_MKT_DATA = 1
CANCEL_MKT_DATA = 2
PLACE_ORDER = 3
CANCEL_ORDER = 4
REQ_OPEN_ORDERS = 5
REQ_ACCOUNT_UPDATES = 6
REQ_EXECUTIONS = 7
REQ_IDS = 8
REQ_CONTRACT_DATA = 9
SET_SERVER_LOGLEVEL = 14
REQ_AUTO_OPEN_ORDERS = 15
REQ_ALL_OPEN_ORDERS = 16
REQ_MANAGED_ACCTS = 17
REQ_CURRENT_TIME = 49
REQ_REAL_TIME_BARS = 50
CANCEL_REAL_TIME_BARS = 51
REQ_GLOBAL_CANCEL = 58
REQ_MARKET_DATA_TYPE = 59
REQ_POSITIONS = 61
REQ_ACCOUNT_SUMMARY = 62
CANCEL_ACCOUNT_SUMMARY = 63
CANCEL_POSITIONS = 64
START_API = 71
REQ_POSITIONS_MULTI = 74
CANCEL_POSITIONS_MULTI = 75
REQ_ACCOUNT_UPDATES_MULTI = 76
CANCEL_ACCOUNT_UPDATES_MULTI = 77
REQ_MATCHING_SYMBOLS = 81
REQ_MARKET_RULE = 91
REQ_COMPLETED_ORDERS = 99

#: Requests the gateway does not implement, with the index of their reqId:
#: they are answered with error 322 so the caller's future completes.
UNSUPPORTED_WITH_REQ_ID: dict[int, int] = {
    10: 2,  # reqMktDepth
    20: 1,  # reqHistoricalData
    22: 1,  # reqScannerSubscription
    52: 2,  # reqFundamentalData
    54: 2,  # calculateImpliedVolatility
    55: 2,  # calculateOptionPrice
    67: 2,  # queryDisplayGroups
    78: 1,  # reqSecDefOptParams
    84: 1,  # reqNewsArticle
    86: 1,  # reqHistoricalNews
    87: 1,  # reqHeadTimeStamp
    88: 1,  # reqHistogramData
    92: 1,  # reqPnL
    94: 1,  # reqPnLSingle
    96: 1,  # reqHistoricalTicks
    97: 1,  # reqTickByTickData
    100: 1,  # reqWshMetaData
    102: 1,  # reqWshEventData
    104: 1,  # reqUserInfo
}


def read_contract(r: FieldReader) -> ContractSpec:
    """The 12-field contract block (conId … tradingClass)."""
    con_id = r.int(0)
    symbol = r.str().strip().upper()
    sec_type = r.str().strip().upper()
    last_trade = r.str().strip()
    r.skip(2)  # strike, right
    multiplier = r.str().strip()
    exchange = r.str().strip().upper()
    primary = r.str().strip().upper()
    currency = r.str().strip().upper()
    local_symbol = r.str().strip().upper()
    trading_class = r.str().strip().upper()
    return ContractSpec(con_id, symbol, sec_type, exchange, primary, currency, last_trade,
                        "" if multiplier in ("0", "0.0") else multiplier, local_symbol, trading_class)


def parse_start_api(fields: list[str]) -> int:
    r = FieldReader(fields, 2)
    return r.int()


def parse_place_order(fields: list[str]) -> tuple[OrderRequest, ContractSpec]:
    """placeOrder (no version field at 157): the fields that matter, positionally."""
    r = FieldReader(fields, 1)
    order_id = r.int()
    c = read_contract(r)
    r.skip(2)  # secIdType, secId
    action = r.str().strip().upper()
    quantity = r.opt_float() or 0.0
    order_type = r.str().strip().upper()
    lmt = r.opt_float()
    aux = r.opt_float()
    tif = r.str().strip().upper()
    oca_group = r.str()
    account = r.str()
    r.skip(2)  # openClose, origin
    order_ref = r.str()
    transmit_flag = r.opt_int()
    transmit = True if transmit_flag is None else bool(transmit_flag)
    parent_id = r.int(0)
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = r.bool()
    r.skip(1)  # hidden
    if c.sec_type == "BAG":
        legs = r.int(0)
        r.skip(8 * legs)
        r.skip(r.int(0))
        r.skip(2 * r.int(0))
    r.skip(1)  # sharesAllocation
    r.skip(7)  # discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage, faProfile
    r.skip(4)  # modelCode, shortSaleSlot, designatedLocation, exemptCode
    oca_type = r.int(0)
    r.skip(17)  # rule80A … volatilityType
    if r.str().strip():  # deltaNeutralOrderType
        r.skip(1)
        r.skip(8)
    else:
        r.skip(1)
    r.skip(2)  # continuousUpdate, referencePriceType
    trail_stop = r.opt_float()
    trailing_percent = r.opt_float()
    r.skip(2)  # scaleInitLevelSize, scaleSubsLevelSize
    increment = r.opt_float()
    if increment is not None and 0 < increment:
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.str().strip():  # hedgeType
        r.skip(1)
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.bool():  # deltaNeutralContract present
        r.skip(3)
    if r.str().strip():  # algoStrategy
        r.skip(2 * r.int(0))
    r.skip(1)  # algoId
    what_if = r.bool()
    req = OrderRequest(
        order_id=order_id, con_id=c.con_id, symbol=c.symbol, sec_type=c.sec_type,
        exchange=c.exchange, currency=c.currency, contract=c, action=action, quantity=quantity,
        order_type=order_type, lmt_price=lmt, aux_price=aux, tif=tif, oca_group=oca_group,
        oca_type=oca_type, account=account, order_ref=order_ref, transmit=transmit,
        parent_id=parent_id, outside_rth=outside_rth, trail_stop_price=trail_stop,
        trailing_percent=trailing_percent, what_if=what_if,
    )
    return req, c


def parse_mkt_data(fields: list[str]) -> tuple[int, ContractSpec, bool]:
    r = FieldReader(fields, 2)
    req_id = r.int()
    c = read_contract(r)
    if c.sec_type == "BAG":
        r.skip(4 * r.int(0))
    if r.bool():
        r.skip(3)
    r.skip(1)  # genericTickList
    snapshot = r.bool()
    return req_id, c, snapshot


def parse_req_id(fields: list[str], index: int = 2) -> int:
    return FieldReader(fields, index).int()


def parse_contract_request(fields: list[str]) -> tuple[int, ContractSpec]:
    """reqContractDetails / reqRealTimeBars: ``id, version, reqId, C12, …``."""
    r = FieldReader(fields, 2)
    req_id = r.int()
    return req_id, read_contract(r)


def parse_cancel_order(fields: list[str]) -> int:
    return FieldReader(fields, 2).int()


def parse_account_summary(fields: list[str]) -> tuple[int, list[str]]:
    r = FieldReader(fields, 2)
    req_id = r.int()
    r.skip(1)  # group
    tags = [t.strip() for t in r.str_or("").split(",") if t.strip()]
    return req_id, tags


@dataclass(frozen=True, slots=True)
class ExecFilter:
    """reqExecutions filter; 0 and "" mean "no filter"."""

    client_id: int = 0
    symbol: str = ""
    side: str = ""

    def accepts(self, client_id: int, symbol: str, side: str) -> bool:
        if self.client_id and client_id != self.client_id:
            return False
        if self.symbol and symbol != self.symbol:
            return False
        wanted = {"BUY": "BOT", "SELL": "SLD"}.get(self.side, self.side)
        return not wanted or wanted == side


def parse_executions(fields: list[str]) -> tuple[int, ExecFilter]:
    """reqExecutions: reqId, clientId, acctCode, time, symbol, secType, exchange, side."""
    r = FieldReader(fields, 2)
    req_id = r.int()
    client_id = r.int(0) if r.remaining() else 0
    r.str_or(), r.str_or()  # acctCode, time
    symbol = r.str_or().strip().upper()
    r.str_or(), r.str_or()  # secType, exchange
    side = r.str_or().strip().upper()
    return req_id, ExecFilter(client_id, symbol, side)
