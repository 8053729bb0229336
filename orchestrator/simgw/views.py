"""Read-only views of broker truth (copies), for tests, the control port and the demo.

:class:`BrokerViews` is the part of ``SimGateway``'s public API that only reads: orders,
positions, executions, the journal, prices, account values and the JSON ``state``.
"""

from __future__ import annotations

from .account import Account, Position
from .book import Book
from .faults import Faults
from .feed import MarketFeed
from .journal import Journal
from .orders import Execution, SimOrder
from .policy import OrderPolicy


class BrokerViews:
    """Views over ``book``, ``account``, ``journal`` and ``faults`` (set by the subclass)."""

    book: Book
    account: Account
    journal: Journal
    faults: Faults
    feed: MarketFeed
    policy: OrderPolicy
    tick: int

    @property
    def clients(self) -> list[int]:
        """Client ids connected now."""
        raise NotImplementedError

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
        return self.account.copies()

    @property
    def executions(self) -> list[Execution]:
        return list(self.book.executions)

    @property
    def journal_entries(self) -> list[dict[str, object]]:
        return list(self.journal.entries)

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
            "base_currency": self.account.base,
            "fx": dict(self.account.fx),
            "ledger": {ccy: {k: round(v, 8) for k, v in row.items()}
                       for ccy, row in self.account.ledger(self.book.prices).items()},
            "faults": self.faults.to_json(),
            "market_data": self.feed.to_json(),
            "policy": self.policy.to_json(),
        }
