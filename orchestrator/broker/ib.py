"""The ib_async adapter behind the broker port (``port.Broker``): connection, reconnection,
contracts, market data, orders and snapshots.

Handlers only translate IB callbacks (``translate.py`` into views, ``evidence.py`` into events)
and hand the results to a sink (the engine's queue); they never place orders or await. Only the
``*Async`` API is used inside our event loop. Reconnects back off exponentially; error 326
(clientId in use) is a refused connection. The adapter never decides anything about a plan.

Everything sent goes through one pacer (``outbound.py``, ``pacer.py``): exits first, then
entries, other requests, and trailing stop moves last, most urgent first and coalesced. IB's
error 100 (it refused a message: too many a second) slows the pacer down, and what may have been
refused is found out from IB's open orders and sent again (``refusals.py``, ``again.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ib_async import IB, Contract, Trade, TradeLogEntry

from ..clock import Clock
from ..contractinfo import ContractDetails
from ..errors import BrokerUnavailable
from . import evidence, orders
from .account import AccountValues
from .again import SendAgain
from .codes import CANCEL_CONFIRMED, PACING
from .contracts import Contracts
from .logs import RoutineNotices
from .marketdata import MARKET_DATA_CODES, PriceFeed
from .outbound import Outbound
from .pacer import DEFAULT_RATE, Lane, Pacer
from .pairquote import PairQuotes
from .port import (
    BrokerFill,
    BrokerNotice,
    BrokerOrder,
    BrokerSnapshot,
    Held,
    OrderGone,
    OrderRequest,
    OrderState,
    PositionMoved,
    ProtectionMayHaveChanged,
    Quote,
    Sink,
)
from .refusals import Refusals, Sent
from .session import ByPlan, one_write
from .translate import NO_NAMESPACE, Namespace, fill_view, foreign_view, order_view, shares
from .unreachable import unreachable

log = logging.getLogger(__name__)


class IBBroker:
    """One IB connection (clientId) for the orchestrator."""

    def __init__(self, host: str, port: int, client_id: int, *, clock: Clock, sink: Sink,
                 namespace: Namespace = NO_NAMESPACE, connect_timeout: float = 4.0, max_backoff: float = 30.0,
                 request_timeout: float = 15.0, market_data: str = "auto",
                 used_order_ids: Callable[[], int] = lambda: 0, pacing_rate: int = DEFAULT_RATE) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.namespace = namespace
        self.clock = clock
        self.sink = sink
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.max_backoff = max_backoff
        self.used_order_ids = used_order_ids   # the highest order id already used (the store's record)
        self._sync_failures = 0
        self.ib = IB()
        self.ib.RaiseRequestErrors = True
        self.pacer = Pacer(pacing_rate, clock=time.monotonic)  # the event loop's clock
        self.outbound = Outbound(self.ib.client, self.pacer)
        self.again = SendAgain(self.ib, self.outbound, self.pacer, sink, self._modify_known)
        self.refusals = Refusals(time.monotonic, self.again.trade_of, self._open_orders, self.again.send,
                                 self._resubscribe, self.again.checked)
        self.again.refusals = self.refusals
        self._open_orders_lock = asyncio.Lock()   # ib_async keeps one open-orders request at a time
        self.contracts = Contracts(self.ib, self._answer)
        self.accounts = AccountValues(self.ib)
        self.pair_quotes = PairQuotes(self.ib, self._answer)
        self.prices = PriceFeed(self.ib, sink, clock.now, market_data, key_of=self.contracts.key_of)
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._connect_lock = asyncio.Lock()
        self.connected_event = asyncio.Event()
        self._trades_by_plan = ByPlan(lambda trade: getattr(trade.order, "orderRef", ""), self._plan_of)
        self._fills_by_plan = ByPlan(lambda fill: getattr(fill.execution, "orderRef", ""), self._plan_of)
        # Other clients' orders are not kept in sync by IB: what the last reqAllOpenOrders and
        # completed orders said of them (permId → state; absent from both: gone).
        self._foreign_open: set[int] = set()
        self._completed: dict[int, OrderState] = {}
        # our orders whose cancel IB confirmed (202) after an error had marked them cancelled locally
        self._cancels_confirmed: set[int] = set()
        # the order in which IB's position reports and our fills arrived, per contract key (``held``)
        self._seq = 0
        self._position_seq: dict[str, int] = {}
        self._fill_seq: dict[str, int] = {}
        self._positions_synced = 0   # the seq of the last complete position report (reqPositions)
        self._routine = RoutineNotices()
        self._routine.install()
        self._wire()

    def _plan_of(self, ib_ref: str) -> str | None:
        return self.namespace.plan_of(ib_ref)

    def ignore(self, plan_ids: set[str]) -> None:
        """Leave these plans' orders alone for good (``run --ignore-existing``)."""
        self.namespace = self.namespace.with_ignored(plan_ids)
        self._trades_by_plan.reset()
        self._fills_by_plan.reset()

    # ------------------------------------------------------------------ handlers
    def _wire(self) -> None:
        ib = self.ib
        ib.orderStatusEvent += self._on_status
        ib.execDetailsEvent += self._on_fill
        ib.openOrderEvent += self._on_open_order
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        ib.positionEvent += self._on_position
        ib.commissionReportEvent += self._on_commission

    def _on_commission(self, trade: Trade, fill: Any, report: Any) -> None:
        view = self._fill_view(fill)
        if view is not None and (out := evidence.commission_event(view)) is not None:
            self.sink(out)

    def _tick(self) -> int:
        self._seq += 1
        return self._seq

    def _on_position(self, position: Any) -> None:
        key = self.contracts.key_of(position.contract)
        self._position_seq[key] = self._tick()
        self.sink(PositionMoved(key))

    def _view(self, trade: Trade) -> BrokerOrder | None:
        state = None
        if int(getattr(trade.order, "clientId", 0) or 0) != self.client_id:
            perm = int(trade.order.permId or trade.orderStatus.permId or 0)
            if perm not in self._foreign_open:
                state = self._completed.get(perm, OrderState.CANCELLED)
        view = order_view(trade, self.namespace, state)
        if view is None or state is not None:
            return view
        return evidence.confirmed(view, self._completed.get(view.perm_id), view.order_id in self._cancels_confirmed)

    def _fill_view(self, fill: Any) -> BrokerFill | None:
        return fill_view(fill, self.namespace)

    def _on_status(self, trade: Trade) -> None:
        view = self._view(trade)
        if view is None:
            return
        out = evidence.status_event(view, self.clock.now())
        if out is not None:
            self.sink(out)
        self.sink(ProtectionMayHaveChanged(view.plan_id))

    def _on_open_order(self, trade: Trade) -> None:
        view = self._view(trade)
        if view is not None:
            self.sink(ProtectionMayHaveChanged(view.plan_id))

    def _on_fill(self, trade: Trade, fill: Any) -> None:
        self._fill_seq[self.contracts.key_of(trade.contract)] = self._tick()
        view = self._fill_view(fill)
        if view is not None:
            self.sink(evidence.fill_event(view, own_client=self.client_id))

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if code == CANCEL_CONFIRMED:
            self._cancel_confirmed(req_id)
        if code == PACING:
            self.again.refused(message)
            self.refusals.refused()
        if code in MARKET_DATA_CODES:
            self.prices.on_error(code, message, contract)
        if code in (1100, 2110):
            self.sink(BrokerNotice("connectivity_lost", code, message))
        elif code in (1101, 1102):
            self.sink(BrokerNotice("connectivity_restored", code, message))

    def _cancel_confirmed(self, order_id: int) -> None:
        """IB confirmed the cancel of our order: one an error had already marked cancelled in
        ib_async keeps no trace of it, so it is kept here and the plan hears of the change."""
        trade = self.ib.wrapper.trades.get((self.client_id, order_id))
        view = None if trade is None else order_view(trade, self.namespace)
        if view is not None and evidence.refused_cancel(view):
            self._cancels_confirmed.add(order_id)
            self.sink(ProtectionMayHaveChanged(view.plan_id))

    def _on_disconnected(self) -> None:
        self.connected_event.clear()
        self.refusals.forget()
        if discarded := self.outbound.clear():
            log.warning("connection lost with %d requests still waiting for pacing room; not sent", discarded)
        if self._closing:
            return
        self.sink(BrokerNotice("disconnected"))
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        """Connect once. Raises BrokerUnavailable."""
        async with self._connect_lock:
            if self.ib.isConnected():
                return
            # complete or nothing: a start-up answer that does not come in time (open orders,
            # completed orders, executions, positions) fails the connection, and the next attempt
            # waits longer; nothing is decided on a partial view
            timeout = min(self.connect_timeout * 2 ** self._sync_failures, 60.0)
            try:
                await self.ib.connectAsync(self.host, self.port, clientId=self.client_id, timeout=timeout,
                                           raiseSyncErrors=True)
            except (TimeoutError, OSError, ConnectionError) as exc:
                sent = getattr(getattr(self.ib.client, "conn", None), "numBytesSent", 0) > 0  # TCP was up
                self.ib.disconnect()
                self._sync_failures += 1
                raise BrokerUnavailable(unreachable(self.host, self.port, self.client_id, exc, handshake_sent=sent,
                                                    timeout=timeout)) from None
            self._sync_failures = 0
            self._order_id_floor()
            self.prices.connected()
            self._positions_synced = self._tick()   # connectAsync waited for the complete position report
            self.connected_event.set()
        self.sink(BrokerNotice("connected"))

    def _order_id_floor(self) -> None:
        """Order ids are never reused: the next one is above every id this store or this client's
        orders at IB have used, whatever nextValidId IB sent (a restarted gateway can send less)."""
        mine = [int(t.order.orderId or 0) for t in self.ib.trades()
                if int(getattr(t.order, "clientId", 0) or 0) == self.client_id]
        floor = max([self.used_order_ids(), *mine]) + 1
        if floor > self.ib.client._reqIdSeq:  # noqa: SLF001 - read only; updateReqId is the public setter
            log.warning("IB's next order id is %d but ids up to %d are used: continuing at %d",
                        self.ib.client._reqIdSeq, floor - 1, floor)  # noqa: SLF001
        self.ib.client.updateReqId(floor)  # type: ignore[no-untyped-call]

    async def connect_with_retry(self) -> None:
        """Connect, backing off (capped) until it works or ``close`` is called."""
        delay = 0.2
        while not self._closing:
            try:
                await self.connect()
                return
            except BrokerUnavailable as exc:
                log.warning("%s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    async def _reconnect_loop(self) -> None:
        await self.connect_with_retry()

    def is_connected(self) -> bool:
        return self.ib.isConnected() and self.connected_event.is_set()

    @property
    def account(self) -> str:
        accounts = self.ib.managedAccounts()
        return accounts[0] if accounts else ""

    async def close(self) -> None:
        """Disconnect for good; IB keeps our orders working."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        self.outbound.clear()
        self.ib.disconnect()
        self._routine.remove()

    # ------------------------------------------------------------------ contracts and data
    async def qualify(self, symbol: str) -> ContractDetails:
        """The contract ``symbol`` (a contract key) qualified with IB, and its details."""
        await self.contracts.qualify(symbol)
        return self.contracts.details[symbol]

    def remember(self, key: str, con_id: int) -> None:
        self.contracts.remember(key, con_id)

    async def margin_per_unit(self, key: str, action: str) -> Decimal | None:
        return await self.contracts.margin_per_unit(key, action)

    async def _answer(self, request: Callable[[], Any], what: str, key: str | None = None) -> Any:
        """Await one IB request (``request()`` sends it) with a deadline; one an error 100 may have
        refused is asked again (``refusals``). No answer means the link is not healthy: drop the
        connection (the reconnect loop resynchronises) and raise BrokerUnavailable, so one lost
        reply can never stall the engine. ``key``: ib_async's name for a request it keeps one of at a
        time (it is asked again only if no part of its answer has come)."""
        wrapper = self.ib.wrapper
        started = None if key is None else (lambda: bool(wrapper._results.get(key)))  # noqa: SLF001 - read only
        try:
            return await self.refusals.answer(request, self.request_timeout, started)
        except TimeoutError:
            log.error("IB did not answer %s within %.0f s; reconnecting", what, self.request_timeout)
            if self.ib.isConnected():
                self.ib.disconnect()
            raise BrokerUnavailable(f"IB did not answer {what}") from None

    async def subscribe(self, symbol: str) -> None:
        if symbol in self.prices.tickers and symbol not in self.prices.refused:
            return
        contract = await self.contracts.qualify(symbol)
        try:
            self.prices.subscribe(symbol, contract)
            self.refusals.asked(symbol)
        except ConnectionError as exc:
            raise BrokerUnavailable(f"cannot subscribe {symbol}: {exc}") from None

    def _resubscribe(self, symbol: str) -> None:
        """Ask for a symbol's data again (an error 100 may have refused the request)."""
        ticker = self.prices.tickers.pop(symbol, None)
        if ticker is not None:
            self.ib.cancelMktData(ticker.contract)
            self.prices.subscribe(symbol, ticker.contract)

    def forget_market_data(self) -> None:
        """IB lost our subscriptions (1101): subscribe again at the next reconciliation."""
        self.prices.forget()

    def last_price(self, symbol: str) -> Decimal | None:
        return self.prices.last_price(symbol)

    def quote(self, symbol: str) -> Quote:
        return self.prices.quote(symbol)

    def market_data(self) -> dict[str, str]:
        return self.prices.kinds()

    def held(self, symbol: str) -> Held:
        key_of = self.contracts.key_of
        quantity = sum(int(round(float(p.position))) for p in self.ib.positions() if key_of(p.contract) == symbol)
        reported = max(self._position_seq.get(symbol, 0), self._positions_synced)
        return Held(quantity, settled=self.is_connected() and reported > self._fill_seq.get(symbol, 0))

    def account_value(self, tag: str) -> Decimal | None:
        return self.accounts.value(tag)

    def base_currency(self) -> str | None:
        return self.accounts.base_currency()

    def exchange_rates(self) -> dict[str, Decimal]:
        return {**self.pair_quotes.rates, **self.accounts.exchange_rates()}   # the account's rows first

    async def quote_rate(self, currency: str) -> None:
        base = self.base_currency()
        if base is None or currency == base or currency in self.accounts.exchange_rates():
            self.pair_quotes.rates.pop(currency, None)
            return
        await self.pair_quotes.refresh(currency, base)

    # ------------------------------------------------------------------ orders
    def next_order_id(self) -> int:
        return int(self.ib.client.getReqId())

    def place(self, symbol: str, order: OrderRequest) -> None:
        contract = self.contracts.cached(symbol)
        built, plan_id = orders.build(order, self.namespace.to_ib(order.ref)), orders.plan_of(order.ref)
        wrote = self.refusals.record(order.order_id, Sent("place", built, contract, Lane.EXIT, plan_id))
        with self.outbound.tagged(Lane.EXIT, plan_id=plan_id, wrote=wrote):
            self.ib.placeOrder(contract, built)

    def modify(self, order: BrokerOrder, *, parent_filled: bool, quantity: int | None = None,
               limit_price: Decimal | None = None, stop_price: Decimal | None = None,
               urgency: float | None = None) -> None:
        trade: Trade = order.handle
        # ``quantity`` is what may still sell: on top of what filled, its executions counted too (a
        # status can lag them, and a total set on a stale filled figure would sell less than asked)
        heard = sum(shares(f.execution.shares) for f in {f.execution.execId: f for f in trade.fills}.values())
        copy = orders.amended(trade.order, filled=max(order.filled, heard), parent_filled=parent_filled,
                              quantity=quantity, limit_price=limit_price, stop_price=stop_price)
        moving = ("trail", order.order_id)
        lane = Lane.EXIT if urgency is None else Lane.TRAIL
        if trade.isDone():  # ib_async believes the order is done: its status will say why
            raise OrderGone(order.ref)
        wrote = self.refusals.record(order.order_id, Sent("modify", copy, trade.contract, lane, order.plan_id))
        if urgency is None:  # an exit's change: first in line, and a queued trailing move of it is stale
            tag = self.outbound.tagged(Lane.EXIT, drops=(moving,), plan_id=order.plan_id, wrote=wrote)
        else:  # a trailing move: queued by urgency, replacing a queued move of the same order
            tag = self.outbound.tagged(Lane.TRAIL, urgency=urgency, key=moving, plan_id=order.plan_id,
                                       wanted=lambda: orders.still_working(trade), wrote=wrote)
        with tag:
            self._modify_known(trade, copy)

    def _modify_known(self, trade: Trade, copy: Any) -> None:
        """``IB.placeOrder`` for an order ib_async knows, minus its eager log line: that formats the
        whole trade, history included, at every modify whatever the log level (32 µs with one log
        entry, 1.2 ms with a thousand: a stop trailed all day got slower to move). The request
        and ib_async's own books (the trade's log, its modify events) are the same."""
        self.ib.client.placeOrder(copy.orderId, trade.contract, copy)  # type: ignore[no-untyped-call]
        trade.log.append(TradeLogEntry(datetime.now(self.ib.wrapper.defaultTimezone), trade.orderStatus.status,
                                       "Modify"))
        trade.modifyEvent.emit(trade)
        self.ib.orderModifyEvent.emit(trade)

    def cancel(self, order: BrokerOrder) -> None:
        self._routine.cancelled.add(order.order_id)
        trade: Trade = order.handle
        wrote = self.refusals.record(order.order_id, Sent("cancel", trade.order, trade.contract, Lane.EXIT,
                                                          order.plan_id))
        with self.outbound.tagged(Lane.EXIT, drops=(("trail", order.order_id),), plan_id=order.plan_id, wrote=wrote):
            self.ib.cancelOrder(trade.order)

    def last_sent(self, plan_id: str) -> datetime | None:
        """When the newest request for this plan left for IB: now while one still waits for pacing
        room; None if this session sent none."""
        now = self.clock.now()
        if self.pacer.waiting(plan_id):
            return now
        sent = self.pacer.sent_at(plan_id)
        return None if sent is None else now - timedelta(seconds=max(0.0, time.monotonic() - sent))

    async def place_group(self, symbol: str, requests: list[OrderRequest]) -> None:
        """Place several orders with one write to the socket, so that IB gets all or none.

        A bracket is three placeOrders: the parent and the take-profit go out untransmitted and
        the stop transmits the group. Sent one by one, a process killed between two of them left
        the parent held at IB for ever, where no later session can see or cancel it (found by
        the chaos harness: held-entry-orphan). A single write of a few hundred bytes is handed
        to the kernel whole, so a kill lands before the bracket or after it, never inside.

        The pacer sends the group when its window has room for all of it (an entry waits behind
        exits only); it is built then, with nothing else in between (no await). If building the
        group fails half-way nothing was written, but ib_async already shows its first orders
        as pending: the connection is dropped so the reconnect reads IB's truth.

        Raises:
            BrokerUnavailable: not connected, the link dropped while the group waited, or the
            group could not be built.
        """
        contract = self.contracts.cached(symbol)
        group = [orders.build(r, self.namespace.to_ib(r.ref)) for r in requests]
        if not self.is_connected():
            raise BrokerUnavailable("not connected to IB")
        await self.outbound.group(Lane.ENTRY, len(group), lambda: self._write_group(contract, group),
                                  orders.plan_of(requests[0].ref) if requests else None)

    def _write_group(self, contract: Contract, group: list[Any]) -> None:
        if not self.is_connected():
            raise BrokerUnavailable("not connected to IB")
        failure: Exception | None = None
        with one_write(self.ib.client) as batch:
            try:
                for order in group:
                    self.ib.placeOrder(contract, order)
            except Exception as exc:  # noqa: BLE001 - whatever broke, the group is half-built: reconnect
                failure = exc
        if failure is not None:
            log.error("could not build the order group %s (%s); nothing was sent, reconnecting",
                      [o.orderRef for o in group], failure)
            self.ib.disconnect()
            raise BrokerUnavailable(f"order group not sent: {failure}") from None
        batch.flush()
        ids = tuple(int(o.orderId) for o in group)
        plan_id = self._plan_of(group[0].orderRef) if group else None
        for order in group:
            self.refusals.record(int(order.orderId), Sent("place", order, contract, Lane.ENTRY, plan_id, ids))()
        # the stop child transmitted the whole group: none of its orders is held any more (a
        # held order's cancel is only local in ib_async, and a modify must not hold it again)
        for order in group:
            order.transmit = True

    def trades_of(self, plan_id: str) -> list[Trade]:
        """ib_async's trades this session knows whose orderRef belongs to ``plan_id``."""
        trades: list[Trade] = self._trades_by_plan.of(self.ib.wrapper.trades, plan_id)
        return trades

    def raw_fills_of(self, plan_id: str) -> list[Any]:
        """ib_async's fills this session has seen (startup sync included) of ``plan_id``'s orders."""
        fills: list[Any] = self._fills_by_plan.of(self.ib.wrapper.fills, plan_id)
        return fills

    def orders_of(self, plan_id: str) -> list[BrokerOrder]:
        return _views(self.trades_of(plan_id), self._view)

    def fills_of(self, plan_id: str) -> list[BrokerFill]:
        return _views(self.raw_fills_of(plan_id), self._fill_view)

    async def snapshot(self) -> BrokerSnapshot:
        """Read open orders (of every client of the account), completed orders, executions and
        positions from IB."""
        try:
            open_trades = await self._open_orders()
            completed = await self._answer(lambda: self.ib.reqCompletedOrdersAsync(False), "completed orders",
                                           "completedOrders")
            fills = await self._answer(self.ib.reqExecutionsAsync, "executions")
            await self._answer(self.ib.reqPositionsAsync, "positions", "positions")
            self._positions_synced = self._tick()
        except BrokerUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - RequestError, ConnectionError: the state is unknown
            raise BrokerUnavailable(f"cannot read broker state: {exc}") from None
        positions: dict[str, int] = {}
        for p in self.ib.positions():
            key = self.contracts.key_of(p.contract)
            positions[key] = positions.get(key, 0) + int(round(float(p.position)))
        self._foreign_open = {int(t.order.permId or 0) for t in open_trades
                              if int(getattr(t.order, "clientId", 0) or 0) != self.client_id}
        self._completed = {int(t.order.permId or 0): OrderState.of(str(t.orderStatus.status)) for t in completed}
        return BrokerSnapshot(_views(open_trades, self._view), _views(completed, self._view),
                              _views(fills, self._fill_view), positions,
                              _views(open_trades, lambda t: foreign_view(t, self.namespace, self.contracts.key_of)))

    async def _open_orders(self) -> Any:
        """IB's open orders of every client (one such request at a time: ib_async answers one)."""
        async with self._open_orders_lock:
            return await self._answer(self.ib.reqAllOpenOrdersAsync, "open orders", "openOrders")


def _views(items: Any, view: Callable[[Any], Any]) -> list[Any]:
    return [v for v in map(view, items) if v is not None]
