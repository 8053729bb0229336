"""Market data to the clients: quote and bar requests, and the ticks each trade sends out.

Every price-path row (or ``set_price``) is a trade; :meth:`MarketFeed.trade` sends the new
quote to each streaming subscriber of that symbol and feeds the symbol's bar builder, and
:meth:`MarketFeed.advance` closes the bars that simulated time has passed.

What a request gets follows IB (:mod:`.entitlement`): a ``marketDataType`` message with the
type served, then live or delayed ticks, or an error and nothing. Ticks stop while the data
farm is down (2103 … 2104), for live requests during a competing session (10197, until the
next entitlement change), for a stalled symbol, and while IB's connectivity is lost (1100).
"""

from __future__ import annotations

from collections.abc import Callable

from . import inbound as req
from . import messages as msg
from .contracts import Catalog, ContractSpec, Refusal, SimContract
from .entitlement import COMPETING, FARM_BROKEN, FARM_NOTICES, FARM_OK, Entitlement
from .marketdata import Bar, Quotes
from .ports import Link
from .session import QuoteSub, Sink, Subscriptions


def lookup(catalog: Catalog, conn: Sink, req_id: int, spec: ContractSpec) -> SimContract | None:
    """The contract a request names, or ``None`` after answering IB's error (200, or 321 for a
    continuous future)."""
    found = catalog.resolve(spec)
    if isinstance(found, Refusal):
        conn.send(msg.error(req_id, found.code, found.text))
        return None
    return found


class MarketFeed:
    """Quotes and 5-second bars for every subscriber, under the account's entitlement."""

    def __init__(self, catalog: Catalog, quotes: Quotes, prices: dict[str, float], sim_time: Callable[[], float],
                 links: Callable[[], list[Link]], entitlement: Entitlement | None = None) -> None:
        self.catalog = catalog
        self.quotes = quotes
        self.prices = prices  # the book's last trade prices (shared, not copied)
        self.sim_time = sim_time
        self.links = links
        self.entitlement = entitlement or Entitlement()
        self.subscriptions = Subscriptions()
        self.farm_up = True
        self.competing = False  # a competing live session: live requests get nothing
        self.paused = False  # IB's connectivity is lost (1100)
        self.stalled: set[str] = set()  # symbols whose ticks stop while others go on
        self.no_quote: set[str] = set()  # symbols quoted −1 bid/ask (no quote)

    # ------------------------------------------------------------ trades and time
    def trade(self, symbol: str, price: float) -> None:
        """A trade of ``symbol`` at ``price``: ticks to its subscribers, a bar update."""
        quote = self.quotes.trade(symbol, price)
        for sub in self.subscriptions.quote_subscribers(symbol):
            if self._flowing(sub):
                sub.sink.send_many(self._frames(sub, full=False))
        builder = self.subscriptions.bar_builders.get(symbol)
        if builder is not None:
            self._send_bars(symbol, builder.trade(self.sim_time(), price, quote.last_size))

    def advance(self) -> None:
        """Simulated time moved on: close the bars it passed."""
        now = self.sim_time()
        for symbol in self.subscriptions.bar_symbols():
            self._send_bars(symbol, self.subscriptions.bar_builders[symbol].advance(now))

    def _send_bars(self, symbol: str, bars: list[Bar]) -> None:
        if self.paused or not self.farm_up or symbol in self.stalled:
            return
        for bar in bars:
            for req_id, conn in self.subscriptions.bar_subscribers(symbol):
                conn.send(msg.real_time_bar(req_id, bar.start, bar.open, bar.high, bar.low, bar.close,
                                            bar.volume, bar.wap, bar.count))

    def _flowing(self, sub: QuoteSub) -> bool:
        return (not self.paused and self.farm_up and sub.symbol not in self.stalled
                and not (self.competing and sub.data_type == 1))

    def _frames(self, sub: QuoteSub, full: bool) -> list[bytes]:
        return self.quotes.tick_frames(sub.req_id, sub.symbol, full, delayed=sub.data_type == 3,
                                       no_quote=sub.symbol in self.no_quote)

    def resume(self, symbols: set[str] | None = None) -> None:
        """Data flows again: every flowing subscriber (of ``symbols``) gets the current quote."""
        for sub in self.subscriptions.quote_subscribers():
            if (symbols is None or sub.symbol in symbols) and self._flowing(sub):
                sub.sink.send_many(self._frames(sub, full=True))

    # ------------------------------------------------------------ the account's data and faults
    def set_entitlement(self, mode: str, symbol: str | None = None) -> None:
        """Entitle the account (or one symbol) to ``live``, ``delayed`` or ``none`` data; ends a
        competing session. Each streaming request is answered again: a type it may no longer
        have is refused (its error, then nothing); live data where delayed was served switches."""
        self.entitlement.set(mode, symbol)
        was_competing, self.competing = self.competing, False
        for sub in self.subscriptions.quote_subscribers(symbol):
            stock = self.catalog.by_key(sub.symbol)
            answer = self.entitlement.answer(sub.symbol, stock.primary_exchange if stock else "", sub.requested)
            if not answer.data_type:
                sub.sink.send(msg.error(sub.req_id, answer.code, answer.text))
                self._cancel(sub)
            elif answer.data_type != sub.data_type:
                sub.data_type = answer.data_type
                sub.sink.send(msg.market_data_type(sub.req_id, sub.data_type))
                if self._flowing(sub):
                    sub.sink.send_many(self._frames(sub, full=True))
            elif was_competing and sub.data_type == 1 and self._flowing(sub):
                sub.sink.send_many(self._frames(sub, full=True))

    def competing_session(self) -> None:
        """Someone logs in to the live account elsewhere: 10197 on every live request, then
        silence until the next entitlement change."""
        self.competing = True
        for sub in self.subscriptions.quote_subscribers():
            if sub.data_type == 1:
                sub.sink.send(msg.error(sub.req_id, *COMPETING))

    def set_farm(self, up: bool) -> None:
        """The market data farm drops (2103, ticks stop) or comes back (2104, ticks resume)."""
        if up == self.farm_up:
            return
        self.farm_up = up
        code, text = FARM_OK if up else FARM_BROKEN
        for conn in self.links():
            conn.send(msg.error(-1, code, text))
        if up:
            self.resume()

    def farm_notices(self) -> list[tuple[int, str]]:
        """The farm notices a client gets at connect (2103 for the market data farm while it is down)."""
        return [FARM_BROKEN if code == FARM_OK[0] and not self.farm_up else (code, text) for code, text in FARM_NOTICES]

    def stall(self, symbol: str, stalled: bool = True) -> None:
        """``symbol``'s ticks stop (or start again) while every other symbol goes on."""
        if stalled:
            self.stalled.add(symbol)
        elif symbol in self.stalled:
            self.stalled.discard(symbol)
            self.resume({symbol})

    def set_no_quote(self, symbol: str, absent: bool = True) -> None:
        """``symbol`` has no bid and no ask: they are sent as −1 with size 0."""
        (self.no_quote.add if absent else self.no_quote.discard)(symbol)
        self.resume({symbol})

    def lose_all(self) -> None:
        """IB lost every market-data request (1101): they must be requested again."""
        for conn in self.links():
            self.subscriptions.drop(conn, conn.session)

    def drop(self, conn: Link) -> None:
        self.subscriptions.drop(conn)

    def _cancel(self, sub: QuoteSub) -> None:
        session = next((c.session for c in self.links() if c.conn_id == sub.sink.conn_id), None)
        if session is not None:
            self.subscriptions.cancel_quotes(sub, session)

    def to_json(self) -> dict[str, object]:
        return {"entitlement": self.entitlement.to_json(), "farm_up": self.farm_up, "competing": self.competing,
                "connectivity_lost": self.paused, "stalled": sorted(self.stalled), "no_quote": sorted(self.no_quote)}

    # ------------------------------------------------------------ requests
    def req_market_data_type(self, conn: Link, fields: list[str]) -> None:
        """reqMarketDataType: the type this connection's later requests ask for."""
        data_type = req.parse_req_id(fields, 2)
        if data_type not in (1, 2, 3, 4):
            conn.send(msg.error(-1, 321, f"Error validating request.-'bZ' : cause - Invalid market data type "
                                         f"{data_type}"))
            return
        conn.session.market_data_type = data_type

    def req_mkt_data(self, conn: Link, fields: list[str]) -> None:
        req_id, spec, snapshot = req.parse_mkt_data(fields)
        stock = lookup(self.catalog, conn, req_id, spec)
        if stock is None:
            return
        answer = self.entitlement.answer(stock.key, stock.primary_exchange, conn.session.market_data_type)
        self.subscriptions.remove_quotes(conn, conn.session, req_id)
        if not answer.data_type:
            conn.send(msg.error(req_id, answer.code, answer.text))
            return
        if answer.code:
            conn.send(msg.error(req_id, answer.code, answer.text))
        conn.send(msg.market_data_type(req_id, answer.data_type))
        sub = QuoteSub(conn, req_id, stock.key, conn.session.market_data_type, answer.data_type)
        if self.competing and sub.data_type == 1:
            conn.send(msg.error(req_id, *COMPETING))
        if self._flowing(sub):
            conn.send_many(self._frames(sub, full=True))
        if snapshot:
            conn.send(msg.tick_snapshot_end(req_id))
        else:
            self.subscriptions.add_quotes(conn, conn.session, req_id, stock.key, answer.data_type)

    def cancel_mkt_data(self, conn: Link, fields: list[str]) -> None:
        self.subscriptions.remove_quotes(conn, conn.session, req.parse_req_id(fields))

    def req_real_time_bars(self, conn: Link, fields: list[str]) -> None:
        req_id, spec = req.parse_contract_request(fields)
        stock = lookup(self.catalog, conn, req_id, spec)
        if stock is None:
            return
        if self.entitlement.of(stock.key) != "live":  # real-time bars need a live subscription
            conn.send(msg.error(req_id, 354, f"Requested market data is not subscribed.{stock.symbol}"))
            return
        self.subscriptions.add_bars(conn, conn.session, req_id, stock.key, self.sim_time(),
                                    self.prices[stock.key])

    def cancel_real_time_bars(self, conn: Link, fields: list[str]) -> None:
        self.subscriptions.remove_bars(conn, conn.session, req.parse_req_id(fields))
