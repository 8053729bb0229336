"""Run a SimGateway in a background thread (for synchronous callers).

Tests that own an asyncio loop should simply ``await gw.start()`` in that
loop.  Code that cannot (a synchronous test, a script, the demo) can use::

    with GatewayThread(PricePath.from_csv("examples/prices.csv"), tick_seconds=None) as gt:
        ib.connect("127.0.0.1", gt.port, clientId=1)
        gt.advance(3)
        gt.set_price("AAPL", 181.0)
        gt.call(lambda gw: gw.positions)

Every method marshals onto the gateway's own loop, so the gateway is only
ever touched from its thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .gateway import SimGateway
from .prices import PricePath

T = TypeVar("T")


class GatewayThread:
    """A SimGateway running in its own thread and event loop."""

    def __init__(self, prices: PricePath, **kwargs: Any) -> None:
        self._prices = prices
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.gateway: SimGateway | None = None

    def start(self, timeout: float = 10.0) -> GatewayThread:
        self._thread = threading.Thread(target=self._run, name="sim-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("sim-gateway thread did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self.gateway = SimGateway(self._prices, **self._kwargs)
            loop.run_until_complete(self.gateway.start())
        except BaseException as exc:  # noqa: BLE001 - report start failures to the caller
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.gateway.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    @property
    def port(self) -> int:
        assert self.gateway is not None
        return self.gateway.port

    def run(self, coro_fn: Callable[[SimGateway], Coroutine[Any, Any, T]], timeout: float = 10.0) -> T:
        """Run ``coro_fn(gateway)`` on the gateway's loop and return its result."""
        assert self._loop is not None and self.gateway is not None
        gw = self.gateway
        return asyncio.run_coroutine_threadsafe(coro_fn(gw), self._loop).result(timeout)

    def call(self, fn: Callable[[SimGateway], T], timeout: float = 10.0) -> T:
        """Call ``fn(gateway)`` on the gateway's loop and return its result."""

        async def wrapper(gw: SimGateway) -> T:
            return fn(gw)

        return self.run(wrapper, timeout)

    def advance(self, n: int = 1) -> None:
        self.run(lambda gw: gw.advance(n))

    def set_price(self, symbol: str, price: float) -> None:
        self.call(lambda gw: gw.set_price(symbol, price))

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def __enter__(self) -> GatewayThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
