"""SimGateway: the simulated IB Gateway (public API).

Composes the price path, the order book, quotes and bars, the journal and the
faults, and serves them over the TWS API socket protocol.  All state lives in
one asyncio loop; the book is synchronous and every change it makes is turned
into messages for the owning client right away, in order.

The gateway is the connections' :class:`~.ports.ConnectionHandler` and the handlers'
:class:`~.ports.GatewayOps`; the parts it composes never import it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import messages as msg
from . import pricing
from .account import Account
from .account_feed import AccountFeed
from .book import Book, Event
from .clients import Clients
from .connectivity import Connectivity
from .contracts import Catalog
from .delivery import Delivery
from .entitlement import LIVE, Entitlement
from .faults import Faults
from .feed import MarketFeed
from .handlers import Handlers
from .journal import Journal
from .marketclock import MarketClock
from .marketdata import Quotes
from .orders import PortfolioEvent
from .pacing import DEFAULT_LIMIT
from .policy import OrderPolicy
from .ports import Link
from .prices import PricePath
from .ticking import tick_forever
from .tws import MarketActions
from .views import BrokerViews
from .waiters import Waiters

log = logging.getLogger("orchestrator.simgw")


class SimGateway(MarketActions, BrokerViews):
    """A simulated IB Gateway serving the TWS API (server version 157).

    Args:
        prices: the price path; one row is applied per tick.
        host, port: where to listen; port 0 picks a free port (see ``port``).
        tick_seconds: seconds between automatic ticks; ``None``/0: manual ticking only (``advance``).
        account_value, account: starting cash in the base currency; the account code in managedAccounts.
        journal_path: JSONL journal file (appended to), or ``None``.
        partial_fill_max: at most this many shares per fill (one fill per order per tick).
        commission_per_share, min_commission: IB fixed-rate style commissions.
        account_push_seconds: minimum interval of price-driven account pushes (fills push at once).
        market_data: the account's entitlement, ``live``, ``delayed`` or ``none`` (``feed.set_entitlement``).
        pacing_limit: messages per second a client may send (IB: 50); more get error 100.
        policy: read-only API, precautionary percentage, modify processing window (all off by default).
        monotonic: the clock of pacing and held client ids (a seam for tests).
        base_currency: the account's base currency (its rate must be known: ``fx`` or a default).
        fx: USD per unit of other currencies (``{"EUR": 1.08}`` is EURUSD = 1.08); EUR defaults to 1.08.
        futures_margin: initial margin per contract by futures root (``{"ES": 13000}``), in USD.
        sim_date: the simulator's date, which decides the listed futures months (default: today, UTC).
        clock, speed, calendar: the session clock (``marketclock``): start (default: now), simulated seconds
            per real second (0: only set_time/advance_time move it), the calendar (None: never closes).
        held: the market waits for ``release`` (no ticks, the clock standing at its start).

    Raises:
        PricesError: a futures price of the path is off its tick.
        ValueError: a currency (the base, or a contract's) has no rate, or a rate is not positive.
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
        market_data: str = LIVE,
        pacing_limit: int = DEFAULT_LIMIT,
        policy: OrderPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        base_currency: str = "USD",
        fx: Mapping[str, float] | None = None,
        futures_margin: Mapping[str, float] | None = None,
        sim_date: date | None = None,
        clock: datetime | None = None,
        speed: float = 1.0,
        calendar: str | None = None,
        held: bool = False,
    ) -> None:
        self.path, self.host, self.port, self.tick_seconds = prices, host, port, tick_seconds or None
        self.account_name = account
        self.catalog = Catalog(prices.symbols(), prices.initial_prices(), sim_date, futures_margin)
        self.account = Account(account, account_value, base_currency, fx)
        pricing.check_currencies(self.catalog, self.account)
        initial = pricing.initial_prices(self.catalog, prices)
        initial.update({pair.key: self.account.fx[pair.symbol] for pair in self.catalog.add_pairs(self.account.fx)})
        self.policy = policy or OrderPolicy()
        self.held, self._speed = held, speed
        self.market_clock = MarketClock(clock, 0 if held else speed, calendar)
        self.book = Book(self.catalog, self.account, initial,
                         commission_per_share=commission_per_share, min_commission=min_commission,
                         partial_fill_max=partial_fill_max, policy=self.policy, clock=self.market_clock.now)
        self.hours_overrides: dict[str, dict[date, str]] = {}   # set_hours: what IB's hours say of a day
        if calendar is not None:
            self.book.market_open = lambda key: self.market_clock.is_open(future=self._is_future(key))
            self.book.next_open_text = lambda key: self.market_clock.next_open_text(future=self._is_future(key))
        self.faults = faults or Faults()
        self.faults.attach(self)
        self.journal = Journal(journal_path, self.market_clock.now if calendar is not None else None)
        self.tick, self._tick_step = 0, self.tick_seconds or 1.0
        self._sim_epoch = int(time.time() // 5) * 5
        quotes = Quotes(initial, pricing.increment_of(self.catalog))
        self.feed = MarketFeed(self.catalog, quotes, self.book.prices, self.sim_time, self.links,
                               Entitlement(market_data))
        self._accounts = AccountFeed(self, account_push_seconds)
        self._handlers = Handlers(self, self._accounts, self.feed)
        self._waiters = Waiters()
        self._clients = Clients(clock=self.clock, greet=self._greet, dispatch=self._handlers.dispatch,
                                forget=self.feed.drop, changed=self.changed, refusing=self.faults.refusing,
                                pacing_limit=pacing_limit, now=monotonic, journal=self.journal)
        self._delivery = Delivery(self.catalog, self.faults, self._clients.by_id.get)
        self.connectivity = Connectivity(self.feed, self._delivery, self.links, self.changed)
        self.link_up = self.connectivity.up  # set while IB's connectivity is up
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = False

    # ================================================================ lifecycle
    async def start(self) -> SimGateway:
        """Start listening (and ticking, if ``tick_seconds`` is set)."""
        self._server = await asyncio.start_server(self._clients.accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.started = True
        if self.tick_seconds and not self.held:
            self.spawn(tick_forever(self.tick_seconds, self._step))
        log.info("sim-gateway listening on %s:%d", self.host, self.port)
        return self

    async def stop(self) -> None:
        """Stop listening, drop every client and close the journal."""
        if self._server is not None:
            self._server.close()
        self._clients.drop_all("gateway stopping")
        # connection handlers end by themselves once their socket is aborted;
        # cancelling them would make asyncio's stream callback log a traceback
        conn_tasks = self._clients.tasks
        if conn_tasks:
            await asyncio.wait(list(conn_tasks), timeout=2.0)
        for task in [*self._tasks, *conn_tasks]:
            task.cancel()
        if self._tasks or conn_tasks:
            await asyncio.gather(*self._tasks, *conn_tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._accounts.cancel()
        self.connectivity.cancel()
        self.journal.close()
        self.started = False

    async def __aenter__(self) -> SimGateway:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task of the gateway (cancelled by ``stop``)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ================================================================ time and prices
    def clock(self) -> datetime:
        """The simulated time (reqCurrentTime answers it)."""
        return self.market_clock.now()

    def sim_time(self) -> float:
        """Simulated epoch seconds: start + ticks × tick step (1 s when ticking manually)."""
        return self._sim_epoch + self.tick * self._tick_step

    async def advance(self, n: int = 1) -> None:
        """Apply the next ``n`` rows of the price path now (matching after each)."""
        for _ in range(int(n)):
            self._step()
        await asyncio.sleep(0)

    def _step(self) -> None:
        self.tick += 1
        if self.faults.take_drop_tick(self.tick):
            self._clients.drop_all(f"fault: drop_at_tick {self.tick}")
        if self.tick <= len(self.path.rows):
            symbol, price = self.path.rows[self.tick - 1]
            for key in self.catalog.keys_of(symbol):
                self._trade(key, price)
                self.book.prices[key] = price
        self.apply(self.book.match_all())
        self._session_moves()
        self.feed.advance()
        self._after_change()

    def _trade(self, symbol: str, price: float) -> None:
        self.feed.trade(symbol, price)
        self._accounts.price_changed()

    def _push_account(self) -> None:
        self._accounts.push(None)

    # ================================================================ book events → wire
    def apply(self, events: list[Event]) -> None:
        """Journal the book's events and deliver them: wire messages to the owner, account pushes."""
        for ev in events:
            if isinstance(ev, PortfolioEvent):
                self._accounts.push_after(self.faults.exec_delay if ev.late else 0.0, ev.symbol)
                continue
            self.journal.record(ev)
            self._delivery.deliver(ev)

    def _after_change(self) -> None:
        if self.started:
            self._accounts.after_change()
        self.changed()

    # ================================================================ connections
    def links(self) -> list[Link]:
        return self._clients.links()

    @property
    def clients(self) -> list[int]:
        """Client ids connected now."""
        return sorted(self._clients.by_id)

    def _greet(self, conn: Link) -> None:
        """What an accepted startApi gets: managedAccounts, nextValidId, the farm notices."""
        conn.send(msg.managed_accounts(self.account_name))
        conn.send(msg.next_valid_id(self.book.next_valid_id(conn.cid)))
        for code, text in self.feed.farm_notices():
            conn.send(msg.error(-1, code, text))
        self.connectivity.greet(conn)

    def hold_client_id(self, client_id: int, seconds: float) -> None:
        """Keep ``client_id`` occupied for ``seconds`` after its connection closes (or from now): 326 to a reconnect."""
        self._clients.hold(int(client_id), float(seconds))

    def set_pacing_limit(self, limit: int) -> None:
        """Messages per second a client may send from now on (more get error 100, then a disconnect)."""
        self._clients.set_pacing_limit(int(limit))

    def drop_connections(self) -> int:
        """Close every client connection now (a network failure); returns how many were closed."""
        return self._clients.drop_all("fault: drop_connections")

    def restart(self, refuse_seconds: float = 0.0, rollback: int = 0) -> None:
        """IB's nightly restart: drop every connection, refuse connections for ``refuse_seconds``.

        ``rollback`` 0: next order ids start again at 1, working orders are re-keyed (``Book.restart``),
        order messages held back by ack_delay reached IB first. ``rollback`` N: orders keep their ids,
        held-back messages are lost, each client's nextValidId goes back by N (below ids in use).
        """
        for conn in list(self._clients.conns):
            if rollback > 0:
                conn.session.pipeline.clear()  # written to the socket, never reached IB
            else:
                self._handlers.flush_pipeline(conn)
        self._clients.drop_all("fault: restart")
        self.apply(self.book.restart(rollback))
        if refuse_seconds > 0:
            self.faults.refuse_for(refuse_seconds)
        self.changed()

    # ================================================================ waiting (tests)
    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds; it is re-checked after every change.

        Raises:
            asyncio.TimeoutError: it did not hold within ``timeout`` seconds.
        """
        await self._waiters.wait_until(predicate, timeout)

    def changed(self) -> None:
        """Re-check every ``wait_until`` predicate (called after every change)."""
        self._waiters.changed()
