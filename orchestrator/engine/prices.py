"""The price series behind the console's charts, fed off the event → commit path.

Fills and confirmed stop moves are marked from a commit hook (no I/O: the recorder only
aggregates in memory); the last price of every symbol a plan holds or works is sampled by a
periodic job, which also writes what was gathered in one short transaction. Old rows are
pruned by the configured retention.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import machines
from machines import Plan, State

from ..broker.port import Broker
from ..clock import Clock
from ..store.prices import PriceRecorder
from .registry import PlanRegistry


class PriceHistory:
    def __init__(self, recorder: PriceRecorder, registry: PlanRegistry, broker: Broker, clock: Clock,
                 retention_days: int) -> None:
        self.recorder = recorder
        self.registry = registry
        self.broker = broker
        self.clock = clock
        self.retention = timedelta(days=retention_days)
        self._stops: dict[str, Decimal | None] = {}
        self._tracked: set[str] = set()

    def committed(self, plan: Plan, event: Any, _step: Any) -> None:
        """A commit hook: fills and newly confirmed stops become marks on the chart."""
        symbol = plan.spec.symbol
        if isinstance(event, (machines.EntryFilled, machines.ExitFilled)):
            self.recorder.mark(symbol, event.at, event.price, "fill", plan.id)
        stop = plan.confirmed_stop_price
        if stop is not None and self._stops.get(plan.id) != stop:
            self._stops[plan.id] = stop
            self.recorder.mark(symbol, event.at, stop, "stop", plan.id)

    def sample(self) -> None:
        """The last price of every symbol a live, started plan is on; then write it all."""
        now = self.clock.now()
        symbols = {p.spec.symbol for p in self.registry.live() if p.state != State.PENDING}
        for symbol in symbols:
            price = self.broker.last_price(symbol)
            if price is not None:
                self.recorder.price(symbol, now, price)
        self.recorder.flush()
        for gone in self._tracked - symbols:
            self.recorder.forget(gone)
        self._tracked = symbols

    def prune(self) -> int:
        return self.recorder.prune(self.clock.now() - self.retention)
