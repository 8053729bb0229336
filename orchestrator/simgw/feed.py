"""Market data to the clients: quote and bar requests, and the ticks each trade sends out.

Every price-path row (or ``set_price``) is a trade; :meth:`MarketFeed.trade` sends the new
quote to each streaming subscriber of that symbol and feeds the symbol's bar builder, and
:meth:`MarketFeed.advance` closes the bars that simulated time has passed.
"""

from __future__ import annotations

from collections.abc import Callable

from . import inbound as req
from . import messages as msg
from .book import NO_SECDEF
from .contracts import Catalog, Stock
from .marketdata import Bar, Quotes
from .ports import Link
from .session import Sink, Subscriptions


def lookup(catalog: Catalog, conn: Sink, req_id: int, spec: req.ContractSpec) -> Stock | None:
    """The stock a request names, or ``None`` after answering error 200."""
    stock = catalog.resolve(spec.con_id, spec.symbol, spec.sec_type, spec.exchange, spec.currency)
    if stock is None:
        conn.send(msg.error(req_id, 200, NO_SECDEF))
    return stock


class MarketFeed:
    """Quotes and 5-second bars for every subscriber."""

    def __init__(self, catalog: Catalog, quotes: Quotes, prices: dict[str, float],
                 sim_time: Callable[[], float]) -> None:
        self.catalog = catalog
        self.quotes = quotes
        self.prices = prices  # the book's last trade prices (shared, not copied)
        self.sim_time = sim_time
        self.subscriptions = Subscriptions()

    # ------------------------------------------------------------ trades and time
    def trade(self, symbol: str, price: float) -> None:
        """A trade of ``symbol`` at ``price``: ticks to its subscribers, a bar update."""
        quote = self.quotes.trade(symbol, price)
        for req_id, conn in self.subscriptions.quote_subscribers(symbol):
            conn.send_many(self.quotes.tick_frames(req_id, symbol, False))
        builder = self.subscriptions.bar_builders.get(symbol)
        if builder is not None:
            self._send_bars(symbol, builder.trade(self.sim_time(), price, quote.last_size))

    def advance(self) -> None:
        """Simulated time moved on: close the bars it passed."""
        now = self.sim_time()
        for symbol in self.subscriptions.bar_symbols():
            self._send_bars(symbol, self.subscriptions.bar_builders[symbol].advance(now))

    def _send_bars(self, symbol: str, bars: list[Bar]) -> None:
        for bar in bars:
            for req_id, conn in self.subscriptions.bar_subscribers(symbol):
                conn.send(msg.real_time_bar(req_id, bar.start, bar.open, bar.high, bar.low, bar.close,
                                            bar.volume, bar.wap, bar.count))

    def drop(self, conn: Link) -> None:
        self.subscriptions.drop(conn)

    # ------------------------------------------------------------ requests
    def req_mkt_data(self, conn: Link, fields: list[str]) -> None:
        req_id, spec, snapshot = req.parse_mkt_data(fields)
        stock = lookup(self.catalog, conn, req_id, spec)
        if stock is None:
            return
        conn.send_many(self.quotes.tick_frames(req_id, stock.symbol, True))
        if snapshot:
            conn.send(msg.tick_snapshot_end(req_id))
            return
        self.subscriptions.remove_quotes(conn, conn.session, req_id)
        self.subscriptions.add_quotes(conn, conn.session, req_id, stock.symbol)

    def cancel_mkt_data(self, conn: Link, fields: list[str]) -> None:
        self.subscriptions.remove_quotes(conn, conn.session, req.parse_req_id(fields))

    def req_real_time_bars(self, conn: Link, fields: list[str]) -> None:
        req_id, spec = req.parse_contract_request(fields)
        stock = lookup(self.catalog, conn, req_id, spec)
        if stock is not None:
            self.subscriptions.add_bars(conn, conn.session, req_id, stock.symbol, self.sim_time(),
                                        self.prices[stock.symbol])

    def cancel_real_time_bars(self, conn: Link, fields: list[str]) -> None:
        self.subscriptions.remove_bars(conn, conn.session, req.parse_req_id(fields))
