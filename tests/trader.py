"""The second actor: the trader at the shared account, as an ib_async client with clientId 0 (the
id of TWS's own API session) over TCP to the same simulated gateway as the orchestrator.

What the trader does by hand in the TWS window (cancel one of the orchestrator's orders) is the
gateway's ``cancel_in_tws``; what an API client can do (a global cancel, its own orders) goes
through this client, as it would at IB.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ib_async import IB, LimitOrder, MarketOrder, Order, Stock, StopOrder, Trade

WAIT = 10.0


class Trader:
    def __init__(self, port: int) -> None:
        self.port = port
        self.ib = IB()
        self.errors: list[tuple[int, int, str]] = []
        self.ib.errorEvent += lambda req_id, code, text, _contract: self.errors.append((req_id, code, text))

    async def __aenter__(self) -> Trader:
        await self.ib.connectAsync("127.0.0.1", self.port, clientId=0, timeout=WAIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.ib.disconnect()

    async def _until(self, done: Callable[[], bool], what: str) -> None:
        async def loop() -> None:
            while not done():
                await self.ib.updateEvent
        try:
            await asyncio.wait_for(loop(), WAIT)
        except TimeoutError:
            raise AssertionError(f"the trader timed out waiting for {what}") from None

    async def _place(self, symbol: str, order: Order, settled: Callable[[Trade], bool], what: str) -> Trade:
        contract = Stock(symbol, "SMART", "USD")
        await self.ib.qualifyContractsAsync(contract)
        order.tif = "GTC"
        trade = self.ib.placeOrder(contract, order)
        await self._until(lambda: settled(trade), what)
        return trade

    async def sell(self, symbol: str, quantity: int, action: str = "SELL") -> Trade:
        """A market order, waited for until it has filled."""
        return await self._place(symbol, MarketOrder(action, quantity),
                                 lambda t: t.orderStatus.status == "Filled", f"{action} {quantity} {symbol} to fill")

    async def stop(self, symbol: str, quantity: int, stop_price: float, action: str = "SELL", ref: str = "") -> Trade:
        """A GTC stop of the trader's own, waited for until IB has it working."""
        order = StopOrder(action, quantity, stop_price)
        order.orderRef = ref
        return await self._place(symbol, order, lambda t: t.orderStatus.status in ("PreSubmitted", "Submitted"),
                                 f"the trader's stop {action} {quantity} {symbol} to work")

    async def limit(self, symbol: str, quantity: int, limit_price: float, action: str = "SELL") -> Trade:
        """A GTC limit of the trader's own (no OCA group), waited for until IB has it working."""
        return await self._place(symbol, LimitOrder(action, quantity, limit_price),
                                 lambda t: t.orderStatus.status in ("PreSubmitted", "Submitted"),
                                 f"the trader's limit {action} {quantity} {symbol} to work")

    def global_cancel(self) -> None:
        """TWS's Global Cancel: every open order of every client of the account."""
        self.ib.reqGlobalCancel()
