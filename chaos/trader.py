"""The trader at the shared account: ``python -m chaos.trader --port P``, an ib_async client with
clientId 0 (what TWS's own API session is), in a process of its own.

It reads one JSON command per line on stdin and answers one JSON line on stdout, in order::

    {"op": "trade", "symbol": "C01A", "action": "SELL", "qty": 200, "ref": "TWS-close"}
        -> {"ok": true, "status": "Filled", "filled": 200, "order_id": 4}    # a market order
    {"op": "stop", "symbol": "C01A", "action": "SELL", "qty": 200, "stop": 97.5, "ref": "P1:stop"}
        -> {"ok": true, "status": "Submitted", "order_id": 5}                # a GTC stop
    {"op": "global_cancel"}  -> {"ok": true, "open_before": 7}               # reqGlobalCancel
    {"op": "cancel_mine"}    -> {"ok": true, "cancelled": 1}                 # its own working orders
    {"op": "cancel", "order_id": 3} -> {"ok": true, "errors": [[3, 10147, "..."]]}

A lost connection (the gateway dropped or restarted) is made again before the next command.
Waits are bounded loops on ib_async's view of the orders; a market order that only fills part
now (partial fills go on with the next price step) is answered with what it has so far.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from ib_async import IB, MarketOrder, Order, Stock, StopOrder, Trade

CLIENT_ID = 0
POLL = 0.02
DONE = ("Filled", "Cancelled", "ApiCancelled", "Inactive")


class Trader:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.ib = IB()
        self.errors: list[list[Any]] = []
        self.ib.errorEvent += lambda req_id, code, text, _contract: self.errors.append([req_id, code, text])
        self.contracts: dict[str, Stock] = {}

    async def connect(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ib.isConnected():
            try:
                await self.ib.connectAsync(self.host, self.port, clientId=CLIENT_ID, timeout=4)
            except (OSError, TimeoutError, ConnectionError):
                self.ib.disconnect()
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)   # the gateway refuses for a while (a restart): try again

    async def contract(self, symbol: str) -> Stock:
        if symbol not in self.contracts:
            c = Stock(symbol, "SMART", "USD")
            await self.ib.qualifyContractsAsync(c)
            self.contracts[symbol] = c
        return self.contracts[symbol]

    async def until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline or not self.ib.isConnected():
                return False
            await asyncio.sleep(POLL)
        return True

    async def place(self, symbol: str, order: Order, ref: str, settled: Callable[[Trade], bool]) -> dict[str, Any]:
        order.orderRef, order.tif = ref, "GTC"
        trade = self.ib.placeOrder(await self.contract(symbol), order)
        await self.until(lambda: settled(trade), 3.0)
        s = trade.orderStatus
        return {"ok": s.status not in ("Inactive", "Cancelled", "ApiCancelled", ""), "status": s.status,
                "filled": s.filled, "avg_price": s.avgFillPrice, "order_id": trade.order.orderId}

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        await self.connect()
        op = cmd["op"]
        if op == "trade":   # answered at its first fill: with partial fills the rest comes with the next prices
            return await self.place(cmd["symbol"], MarketOrder(cmd["action"], cmd["qty"]), cmd["ref"],
                                    lambda t: t.orderStatus.status in DONE or t.orderStatus.filled > 0)
        if op == "stop":
            return await self.place(cmd["symbol"], StopOrder(cmd["action"], cmd["qty"], cmd["stop"]), cmd["ref"],
                                    lambda t: t.orderStatus.status in ("Submitted", "PreSubmitted", *DONE))
        if op == "global_cancel":   # answered once none of the orders open before is open any more
            ids = {t.order.permId for t in await self.ib.reqAllOpenOrdersAsync() if t.orderStatus.status not in DONE}
            self.ib.reqGlobalCancel()  # type: ignore[no-untyped-call]
            deadline = time.monotonic() + 3.0
            left = ids
            while left and time.monotonic() < deadline and self.ib.isConnected():
                left = ids & {t.order.permId for t in await self.ib.reqAllOpenOrdersAsync()
                              if t.orderStatus.status not in DONE}
            return {"ok": not left, "open_before": len(ids), "still_open": len(left)}
        if op == "cancel_mine":
            mine = [t for t in self.ib.openTrades() if t.order.clientId == CLIENT_ID]
            for t in mine:
                self.ib.cancelOrder(t.order)
            await self.until(lambda: all(t.orderStatus.status in DONE for t in mine), 3.0)
            return {"ok": True, "cancelled": len(mine)}
        if op == "cancel":   # cancelOrder by id, as an API script would (IB scopes ids to the client)
            seen = len(self.errors)
            self.ib.client.cancelOrder(int(cmd["order_id"]))  # type: ignore[no-untyped-call]
            await self.until(lambda: len(self.errors) > seen, 2.0)
            return {"ok": True, "errors": self.errors[seen:]}
        return {"ok": False, "error": f"unknown op {op!r}"}


async def serve(trader: Trader) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := await reader.readline():
        try:
            reply = await trader.handle(json.loads(line))
        except (OSError, TimeoutError, ConnectionError, KeyError, ValueError) as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    trader.ib.disconnect()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos.trader", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    asyncio.run(serve(Trader(args.host, args.port)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
