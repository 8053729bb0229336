"""What happens at IB besides the API clients: trades on the market, FX moves, the session's
open and end (the session clock), and a trader working in TWS by hand. A mixin of
:class:`~.gateway.SimGateway`, which provides the parts declared here."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import date, datetime, timedelta
from typing import Any

from . import pricing
from .account import Account
from .book import Book, Event
from .contracts import Catalog, ContractSpec
from .hours import parse_override
from .marketclock import MarketClock
from .orders import OrderRequest
from .ticking import tick_forever


class MarketActions:
    """Trades, FX, the session's end and TWS orders, on the gateway's ``book`` and ``account``."""

    catalog: Catalog
    book: Book
    account: Account
    market_clock: MarketClock
    hours_overrides: dict[str, dict[date, str]]

    held: bool
    started: bool
    tick_seconds: float | None
    _speed: float

    def apply(self, events: list[Event]) -> None:
        raise NotImplementedError

    def spawn(self, coro: Coroutine[Any, Any, None]) -> Any:
        raise NotImplementedError

    def _step(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        """A ``held`` gateway's market starts now: the price path ticks and the session clock runs
        at its speed from where it stands (its start time). An embedded gateway is held until the
        orchestrator runs, so its path and simulated day begin then, however long the start took."""
        if not self.held:
            return
        self.held = False
        self.market_clock.run(self._speed)
        if self.started and self.tick_seconds:
            self.spawn(tick_forever(self.tick_seconds, self._step))

    def changed(self) -> None:
        raise NotImplementedError

    def _trade(self, symbol: str, price: float) -> None:
        raise NotImplementedError

    def _after_change(self) -> None:
        raise NotImplementedError

    def _push_account(self) -> None:
        raise NotImplementedError

    def set_price(self, symbol: str, price: float) -> None:
        """A trade of ``symbol`` at ``price`` now: quotes, bars, stops and limits react. A futures
        root (``ES``) trades every listed month; a local symbol (``ESH7``) one.

        Raises:
            KeyError: an unknown symbol.
            ValueError: a futures price off its tick.
        """
        keys = self.catalog.keys_of(symbol)
        if not keys:
            raise KeyError(f"unknown symbol {symbol!r}")
        if problem := pricing.off_tick(self.catalog, symbol, float(price)):
            raise ValueError(problem)
        for key in keys:
            self._trade(key, float(price))
            self.apply(self.book.set_price(key, float(price)))
        self._after_change()

    def set_fx(self, pair: str, rate: float) -> None:
        """A new exchange rate, ``pair`` written ``CCYUSD`` (EURUSD 1.1: 1 EUR = 1.10 USD); the
        account values are pushed to subscribers."""
        if len(pair) != 6 or not pair.endswith("USD"):
            raise ValueError(f"an FX pair is written CCYUSD, e.g. EURUSD (got {pair!r})")
        self.account.set_rate(pair[:3], float(rate))
        if self.catalog.by_key(f"{pair[:3]}.USD") is not None:   # a pair quoted from the start moves with it
            self.book.prices[f"{pair[:3]}.USD"] = float(rate)
            self._trade(f"{pair[:3]}.USD", float(rate))
        self._push_account()
        self.changed()

    def cancel_in_tws(self, order_ref: str) -> None:
        """Someone cancels the working order ``order_ref`` in TWS (or IB does): the owner hears
        an orderStatus Cancelled it did not ask for."""
        for o in self.book.orders.values():
            if o.order_ref == order_ref and not o.is_done:
                self.apply(self.book.cancel(o.client_id, o.order_id))
        self._after_change()

    def _is_future(self, key: str) -> bool:
        contract = self.catalog.by_key(key)
        return contract is not None and contract.is_future

    def set_hours(self, symbol: str, day: date, hours: str) -> None:
        """IB's contract details say ``hours`` of ``symbol``'s ``day`` from now on: ``CLOSED`` or
        ``HHMM-HHMM`` local (the liquid and the trading hours), as real IB does when it knows a
        closure or an early close the calendar does not. The gateway's own clock is unchanged.

        Raises:
            KeyError: an unknown symbol.
            ValueError: ``hours`` is neither form.
        """
        contracts = [c for key in self.catalog.keys_of(symbol) if (c := self.catalog.by_key(key)) is not None]
        if not contracts:
            raise KeyError(f"unknown symbol {symbol!r}")
        body = parse_override(hours)
        for c in contracts:   # a futures root or local symbol: the root's details say it
            self.hours_overrides.setdefault(c.symbol, {})[day] = body

    def end_session(self) -> None:
        """The trading session ends: IB cancels every working DAY order (orderStatus Cancelled)."""
        self.apply(self.book.end_session())
        self._after_change()

    def set_time(self, at: datetime) -> None:
        """The simulated time jumps to ``at``: the sessions it passes open and close on the way."""
        self.market_clock.set(at)
        self._session_moves()
        self._after_change()

    def advance_time(self, seconds: float) -> None:
        self.set_time(self.market_clock.now() + timedelta(seconds=float(seconds)))

    def _session_moves(self) -> None:
        """What the time passed: a close ends DAY orders, an open sends the orders held for it,
        GTD orders whose date came are cancelled."""
        for edge in self.market_clock.crossings():
            self.apply(self.book.end_session() if edge == "close" else self.book.open_session())
        self.apply(self.book.release_held())   # a future's own open (17:00 Chicago) comes at other hours
        self.apply(self.book.expire_gtd(self.market_clock.now()))

    def new_day(self) -> None:
        """A new trading day: reqExecutions answers with today's executions only (positions stay)."""
        self.book.executions.clear()
        self._after_change()

    def trade_in_tws(self, symbol: str, action: str, quantity: float) -> None:
        """Someone trades ``symbol`` by hand in TWS: a market order of client 0, no orderRef."""
        stock = self.catalog.by_key(symbol)
        if stock is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        order_id = self.book.next_valid_id(0)
        self.apply(self.book.place(0, OrderRequest(order_id=order_id, con_id=stock.con_id, symbol=stock.symbol,
                                                     action=action, quantity=float(quantity), order_type="MKT",
                                                     tif="DAY", contract=ContractSpec(con_id=stock.con_id))))
        self._after_change()
