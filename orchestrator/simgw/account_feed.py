"""Account, portfolio and position messages: the requests and the pushes that follow.

Subscribers (reqAccountUpdates, reqAccountUpdatesMulti, reqPositions) are pushed the
positions and account values right after every fill, and after price changes at most once
per ``push_seconds`` (IB itself refreshes account values about every 3 minutes).
"""

from __future__ import annotations

import asyncio
import time

from . import inbound as req
from . import ledger
from . import messages as msg
from .contracts import SimContract
from .ports import GatewayOps, Link
from .positions import Position
from .wire import FieldReader


class AccountFeed:
    """Account requests of the clients and the pushes to subscribers."""

    def __init__(self, gw: GatewayOps, push_seconds: float) -> None:
        self.gw = gw
        self.push_seconds = push_seconds
        self._push_handle: asyncio.TimerHandle | None = None
        self._last_push = 0.0
        self._price_dirty = False

    # ------------------------------------------------------------ pushes
    def push_after(self, seconds: float, symbol: str) -> None:
        """``push`` now, or ``seconds`` later (a fill's position report held back with its execution)."""
        if seconds > 0:
            asyncio.get_running_loop().call_later(seconds, self.push, symbol)
        else:
            self.push(symbol)

    def push(self, symbol: str | None) -> None:
        """Push position/portfolio (of ``symbol``, or of every position) and account values."""
        positions = self.gw.account.positions.values()
        if symbol is None:  # price-driven: every open position
            pos_list = [p for p in positions if p.qty]
        else:  # after a fill: that symbol, even when now flat (qty 0 removes it client-side)
            pos_list = [p for p in positions if p.symbol == symbol]
        rows = None
        for conn in self.gw.links():
            if symbol is not None and conn.session.positions_sub:
                for pos in pos_list:
                    if (stock := self.gw.catalog.by_key(pos.symbol)) is not None:
                        conn.send(msg.position(self.gw.account_name, stock, pos))
            if conn.session.account_updates or conn.session.account_multi:
                rows = rows or self.gw.account.value_rows(self.gw.book.prices)
                self.send_account(conn, rows, pos_list if conn.session.account_updates else [])
        self._last_push = time.monotonic()

    def price_changed(self) -> None:
        self._price_dirty = True

    def after_change(self) -> None:
        """Schedule a throttled price-driven push if prices moved while positions are open."""
        if self._price_dirty and self.gw.account.positions:
            self._price_dirty = False
            if self._push_handle is None:
                delay = max(0.0, self._last_push + self.push_seconds - time.monotonic())
                self._push_handle = asyncio.get_running_loop().call_later(delay, self._price_push)

    def cancel(self) -> None:
        if self._push_handle:
            self._push_handle.cancel()
            self._push_handle = None

    def _price_push(self) -> None:
        self._push_handle = None
        if any(p.qty for p in self.gw.account.positions.values()):
            self.push(None)

    def send_account(self, conn: Link, rows: list[tuple[str, str, str]], positions: list[Position]) -> None:
        """Account values (+ portfolio of ``positions``) to one subscriber."""
        name = self.gw.account_name
        if conn.session.account_updates:
            for tag, value, currency in rows:
                conn.send(msg.account_value(tag, value, currency, name))
            for p in positions:
                stock = self.gw.catalog.by_key(p.symbol)
                if stock is not None:
                    conn.send(msg.portfolio(stock, p, self.gw.book.prices[p.symbol], name))
            conn.send(msg.account_time(self.gw.clock()))
        for req_id in conn.session.account_multi:
            for tag, value, currency in rows:
                conn.send(msg.account_update_multi(req_id, name, tag, value, currency))

    # ------------------------------------------------------------ requests
    def _positions(self) -> list[tuple[SimContract, Position]]:
        out = []
        for p in self.gw.account.positions.values():
            stock = self.gw.catalog.by_key(p.symbol)
            if p.qty and stock is not None:
                out.append((stock, p))
        return out

    def req_account_updates(self, conn: Link, fields: list[str]) -> None:
        r = FieldReader(fields, 2)
        subscribe = r.bool()
        session = conn.session
        session.account_updates = subscribe
        if not subscribe:
            return
        rows = self.gw.account.value_rows(self.gw.book.prices)
        saved, session.account_multi = session.account_multi, set()
        self.send_account(conn, rows, [p for _, p in self._positions()])
        session.account_multi = saved
        conn.send(msg.account_download_end(self.gw.account_name))

    def req_account_updates_multi(self, conn: Link, fields: list[str]) -> None:
        req_id = req.parse_req_id(fields)
        name = self.gw.account_name
        for tag, value, currency in self.gw.account.value_rows(self.gw.book.prices):
            conn.send(msg.account_update_multi(req_id, name, tag, value, currency))
        conn.send(msg.account_update_multi_end(req_id))
        conn.session.account_multi.add(req_id)

    def cancel_account_updates_multi(self, conn: Link, fields: list[str]) -> None:
        conn.session.account_multi.discard(req.parse_req_id(fields))

    def req_account_summary(self, conn: Link, fields: list[str]) -> None:
        """The requested tags in the base currency; ``$LEDGER`` the ledger in BASE,
        ``$LEDGER:CCY`` that currency's, ``$LEDGER:ALL`` every currency's and BASE (IB's tags)."""
        req_id, tags = req.parse_account_summary(fields)
        account = self.gw.account
        values = self.gw.account_values()
        book = account.ledger(self.gw.book.prices)
        name = self.gw.account_name
        for tag in tags:
            if tag == "AccountType":
                conn.send(msg.account_summary(req_id, name, tag, "INDIVIDUAL", ""))
            elif tag.startswith("$LEDGER"):
                which = tag.partition(":")[2]
                currencies = list(book) if which == "ALL" else [which or "BASE"]
                for key, value, currency in ledger.ledger_rows(book, currencies):
                    conn.send(msg.account_summary(req_id, name, key, value, currency))
            elif tag in values:
                conn.send(msg.account_summary(req_id, name, tag, ledger.fmt(tag, values[tag]), account.base))
        conn.send(msg.account_summary_end(req_id))

    def req_positions(self, conn: Link, fields: list[str]) -> None:
        for stock, p in self._positions():
            conn.send(msg.position(self.gw.account_name, stock, p))
        conn.send(msg.position_end())
        conn.session.positions_sub = True

    def cancel_positions(self, conn: Link, fields: list[str]) -> None:
        conn.session.positions_sub = False

    def req_positions_multi(self, conn: Link, fields: list[str]) -> None:
        req_id = req.parse_req_id(fields)
        for stock, p in self._positions():
            conn.send(msg.position_multi(req_id, self.gw.account_name, stock, p))
        conn.send(msg.position_multi_end(req_id))
