"""SimGateway: the simulated IB Gateway (public API).

Composes the price path, the order book, quotes and bars, the journal and the
faults, and serves them over the TWS API socket protocol.  All state lives in
one asyncio loop; the book is synchronous and every change it makes is turned
into messages for the owning client right away, in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import messages as msg
from .account import Account, Position
from .book import Book, Event
from .contracts import Catalog
from .faults import Faults
from .handlers import Handlers
from .journal import Journal
from .marketdata import Bar, BarBuilder, Quotes
from .orders import Execution, OrderEvent, OrderRequest, PortfolioEvent, SimOrder
from .prices import PricePath
from .server import Connection
from .wire import ProtocolError

log = logging.getLogger("orchestrator.simgw")

FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
CLIENT_ID_IN_USE = "Unable to connect as the client id is already in use. Retry with a unique client id."


class SimGateway:
    """A simulated IB Gateway serving the TWS API (server version 157).

    Args:
        prices: the price path; one row is applied per tick.
        host, port: where to listen; port 0 picks a free port (see ``port``).
        tick_seconds: seconds between automatic ticks; ``None``/0 means manual
            ticking only (``await advance(n)``).
        account_value: starting cash of the account, in USD.
        account: the account code reported in managedAccounts.
        journal_path: JSONL journal file (appended to), or ``None``.
        partial_fill_max: at most this many shares per fill (one fill per order
            per tick); ``None`` fills whole orders.
        commission_per_share, min_commission: IB fixed-rate style commissions.
        account_push_seconds: minimum interval of price-driven account and
            portfolio pushes (fills always push at once).
    """

    def __init__(
        self,
        prices: PricePath,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_seconds: float | None = 0.25,
        account_value: float = 100_000,
        account: str = "DU1234567",
        journal_path: str | Path | None = None,
        partial_fill_max: int | None = None,
        commission_per_share: float = 0.005,
        min_commission: float = 1.0,
        account_push_seconds: float = 1.0,
        faults: Faults | None = None,
    ) -> None:
        self.path = prices
        self.host = host
        self.port = port
        self.tick_seconds = tick_seconds or None
        self.account_name = account
        self.account_push_seconds = account_push_seconds
        self.catalog = Catalog(prices.symbols())
        self.account = Account(account, account_value)
        self.book = Book(self.catalog, self.account, prices.initial_prices(),
                         commission_per_share=commission_per_share, min_commission=min_commission,
                         partial_fill_max=partial_fill_max)
        self.quotes = Quotes(prices.initial_prices())
        self.faults = faults or Faults()
        self.faults._bind(self)
        self.journal = Journal(journal_path)
        self.tick = 0
        self._tick_step = self.tick_seconds or 1.0
        self._sim_epoch = int(time.time() // 5) * 5
        self._handlers = Handlers(self)
        self._conns: set[Connection] = set()
        self._clients: dict[int, Connection] = {}
        self._mkt_subs: dict[str, dict[tuple[int, int], Connection]] = {}
        self._bar_subs: dict[str, dict[tuple[int, int], Connection]] = {}
        self._bar_builders: dict[str, BarBuilder] = {}
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conn_tasks: set[asyncio.Task[Any]] = set()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._push_handle: asyncio.TimerHandle | None = None
        self._last_push = 0.0
        self._price_dirty = False
        self.started = False

    # ================================================================ lifecycle
    async def start(self) -> SimGateway:
        """Start listening (and ticking, if ``tick_seconds`` is set)."""
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.started = True
        if self.tick_seconds:
            self._spawn(self._tick_loop())
        log.info("sim-gateway listening on %s:%d", self.host, self.port)
        return self

    async def stop(self) -> None:
        """Stop listening, drop every client and close the journal."""
        if self._server is not None:
            self._server.close()
        self._drop_all("gateway stopping")
        # connection handlers end by themselves once their socket is aborted;
        # cancelling them would make asyncio's stream callback log a traceback
        if self._conn_tasks:
            await asyncio.wait(list(self._conn_tasks), timeout=2.0)
        for task in [*self._tasks, *self._conn_tasks]:
            task.cancel()
        if self._tasks or self._conn_tasks:
            await asyncio.gather(*self._tasks, *self._conn_tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._push_handle:
            self._push_handle.cancel()
        self.journal.close()
        self.started = False

    async def __aenter__(self) -> SimGateway:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.faults.refusing():
            writer.transport.abort()
            return
        conn = Connection(self, reader, writer)
        self._conns.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
            task.add_done_callback(self._conn_tasks.discard)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)

    # ================================================================ time and prices
    def clock(self) -> datetime:
        return datetime.now(UTC)

    def sim_time(self) -> float:
        """Simulated epoch seconds: start + ticks × tick step (1 s when ticking manually)."""
        return self._sim_epoch + self.tick * self._tick_step

    async def advance(self, n: int = 1) -> None:
        """Apply the next ``n`` rows of the price path now (matching after each)."""
        for _ in range(int(n)):
            self._step()
        await asyncio.sleep(0)

    def set_price(self, symbol: str, price: float) -> None:
        """A trade of ``symbol`` at ``price`` now: quotes, bars, stops and limits react."""
        if self.catalog.by_symbol(symbol) is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        self._trade(symbol, float(price))
        self._handle(self.book.set_price(symbol, float(price)))
        self._after_change()

    def cancel_in_tws(self, order_ref: str) -> None:
        """Someone cancels the working order ``order_ref`` in TWS (or IB does): the owner hears
        an orderStatus Cancelled it did not ask for."""
        for o in self.book.orders.values():
            if o.order_ref == order_ref and not o.is_done:
                self._handle(self.book.cancel(o.client_id, o.order_id))
        self._after_change()

    def trade_in_tws(self, symbol: str, action: str, quantity: float) -> None:
        """Someone trades ``symbol`` by hand in TWS: a market order of client 0, no orderRef."""
        stock = self.catalog.by_symbol(symbol)
        if stock is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        order_id = self.book.next_valid_id(0)
        self._handle(self.book.place(0, OrderRequest(order_id=order_id, con_id=stock.con_id, symbol=stock.symbol,
                                                     action=action, quantity=float(quantity), order_type="MKT",
                                                     tif="DAY")))
        self._after_change()

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        step = self.tick_seconds or 1.0
        while True:
            due += step
            if loop.time() - due > 1.0:  # fell far behind (a stalled loop): do not burst-catch-up
                due = loop.time()
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                self._step()
            except Exception:
                log.exception("tick %d failed", self.tick)

    def _step(self) -> None:
        self.tick += 1
        if self.faults.take_drop_tick(self.tick):
            self._drop_all(f"fault: drop_at_tick {self.tick}")
        if self.tick <= len(self.path.rows):
            symbol, price = self.path.rows[self.tick - 1]
            self._trade(symbol, price)
            self.book.prices[symbol] = price
        self._handle(self.book.match_all())
        now = self.sim_time()
        for symbol, subs in self._bar_subs.items():
            if subs and (builder := self._bar_builders.get(symbol)):
                self._send_bars(symbol, builder.advance(now))
        self._after_change()

    def _trade(self, symbol: str, price: float) -> None:
        quote = self.quotes.trade(symbol, price)
        for (_, req_id), conn in self._mkt_subs.get(symbol, {}).items():
            conn.send_many(self.quotes.tick_frames(req_id, symbol, False))
        builder = self._bar_builders.get(symbol)
        if builder is not None:
            self._send_bars(symbol, builder.trade(self.sim_time(), price, quote.last_size))
        self._price_dirty = True

    def _send_bars(self, symbol: str, bars: list[Bar]) -> None:
        for bar in bars:
            for (_, req_id), conn in self._bar_subs.get(symbol, {}).items():
                conn.send(msg.real_time_bar(req_id, bar.start, bar.open, bar.high, bar.low, bar.close,
                                            bar.volume, bar.wap, bar.count))

    # ================================================================ book events → wire
    def _handle(self, events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, PortfolioEvent):
                self._push_account(ev.symbol)
                continue
            self.journal.record(ev)
            self._deliver(ev)

    def _deliver(self, ev: OrderEvent) -> None:
        conn = self._clients.get(ev.client_id)
        if conn is None or not ev.wire or ev.order is None:
            return
        late = self.faults.exec_delay
        if late and "exec" in ev.wire:
            # IB does not promise execDetails before orderStatus: send the execution later
            now = tuple(p for p in ev.wire if p not in ("exec", "commission"))
            later = tuple(p for p in ev.wire if p in ("exec", "commission"))
            self._deliver(replace(ev, wire=now))
            snapshot = replace(ev, wire=later, order=replace(ev.order))
            asyncio.get_running_loop().call_later(late, self._deliver_late, snapshot)
            return
        stock = self.catalog.by_symbol(ev.order.symbol)
        for part in ev.wire:
            if part == "error":
                conn.send(msg.error(ev.order_id, ev.code, ev.text))
            elif stock is None:
                continue
            elif part == "open":
                conn.send(msg.open_order(ev.order, stock))
            elif part == "status":
                if self.faults.take_drop_status():
                    log.info("fault: dropped orderStatus %s %s for client %s",
                             ev.order.order_id, ev.order.status, ev.client_id)
                    continue
                conn.send(msg.order_status(ev.order))
            elif part == "exec" and ev.execution is not None:
                conn.send(msg.exec_details(-1, ev.execution, stock))
            elif part == "commission" and ev.execution is not None:
                conn.send(msg.commission_report(ev.execution))

    def _deliver_late(self, ev: OrderEvent) -> None:
        conn = self._clients.get(ev.client_id)
        stock = self.catalog.by_symbol(ev.order.symbol) if ev.order is not None else None
        if conn is None or stock is None or ev.execution is None:
            return
        for part in ev.wire:
            if part == "exec":
                conn.send(msg.exec_details(-1, ev.execution, stock))
            elif part == "commission":
                conn.send(msg.commission_report(ev.execution))

    # ================================================================ account pushes
    def _push_account(self, symbol: str | None) -> None:
        """Push position/portfolio (of ``symbol``, or of every position) and account values."""
        if symbol is None:  # price-driven: every open position
            pos_list = [p for p in self.account.positions.values() if p.qty]
        else:  # after a fill: that symbol, even when now flat (qty 0 removes it client-side)
            pos_list = [p for p in self.account.positions.values() if p.symbol == symbol]
        rows = None
        for conn in list(self._clients.values()):
            if symbol is not None and conn.positions_sub:
                for pos in pos_list:
                    if (stock := self.catalog.by_symbol(pos.symbol)) is not None:
                        conn.send(msg.position(self.account_name, stock, pos))
            if conn.account_updates or conn.account_multi:
                rows = rows or self.account.value_rows(self.book.prices)
                self._handlers.send_account(conn, rows, pos_list if conn.account_updates else [])
        self._last_push = time.monotonic()

    def _after_change(self) -> None:
        if self._price_dirty and self.account.positions and self.started:
            self._price_dirty = False
            if self._push_handle is None:
                delay = max(0.0, self._last_push + self.account_push_seconds - time.monotonic())
                self._push_handle = asyncio.get_running_loop().call_later(delay, self._price_push)
        self._notify()

    def _price_push(self) -> None:
        self._push_handle = None
        if any(p.qty for p in self.account.positions.values()):
            self._push_account(None)

    # ================================================================ connections
    def _start_api(self, conn: Connection, fields: list[str]) -> None:
        try:
            client_id = int(fields[2])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad startApi {fields!r}") from None
        other = self._clients.get(client_id)
        if other is not None and not other.closed:
            log.warning("client id %d already in use; refusing %r", client_id, conn)
            conn.send(msg.error(-1, 326, CLIENT_ID_IN_USE))
            conn.close()
            return
        conn.client_id = client_id
        conn.ready = True
        self._clients[client_id] = conn
        conn.send(msg.managed_accounts(self.account_name))
        conn.send(msg.next_valid_id(self.book.next_valid_id(client_id)))
        for code, text in FARM_NOTICES:
            conn.send(msg.error(-1, code, text))
        log.info("client %d connected from %s", client_id, conn.peer)
        self._notify()

    def _on_message(self, conn: Connection, fields: list[str]) -> None:
        try:
            self._handlers.dispatch(conn, fields)
        except (ValueError, IndexError) as exc:
            raise ProtocolError(f"malformed message {fields[:1]}: {exc}") from exc
        self._notify()

    def _on_disconnect(self, conn: Connection) -> None:
        if conn.client_id is not None and self._clients.get(conn.client_id) is conn:
            del self._clients[conn.client_id]
            log.info("client %d disconnected", conn.client_id)
        for subs in (*self._mkt_subs.values(), *self._bar_subs.values()):
            for key in [k for k, c in subs.items() if c is conn]:
                del subs[key]
        self._notify()

    def _drop_all(self, reason: str) -> int:
        conns = list(self._conns)
        for conn in conns:
            conn.abort()
            if conn.client_id is not None and self._clients.get(conn.client_id) is conn:
                del self._clients[conn.client_id]
        if conns:
            log.info("%s: dropped %d connection(s)", reason, len(conns))
        return len(conns)

    def _restart(self, refuse_seconds: float) -> None:
        for conn in list(self._conns):   # order messages held back by ack_delay reached IB before it restarted
            self._handlers.flush_pipeline(conn)
        self._drop_all("fault: restart")
        self._handle(self.book.restart())
        if refuse_seconds > 0:
            self.faults.refuse_for(refuse_seconds)
        self._notify()

    # ================================================================ waiting (tests)
    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every change.

        Raises:
            asyncio.TimeoutError: it did not hold within ``timeout`` seconds.
        """
        if predicate():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, fut)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _notify(self) -> None:
        for predicate, fut in list(self._waiters):
            if not fut.done():
                try:
                    if predicate():
                        fut.set_result(None)
                except Exception as exc:  # surface predicate bugs to the waiter
                    fut.set_exception(exc)

    # ================================================================ read-only views
    @property
    def orders(self) -> list[SimOrder]:
        """Every order the gateway holds (copies), in permId order."""
        return [o.snapshot() for o in sorted(self.book.orders.values(), key=lambda o: o.perm_id)]

    def order(self, client_id: int, order_id: int) -> SimOrder | None:
        o = self.book.order(client_id, order_id)
        return o.snapshot() if o else None

    def orders_by_ref(self, order_ref: str) -> list[SimOrder]:
        return [o for o in self.orders if o.order_ref == order_ref]

    @property
    def positions(self) -> dict[str, Position]:
        """Nonzero positions by symbol (copies)."""
        return {s: Position(p.symbol, p.con_id, p.qty, p.avg_cost, p.realized_pnl)
                for s, p in self.account.positions.items() if p.qty}

    @property
    def executions(self) -> list[Execution]:
        return list(self.book.executions)

    @property
    def journal_entries(self) -> list[dict[str, object]]:
        return list(self.journal.entries)

    @property
    def clients(self) -> list[int]:
        """Client ids connected now."""
        return sorted(self._clients)

    def price(self, symbol: str) -> float:
        return self.book.prices[symbol]

    def account_values(self) -> dict[str, float]:
        return self.account.values(self.book.prices)

    def state(self) -> dict[str, object]:
        """Broker truth as JSON-able data (the control port's ``state``)."""
        return {
            "tick": self.tick,
            "clients": self.clients,
            "prices": dict(self.book.prices),
            "orders": [o.to_json() for o in self.orders],
            "positions": [p.to_json() for p in self.positions.values()],
            "executions": [e.to_json() for e in self.book.executions],
            "account": {k: round(v, 2) for k, v in self.account_values().items()},
            "faults": self.faults.to_json(),
        }
