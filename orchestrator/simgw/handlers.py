"""Request handlers: one method per client→server message id.

Order messages (placeOrder, cancelOrder, reqGlobalCancel) go through the
connection's pipeline so the ack-delay fault can hold them back while keeping
their order.  Requests the gateway does not implement are answered with error
322 when they carry a reqId (so the caller never hangs) and ignored otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from . import details, margin, ticks
from . import inbound as req
from . import messages as msg
from .account_feed import AccountFeed
from .contracts import NO_SECDEF, Refusal
from .feed import MarketFeed
from .orders import PRE_SUBMITTED, OrderEvent, OrderRequest, SimOrder
from .ports import GatewayOps, Link
from .wire import FieldReader, ProtocolError, encode

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
}
_IGNORED = frozenset({11, 12, 13, 14, 15, 23, 25, 51, 53, 56, 57, 63, 75, 89, 90, 93, 95, 98, 101, 103})


class Handlers:
    """The request handlers of one gateway, by message id."""

    def __init__(self, gw: GatewayOps, accounts: AccountFeed, feed: MarketFeed) -> None:
        self.gw = gw
        acc = accounts
        self.table: dict[int, Callable[[Link, list[str]], None]] = {
            req.REQ_MKT_DATA: feed.req_mkt_data,
            req.REQ_MARKET_DATA_TYPE: feed.req_market_data_type,
            req.CANCEL_MKT_DATA: feed.cancel_mkt_data,
            req.PLACE_ORDER: self.place_order,
            req.CANCEL_ORDER: self.cancel_order,
            req.REQ_OPEN_ORDERS: self.req_open_orders,
            req.REQ_ACCOUNT_UPDATES: acc.req_account_updates,
            req.REQ_EXECUTIONS: self.req_executions,
            req.REQ_IDS: self.req_ids,
            req.REQ_CONTRACT_DATA: self.req_contract_details,
            req.REQ_ALL_OPEN_ORDERS: self.req_all_open_orders,
            req.REQ_MANAGED_ACCTS: lambda c, f: c.send(msg.managed_accounts(self.gw.account_name)),
            req.REQ_CURRENT_TIME: lambda c, f: c.send(msg.current_time(int(self.gw.clock().timestamp()))),
            req.REQ_REAL_TIME_BARS: feed.req_real_time_bars,
            req.CANCEL_REAL_TIME_BARS: feed.cancel_real_time_bars,
            req.REQ_GLOBAL_CANCEL: self.global_cancel,
            req.REQ_POSITIONS: acc.req_positions,
            req.CANCEL_POSITIONS: acc.cancel_positions,
            req.REQ_ACCOUNT_SUMMARY: acc.req_account_summary,
            req.REQ_POSITIONS_MULTI: acc.req_positions_multi,
            req.REQ_ACCOUNT_UPDATES_MULTI: acc.req_account_updates_multi,
            req.CANCEL_ACCOUNT_UPDATES_MULTI: acc.cancel_account_updates_multi,
            req.REQ_MATCHING_SYMBOLS: self.req_matching_symbols,
            req.REQ_COMPLETED_ORDERS: self.req_completed_orders,
            req.REQ_MARKET_RULE: self.req_market_rule,
        }

    # ------------------------------------------------------------ dispatch
    def dispatch(self, conn: Link, fields: list[str]) -> None:
        msg_id = int(fields[0])
        if self.gw.faults.take_ignore(msg_id):
            log.info("fault: ignoring message %d from %r (no answer)", msg_id, conn)
            return
        session = conn.session
        held = self.gw.faults.ack_delay > 0 or session.pipeline or not self.gw.link_up.is_set()
        if msg_id in ORDER_MESSAGES and held:
            due = asyncio.get_running_loop().time() + self.gw.faults.ack_delay
            session.pipeline.append((due, fields))
            if session.pipeline_task is None or session.pipeline_task.done():
                session.pipeline_task = self.gw.spawn(self._run_pipeline(conn))
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

    async def _run_pipeline(self, conn: Link) -> None:
        loop = asyncio.get_running_loop()
        pipeline = conn.session.pipeline
        while pipeline:
            due, fields = pipeline[0]
            await asyncio.sleep(max(0.0, due - loop.time()))
            await self.gw.link_up.wait()  # IB's connectivity is lost: order messages wait
            if not pipeline:   # flushed meanwhile (a restart)
                break
            pipeline.popleft()
            self._run_order_message(conn, fields)
            self.gw.changed()

    def flush_pipeline(self, conn: Link) -> None:
        """Process every order message still held back by the ack-delay fault, now: they reached
        "IB" before whatever happens next (a restart must not apply them to the next session)."""
        while conn.session.pipeline:
            _due, fields = conn.session.pipeline.popleft()
            self._run_order_message(conn, fields)

    def _run_order_message(self, conn: Link, fields: list[str]) -> None:
        try:
            self.table[int(fields[0])](conn, fields)
        except (ProtocolError, ValueError, IndexError) as exc:
            log.warning("%r sent a bad order message (%s); dropping the connection", conn, exc)
            conn.abort()
        except Exception:
            log.exception("%r: delayed order message %s failed", conn, fields[:2])

    # ------------------------------------------------------------ contracts
    def req_contract_details(self, conn: Link, fields: list[str]) -> None:
        """Every contract the description fits (a future without a month: each listed month);
        CONTFUT: the front month under secType CONTFUT; none: error 200."""
        req_id, spec = req.parse_contract_request(fields)
        found = self.gw.catalog.details(spec)
        if not found:
            conn.send(msg.error(req_id, 200, NO_SECDEF))
            return
        now = self.gw.clock()
        for c in found:
            conn.send(details.contract_details(req_id, c, now, spec.sec_type if details.is_continuous(spec.sec_type)
                                               else None, self.gw.market_clock.calendar,
                                               self.gw.hours_overrides.get(c.symbol)))
        conn.send(details.contract_details_end(req_id))

    def req_matching_symbols(self, conn: Link, fields: list[str]) -> None:
        r = FieldReader(fields, 1)
        req_id = r.int()
        conn.send(details.symbol_samples(req_id, self.gw.catalog.matching(r.str_or(""))))

    def req_market_rule(self, conn: Link, fields: list[str]) -> None:
        rule_id = req.parse_req_id(fields, 1)
        conn.send(details.market_rule(rule_id, ticks.market_rule(rule_id)))

    # ------------------------------------------------------------ orders
    def place_order(self, conn: Link, fields: list[str]) -> None:
        order_req, _ = req.parse_place_order(fields)
        if order_req.what_if:
            self._what_if(conn, order_req)
            return
        if order_req.spec().sec_type == "CASH":  # pairs are quoted for their rate only
            conn.send(msg.error(order_req.order_id, 201, "Order rejected - reason:the simulator takes no forex orders"))
            return
        self.gw.apply(self.gw.book.place(conn.cid, order_req, reject=self.gw.faults.take_reject,
                                           reject_modify=self.gw.faults.take_reject_modify))

    def _what_if(self, conn: Link, r: OrderRequest) -> None:
        """A margin preview (never placed): IB's answer to the same order, or its refusal."""
        found = self.gw.catalog.resolve(r.spec())
        if isinstance(found, Refusal):
            conn.send(msg.error(r.order_id, found.code, found.text))
            return
        book = self.gw.book
        o = SimOrder(conn.cid, r.order_id, 0, found.key, found.con_id, r.action, r.quantity,
                     r.order_type, r.quantity, r.lmt_price, r.aux_price, account=self.gw.account_name,
                     order_ref=r.order_ref, status=PRE_SUBMITTED, trail_stop_price=r.trail_stop_price)
        if margin.off_tick(found, r, book.prices[found.key]):
            conn.send(msg.error(r.order_id, ticks.OFF_TICK_CODE, ticks.OFF_TICK_TEXT))
            # journalled like an order's refusal, under its own name (nothing was placed)
            self.gw.apply([OrderEvent("what_if_refused", conn.cid, r.order_id, o.snapshot(),
                                      code=ticks.OFF_TICK_CODE, text=ticks.OFF_TICK_TEXT)])
            return
        info = margin.what_if(self.gw.account, book.prices, found, r, book.commission_per_share,
                              book.min_commission)
        conn.send(msg.open_order(o, found, what_if=info))

    def cancel_order(self, conn: Link, fields: list[str]) -> None:
        order_id = req.parse_cancel_order(fields)
        book, faults = self.gw.book, self.gw.faults
        o = book.orders.get((conn.cid, order_id))
        code = faults.take_refused_cancel(o.order_ref or "") if o is not None and not o.is_done else None
        refused = None if code is None else book.refuse_cancel(conn.cid, order_id, code)
        self.gw.apply(refused if refused is not None else book.cancel(conn.cid, order_id, race=faults.take_cancel_race))

    def global_cancel(self, conn: Link, fields: list[str]) -> None:
        self.gw.apply(self.gw.book.global_cancel())

    def _send_open(self, conn: Link, orders: list[SimOrder]) -> None:
        for o in orders:
            stock = self.gw.catalog.by_key(o.symbol)
            if stock is not None:
                conn.send(msg.open_order(o, stock))
                conn.send(msg.order_status(o))
        conn.send(msg.open_order_end())

    def _sync_answer(self, conn: Link, answer: Callable[[], None]) -> None:
        """Answer now, or (the slow-sync fault) later, with the state of then."""
        delay = self.gw.faults.sync_delay
        if delay <= 0:
            answer()
            return

        def late() -> None:
            if not conn.closed:
                answer()

        asyncio.get_running_loop().call_later(delay, late)

    def req_open_orders(self, conn: Link, fields: list[str]) -> None:
        """This client's orders only (clientId 0 also owns the orders entered in TWS)."""
        self._sync_answer(conn, lambda: self._send_open(conn, self.gw.book.open_orders(conn.cid)))

    def req_all_open_orders(self, conn: Link, fields: list[str]) -> None:
        """Every client's orders (a snapshot; it binds nothing)."""
        self._sync_answer(conn, lambda: self._send_open(conn, self.gw.book.open_orders(None)))

    def req_completed_orders(self, conn: Link, fields: list[str]) -> None:
        for o in self.gw.book.completed_orders():
            stock = self.gw.catalog.by_key(o.symbol)
            if stock is not None:
                conn.send(msg.completed_order(o, stock))
        conn.send(msg.completed_orders_end())

    def req_executions(self, conn: Link, fields: list[str]) -> None:
        req_id, flt = req.parse_executions(fields)
        self._sync_answer(conn, lambda: self._send_executions(conn, req_id, flt))

    def _send_executions(self, conn: Link, req_id: int, flt: req.ExecFilter) -> None:
        """The day's executions of every client the filter accepts (clientId 0 = every client)."""
        times = 2 if self.gw.faults.replay_executions_twice else 1
        for e in self.gw.book.executions:
            stock = self.gw.catalog.by_key(e.symbol)
            if stock is None or not flt.accepts(e.client_id, stock.symbol, e.side):
                continue
            for _ in range(times):
                conn.send(msg.exec_details(req_id, e, stock))
                conn.send(msg.commission_report(e, stock.currency))
        conn.send(msg.exec_details_end(req_id))

    def req_ids(self, conn: Link, fields: list[str]) -> None:
        conn.send(msg.next_valid_id(self.gw.book.next_valid_id(conn.cid)))
