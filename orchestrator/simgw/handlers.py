"""Request handlers: one method per client→server message id.

Order messages (placeOrder, cancelOrder, reqGlobalCancel) go through the
connection's pipeline so the ack-delay fault can hold them back while keeping
their order.  Requests the gateway does not implement are answered with error
322 when they carry a reqId (so the caller never hangs) and ignored otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import inbound as req
from . import messages as msg
from .account import MARGIN_RATE, Position, order_commission
from .book import NO_SECDEF
from .contracts import Stock
from .marketdata import BarBuilder
from .orders import PRE_SUBMITTED, SimOrder
from .wire import ProtocolError, encode

if TYPE_CHECKING:  # pragma: no cover
    from .gateway import SimGateway
    from .server import Connection

log = logging.getLogger("orchestrator.simgw")

ORDER_MESSAGES = frozenset({req.PLACE_ORDER, req.CANCEL_ORDER, req.REQ_GLOBAL_CANCEL})
# answered with an empty result; no reqId to hang on
_EMPTY_ANSWERS: dict[int, Callable[[list[str]], bytes]] = {
    24: lambda f: encode([19, 1, "<ScanParameterResponse/>"]),  # reqScannerParameters
    79: lambda f: encode([77, req.parse_req_id(f, 1), 0]),  # reqSoftDollarTiers
    80: lambda f: encode([78, 0]),  # reqFamilyCodes
    82: lambda f: encode([80, 0]),  # reqMktDepthExchanges
    83: lambda f: encode([82, req.parse_req_id(f, 1), 0]),  # reqSmartComponents
    85: lambda f: encode([85, 0]),  # reqNewsProviders
    91: lambda f: encode([93, req.parse_req_id(f, 1), 1, 0, 0.01]),  # reqMarketRule
}
_IGNORED = frozenset({11, 12, 13, 14, 15, 23, 25, 51, 53, 56, 57, 59, 63, 75, 89, 90, 93, 95, 98, 101, 103})


class Handlers:
    def __init__(self, gw: SimGateway) -> None:
        self.gw = gw
        self.table: dict[int, Callable[[Connection, list[str]], None]] = {
            req.REQ_MKT_DATA: self.req_mkt_data,
            req.CANCEL_MKT_DATA: self.cancel_mkt_data,
            req.PLACE_ORDER: self.place_order,
            req.CANCEL_ORDER: self.cancel_order,
            req.REQ_OPEN_ORDERS: self.req_open_orders,
            req.REQ_ACCOUNT_UPDATES: self.req_account_updates,
            req.REQ_EXECUTIONS: self.req_executions,
            req.REQ_IDS: self.req_ids,
            req.REQ_CONTRACT_DATA: self.req_contract_details,
            req.REQ_ALL_OPEN_ORDERS: self.req_all_open_orders,
            req.REQ_MANAGED_ACCTS: lambda c, f: c.send(msg.managed_accounts(self.gw.account_name)),
            req.REQ_CURRENT_TIME: lambda c, f: c.send(msg.current_time(int(time.time()))),
            req.REQ_REAL_TIME_BARS: self.req_real_time_bars,
            req.CANCEL_REAL_TIME_BARS: self.cancel_real_time_bars,
            req.REQ_GLOBAL_CANCEL: self.global_cancel,
            req.REQ_POSITIONS: self.req_positions,
            req.CANCEL_POSITIONS: self.cancel_positions,
            req.REQ_ACCOUNT_SUMMARY: self.req_account_summary,
            req.REQ_POSITIONS_MULTI: self.req_positions_multi,
            req.REQ_ACCOUNT_UPDATES_MULTI: self.req_account_updates_multi,
            req.CANCEL_ACCOUNT_UPDATES_MULTI: self.cancel_account_updates_multi,
            req.REQ_MATCHING_SYMBOLS: self.req_matching_symbols,
            req.REQ_COMPLETED_ORDERS: self.req_completed_orders,
        }

    # ------------------------------------------------------------ dispatch
    def dispatch(self, conn: Connection, fields: list[str]) -> None:
        msg_id = int(fields[0])
        if self.gw.faults.take_ignore(msg_id):
            log.info("fault: ignoring message %d from %r (no answer)", msg_id, conn)
            return
        if msg_id in ORDER_MESSAGES and (self.gw.faults.ack_delay > 0 or conn.pipeline):
            due = asyncio.get_running_loop().time() + self.gw.faults.ack_delay
            conn.pipeline.append((due, fields))
            if conn.pipeline_task is None or conn.pipeline_task.done():
                conn.pipeline_task = self.gw._spawn(self._run_pipeline(conn))
            return
        handler = self.table.get(msg_id)
        if handler is not None:
            handler(conn, fields)
        elif msg_id in req.UNSUPPORTED_WITH_REQ_ID:
            req_id = req.parse_req_id(fields, req.UNSUPPORTED_WITH_REQ_ID[msg_id])
            conn.send(msg.error(req_id, 322, f"Error processing request: message {msg_id} "
                                             "is not supported by the simulated gateway"))
        elif msg_id in _EMPTY_ANSWERS:
            conn.send(_EMPTY_ANSWERS[msg_id](fields))
        elif msg_id not in _IGNORED:
            log.info("%r: ignoring unsupported message %d", conn, msg_id)

    async def _run_pipeline(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        while conn.pipeline:
            due, fields = conn.pipeline[0]
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not conn.pipeline:   # flushed meanwhile (a restart)
                break
            conn.pipeline.popleft()
            self._run_order_message(conn, fields)
            self.gw._notify()

    def flush_pipeline(self, conn: Connection) -> None:
        """Process every order message still held back by the ack-delay fault, now: they reached
        "IB" before whatever happens next (a restart must not apply them to the next session)."""
        while conn.pipeline:
            _due, fields = conn.pipeline.popleft()
            self._run_order_message(conn, fields)

    def _run_order_message(self, conn: Connection, fields: list[str]) -> None:
        try:
            self.table[int(fields[0])](conn, fields)
        except (ProtocolError, ValueError, IndexError) as exc:
            log.warning("%r sent a bad order message (%s); dropping the connection", conn, exc)
            conn.abort()
        except Exception:
            log.exception("%r: delayed order message %s failed", conn, fields[:2])

    # ------------------------------------------------------------ contracts
    def _stock(self, conn: Connection, req_id: int, spec: req.ContractSpec) -> Stock | None:
        stock = self.gw.catalog.resolve(spec.con_id, spec.symbol, spec.sec_type, spec.exchange, spec.currency)
        if stock is None:
            conn.send(msg.error(req_id, 200, NO_SECDEF))
        return stock

    def req_contract_details(self, conn: Connection, fields: list[str]) -> None:
        req_id, spec = req.parse_contract_request(fields)
        stock = self._stock(conn, req_id, spec)
        if stock is not None:
            conn.send(msg.contract_details(req_id, stock, self.gw.clock()))
            conn.send(msg.contract_details_end(req_id))

    def req_matching_symbols(self, conn: Connection, fields: list[str]) -> None:
        r = req.FieldReader(fields, 1)
        req_id = r.int()
        conn.send(msg.symbol_samples(req_id, self.gw.catalog.matching(r.str_or(""))))

    # ------------------------------------------------------------ market data
    def req_mkt_data(self, conn: Connection, fields: list[str]) -> None:
        req_id, spec, snapshot = req.parse_mkt_data(fields)
        stock = self._stock(conn, req_id, spec)
        if stock is None:
            return
        conn.send_many(self.gw.quotes.tick_frames(req_id, stock.symbol, True))
        if snapshot:
            conn.send(msg.tick_snapshot_end(req_id))
            return
        self.cancel_mkt_data(conn, ["2", "2", str(req_id)])
        conn.mkt[req_id] = stock.symbol
        self.gw._mkt_subs.setdefault(stock.symbol, {})[(conn.conn_id, req_id)] = conn

    def cancel_mkt_data(self, conn: Connection, fields: list[str]) -> None:
        req_id = req.parse_req_id(fields)
        symbol = conn.mkt.pop(req_id, None)
        if symbol is not None:
            self.gw._mkt_subs.get(symbol, {}).pop((conn.conn_id, req_id), None)

    def req_real_time_bars(self, conn: Connection, fields: list[str]) -> None:
        req_id, spec = req.parse_contract_request(fields)
        stock = self._stock(conn, req_id, spec)
        if stock is None:
            return
        if not self.gw._bar_subs.get(stock.symbol):  # first subscriber: a fresh bar window
            self.gw._bar_builders[stock.symbol] = BarBuilder(self.gw.sim_time(), self.gw.book.prices[stock.symbol])
        conn.bars[req_id] = stock.symbol
        self.gw._bar_subs.setdefault(stock.symbol, {})[(conn.conn_id, req_id)] = conn

    def cancel_real_time_bars(self, conn: Connection, fields: list[str]) -> None:
        req_id = req.parse_req_id(fields)
        symbol = conn.bars.pop(req_id, None)
        if symbol is not None:
            self.gw._bar_subs.get(symbol, {}).pop((conn.conn_id, req_id), None)

    # ------------------------------------------------------------ orders
    def place_order(self, conn: Connection, fields: list[str]) -> None:
        order_req, _ = req.parse_place_order(fields)
        if order_req.what_if:
            self._what_if(conn, order_req)
            return
        self.gw._handle(self.gw.book.place(conn.cid, order_req, reject=self.gw.faults.take_reject,
                                           reject_modify=self.gw.faults.take_reject_modify))

    def _what_if(self, conn: Connection, r: req.OrderRequest) -> None:
        stock = self.gw.catalog.resolve(r.con_id, r.symbol, r.sec_type, r.exchange, r.currency)
        if stock is None:
            conn.send(msg.error(r.order_id, 200, NO_SECDEF))
            return
        price = self.gw.book.prices[stock.symbol]
        value = r.quantity * price
        values = self.gw.account_values()
        init = values["InitMarginReq"]
        change = MARGIN_RATE * value
        info = {
            "init_before": init, "maint_before": init, "equity_before": values["EquityWithLoanValue"],
            "init_change": change, "maint_change": change, "equity_change": 0.0,
            "init_after": init + change, "maint_after": init + change,
            "equity_after": values["EquityWithLoanValue"],
            "commission": order_commission(r.quantity, value, self.gw.book.commission_per_share,
                                           self.gw.book.min_commission),
        }
        o = SimOrder(conn.cid, r.order_id, 0, stock.symbol, stock.con_id, r.action, r.quantity,
                     r.order_type, r.quantity, r.lmt_price, r.aux_price, account=self.gw.account_name,
                     order_ref=r.order_ref, status=PRE_SUBMITTED)
        conn.send(msg.open_order(o, stock, what_if=info))

    def cancel_order(self, conn: Connection, fields: list[str]) -> None:
        self.gw._handle(self.gw.book.cancel(conn.cid, req.parse_cancel_order(fields)))

    def global_cancel(self, conn: Connection, fields: list[str]) -> None:
        self.gw._handle(self.gw.book.global_cancel())

    def _send_open(self, conn: Connection, orders: list[SimOrder]) -> None:
        for o in orders:
            stock = self.gw.catalog.by_symbol(o.symbol)
            if stock is not None:
                conn.send(msg.open_order(o, stock))
                conn.send(msg.order_status(o))
        conn.send(msg.open_order_end())

    def req_open_orders(self, conn: Connection, fields: list[str]) -> None:
        self._send_open(conn, self.gw.book.open_orders(conn.cid))

    def req_all_open_orders(self, conn: Connection, fields: list[str]) -> None:
        self._send_open(conn, self.gw.book.open_orders(None))

    def req_completed_orders(self, conn: Connection, fields: list[str]) -> None:
        for o in self.gw.book.completed_orders():
            stock = self.gw.catalog.by_symbol(o.symbol)
            if stock is not None:
                conn.send(msg.completed_order(o, stock))
        conn.send(msg.completed_orders_end())

    def req_executions(self, conn: Connection, fields: list[str]) -> None:
        req_id, flt = req.parse_executions(fields)
        times = 2 if self.gw.faults.replay_executions_twice else 1
        for e in self.gw.book.executions:
            stock = self.gw.catalog.by_symbol(e.symbol)
            if stock is None or not flt.accepts(e.client_id, e.symbol, e.side):
                continue
            for _ in range(times):
                conn.send(msg.exec_details(req_id, e, stock))
                conn.send(msg.commission_report(e))
        conn.send(msg.exec_details_end(req_id))

    def req_ids(self, conn: Connection, fields: list[str]) -> None:
        conn.send(msg.next_valid_id(self.gw.book.next_valid_id(conn.cid)))

    # ------------------------------------------------------------ account
    def _positions(self) -> list[tuple[Stock, Position]]:
        out = []
        for p in self.gw.account.positions.values():
            stock = self.gw.catalog.by_symbol(p.symbol)
            if p.qty and stock is not None:
                out.append((stock, p))
        return out

    def send_account(self, conn: Connection, rows: list[tuple[str, str, str]], positions: list[Position]) -> None:
        """Account values (+ portfolio of ``positions``) to one subscriber."""
        name = self.gw.account_name
        if conn.account_updates:
            for tag, value, currency in rows:
                conn.send(msg.account_value(tag, value, currency, name))
            for p in positions:
                stock = self.gw.catalog.by_symbol(p.symbol)
                if stock is not None:
                    conn.send(msg.portfolio(stock, p, self.gw.book.prices[p.symbol], name))
            conn.send(msg.account_time(self.gw.clock()))
        for req_id in conn.account_multi:
            for tag, value, currency in rows:
                conn.send(msg.account_update_multi(req_id, name, tag, value, currency))

    def req_account_updates(self, conn: Connection, fields: list[str]) -> None:
        r = req.FieldReader(fields, 2)
        subscribe = r.bool()
        conn.account_updates = subscribe
        if not subscribe:
            return
        rows = self.gw.account.value_rows(self.gw.book.prices)
        saved, conn.account_multi = conn.account_multi, set()
        self.send_account(conn, rows, [p for _, p in self._positions()])
        conn.account_multi = saved
        conn.send(msg.account_download_end(self.gw.account_name))

    def req_account_updates_multi(self, conn: Connection, fields: list[str]) -> None:
        req_id = req.parse_req_id(fields)
        name = self.gw.account_name
        for tag, value, currency in self.gw.account.value_rows(self.gw.book.prices):
            conn.send(msg.account_update_multi(req_id, name, tag, value, currency))
        conn.send(msg.account_update_multi_end(req_id))
        conn.account_multi.add(req_id)

    def cancel_account_updates_multi(self, conn: Connection, fields: list[str]) -> None:
        conn.account_multi.discard(req.parse_req_id(fields))

    def req_account_summary(self, conn: Connection, fields: list[str]) -> None:
        req_id, tags = req.parse_account_summary(fields)
        values = self.gw.account_values()
        name = self.gw.account_name
        for tag in tags:
            if tag == "AccountType":
                conn.send(msg.account_summary(req_id, name, tag, "INDIVIDUAL", ""))
            elif tag in values:
                conn.send(msg.account_summary(req_id, name, tag, f"{values[tag]:.2f}", "USD"))
        conn.send(msg.account_summary_end(req_id))

    def req_positions(self, conn: Connection, fields: list[str]) -> None:
        for stock, p in self._positions():
            conn.send(msg.position(self.gw.account_name, stock, p))
        conn.send(msg.position_end())
        conn.positions_sub = True

    def cancel_positions(self, conn: Connection, fields: list[str]) -> None:
        conn.positions_sub = False

    def req_positions_multi(self, conn: Connection, fields: list[str]) -> None:
        req_id = req.parse_req_id(fields)
        for stock, p in self._positions():
            conn.send(msg.position_multi(req_id, self.gw.account_name, stock, p))
        conn.send(msg.position_multi_end(req_id))
